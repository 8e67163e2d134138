import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "@pkiserver/kit";
import { AdaptiveLimiter } from "./limiter";

/** A call that stays in flight until released. */
function gate(): { promise: Promise<void>; open(): void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const isUnavailable = (e: unknown) => e instanceof AppError && e.code === "rpc.unavailable";

describe("AdaptiveLimiter", () => {
  it("lets `limit` calls run at once, queues the next ones in order and refuses beyond the queue at once", async () => {
    const limiter = new AdaptiveLimiter({ initial: 2, min: 2, maxQueue: 2, maxWaitMs: 60_000 });
    const g = gate();
    const started: number[] = [];
    const results = Array.from({ length: 6 }, (_, i) =>
      limiter
        .run(async () => {
          started.push(i);
          await g.promise;
          return i;
        })
        .then(
          (v) => ({ ok: v }),
          (e: unknown) => ({ err: e }),
        ),
    );
    // The two over the queue are refused while the gate is still closed.
    const refused = await Promise.all([results[4], results[5]]);
    assert.ok(refused.every((r) => r !== undefined && "err" in r && isUnavailable(r.err)));
    assert.deepEqual(started, [0, 1]);
    assert.equal(limiter.active, 2);
    assert.equal(limiter.waiting, 2);
    g.open();
    assert.deepEqual(await Promise.all(results.slice(0, 4)), [{ ok: 0 }, { ok: 1 }, { ok: 2 }, { ok: 3 }]);
    assert.deepEqual(started, [0, 1, 2, 3], "queued calls start in arrival order");
    assert.equal(limiter.active, 0);
    assert.equal(limiter.refused, 2);
  });

  it("refuses a queued call that waits longer than maxWaitMs, and the slot it would have had stays usable", async () => {
    const limiter = new AdaptiveLimiter({ initial: 1, min: 1, maxQueue: 5, maxWaitMs: 20 });
    const g = gate();
    const first = limiter.run(() => g.promise);
    await assert.rejects(
      limiter.run(async () => "never"),
      isUnavailable,
    );
    g.open();
    await first;
    assert.equal(await limiter.run(async () => "after"), "after");
    assert.equal(limiter.active, 0);
    assert.equal(limiter.waiting, 0);
  });

  it("lets a burst wait by default even when the bound is small: at least 64 calls queue", async () => {
    const limiter = new AdaptiveLimiter({ initial: 4, min: 4, maxWaitMs: 60_000 });
    const g = gate();
    const results = Array.from({ length: 4 + 64 + 1 }, (_, i) => limiter.run(() => g.promise.then(() => i)));
    // Only the one beyond the four running and the 64 waiting is refused, at once.
    await assert.rejects(results[4 + 64] as Promise<number>, isUnavailable);
    assert.equal(limiter.active, 4);
    assert.equal(limiter.waiting, 64);
    g.open();
    assert.deepEqual(
      await Promise.all(results.slice(0, 4 + 64)),
      Array.from({ length: 4 + 64 }, (_, i) => i),
    );
    assert.equal(limiter.refused, 1);
  });

  it("shrinks the bound when calls are slower than the target or refused downstream, and grows it back", async () => {
    let t = 0;
    const limiter = new AdaptiveLimiter({ initial: 40, min: 4, latencyTargetMs: 100, now: () => t });
    const slow = () =>
      limiter.run(async () => {
        t += 500;
      });
    await slow();
    assert.equal(limiter.limit, 30);
    await slow();
    assert.equal(limiter.limit, 22);
    await assert.rejects(
      limiter.run(async () => {
        t += 200;
        throw new AppError("rpc.unavailable");
      }),
      isUnavailable,
    );
    assert.equal(limiter.limit, 16);
    for (let i = 0; i < 30; i++) await slow();
    assert.equal(limiter.limit, 4, "never below min");
    // Fast calls grow it again, but only while the bound is what holds calls back.
    await limiter.run(async () => {});
    assert.equal(limiter.limit, 4, "a lone fast call below the bound says nothing");
    const g = gate();
    const burst = Array.from({ length: 40 }, () => limiter.run(() => g.promise).catch(() => undefined));
    g.open();
    await Promise.all(burst);
    assert.ok(limiter.limit > 4, `grew to ${limiter.limit}`);
  });

  it("does not count other errors as saturation", async () => {
    const limiter = new AdaptiveLimiter({ initial: 8, latencyTargetMs: 100, now: () => 0 });
    await assert.rejects(
      limiter.run(async () => {
        throw new AppError("pki.no_key");
      }),
    );
    assert.equal(limiter.limit, 8);
  });
});
