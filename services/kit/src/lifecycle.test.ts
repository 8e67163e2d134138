import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Closers, runEvery } from "./lifecycle";
import { createLogger } from "./logger";

describe("Closers", () => {
  it("closes last added first, goes on past a failure and reports it", async () => {
    const order: string[] = [];
    const closers = new Closers(() => order.push("first"));
    closers.add(() => {
      order.push("second");
      throw new Error("boom");
    });
    closers.add(async () => {
      order.push("third");
    });
    const errors = await closers.close();
    assert.deepEqual(order, ["third", "second", "first"]);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /boom/);
  });

  it("runs each closer once however often it is closed", async () => {
    let runs = 0;
    const closers = new Closers(async () => {
      runs++;
    });
    const [a, b] = await Promise.all([closers.close(), closers.close()]);
    await closers.close();
    assert.equal(runs, 1);
    assert.deepEqual(a, []);
    assert.equal(a, b);
  });
});

describe("runEvery", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const until = async (done: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!done() && Date.now() < deadline) await sleep(5);
  };
  const capture = () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ name: "t", destination: { write: (l: string) => void lines.push(JSON.parse(l)) } });
    return { logger, lines };
  };

  it("runs the task each interval past a failed round, which is logged, until stopped", async () => {
    const { logger, lines } = capture();
    let runs = 0;
    const stop = runEvery(
      10,
      async () => {
        runs++;
        if (runs === 1) throw new Error("first round fails");
      },
      logger,
      "the task failed",
      { level: "warn" },
    );
    await until(() => runs >= 3);
    stop();
    const after = runs;
    await sleep(40);
    assert.ok(after >= 3, `ran ${after} times`);
    assert.equal(runs, after, "no round after stop");
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.err]),
      [[40, "the task failed", "Error: first round fails"]],
    );
  });

  it("skips a round while the one before still runs when exclusive, and overlaps otherwise", async () => {
    const { logger } = capture();
    const overlap = async (exclusive: boolean) => {
      let active = 0;
      let most = 0;
      let started = 0;
      const stop = runEvery(
        5,
        async () => {
          started++;
          active++;
          most = Math.max(most, active);
          await sleep(30);
          active--;
        },
        logger,
        "failed",
        { exclusive },
      );
      await until(() => started >= 3);
      stop();
      await until(() => active === 0);
      return most;
    };
    assert.equal(await overlap(true), 1);
    assert.ok((await overlap(false)) > 1);
  });
});
