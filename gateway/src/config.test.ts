import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tokenIdentityFromEnv } from "@pkiserver/contract";
import { GatewayConfigError, loadConfig } from "./config";

describe("gateway configuration: token issuer and audience", () => {
  it("PMX_ISSUER defaults to http://localhost:<PMX_PORT> and PMX_TOKEN_AUDIENCE to pkiserver, as auth reads them", () => {
    for (const env of [
      {},
      { PMX_PORT: "9001" },
      { PMX_ISSUER: "https://pki.example.com", PMX_TOKEN_AUDIENCE: "directory" },
    ] as Record<string, string>[]) {
      assert.deepEqual(loadConfig(env).tokenIdentity, tokenIdentityFromEnv(env), JSON.stringify(env));
    }
    assert.deepEqual(loadConfig({}).tokenIdentity, { issuer: "http://localhost:8101", audience: "pkiserver" });
  });

  it("refuses an issuer that is no http(s) URL or too long, and an audience with spaces", () => {
    for (const [name, value] of [
      ["PMX_ISSUER", "pki.example.com"],
      ["PMX_ISSUER", `https://${"a".repeat(200)}`],
      ["PMX_TOKEN_AUDIENCE", "a b"],
    ] as const) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: unknown) => err instanceof GatewayConfigError && err.problems.some((p) => p.startsWith(name)),
      );
    }
  });
});
