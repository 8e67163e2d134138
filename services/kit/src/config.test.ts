import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadServiceEnv } from "./config";

describe("gRPC TLS settings", () => {
  it("are all three or none, and readable", () => {
    assert.equal(loadServiceEnv({}).grpcTls, undefined);
    const dir = mkdtempSync(join(tmpdir(), "kit-tls-"));
    for (const f of ["c", "k", "a"]) writeFileSync(join(dir, f), `${f}-pem`);
    const tls = loadServiceEnv({
      PMX_GRPC_TLS_CERT: join(dir, "c"),
      PMX_GRPC_TLS_KEY: join(dir, "k"),
      PMX_GRPC_TLS_CA: join(dir, "a"),
    }).grpcTls;
    assert.deepEqual([tls?.cert.toString(), tls?.key.toString(), tls?.ca.toString()], ["c-pem", "k-pem", "a-pem"]);
    assert.throws(
      () => loadServiceEnv({ PMX_GRPC_TLS_CERT: join(dir, "c") }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
    );
    assert.throws(
      () =>
        loadServiceEnv({
          PMX_GRPC_TLS_CERT: join(dir, "c"),
          PMX_GRPC_TLS_KEY: join(dir, "missing"),
          PMX_GRPC_TLS_CA: join(dir, "a"),
        }),
      (err: unknown) => err instanceof ConfigError && /PMX_GRPC_TLS_KEY/.test(err.message),
    );
  });
});
