import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Closers } from "./lifecycle";

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
