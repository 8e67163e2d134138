import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it, mock } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { AppError, type ErrorCode } from "@pkiserver/kit";
import type { KeyRecord, KeyRef } from "../domain/entities";
import type { Clock, HostStore, KeyHistoryStore } from "../domain/ports";

export interface ContractStores {
  readonly hosts: HostStore;
  readonly keys: KeyHistoryStore;
  /** Releases what makeStores opened. */
  close?(): Promise<void>;
}

const isCode = (code: ErrorCode) => (err: unknown) => {
  assert.ok(err instanceof AppError, `expected AppError ${code}, got ${String(err)}`);
  assert.equal(err.code, code);
  return true;
};

const url = () => `https://${randomUUID()}.example:8443`;
const ref = (): KeyRef => ({ userId: `user-${randomUUID()}`, instanceId: randomPubKey(), contextId: randomUUID() });
const fixedClock = (t: number): Clock & { t: number } => {
  const c = {
    t,
    now: () => c.t,
  };
  return c;
};

/**
 * The behaviour every HostStore and KeyHistoryStore adapter must have. The
 * stores are shared by the tests, which therefore use fresh keys and URLs.
 */
export function pkiStoreContract(name: string, makeStores: () => Promise<ContractStores>): void {
  describe(`pki store contract: ${name}`, () => {
    let stores: ContractStores;
    before(async () => {
      stores = await makeStores();
    });
    after(async () => {
      await stores.close?.();
    });

    describe("hosts", () => {
      it("a registered host is found by key, by URL and in the list", async () => {
        const key = randomPubKey();
        const u = url();
        const created = await stores.hosts.create(key, u);
        assert.deepEqual(created, { instanceId: key, hostPubKey: key, addresses: [u] });
        assert.deepEqual(await stores.hosts.get(key), created);
        assert.deepEqual(await stores.hosts.findByUrl(u), created);
        const listed = await stores.hosts.list();
        assert.deepEqual(
          listed.find((h) => h.instanceId === key),
          created,
        );
      });

      it("unknown keys and URLs find nothing", async () => {
        assert.equal(await stores.hosts.get(randomPubKey()), undefined);
        assert.equal(await stores.hosts.findByUrl(url()), undefined);
      });

      it("a key registers once", async () => {
        const key = randomPubKey();
        await stores.hosts.create(key, url());
        await assert.rejects(stores.hosts.create(key, url()), isCode("pki.host_already_exists"));
      });

      it("a URL of one host cannot register another, and the refused host is not left behind", async () => {
        const u = url();
        await stores.hosts.create(randomPubKey(), u);
        const loser = randomPubKey();
        await assert.rejects(stores.hosts.create(loser, u), isCode("pki.host_url_reserved"));
        assert.equal(await stores.hosts.get(loser), undefined);
      });

      it("addUrl appends in order and refuses duplicates on this or another host", async () => {
        const a = randomPubKey();
        const b = randomPubKey();
        const [ua, ua2, ub] = [url(), url(), url()];
        await stores.hosts.create(a, ua);
        await stores.hosts.create(b, ub);
        assert.deepEqual((await stores.hosts.addUrl(a, ua2)).addresses, [ua, ua2]);
        await assert.rejects(stores.hosts.addUrl(a, ua2), isCode("pki.host_url_exists"));
        await assert.rejects(stores.hosts.addUrl(a, ub), isCode("pki.host_url_reserved"));
        await assert.rejects(stores.hosts.addUrl(randomPubKey(), url()), isCode("pki.host_not_found"));
        assert.deepEqual((await stores.hosts.get(a))?.addresses, [ua, ua2]);
        assert.deepEqual((await stores.hosts.findByUrl(ua2))?.instanceId, a);
      });

      it("removeUrl frees the URL for any host and refuses URLs the host does not have", async () => {
        const a = randomPubKey();
        const b = randomPubKey();
        const [ua, ua2, ub] = [url(), url(), url()];
        await stores.hosts.create(a, ua);
        await stores.hosts.addUrl(a, ua2);
        await stores.hosts.create(b, ub);
        await assert.rejects(stores.hosts.removeUrl(randomPubKey(), ua), isCode("pki.host_not_found"));
        await assert.rejects(stores.hosts.removeUrl(a, ub), isCode("pki.host_url_not_found"));
        await assert.rejects(stores.hosts.removeUrl(a, url()), isCode("pki.host_url_not_found"));
        assert.deepEqual((await stores.hosts.removeUrl(a, ua)).addresses, [ua2]);
        assert.equal(await stores.hosts.findByUrl(ua), undefined);
        assert.deepEqual((await stores.hosts.addUrl(b, ua)).addresses, [ub, ua]);
      });

      it("addresses keep the order they were added in, whatever the wall clock says", async () => {
        const a = randomPubKey();
        const id = randomUUID();
        // Names that sort against the order they are added in.
        const [z, m, b] = [`https://z-${id}.example`, `https://m-${id}.example`, `https://b-${id}.example`];
        // Several URLs added within one millisecond, then a clock stepping back
        // (a replica behind the one that registered the host).
        const now = mock.method(Date, "now", () => 1_700_000_000_000);
        try {
          await stores.hosts.create(a, z);
          assert.deepEqual((await stores.hosts.addUrl(a, b)).addresses, [z, b]);
          now.mock.mockImplementation(() => 1_699_999_000_000);
          assert.deepEqual((await stores.hosts.addUrl(a, m)).addresses, [z, b, m]);
          await stores.hosts.removeUrl(a, b);
          assert.deepEqual((await stores.hosts.addUrl(a, b)).addresses, [z, m, b]);
        } finally {
          now.mock.restore();
        }
        assert.deepEqual((await stores.hosts.get(a))?.addresses, [z, m, b]);
        assert.deepEqual((await stores.hosts.findByUrl(m))?.addresses, [z, m, b]);
        assert.deepEqual((await stores.hosts.list()).find((h) => h.instanceId === a)?.addresses, [z, m, b]);
      });

      it("a host may lose its last URL and stays registered", async () => {
        const a = randomPubKey();
        const u = url();
        await stores.hosts.create(a, u);
        assert.deepEqual((await stores.hosts.removeUrl(a, u)).addresses, []);
        assert.deepEqual(await stores.hosts.get(a), { instanceId: a, hostPubKey: a, addresses: [] });
      });

      it("delete returns the host as it was, frees its URLs, and a re-registration starts clean", async () => {
        const a = randomPubKey();
        const [u1, u2] = [url(), url()];
        await stores.hosts.create(a, u1);
        await stores.hosts.addUrl(a, u2);
        assert.deepEqual(await stores.hosts.delete(a), { instanceId: a, hostPubKey: a, addresses: [u1, u2] });
        assert.equal(await stores.hosts.get(a), undefined);
        assert.equal(await stores.hosts.findByUrl(u1), undefined);
        await assert.rejects(stores.hosts.delete(a), isCode("pki.host_not_found"));
        const u3 = url();
        assert.deepEqual((await stores.hosts.create(a, u3)).addresses, [u3]);
        assert.deepEqual((await stores.hosts.get(a))?.addresses, [u3]);
        const b = randomPubKey();
        assert.deepEqual((await stores.hosts.create(b, u1)).addresses, [u1]);
      });

      it("hosts registering concurrently with one URL: exactly one wins", async () => {
        const u = url();
        const keys = Array.from({ length: 10 }, () => randomPubKey());
        const results = await Promise.allSettled(keys.map((k) => stores.hosts.create(k, u)));
        const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [keys[i]] : []));
        assert.equal(won.length, 1);
        for (const r of results) {
          if (r.status === "rejected") isCode("pki.host_url_reserved")(r.reason);
        }
        assert.equal((await stores.hosts.findByUrl(u))?.instanceId, won[0]);
        const owners = (await stores.hosts.list()).filter((h) => h.addresses.includes(u));
        assert.equal(owners.length, 1);
        for (const k of keys) if (k !== won[0]) assert.equal(await stores.hosts.get(k), undefined);
      });

      it("hosts adding one URL concurrently: exactly one gets it", async () => {
        const u = url();
        const keys = Array.from({ length: 8 }, () => randomPubKey());
        for (const k of keys) await stores.hosts.create(k, url());
        const results = await Promise.allSettled(keys.map((k) => stores.hosts.addUrl(k, u)));
        assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
        const owners = (await stores.hosts.list()).filter((h) => h.addresses.includes(u));
        assert.equal(owners.length, 1);
      });
    });

    describe("key histories", () => {
      const set = (userPubKey: string, customData?: string) => () =>
        customData === undefined ? { userPubKey } : { userPubKey, customData };

      it("the first record gets seq 1 and the clock's time", async () => {
        const r = ref();
        const key = randomPubKey();
        const rec = await stores.keys.append(r, set(key), fixedClock(1000));
        assert.deepEqual(rec, { ...r, seq: 1, createDate: 1000, userPubKey: key });
        assert.deepEqual(await stores.keys.latest(r), rec);
        assert.deepEqual(await stores.keys.history(r), [rec]);
      });

      it("an empty history has no latest, no record at any time and no entries", async () => {
        const r = ref();
        assert.equal(await stores.keys.latest(r), undefined);
        assert.equal(await stores.keys.at(r, Number.MAX_SAFE_INTEGER), undefined);
        assert.deepEqual(await stores.keys.history(r), []);
      });

      it("createDate strictly increases when the clock stands still or steps back", async () => {
        const r = ref();
        const clock = fixedClock(5000);
        const a = await stores.keys.append(r, set(randomPubKey()), clock);
        const b = await stores.keys.append(r, set(randomPubKey()), clock);
        clock.t = 10;
        const c = await stores.keys.append(r, () => ({}), clock);
        assert.deepEqual(
          [a, b, c].map((x) => [x.seq, x.createDate]),
          [
            [1, 5000],
            [2, 5001],
            [3, 5002],
          ],
        );
      });

      it("next sees the newest record and a refusal writes nothing", async () => {
        const r = ref();
        const first = await stores.keys.append(r, set(randomPubKey()), fixedClock(1));
        let seen: KeyRecord | undefined;
        await assert.rejects(
          stores.keys.append(
            r,
            (last) => {
              seen = last;
              throw new AppError("pki.key_already_exists");
            },
            fixedClock(2),
          ),
          isCode("pki.key_already_exists"),
        );
        assert.deepEqual(seen, first);
        assert.deepEqual(await stores.keys.history(r), [first]);
      });

      it("a deletion record has no key, and customData comes back as written", async () => {
        const r = ref();
        const data = JSON.stringify({ device: "phone", tags: ["a", "b"], n: 1, "$odd.key": null });
        const withData = await stores.keys.append(r, set(randomPubKey(), data), fixedClock(1));
        const deletion = await stores.keys.append(r, () => ({}), fixedClock(2));
        assert.equal(withData.customData, data);
        assert.equal("userPubKey" in deletion, false);
        assert.equal("customData" in deletion, false);
        const [newest, oldest] = await stores.keys.history(r);
        assert.deepEqual(newest, deletion);
        assert.equal("userPubKey" in (newest ?? {}), false);
        assert.deepEqual(oldest, withData);
      });

      it("at returns the record in force, inclusive of its createDate", async () => {
        const r = ref();
        const k1 = randomPubKey();
        const k2 = randomPubKey();
        await stores.keys.append(r, set(k1), fixedClock(100));
        await stores.keys.append(r, set(k2), fixedClock(200));
        await stores.keys.append(r, () => ({}), fixedClock(300));
        assert.equal(await stores.keys.at(r, 99), undefined);
        assert.equal((await stores.keys.at(r, 100))?.userPubKey, k1);
        assert.equal((await stores.keys.at(r, 199))?.userPubKey, k1);
        assert.equal((await stores.keys.at(r, 200))?.userPubKey, k2);
        assert.equal((await stores.keys.at(r, 299))?.seq, 2);
        const deleted = await stores.keys.at(r, 300);
        assert.equal(deleted?.seq, 3);
        assert.equal(deleted?.userPubKey, undefined);
        assert.equal((await stores.keys.at(r, Number.MAX_SAFE_INTEGER))?.seq, 3);
      });

      it("histories differing in any one of userId, instanceId, contextId are separate", async () => {
        const r = ref();
        const others: KeyRef[] = [
          { ...r, userId: `${r.userId}x` },
          { ...r, instanceId: randomPubKey() },
          { ...r, contextId: `${r.contextId}x` },
        ];
        await stores.keys.append(r, set(randomPubKey()), fixedClock(1));
        for (const o of others) {
          assert.equal(await stores.keys.latest(o), undefined);
          assert.deepEqual(await stores.keys.history(o), []);
        }
        const other = await stores.keys.append(others[0] as KeyRef, set(randomPubKey()), fixedClock(1));
        assert.equal(other.seq, 1);
      });

      it("history is newest first and at agrees with it at every record's date", async () => {
        const r = ref();
        const clock = fixedClock(1_000);
        const written: KeyRecord[] = [];
        for (let i = 0; i < 40; i++) {
          clock.t += i % 3 === 0 ? 0 : 7;
          written.push(await stores.keys.append(r, i % 5 === 4 ? () => ({}) : set(randomPubKey()), clock));
        }
        assert.deepEqual(await stores.keys.history(r), [...written].reverse());
        for (const rec of written) {
          assert.deepEqual(await stores.keys.at(r, rec.createDate), rec);
        }
      });

      it("20 concurrent appends to one history all land, with strictly increasing seq and createDate", async () => {
        const r = ref();
        const clock = fixedClock(42_000);
        const keys = Array.from({ length: 20 }, () => randomPubKey());
        const results = await Promise.all(keys.map((k) => stores.keys.append(r, set(k), clock)));
        const history = [...(await stores.keys.history(r))].reverse();
        assert.equal(history.length, 20);
        assert.deepEqual(
          history.map((h) => h.seq),
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        for (let i = 1; i < history.length; i++) {
          assert.ok((history[i] as KeyRecord).createDate > (history[i - 1] as KeyRecord).createDate);
        }
        assert.deepEqual(new Set(history.map((h) => h.userPubKey)), new Set(keys));
        assert.deepEqual(
          [...results].sort((a, b) => a.seq - b.seq),
          history,
        );
      });
    });
  });
}
