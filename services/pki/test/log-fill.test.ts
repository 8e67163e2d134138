import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryEventBus } from "@pkiserver/kit";
import {
  historyKey,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  verifyHeadMapProof,
  verifyInclusion,
} from "@pkiserver/log";
import { servePki } from "./served-pki";

/**
 * PMX_TEST_LOG_FILL (bench only): the service is ready with a log of the records asked for,
 * over histories of 100 records of one host, all in a signed checkpoint, with proofs.
 */
describe("a log filled for the bench (PMX_TEST_LOG_FILL)", () => {
  it("is sequenced into a signed checkpoint before the service is ready", async () => {
    const bus = new MemoryEventBus();
    // A checkpoint interval far beyond the test: the fill's own sequencing signs the checkpoint.
    const served = await servePki({
      name: "pki-log-fill",
      bus,
      env: { PMX_TEST_LOG_FILL: "250", PMX_LOG_CHECKPOINT_INTERVAL: "600000" },
    });
    const { app, pki } = served;
    try {
      // The host's registration and the 250 records.
      const signed = await pki.getCheckpoint({});
      assert.equal(signed.treeSize, 251);
      const cp = openCheckpoint(signed.checkpoint, parseVerifierKey(app.logVerifierKey));
      assert.equal(cp.size, 251);

      const hosts = (await pki.listHosts({})).hosts;
      const host = hosts.find((h) => h.addresses.includes("https://log-fill.bench.invalid"));
      assert.ok(host, `hosts: ${JSON.stringify(hosts)}`);
      // ceil(250 / 100) = 3 histories, written round by round: 84, 83 and 83 records.
      const lengths = [];
      for (let h = 0; h < 4; h++) {
        const ref = { userId: `log-fill-${h}`, instanceId: host.instanceId, contextId: "log-fill" };
        const records = (await pki.getKeyHistory({ ref })).records;
        lengths.push(records.length);
        // Newest first; no record repeats its predecessor's key.
        for (let i = 1; i < records.length; i++) assert.notEqual(records[i]!.userPubKey, records[i - 1]!.userPubKey);
      }
      assert.deepEqual(lengths, [84, 83, 83, 0]);

      // A proof of a history's newest record holds against the filled log's checkpoint.
      const ref = { userId: "log-fill-1", instanceId: host.instanceId, contextId: "log-fill" };
      const proof = await pki.getKeyProof({ ref, date: Date.now() + 60_000 });
      assert.equal(proof.checkpoint, signed.checkpoint);
      assert.equal(proof.record?.userId, "log-fill-1");
      const { entry, head } = proof;
      assert.ok(entry !== undefined && head !== undefined && proof.next === undefined);
      const leaf = leafHash(entry.entry);
      assert.ok(verifyInclusion(leaf, entry.leafIndex, cp.size, entry.hashes, cp.root));
      const headProof = {
        bitmap: head.bitmap.toString("base64"),
        siblings: head.siblings.map((s) => s.toString("base64")),
      };
      assert.ok(
        verifyHeadMapProof(historyKey(ref.userId, ref.instanceId, ref.contextId), leaf, headProof, cp.headMapRoot),
      );
    } finally {
      await served.close();
      await bus.close();
    }
  });
});
