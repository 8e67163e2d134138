import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connectMongo, decodeEvent, Events, MemoryEventBus, type MongoHandle } from "@pkiserver/kit";
import { openCheckpoint, parseVerifierKey } from "@pkiserver/log";
import { randomPubKey } from "@pkiserver/pki";
import type { eventsV1 } from "@pkiserver/proto";
import { getInfra } from "@pkiserver/test-harness";
import { servePki } from "./served-pki";

/**
 * The sequencer announces every checkpoint it signs on the bus (log.v1.checkpoint.signed), so
 * gateways serve the newest without asking pki for it.
 */
for (const storage of ["memory", "MongoDB"] as const) {
  describe(`log checkpoints announced on the bus (${storage})`, () => {
    it("each signed checkpoint is announced, signed by the log's key, as pki serves it", async () => {
      let mongo: MongoHandle | undefined;
      if (storage === "MongoDB") {
        const infra = await getInfra();
        mongo = await connectMongo(infra.mongoUrl, infra.freshName("pki_log_events"));
      }
      const bus = new MemoryEventBus();
      const seen: eventsV1.LogCheckpointSigned[] = [];
      await bus.subscribe({
        subjects: [Events.logCheckpointSigned.subject],
        deliver: "all",
        handler: async (m) => {
          const e = decodeEvent(Events.logCheckpointSigned, m);
          if (e) seen.push(e);
        },
      });
      const served = await servePki({
        name: "pki-log-events",
        bus,
        mongo,
        env: { PMX_LOG_CHECKPOINT_INTERVAL: "100" },
      });
      const { app, pki } = served;
      try {
        const instanceId = randomPubKey();
        await pki.setHost({ hostPubKey: instanceId, hostUrl: `events-${storage.length}.example:3000` });
        await pki.setKey({ ref: { userId: "user1", instanceId, contextId: "ctx1" }, userPubKey: randomPubKey() });
        const deadline = Date.now() + 5000;
        while (!seen.some((e) => e.treeSize >= 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        // The empty log's checkpoint first, then the one covering both changes.
        assert.equal(seen[0]?.treeSize, 0);
        const last = seen.at(-1);
        assert.ok(last && last.treeSize === 2, `announced sizes ${seen.map((e) => e.treeSize)}`);
        const current = await pki.getCheckpoint({});
        assert.equal(last.checkpoint, current.checkpoint);
        assert.equal(last.verifierKey, app.logVerifierKey);
        assert.equal(openCheckpoint(last.checkpoint, parseVerifierKey(app.logVerifierKey)).size, 2);
        // Nothing new, nothing announced.
        const count = seen.length;
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(seen.length, count);
      } finally {
        await served.close();
        await bus.close();
        if (mongo) {
          await mongo.db.dropDatabase();
          await mongo.close();
        }
      }
    });
  });
}
