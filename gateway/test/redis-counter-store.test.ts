import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RedisCounterStore } from "@pkiserver/gateway";
import { counterStoreContract } from "@pkiserver/gateway/counter-store-contract";
import { createLogger } from "@pkiserver/kit";
import { maskUrl } from "@pkiserver/kit/config";
import { startRedis, type TestRedis } from "@pkiserver/test-harness";

const logLines: Record<string, unknown>[] = [];
const logger = createLogger({
  name: "redis-counter-test",
  level: "info",
  destination: { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
});

describe("Redis counter store (contract, against a real redis-server)", () => {
  let redis: TestRedis;
  const stores: RedisCounterStore[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const s of stores) await s.close();
    await redis.dispose();
  });

  counterStoreContract(() => {
    const s = new RedisCounterStore(redis.url, { logger, onFailure: () => {} });
    stores.push(s);
    return s;
  });

  it("shares one limit between replicas: the counters live in Redis", async () => {
    const a = new RedisCounterStore(redis.url, { logger, onFailure: () => {} });
    const b = new RedisCounterStore(redis.url, { logger, onFailure: () => {} });
    stores.push(a, b);
    const key = `shared-${Date.now()}`;
    const results = await Promise.all(Array.from({ length: 90 }, (_, i) => (i % 2 === 0 ? a : b).hit(key, 30)));
    assert.equal(results.filter((d) => d.allowed).length, 30);
  });
});

describe("Redis counter store when Redis is unreachable", () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis({ controllable: true });
  });
  after(async () => {
    await redis.dispose();
  });

  it("accepts requests (fail open), counts each failure, logs once, and recovers by itself", async (t) => {
    if (redis.stop === undefined || redis.restart === undefined) {
      t.skip("this Redis server cannot be stopped by the test");
      return;
    }
    let failures = 0;
    const store = new RedisCounterStore(redis.url, { logger, onFailure: () => failures++ });
    try {
      const key = `open-${Date.now()}`;
      assert.equal((await store.hit(key, 1)).allowed, true);
      assert.equal((await store.hit(key, 1)).allowed, false);
      await redis.stop();
      const before = logLines.length;
      for (let i = 0; i < 20; i++) assert.equal((await store.hit(key, 1)).allowed, true, `request ${i} while down`);
      assert.equal(failures, 20);
      const warnings = logLines.slice(before).filter((l) => String(l.msg).includes("unreachable"));
      assert.equal(warnings.length, 1, "one line for the outage, not one per request");
      assert.equal(warnings[0]?.redis, maskUrl(redis.url), "the line names the server, password masked");
      await redis.restart();
      // Reconnects by itself; the server came back empty (no persistence), so counting starts afresh.
      const deadline = Date.now() + 10_000;
      let counted = false;
      while (Date.now() < deadline && !counted) {
        const before = failures;
        await store.hit(`${key}-after`, 1);
        counted = failures === before;
        if (!counted) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(counted, "the store counts again once Redis is back");
      assert.equal((await store.hit(`${key}-after`, 1)).allowed, false);
    } finally {
      await store.close();
    }
  });
});
