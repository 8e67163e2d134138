import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startGrpcServer } from "@pkiserver/kit";
import { createHealthProbe } from "./health-probe";

describe("gRPC health probe", () => {
  it("is true while the server answers SERVING, false when it answers NOT_SERVING or is gone", async () => {
    const server = await startGrpcServer({ host: "127.0.0.1", port: 0, services: [] });
    const probe = createHealthProbe(server.address);
    try {
      assert.equal(await probe.check(3000), true);
      server.health.setStatus("", "NOT_SERVING");
      assert.equal(await probe.check(3000), false);
      server.health.setStatus("", "SERVING");
      assert.equal(await probe.check(3000), true);
      await server.stop(100);
      assert.equal(await probe.check(500), false);
    } finally {
      probe.close();
      await server.stop(100);
    }
  });
});
