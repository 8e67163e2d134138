import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig as loadAuthConfig } from "@pkiserver/auth";
import { tokenIdentityFromEnv } from "@pkiserver/contract";
import { loadConfig as loadGatewayConfig } from "@pkiserver/gateway";
import { ConfigError } from "@pkiserver/kit";

/*
 * Auth names the issuer and audience in the tokens it signs; the gateway
 * verifies them against the ones it reads. Both read them alike, as the
 * contract's tokenIdentityFromEnv does.
 */
const COMPONENTS = [
  ["gateway", loadGatewayConfig],
  ["auth", loadAuthConfig],
] as const;

for (const [component, loadConfig] of COMPONENTS) {
  describe(`${component} configuration: token issuer and audience`, () => {
    it("PMX_ISSUER defaults to http://localhost:<PMX_PORT> and PMX_TOKEN_AUDIENCE to pkiserver, as the contract reads them", () => {
      for (const env of [
        {},
        { PMX_PORT: "9001" },
        { PMX_ISSUER: "https://pki.example.com", PMX_TOKEN_AUDIENCE: "directory" },
      ] as Record<string, string>[]) {
        assert.deepEqual(loadConfig(env).tokenIdentity, tokenIdentityFromEnv(env), JSON.stringify(env));
      }
      assert.deepEqual(loadConfig({}).tokenIdentity, { issuer: "http://localhost:8101", audience: "pkiserver" });
      assert.equal(loadConfig({ PMX_PORT: "9001" }).tokenIdentity.issuer, "http://localhost:9001");
    });

    it("refuses an issuer that is no http(s) URL or too long, and an audience with spaces", () => {
      for (const [name, value] of [
        ["PMX_ISSUER", "pki.example.com"],
        ["PMX_ISSUER", `https://${"a".repeat(200)}`],
        ["PMX_TOKEN_AUDIENCE", "a b"],
      ] as const) {
        assert.throws(
          () => loadConfig({ [name]: value }),
          (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith(name)),
        );
      }
    });
  });
}
