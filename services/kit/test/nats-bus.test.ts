import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { context, trace } from "@opentelemetry/api";
import { busContract, createNatsBus, NatsEventBus, streamName } from "@pkiserver/kit";
import { getInfra, type LocalServer, startLocalNats } from "@pkiserver/test-harness";
import { connect, type JetStreamManager, nanos } from "nats";
import { dec, deleteStreams, enc, sleep, TRACE_ID, withTracePropagation } from "./support";

busContract(
  "NatsEventBus",
  async () => {
    const infra = await getInfra();
    const prefix = infra.freshName("bus");
    const bus = await createNatsBus({ servers: infra.natsUrl, prefix, redeliveryDelayMs: 100 });
    return {
      bus,
      cleanup: async () => {
        await bus.close();
        await deleteStreams(infra.natsUrl, prefix);
      },
    };
  },
  { settleMs: 500 },
);

describe("NatsEventBus beyond the contract", () => {
  let server: LocalServer | undefined;
  const buses: NatsEventBus[] = [];
  after(async () => {
    for (const b of buses) await b.close(100);
    await server?.dispose();
  });

  it("keeps an event published while NATS is down and delivers it after NATS is back", async () => {
    server = await startLocalNats();
    const infra = await getInfra();
    const prefix = infra.freshName("outage");
    const publisher = await createNatsBus({ servers: server.url, prefix, publishAckWaitMs: 1000 });
    const consumer = await createNatsBus({ servers: server.url, prefix });
    buses.push(publisher, consumer);
    const got: string[] = [];
    await consumer.subscribe({
      durable: "outage",
      subjects: ["auth.v1.>"],
      deliver: "all",
      handler: async (m) => {
        got.push(dec(m.data));
      },
    });
    await publisher.publish("auth.v1.session.revoked", enc("before"));

    await server.stop();
    const deadline = Date.now() + 5000;
    while (publisher.isReady() && Date.now() < deadline) await sleep(20);
    assert.equal(publisher.isReady(), false, "isReady() reflects the lost connection");

    await publisher.publish("auth.v1.session.revoked", enc("during"));
    assert.equal(publisher.pendingCount(), 1, "the event waits in the outbox");

    await server.restart();
    const until = Date.now() + 20_000;
    while (got.length < 2 && Date.now() < until) await sleep(50);
    assert.deepEqual(got, ["before", "during"]);
    assert.equal(publisher.pendingCount(), 0);
    assert.equal(publisher.isReady(), true);
  });

  it("fails clearly, instead of hanging, when NATS cannot be reached at start", async () => {
    const started = Date.now();
    await assert.rejects(
      createNatsBus({ servers: "nats://127.0.0.1:1", connectTimeoutMs: 1500 }),
      /cannot reach NATS at nats:\/\/127\.0\.0\.1:1/,
    );
    assert.ok(Date.now() - started < 5000);
  });

  it("creates one stream per service with the configured retention and keeps it when another process starts", async () => {
    const infra = await getInfra();
    const prefix = infra.freshName("streams");
    const auth = await createNatsBus({ servers: infra.natsUrl, prefix, streamMaxAgeMs: { auth: 90_000 } });
    const reader = await createNatsBus({ servers: infra.natsUrl, prefix });
    buses.push(auth, reader);
    const nc = await connect({ servers: infra.natsUrl });
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(streamName(prefix, "auth"));
      assert.deepEqual(info.config.subjects, [`${prefix}.auth.v1.>`]);
      assert.equal(info.config.max_age, 90_000 * 1e6);
      const apikey = await jsm.streams.info(streamName(prefix, "apikey"));
      assert.equal(apikey.config.max_age, 7 * 24 * 3600_000 * 1e6);
    } finally {
      await nc.close();
      await deleteStreams(infra.natsUrl, prefix);
    }
  });

  it("carries the publisher's trace context to the handler through message headers", async () => {
    const infra = await getInfra();
    await withTracePropagation(async (inTrace) => {
      const bus = await createNatsBus({ servers: infra.natsUrl, prefix: infra.freshName("trace") });
      buses.push(bus);
      const seen: (string | undefined)[] = [];
      await bus.subscribe({
        subjects: ["pki.v1.>"],
        deliver: "new",
        handler: async () => {
          seen.push(trace.getSpanContext(context.active())?.traceId);
        },
      });
      await inTrace(() => bus.publish("pki.v1.host.registered", enc("traced")));
      const deadline = Date.now() + 10_000;
      while (seen.length === 0 && Date.now() < deadline) await sleep(20);
      assert.deepEqual(seen, [TRACE_ID]);
    });
  });

  it("handles up to `concurrency` events at once, acknowledging each: none comes again to the durable", async () => {
    const infra = await getInfra();
    const prefix = infra.freshName("concurrency");
    const bus = await createNatsBus({ servers: infra.natsUrl, prefix });
    buses.push(bus);
    const handled: string[] = [];
    let inFlight = 0;
    let most = 0;
    const subscribe = () =>
      bus.subscribe({
        durable: "recorder",
        subjects: ["auth.v1.>"],
        deliver: "all",
        concurrency: 4,
        handler: async (m) => {
          inFlight++;
          most = Math.max(most, inFlight);
          await sleep(30);
          inFlight--;
          handled.push(dec(m.data));
        },
      });
    const sub = await subscribe();
    const sent = Array.from({ length: 24 }, (_, i) => `e${i}`);
    await Promise.all(sent.map((e) => bus.publish("auth.v1.session.opened", enc(e))));
    const deadline = Date.now() + 10_000;
    while (handled.length < sent.length && Date.now() < deadline) await sleep(20);
    assert.deepEqual([...handled].sort(), [...sent].sort(), "each event handled once");
    assert.ok(most > 1 && most <= 4, `at most 4 at once and more than one (${most})`);
    await sub.stop();
    // The durable resumes after what it acknowledged: nothing again, only what is new.
    const again = await subscribe();
    await bus.publish("auth.v1.session.opened", enc("later"));
    const until = Date.now() + 10_000;
    while (!handled.includes("later") && Date.now() < until) await sleep(20);
    await sleep(300);
    assert.deepEqual([...handled].sort(), [...sent, "later"].sort());
    await again.stop();
  });

  it("refuses a subject no stream holds rather than keeping it for ever", async () => {
    const infra = await getInfra();
    const bus = await createNatsBus({ servers: infra.natsUrl, prefix: infra.freshName("nostream") });
    buses.push(bus);
    await assert.rejects(bus.publish("billing.v1.invoice.created", enc("x")), /no stream holds/);
    await assert.rejects(
      bus.subscribe({ subjects: ["billing.>"], deliver: "new", handler: async () => {} }),
      /no stream holds/,
    );
  });

  it("refuses an event it could never publish instead of letting it block the events behind it", async () => {
    const infra = await getInfra();
    const bus = await createNatsBus({
      servers: infra.natsUrl,
      prefix: infra.freshName("poison"),
      publishAckWaitMs: 500,
    });
    buses.push(bus);
    const got: string[] = [];
    await bus.subscribe({
      subjects: ["auth.v1.>"],
      deliver: "new",
      handler: async (m) => {
        got.push(dec(m.data));
      },
    });
    await assert.rejects(bus.publish("auth.v1.session.revoked", enc("bad header"), { headers: { "x-a": "a\nb" } }));
    await assert.rejects(bus.publish("auth.v1.session.revoked", new Uint8Array(8 * 1024 * 1024)));
    await assert.rejects(bus.publish("auth.v1.session.re voked", enc("bad subject")));
    await assert.rejects(bus.publish("auth.v1..revoked", enc("empty token")));
    assert.equal(bus.pendingCount(), 0);
    await bus.publish("auth.v1.session.revoked", enc("good"));
    const deadline = Date.now() + 5000;
    while (got.length === 0 && Date.now() < deadline) await sleep(20);
    assert.deepEqual(got, ["good"]);
  });

  it("close() ends within its grace period while NATS is away, reporting what it drops", async () => {
    const local = await startLocalNats();
    try {
      const infra = await getInfra();
      const prefix = infra.freshName("closing");
      const bus = await createNatsBus({
        servers: local.url,
        prefix,
        publishAckWaitMs: 500,
      });
      await bus.subscribe({ subjects: ["pki.v1.>"], deliver: "new", handler: async () => {} });
      await bus.subscribe({ durable: "closing", subjects: ["auth.v1.>"], deliver: "all", handler: async () => {} });
      await local.stop();
      const deadline = Date.now() + 5000;
      while (bus.isReady() && Date.now() < deadline) await sleep(20);
      await bus.publish("auth.v1.session.revoked", enc("stranded"));
      const started = Date.now();
      await bus.close(300);
      assert.ok(Date.now() - started < 3000, `close() took ${Date.now() - started} ms`);
      assert.equal(bus.isReady(), false);
      // A closed bus is gone: it does not reconnect and publish what it dropped.
      await local.restart();
      await sleep(3000);
      const nc = await connect({ servers: local.url });
      try {
        const jsm = await nc.jetstreamManager();
        const info = await jsm.streams.info(streamName(prefix, "auth"));
        assert.equal(info.state.messages, 0);
      } finally {
        await nc.close();
      }
    } finally {
      await local.dispose();
    }
  });

  it("applies its configured retention even when another process created the stream at the same moment", async () => {
    const infra = await getInfra();
    const prefix = infra.freshName("race");
    const nc = await connect({ servers: infra.natsUrl });
    try {
      const jsm = await nc.jetstreamManager();
      const name = streamName(prefix, "auth");
      // The other process's stream, with the default retention, lands between our look and our add.
      const raced: JetStreamManager = Object.create(jsm);
      let looked = false;
      Object.defineProperty(raced, "streams", {
        value: Object.assign(Object.create(jsm.streams), {
          info: async (n: string, ...rest: unknown[]) => {
            if (n === name && !looked) {
              looked = true;
              await jsm.streams.add({ name, subjects: [`${prefix}.auth.v1.>`], max_age: nanos(7 * 24 * 3600_000) });
              return jsm.streams.info("NO_SUCH_STREAM_AT_ALL");
            }
            return (jsm.streams.info as (...a: unknown[]) => ReturnType<typeof jsm.streams.info>)(n, ...rest);
          },
        }),
      });
      const bus = new NatsEventBus(nc, raced, nc.jetstream(), {
        prefix,
        streams: { auth: "auth.v1.>" },
        streamMaxAgeMs: { auth: 30 * 24 * 3600_000 },
        defaultStreamMaxAgeMs: 7 * 24 * 3600_000,
        duplicateWindowMs: 120_000,
        replicas: 1,
        connectTimeoutMs: 1000,
        publishAckWaitMs: 1000,
        redeliveryDelayMs: 100,
        ackWaitMs: 30_000,
        maxOutbox: 10,
      });
      await bus.ensureStreams();
      assert.ok(looked);
      const info = await jsm.streams.info(name);
      assert.equal(info.config.max_age, nanos(30 * 24 * 3600_000));
    } finally {
      await nc.close();
      await deleteStreams(infra.natsUrl, prefix);
    }
  });
});
