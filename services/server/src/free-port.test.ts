import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { describe, it } from "node:test";
import { freePort } from "./distributed-launcher";

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

describe("freePort", () => {
  it("gives a port below the ephemeral range that the caller can then listen on", async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      assert.ok(port >= 20_000 && port <= 32_767, `port ${port}`);
      seen.add(port);
      const srv = await listen(port);
      await new Promise((r) => srv.close(r));
    }
    assert.ok(seen.size > 1, "a random pick, not one port for every caller");
  });

  it("never gives a port something listens on", async () => {
    const held: Server[] = [];
    try {
      const ports = new Set<number>();
      for (let i = 0; i < 20; i++) {
        const port = await freePort();
        assert.ok(!ports.has(port), `port ${port} handed out while held`);
        ports.add(port);
        held.push(await listen(port));
      }
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  });
});
