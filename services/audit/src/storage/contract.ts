import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { AuditEvent } from "../domain/entities";
import type { AuditStore } from "../domain/ports";

export interface AuditContractStores {
  store: AuditStore;
  /** A second instance on the same data, as another replica would have. */
  replica?: AuditStore;
  close?(): Promise<void>;
}

const T = 1_700_000_000_000;

function event(n: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: `ev-${String(n).padStart(4, "0")}`,
    time: T + n * 1000,
    type: "apikey.created",
    outcome: "ok",
    actor: { apiKeyId: "key-admin" },
    target: `key-${n}`,
    details: { name: `key ${n}` },
    ...overrides,
  };
}

/** The behaviour every AuditStore adapter must have; `makeStores` gives empty stores for every test. */
export function auditStoreContract(name: string, makeStores: () => Promise<AuditContractStores>): void {
  describe(`audit store contract: ${name}`, () => {
    let s: AuditContractStores;

    beforeEach(async () => {
      s = await makeStores();
    });
    afterEach(async () => {
      await s.close?.();
    });

    it("returns a stored event exactly as recorded, optional fields included", async () => {
      const full = event(1, {
        type: "auth.failed",
        outcome: "denied",
        actor: { apiKeyId: "key-a", sessionId: "sess-1", ip: "203.0.113.9" },
        requestId: "req-1",
        details: { reason: "wrong_secret", nested: { a: [1, 2] } },
      });
      const bare = event(2, { actor: {} });
      assert.equal(await s.store.record(full), true);
      assert.equal(await s.store.record(bare), true);
      assert.deepEqual(await s.store.page({}, "oldest", undefined, 10), [full, bare]);
    });

    it("records an event id once: a redelivery, also through another replica, changes nothing", async () => {
      const other = s.replica ?? s.store;
      assert.equal(await s.store.record(event(1)), true);
      assert.equal(await other.record(event(1, { details: { changed: true } })), false);
      const all = await s.store.page({}, "newest", undefined, 10);
      assert.deepEqual(all, [event(1)]);
    });

    it("pages newest first and oldest first strictly past the position, ties on time broken by id", async () => {
      for (const n of [3, 1, 2]) await s.store.record(event(n));
      await s.store.record(event(5, { id: "ev-0002b", time: T + 2000 }));
      const newest = await s.store.page({}, "newest", undefined, 10);
      assert.deepEqual(
        newest.map((e) => e.id),
        ["ev-0003", "ev-0002b", "ev-0002", "ev-0001"],
      );
      const oldest = await s.store.page({}, "oldest", undefined, 10);
      assert.deepEqual(
        oldest.map((e) => e.id),
        ["ev-0001", "ev-0002", "ev-0002b", "ev-0003"],
      );
      const afterTie = await s.store.page({}, "newest", { time: T + 2000, id: "ev-0002b" }, 10);
      assert.deepEqual(
        afterTie.map((e) => e.id),
        ["ev-0002", "ev-0001"],
      );
      const afterTieOldest = await s.store.page({}, "oldest", { time: T + 2000, id: "ev-0002" }, 1);
      assert.deepEqual(
        afterTieOldest.map((e) => e.id),
        ["ev-0002b"],
      );
    });

    it("filters by inclusive time bounds, types, and the actor's or the target's key", async () => {
      await s.store.record(event(1));
      await s.store.record(event(2, { type: "auth.failed", outcome: "denied", actor: { ip: "::1" }, target: "key-x" }));
      await s.store.record(event(3, { type: "pki.key_set", actor: { apiKeyId: "key-x" }, target: "user1" }));
      await s.store.record(event(4, { type: "session.opened" }));
      const ids = async (f: Parameters<AuditStore["page"]>[0]) =>
        (await s.store.page(f, "oldest", undefined, 10)).map((e) => e.id);
      assert.deepEqual(await ids({ from: T + 2000, to: T + 3000 }), ["ev-0002", "ev-0003"]);
      assert.deepEqual(await ids({ types: ["auth.failed", "session.opened"] }), ["ev-0002", "ev-0004"]);
      assert.deepEqual(await ids({ apiKeyId: "key-x" }), ["ev-0002", "ev-0003"]);
      assert.deepEqual(await ids({ apiKeyId: "key-x", types: ["pki.key_set"], from: T }), ["ev-0003"]);
      assert.deepEqual(await ids({ from: T + 5000 }), []);
    });

    it("honours the limit", async () => {
      for (let n = 1; n <= 5; n++) await s.store.record(event(n));
      assert.equal((await s.store.page({}, "newest", undefined, 2)).length, 2);
    });

    it("pages on in turn through every event once, in order, however the caller resumes, with events arriving meanwhile", async () => {
      for (let n = 1; n <= 23; n++)
        await s.store.record(event(n, { type: n % 2 === 0 ? "pki.key_set" : "apikey.created" }));
      const filter = { types: ["pki.key_set" as const], from: T };
      const expected = (await s.store.page(filter, "oldest", undefined, 100)).map((e) => e.id);
      assert.equal(expected.length, 11);
      for (const order of ["oldest", "newest"] as const) {
        const want = order === "oldest" ? expected : [...expected].reverse();
        // Resuming after the last event given.
        const exact: string[] = [];
        for (let after: AuditEvent | undefined, n = 0; n < 10; n++) {
          const page = await s.store.page(filter, order, after, 3);
          exact.push(...page.map((e) => e.id));
          if (page.length < 3) break;
          after = page[page.length - 1];
        }
        assert.deepEqual(exact, want, `${order}, resumed after the last`);
        // Reading one more than is given out, as listEvents does to know whether a next page exists.
        const lookAhead: string[] = [];
        for (let after: AuditEvent | undefined, n = 0; n < 10; n++) {
          const page = await s.store.page(filter, order, after, 4);
          const given = page.slice(0, 3);
          lookAhead.push(...given.map((e) => e.id));
          if (page.length < 4) break;
          after = given[given.length - 1];
        }
        assert.deepEqual(lookAhead, want, `${order}, resumed after a look-ahead`);
      }
      // Events recorded between pages: none of the earlier ones is lost or given twice.
      const seen: string[] = [];
      let after: AuditEvent | undefined;
      for (let n = 0; n < 20; n++) {
        const page = await s.store.page(filter, "oldest", after, 3);
        seen.push(...page.map((e) => e.id));
        if (n === 1) await s.store.record(event(40, { type: "pki.key_set" }));
        if (page.length < 3) break;
        after = page[page.length - 1];
      }
      assert.equal(new Set(seen).size, seen.length, "no event twice");
      assert.deepEqual(
        seen.filter((id) => id !== "ev-0040"),
        expected,
      );
      // A replica, or a page asked again, answers the same from the start.
      const again = s.replica ?? s.store;
      const first = (await again.page(filter, "oldest", undefined, 3)).map((e) => e.id);
      assert.deepEqual(first, expected.slice(0, 3));
    });

    it("purges the events older than a time and forgets their ids", async () => {
      for (let n = 1; n <= 4; n++) await s.store.record(event(n));
      assert.equal(await s.store.purgeBefore(T + 3000), 2);
      assert.deepEqual(
        (await s.store.page({}, "oldest", undefined, 10)).map((e) => e.id),
        ["ev-0003", "ev-0004"],
      );
      assert.equal(await s.store.ping(), true);
    });
  });
}
