import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, Events, MemoryEventBus, publishEvent } from "@pkiserver/kit";
import { encodeVerifierKey, generateSigner, type NoteSigner, signCheckpoint } from "@pkiserver/log";
import type { eventsV1, pkiV1 } from "@pkiserver/proto";
import { CheckpointCache, startCheckpointSync } from "./checkpoint-cache";

const signer = generateSigner("gw.example/log");
const verifierKey = encodeVerifierKey(signer);

function checkpoint(size: number, by: NoteSigner = signer): pkiV1.GetCheckpointResponse {
  const c = { origin: by.name, size, root: new Uint8Array(32).fill(size % 256), headMapRoot: new Uint8Array(32) };
  return {
    checkpoint: signCheckpoint(c, by),
    origin: c.origin,
    treeSize: size,
    rootHash: Buffer.from(c.root),
    headMapRoot: Buffer.from(c.headMapRoot),
    verifierKey: encodeVerifierKey(by),
  };
}

const announcement = (a: pkiV1.GetCheckpointResponse): eventsV1.LogCheckpointSigned => ({
  checkpoint: a.checkpoint,
  verifierKey: a.verifierKey,
  treeSize: a.treeSize,
  at: 0,
});

/** A cache over a fake pki whose newest checkpoint the test sets, counting the calls. */
function setup(freshMs = 500) {
  const clock = { t: 1_000 };
  const pki = { calls: 0, answer: checkpoint(1) };
  const cache = new CheckpointCache(
    async () => {
      pki.calls++;
      return pki.answer;
    },
    freshMs,
    () => clock.t,
  );
  return { clock, pki, cache };
}

describe("the gateway's log checkpoint cache", () => {
  it("serves an announced checkpoint without asking pki", async () => {
    const { pki, cache } = setup();
    assert.ok(cache.announced(announcement(checkpoint(5))));
    const got = await cache.get();
    assert.equal(got.treeSize, 5);
    assert.equal(got.origin, "gw.example/log");
    assert.deepEqual(got.rootHash, Buffer.alloc(32, 5));
    assert.equal(got.verifierKey, verifierKey);
    assert.equal(pki.calls, 0);
  });

  it("asks pki when no announcement is fresh (none yet, or a late one), one call for every waiting request", async () => {
    const { clock, pki, cache } = setup();
    const first = await Promise.all([cache.get(), cache.get(), cache.get()]);
    assert.deepEqual(
      first.map((a) => a.treeSize),
      [1, 1, 1],
    );
    assert.equal(pki.calls, 1);
    cache.announced(announcement(checkpoint(2)));
    // The next announcement is late: once the one held is stale, pki's newer one is served.
    pki.answer = checkpoint(3);
    clock.t += 499;
    assert.equal((await cache.get()).treeSize, 2);
    assert.equal(pki.calls, 1);
    clock.t += 1;
    assert.equal((await cache.get()).treeSize, 3);
    assert.equal(pki.calls, 2);
  });

  it("never goes back to a smaller tree", async () => {
    const { clock, pki, cache } = setup();
    cache.announced(announcement(checkpoint(7)));
    cache.announced(announcement(checkpoint(6)));
    assert.equal((await cache.get()).treeSize, 7);
    pki.answer = checkpoint(4);
    clock.t += 1_000;
    assert.equal((await cache.get()).treeSize, 7);
  });

  it("ignores an announcement whose signature does not hold or that another key signed", async () => {
    const { pki, cache } = setup();
    await cache.get();
    const tampered = announcement(checkpoint(9));
    tampered.checkpoint = tampered.checkpoint.replace("\n9\n", "\n10\n");
    assert.equal(cache.announced(tampered), false);
    assert.equal(cache.announced(announcement(checkpoint(9, generateSigner("gw.example/log")))), false);
    assert.equal((await cache.get()).treeSize, 1);
    assert.equal(pki.calls, 1);
  });

  it("follows the announcements on the bus", async () => {
    const bus = new MemoryEventBus();
    const { pki, cache } = setup(60_000);
    let seen = 0;
    const take = cache.announced.bind(cache);
    cache.announced = (e) => {
      seen++;
      return take(e);
    };
    const sync = startCheckpointSync({ bus, cache, logger: createLogger({ name: "t", level: "silent" }) });
    await sync.loaded;
    assert.ok(sync.isLoaded());
    await publishEvent(bus, Events.logCheckpointSigned, announcement(checkpoint(12)));
    for (let i = 0; i < 200 && seen === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await cache.get()).treeSize, 12);
    assert.equal(pki.calls, 0);
    await sync.stop();
    await bus.close();
  });
});
