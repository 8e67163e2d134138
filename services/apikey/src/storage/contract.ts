import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type Scope, settledCode } from "@pkiserver/kit";
import { type ApiKeyRecord, newApiKeyId } from "../domain/entities";
import type { ApiKeyStore, NonceStore } from "../domain/ports";

export interface ContractStores {
  keys: ApiKeyStore;
  nonces: NonceStore;
  /** Stores a second replica would use: same data, separate instances. */
  replica?: { keys: ApiKeyStore; nonces: NonceStore };
  close?(): Promise<void>;
}

const LIMIT = 10;

let clock = 1_700_000_000_000;

function record(overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  clock += 1;
  return {
    id: newApiKeyId(),
    name: "key",
    enabled: true,
    maxScope: ["user:read", "pki:read"] as Scope[],
    type: "secret",
    sealedSecret: "v1.k.iv.tag.ct",
    createDate: clock,
    ...overrides,
  };
}

const code = settledCode;

/**
 * The behaviour every ApiKeyStore/NonceStore adapter must have, run against
 * each of them. `makeStores` gives empty stores for every test.
 */
export function apiKeyStoreContract(name: string, makeStores: () => Promise<ContractStores>): void {
  describe(`api key store contract: ${name}`, () => {
    let s: ContractStores;
    let other: { keys: ApiKeyStore; nonces: NonceStore };

    beforeEach(async () => {
      s = await makeStores();
      other = s.replica ?? s;
    });
    afterEach(async () => {
      await s.close?.();
    });

    it("returns a stored key exactly as written, optional fields included", async () => {
      const secretKey = record({ name: "first" });
      await s.keys.insertFirst(secretKey);
      const pubKey = record({ type: "pubKey", sealedSecret: undefined, clientPublicKey: "PEM" });
      delete (pubKey as { sealedSecret?: string }).sealedSecret;
      await s.keys.insert(pubKey, LIMIT);
      assert.deepEqual(await s.keys.get(secretKey.id), secretKey);
      assert.deepEqual(await s.keys.get(pubKey.id), pubKey);
      assert.equal(await s.keys.get(newApiKeyId()), undefined);
    });

    it("lists keys oldest first", async () => {
      const a = record();
      const b = record();
      const c = record();
      await s.keys.insertFirst(a);
      await s.keys.insert(c, LIMIT);
      await s.keys.insert(b, LIMIT);
      assert.deepEqual(
        (await s.keys.list()).map((k) => k.id),
        [a.id, b.id, c.id],
      );
    });

    it("refuses a first key once any key exists", async () => {
      await s.keys.insertFirst(record());
      assert.equal(await code(s.keys.insertFirst(record())), "apikey.first_key_exists");
      assert.equal((await s.keys.list()).length, 1);
    });

    it("lets exactly one of concurrent first-key creations through, across replicas", async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => code((i % 2 === 0 ? s : other).keys.insertFirst(record()))),
      );
      assert.equal(results.filter((r) => r === "ok").length, 1);
      assert.equal(results.filter((r) => r === "apikey.first_key_exists").length, 7);
      assert.equal((await s.keys.list()).length, 1);
    });

    it("allows a first key again once every key has been deleted", async () => {
      const first = record();
      await s.keys.insertFirst(first);
      const second = record();
      await s.keys.insert(second, LIMIT);
      assert.equal(await s.keys.delete(first.id), true);
      assert.equal(await code(s.keys.insertFirst(record())), "apikey.first_key_exists");
      assert.equal(await s.keys.delete(second.id), true);
      const again = record();
      await s.keys.insertFirst(again);
      assert.deepEqual(
        (await s.keys.list()).map((k) => k.id),
        [again.id],
      );
    });

    it("refuses the key beyond the limit", async () => {
      await s.keys.insertFirst(record());
      for (let i = 1; i < LIMIT; i++) await s.keys.insert(record(), LIMIT);
      assert.equal(await code(s.keys.insert(record(), LIMIT)), "apikey.too_many");
      assert.equal((await s.keys.list()).length, LIMIT);
    });

    it("never exceeds the limit under concurrent adds from several replicas", async () => {
      await s.keys.insertFirst(record());
      for (let i = 1; i < LIMIT - 1; i++) await s.keys.insert(record(), LIMIT);
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => code((i % 2 === 0 ? s : other).keys.insert(record(), LIMIT))),
      );
      assert.equal(results.filter((r) => r === "ok").length, 1);
      assert.equal(results.filter((r) => r === "apikey.too_many").length, 5);
      assert.equal((await s.keys.list()).length, LIMIT);
    });

    it("fills exactly up to the limit when many adds race on an empty store", async () => {
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) => code((i % 2 === 0 ? s : other).keys.insert(record(), LIMIT))),
      );
      assert.equal(results.filter((r) => r === "ok").length, LIMIT);
      assert.equal((await s.keys.list()).length, LIMIT);
    });

    it("frees a place when a key is deleted", async () => {
      const first = record();
      await s.keys.insertFirst(first);
      for (let i = 1; i < LIMIT; i++) await s.keys.insert(record(), LIMIT);
      assert.equal(await s.keys.delete(first.id), true);
      await s.keys.insert(record(), LIMIT);
      assert.equal(await code(s.keys.insert(record(), LIMIT)), "apikey.too_many");
    });

    it("updates only the given fields and reports the record before and after", async () => {
      const k = record({ name: "old", maxScope: ["user:read", "user:write"] });
      await s.keys.insertFirst(k);
      const changed = await s.keys.update(k.id, { enabled: false, maxScope: ["pki:read"] });
      assert.ok(changed);
      assert.deepEqual(changed.before, k);
      const expected = { ...k, enabled: false, maxScope: ["pki:read"] as Scope[] };
      assert.deepEqual(changed.after, expected);
      assert.deepEqual(await s.keys.get(k.id), expected);
      const renamed = await s.keys.update(k.id, { name: "new", maxScope: [] });
      assert.deepEqual(renamed?.after, { ...expected, name: "new", maxScope: [] });
      assert.equal(await s.keys.update(newApiKeyId(), { name: "x" }), undefined);
    });

    it("keeps a key's own rate limits, replaces them on update, clears them with null, across replicas", async () => {
      const k = record({ rateLimits: { pki: 100, user: 5 } });
      await s.keys.insertFirst(k);
      assert.deepEqual(await other.keys.get(k.id), k);
      const changed = await s.keys.update(k.id, { rateLimits: { audit: 7 } });
      assert.deepEqual(changed?.before.rateLimits, { pki: 100, user: 5 });
      assert.deepEqual(changed?.after, { ...k, rateLimits: { audit: 7 } });
      assert.deepEqual(await other.keys.get(k.id), { ...k, rateLimits: { audit: 7 } });
      // A change of another field leaves them as they are.
      assert.deepEqual((await s.keys.update(k.id, { name: "renamed" }))?.after.rateLimits, { audit: 7 });
      const cleared = await s.keys.update(k.id, { rateLimits: null });
      const { rateLimits: _gone, ...without } = k;
      assert.deepEqual(cleared?.after, { ...without, name: "renamed" });
      assert.deepEqual(await other.keys.get(k.id), { ...without, name: "renamed" });
    });

    it("applies a guarded update only while the key's maxScope is the guarded one, across replicas", async () => {
      const k = record({ maxScope: ["user:read", "pki:read"] });
      await s.keys.insertFirst(k);
      const widened = await other.keys.update(k.id, { maxScope: ["user:read", "pki:read", "pkiadmin:write"] });
      assert.ok(widened);
      assert.equal(await s.keys.update(k.id, { enabled: false }, { maxScope: k.maxScope }), undefined);
      assert.equal(await s.keys.update(k.id, { enabled: false }, { maxScope: ["pki:read", "user:read"] }), undefined);
      assert.equal(await s.keys.update(k.id, { enabled: false }, { maxScope: [] }), undefined);
      assert.deepEqual(await s.keys.get(k.id), widened.after);
      const changed = await s.keys.update(k.id, { enabled: false }, { maxScope: widened.after.maxScope });
      assert.deepEqual(changed?.after, { ...widened.after, enabled: false });
      assert.equal(await s.keys.update(newApiKeyId(), { name: "x" }, { maxScope: [] }), undefined);
    });

    it("applies a guarded update to a key whose maxScope is empty only while it is", async () => {
      const k = record({ maxScope: [] });
      await s.keys.insertFirst(k);
      assert.equal((await s.keys.update(k.id, { name: "a" }, { maxScope: [] }))?.after.name, "a");
      await other.keys.update(k.id, { maxScope: ["pkiadmin:read"] });
      assert.equal(await s.keys.update(k.id, { name: "b" }, { maxScope: [] }), undefined);
      assert.equal((await s.keys.get(k.id))?.name, "a");
    });

    it("deletes under a guard only while the key's maxScope is the guarded one, across replicas", async () => {
      const k = record({ maxScope: ["user:read"] });
      await s.keys.insertFirst(k);
      await other.keys.update(k.id, { maxScope: ["user:read", "pkiadmin:write"] });
      assert.equal(await s.keys.delete(k.id, { maxScope: ["user:read"] }), false);
      assert.ok(await s.keys.get(k.id));
      assert.equal(await s.keys.delete(k.id, { maxScope: ["user:read", "pkiadmin:write"] }), true);
      assert.equal(await s.keys.get(k.id), undefined);
      assert.equal(await s.keys.delete(k.id, { maxScope: ["user:read", "pkiadmin:write"] }), false);
    });

    it("rotates a secret key's credential: the newest becomes the previous, with its expiry and the next generation", async () => {
      const k = record({ sealedSecret: "sealed-0" });
      await s.keys.insertFirst(k);
      const first = await s.keys.rotateCredential(
        k.id,
        {
          fromGeneration: 0,
          sealedSecret: "sealed-1",
          previousSealedSecret: "sealed-0",
          previousCredentialExpiresAt: 1_000,
        },
        { maxScope: k.maxScope },
      );
      const afterFirst = {
        ...k,
        sealedSecret: "sealed-1",
        previousSealedSecret: "sealed-0",
        previousCredentialExpiresAt: 1_000,
        credentialGeneration: 1,
      };
      assert.deepEqual(first, { before: k, after: afterFirst });
      assert.deepEqual(await other.keys.get(k.id), afterFirst);
      // A second rotation drops the older previous credential.
      const second = await other.keys.rotateCredential(
        k.id,
        {
          fromGeneration: 1,
          sealedSecret: "sealed-2",
          previousSealedSecret: "sealed-1",
          previousCredentialExpiresAt: 2_000,
        },
        { maxScope: k.maxScope },
      );
      const afterSecond = {
        ...afterFirst,
        sealedSecret: "sealed-2",
        previousSealedSecret: "sealed-1",
        previousCredentialExpiresAt: 2_000,
        credentialGeneration: 2,
      };
      assert.deepEqual(second?.after, afterSecond);
      assert.deepEqual(await s.keys.get(k.id), afterSecond);
      assert.deepEqual(await s.keys.list(), [afterSecond]);
    });

    it("rotates a public-key key's credential and keeps the fields a rotation does not write", async () => {
      const k = record({ type: "pubKey", clientPublicKey: "PEM-0", name: "signer" });
      delete (k as { sealedSecret?: string }).sealedSecret;
      await s.keys.insertFirst(k);
      const r = await s.keys.rotateCredential(
        k.id,
        {
          fromGeneration: 0,
          clientPublicKey: "PEM-1",
          previousClientPublicKey: "PEM-0",
          previousCredentialExpiresAt: 5,
        },
        { maxScope: k.maxScope },
      );
      const expected = {
        ...k,
        clientPublicKey: "PEM-1",
        previousClientPublicKey: "PEM-0",
        previousCredentialExpiresAt: 5,
        credentialGeneration: 1,
      };
      assert.deepEqual(r?.after, expected);
      assert.deepEqual(await s.keys.get(k.id), expected);
    });

    it("lets exactly one of concurrent rotations from one generation through, across replicas", async () => {
      const k = record();
      await s.keys.insertFirst(k);
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 === 0 ? s : other).keys.rotateCredential(
            k.id,
            {
              fromGeneration: 0,
              sealedSecret: `sealed-${i}`,
              previousSealedSecret: k.sealedSecret,
              previousCredentialExpiresAt: 10,
            },
            { maxScope: k.maxScope },
          ),
        ),
      );
      const winners = results.filter((r) => r !== undefined);
      assert.equal(winners.length, 1);
      assert.deepEqual(await s.keys.get(k.id), winners[0]?.after);
      assert.equal((await s.keys.get(k.id))?.credentialGeneration, 1);
    });

    it("rotates only while the key's maxScope is the guarded one, and reports an unknown key", async () => {
      const k = record({ maxScope: ["user:read"] });
      await s.keys.insertFirst(k);
      await other.keys.update(k.id, { maxScope: ["user:read", "pkiadmin:write"] });
      const rotation = {
        fromGeneration: 0,
        sealedSecret: "new",
        previousSealedSecret: "old",
        previousCredentialExpiresAt: 1,
      };
      assert.equal(await s.keys.rotateCredential(k.id, rotation, { maxScope: ["user:read"] }), undefined);
      assert.equal((await s.keys.get(k.id))?.sealedSecret, k.sealedSecret);
      assert.equal(await s.keys.rotateCredential(newApiKeyId(), rotation, { maxScope: [] }), undefined);
      assert.equal(
        await s.keys.rotateCredential(
          k.id,
          { ...rotation, fromGeneration: 1 },
          { maxScope: ["user:read", "pkiadmin:write"] },
        ),
        undefined,
      );
    });

    it("deletes a key once and reports an unknown one", async () => {
      const k = record();
      await s.keys.insertFirst(k);
      assert.equal(await s.keys.delete(k.id), true);
      assert.equal(await s.keys.delete(k.id), false);
      assert.equal(await s.keys.get(k.id), undefined);
    });

    it("accepts a nonce once per key", async () => {
      const now = 1_000_000;
      assert.equal(await s.nonces.consume("key1", "n", now, now + 1000), true);
      assert.equal(await s.nonces.consume("key1", "n", now + 1, now + 1001), false);
      assert.equal(await other.nonces.consume("key1", "n", now + 2, now + 1002), false);
      assert.equal(await s.nonces.consume("key2", "n", now + 3, now + 1003), true);
    });

    it("lets exactly one of concurrent uses of a nonce through, across replicas", async () => {
      const now = 2_000_000;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? s : other).nonces.consume("key1", "race", now, now + 1000)),
      );
      assert.equal(results.filter(Boolean).length, 1);
    });

    it("accepts a nonce again after it expired, purged or not", async () => {
      const now = 3_000_000;
      assert.equal(await s.nonces.consume("key1", "a", now, now + 1000), true);
      assert.equal(await s.nonces.consume("key1", "a", now + 999, now + 1999), false);
      assert.equal(await s.nonces.consume("key1", "a", now + 1000, now + 2000), true);
      assert.equal(await s.nonces.consume("key1", "a", now + 1500, now + 2500), false);
    });

    it("purges expired nonces only", async () => {
      const now = 4_000_000;
      await s.nonces.consume("key1", "old", now, now + 100);
      await s.nonces.consume("key1", "new", now, now + 10_000);
      assert.equal(await s.nonces.purgeExpired(now + 200), 1);
      assert.equal(await s.nonces.consume("key1", "new", now + 300, now + 10_300), false);
      assert.equal(await s.nonces.consume("key1", "old", now + 300, now + 10_300), true);
    });

    it("answers a ping", async () => {
      assert.equal(await s.keys.ping(), true);
    });
  });
}
