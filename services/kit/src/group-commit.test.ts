import assert from "node:assert/strict";
import { test } from "node:test";
import { GroupCommit } from "./group-commit";

test("what comes while a flush runs goes in the next one, all in one", async () => {
  const flushes: number[][] = [];
  let release: () => void = () => {};
  const g = new GroupCommit<number, string>(async (items) => {
    flushes.push([...items]);
    if (flushes.length === 1) await new Promise<void>((r) => (release = r));
    return items.map((i) => `r${i}`);
  });
  const first = g.add(1);
  await new Promise(setImmediate);
  const rest = [g.add(2), g.add(3), g.add(4)];
  await new Promise(setImmediate);
  assert.deepEqual(flushes, [[1]]);
  release();
  assert.deepEqual(await Promise.all([first, ...rest]), ["r1", "r2", "r3", "r4"]);
  assert.deepEqual(flushes, [[1], [2, 3, 4]]);
});

test("a failed flush rejects its own items only; the next flush runs", async () => {
  let n = 0;
  const g = new GroupCommit<number>(async (items) => {
    if (n++ === 0) throw new Error("down");
    return items.map(() => undefined);
  });
  const a = g.add(1);
  await assert.rejects(a, /down/);
  await g.add(2);
  assert.equal(n, 2);
});
