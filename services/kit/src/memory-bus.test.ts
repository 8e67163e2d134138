import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryEventBus } from "./bus";
import { busContract } from "./bus-contract";

busContract(
  "MemoryEventBus",
  async () => {
    const bus = new MemoryEventBus(24 * 3600_000, 50);
    return { bus, cleanup: () => bus.close() };
  },
  { settleMs: 100, deliveryTimeoutMs: 3000 },
);

describe("MemoryEventBus limits", () => {
  it("keeps at most maxRetained events for replay and forgets the ids it dropped", async () => {
    const bus = new MemoryEventBus(24 * 3600_000, 50, 3);
    try {
      for (const id of ["e1", "e2", "e3", "e4", "e5"]) await bus.publish("a.v1.x.y", new Uint8Array([1]), { id });
      const seen: string[] = [];
      const sub = await bus.subscribe({
        subjects: ["a.>"],
        deliver: "all",
        handler: async (m) => {
          seen.push(m.id);
        },
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(seen, ["e3", "e4", "e5"], "only the last three are replayed");
      // A retained id is still de-duplicated; a dropped one is an event again.
      await bus.publish("a.v1.x.y", new Uint8Array([1]), { id: "e5" });
      await bus.publish("a.v1.x.y", new Uint8Array([1]), { id: "e1" });
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(seen, ["e3", "e4", "e5", "e1"]);
      await sub.stop();
    } finally {
      await bus.close();
    }
  });
});
