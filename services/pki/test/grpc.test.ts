import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AppError,
  type BusMessage,
  connectMongo,
  decodeEvent,
  type ErrorCode,
  Events,
  MemoryEventBus,
  type MongoHandle,
} from "@pkiserver/kit";
import { randomPubKey } from "@pkiserver/pki";
import { getInfra } from "@pkiserver/test-harness";
import { servePki } from "./served-pki";

const fails = (code: ErrorCode, data?: unknown) => (err: unknown) => {
  assert.ok(err instanceof AppError, `expected AppError ${code}, got ${String(err)}`);
  assert.equal(err.code, code);
  if (data !== undefined) assert.deepEqual(err.data, data);
  return true;
};

describe("pki gRPC service over the wire, on MongoDB", () => {
  let mongo: MongoHandle;
  let bus: MemoryEventBus;
  let served: Awaited<ReturnType<typeof servePki>>;
  let app: (typeof served)["app"];
  let pki: (typeof served)["pki"];
  const published: BusMessage[] = [];

  before(async () => {
    const infra = await getInfra();
    mongo = await connectMongo(infra.mongoUrl, infra.freshName("pki_grpc"));
    bus = new MemoryEventBus();
    await bus.subscribe({ subjects: ["pki.v1.>"], deliver: "all", handler: async (m) => void published.push(m) });
    // Every call is authenticated: a token of a caller with every scope, verified as pki verifies any.
    served = await servePki({ name: "pki-test", bus, mongo });
    ({ app, pki } = served);
  });

  after(async () => {
    await served.close();
    await bus.close();
    await mongo.db.dropDatabase();
    await mongo.close();
  });

  it("is ready while MongoDB and the bus answer, and listens on the port it picked", async () => {
    assert.ok(app.grpc.port > 0);
    assert.equal(await app.isReady(), true);
  });

  it("manages hosts and maps each host error to its code", async () => {
    const a = randomPubKey();
    const b = randomPubKey();
    assert.deepEqual(await pki.setHost({ hostPubKey: a, hostUrl: "a.example:3000" }), { instanceId: a });
    await pki.setHost({ hostPubKey: b, hostUrl: "b.example:3000" });
    await assert.rejects(pki.setHost({ hostPubKey: a, hostUrl: "x.example" }), fails("pki.host_already_exists"));
    await assert.rejects(
      pki.setHost({ hostPubKey: randomPubKey(), hostUrl: "a.example:3000" }),
      fails("pki.host_url_reserved"),
    );

    await pki.addHostUrl({ instanceId: a, hostUrl: "a2.example" });
    await assert.rejects(pki.addHostUrl({ instanceId: a, hostUrl: "a2.example" }), fails("pki.host_url_exists"));
    await assert.rejects(pki.addHostUrl({ instanceId: a, hostUrl: "b.example:3000" }), fails("pki.host_url_reserved"));
    await assert.rejects(
      pki.addHostUrl({ instanceId: randomPubKey(), hostUrl: "z.example" }),
      fails("pki.host_not_found"),
    );

    const expected = { instanceId: a, hostPubKey: a, addresses: ["a.example:3000", "a2.example"] };
    assert.deepEqual(await pki.getHost({ instanceId: a }), { host: expected });
    assert.deepEqual(await pki.getHost({ hostUrl: "a2.example" }), { host: expected });
    await assert.rejects(
      pki.getHost({ instanceId: a, hostUrl: "b.example:3000" }),
      fails("pki.host_not_found_by_filter"),
    );
    await assert.rejects(pki.getHost({}), fails("rpc.invalid_params"));
    assert.deepEqual(
      (await pki.listHosts({})).hosts.find((h) => h.instanceId === a),
      expected,
    );
    assert.deepEqual(await pki.verifyHostById({ instanceId: a, hostUrl: "a2.example" }), { valid: true });
    assert.deepEqual(await pki.verifyHostByPub({ hostPubKey: b, hostUrl: "a2.example" }), { valid: false });

    await pki.removeHostUrl({ instanceId: a, hostUrl: "a2.example" });
    await assert.rejects(pki.removeHostUrl({ instanceId: a, hostUrl: "a2.example" }), fails("pki.host_url_not_found"));
    await pki.deleteHost({ instanceId: a });
    await assert.rejects(pki.deleteHost({ instanceId: a }), fails("pki.host_not_found"));
    assert.deepEqual(await pki.verifyHostById({ instanceId: a, hostUrl: "a.example:3000" }), { valid: false });
  });

  it("sends invalid parameters back as -32602 with the field named", async () => {
    await assert.rejects(
      pki.setHost({ hostPubKey: "not-a-key", hostUrl: "a.example" }),
      fails("rpc.invalid_params", "hostPubKey -> Invalid public key"),
    );
    await assert.rejects(
      pki.getCurrentKey({}),
      (err: unknown) => fails("rpc.invalid_params")(err) && (err as AppError).rpcCode === -32602,
    );
    const ref = { userId: "user1", instanceId: randomPubKey(), contextId: "ctx1" };
    await assert.rejects(
      pki.setKey({ ref, userPubKey: randomPubKey(), customDataJson: JSON.stringify({ big: "x".repeat(5000) }) }),
      fails("rpc.invalid_params"),
    );
  });

  it("keeps a user's key history and maps each key error to its code", async () => {
    const ref = { userId: "user1", instanceId: randomPubKey(), contextId: "32fcd0b5-ceb5-44a7-9990-0d999b9718e6" };
    await assert.rejects(pki.getCurrentKey({ ref }), fails("pki.no_key"));
    await assert.rejects(pki.deleteKey({ ref }), fails("pki.no_key"));
    await assert.rejects(pki.getKeyAt({ ref, date: Date.now() }), fails("pki.no_key_at_time"));
    assert.deepEqual(await pki.getKeyHistory({ ref }), { records: [] });

    const k1 = randomPubKey();
    const set = await pki.setKey({ ref, userPubKey: k1, customDataJson: '{"device":"phone"}' });
    assert.equal(set.record?.userPubKey, k1);
    assert.equal(set.record?.customDataJson, '{"device":"phone"}');
    const t1 = set.record?.createDate ?? 0;
    assert.ok(Math.abs(t1 - Date.now()) < 60_000);
    await assert.rejects(pki.setKey({ ref, userPubKey: k1 }), fails("pki.key_already_exists"));

    assert.deepEqual((await pki.getCurrentKey({ ref })).record, set.record);
    assert.deepEqual((await pki.getKeyAt({ ref, date: t1 })).record, set.record);
    await assert.rejects(pki.getKeyAt({ ref, date: t1 - 1 }), fails("pki.no_key_at_time"));
    assert.deepEqual(await pki.verifyKey({ ref, userPubKey: k1, date: t1 }), { valid: true });

    const deleted = await pki.deleteKey({ ref });
    assert.equal(deleted.record?.userPubKey, undefined);
    const t2 = deleted.record?.createDate ?? 0;
    assert.ok(t2 > t1);
    assert.deepEqual((await pki.getCurrentKey({ ref })).record, deleted.record);
    assert.deepEqual(await pki.verifyKey({ ref, userPubKey: k1, date: t2 }), { valid: false });
    await assert.rejects(pki.deleteKey({ ref }), fails("pki.no_key"));

    const again = await pki.setKey({ ref, userPubKey: k1 });
    assert.deepEqual((await pki.getKeyHistory({ ref })).records, [again.record, deleted.record, set.record]);
  });

  it("publishes an event for each change once it is written", async () => {
    const ref = { userId: "events-user", instanceId: randomPubKey(), contextId: "ctx-events" };
    const host = randomPubKey();
    await pki.setHost({ hostPubKey: host, hostUrl: `${host}.example` });
    const set = await pki.setKey({ ref, userPubKey: randomPubKey() });
    await new Promise((r) => setImmediate(r));
    const registered = published
      .map((m) => decodeEvent(Events.hostRegistered, m))
      .find((e) => e?.host?.instanceId === host);
    assert.deepEqual(registered?.host?.addresses, [`${host}.example`]);
    const keySet = published
      .map((m) => decodeEvent(Events.userKeySet, m))
      .find((e) => e?.record?.userId === ref.userId);
    assert.deepEqual(keySet?.record, set.record);
  });
});
