import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "@pkiserver/kit/core";
import { MemoryAuditStore } from "../storage/memory-audit-store";
import type { AuditEvent } from "./entities";
import { listEvents } from "./list-events";
import type { AuditDeps } from "./ports";
import { purgeExpired, recordEvent } from "./record-event";

const T = 1_700_000_000_000;
const HOUR = 3600_000;

function deps(now = T + 100 * 1000): AuditDeps {
  return { store: new MemoryAuditStore(), clock: { now: () => now }, retentionMs: HOUR };
}
const ev = (n: number): AuditEvent => ({
  id: `e${String(n).padStart(3, "0")}`,
  time: T + n * 1000,
  type: "pki.key_set",
  outcome: "ok",
  actor: {},
  target: "t",
  details: {},
});

const invalid = (p: Promise<unknown>) =>
  assert.rejects(p, (e: unknown) => e instanceof AppError && e.code === "rpc.invalid_params");

describe("listing audit events", () => {
  it("walks every event exactly once through the cursors, newest first, and ends without one", async () => {
    const d = deps();
    for (let n = 1; n <= 25; n++) await recordEvent(d, ev(n));
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listEvents(d, { limit: 10, ...(cursor ? { cursor } : {}) }, "newest");
      ids.push(...page.events.map((e) => e.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(
      ids,
      Array.from({ length: 25 }, (_, i) => ev(25 - i).id),
    );
  });

  it("gives no cursor when the page holds the last event exactly", async () => {
    const d = deps();
    for (let n = 1; n <= 10; n++) await recordEvent(d, ev(n));
    assert.equal((await listEvents(d, { limit: 10 }, "oldest")).nextCursor, undefined);
  });

  it("refuses a cursor it did not make, or made for the other order, as invalid params", async () => {
    const d = deps();
    for (let n = 1; n <= 3; n++) await recordEvent(d, ev(n));
    const page = await listEvents(d, { limit: 1 }, "newest");
    assert.ok(page.nextCursor);
    await invalid(listEvents(d, { cursor: page.nextCursor }, "oldest"));
    await invalid(listEvents(d, { cursor: "garbage" }, "newest"));
    await invalid(listEvents(d, { cursor: Buffer.from('["n",1.5,"x"]').toString("base64url") }, "newest"));
    await invalid(listEvents(d, { limit: 0 }, "newest"));
  });
});

describe("retention", () => {
  it("does not keep an event already past the retention, and purges those that pass it", async () => {
    let now = T;
    const d: AuditDeps = { store: new MemoryAuditStore(), clock: { now: () => now }, retentionMs: HOUR };
    assert.equal(await recordEvent(d, { ...ev(0), time: T - 2 * HOUR }), false);
    assert.equal(await recordEvent(d, ev(1)), true);
    now = T + 2 * HOUR;
    assert.equal(await purgeExpired(d), 1);
    assert.deepEqual((await listEvents(d, {}, "newest")).events, []);
  });
});
