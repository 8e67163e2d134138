import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { abortable, scopedClient } from "./call";
import { openAccess } from "./call-auth";
import { AppError, invalidParams } from "./errors";
import {
  type CallContext,
  connectService,
  createLocalClient,
  type GrpcServerHandle,
  implement,
  type ServiceRegistration,
  startGrpcServer,
} from "./grpc";
import { createLogger } from "./logger";
import { jsonRpc } from "./testing/json-rpc";

const definition: ServiceDefinition = {
  echo: jsonRpc("/test.Local/Echo"),
  fail: jsonRpc("/test.Local/Fail"),
  hang: jsonRpc("/test.Local/Hang"),
};

interface Seen {
  requestId: string;
  callerKeyId: string | undefined;
  finiteDeadline: boolean;
}

describe("in-process client", () => {
  const silent = createLogger({ name: "test", level: "silent" });
  /** Contexts of `hang` calls, to see what the handler learns when its caller gives up. */
  const hanging: CallContext[] = [];
  const handlers = {
    echo: async (req: { value: unknown }, ctx: CallContext): Promise<{ value: unknown; seen: Seen }> => ({
      value: req.value,
      seen: {
        requestId: ctx.requestId,
        callerKeyId: ctx.callerKeyId,
        finiteDeadline: Number.isFinite(ctx.deadline),
      },
    }),
    fail: async (req: { kind: string }): Promise<unknown> => {
      if (req.kind === "internal") throw new Error("the database password is hunter2");
      throw invalidParams("userId -> Expected string");
    },
    hang: (_req: unknown, ctx: CallContext): Promise<unknown> => {
      hanging.push(ctx);
      return new Promise((_resolve, reject) =>
        ctx.signal.addEventListener("abort", () => reject(new AppError("rpc.unavailable"))),
      );
    },
  };
  const registration: ServiceRegistration = {
    name: "test.Local",
    definition,
    // biome-ignore lint/suspicious/noExplicitAny: a hand-written test service
    implementation: implement<any>(definition, handlers as any, silent, openAccess(definition)),
  };
  let server: GrpcServerHandle;
  before(async () => {
    server = await startGrpcServer({ host: "127.0.0.1", port: 0, services: [registration] });
  });
  after(() => server.stop(100));

  // biome-ignore lint/suspicious/noExplicitAny: the hand-written service has no generated client type
  type Fn = (req: unknown, opts?: Record<string, unknown>) => Promise<any>;
  type Client = { echo: Fn; fail: Fn; hang: Fn };

  it("answers exactly as the same handlers answer over gRPC: results, metadata and errors", async () => {
    const local = createLocalClient<Client>(registration, "test.Local").client as unknown as Client;
    const remote = connectService<Client>(definition, "test.Local", server.address);
    try {
      const viaGrpc = remote.client as unknown as Client;
      const opts = { requestId: "req-1", callerKeyId: "key-1" };
      const value = { nested: [1, "two", null], text: "zażółć" };
      const here = await local.echo({ value }, opts);
      const there = await viaGrpc.echo({ value }, opts);
      assert.deepEqual(here.value, there.value);
      assert.deepEqual(
        [here.seen.requestId, here.seen.finiteDeadline],
        [there.seen.requestId, there.seen.finiteDeadline],
      );
      // The in-process channel is trusted: the key it names is believed. A plaintext
      // peer that presented no credential is not: its stated key is ignored.
      assert.deepEqual(here.seen, { requestId: "req-1", callerKeyId: "key-1", finiteDeadline: true });
      assert.equal(there.seen.callerKeyId, undefined);
      for (const kind of ["params", "internal"]) {
        const a = await local.fail({ kind }).catch((e: unknown) => e);
        const b = await viaGrpc.fail({ kind }).catch((e: unknown) => e);
        assert.ok(a instanceof AppError && b instanceof AppError);
        assert.equal(a.code, b.code);
        assert.deepEqual(a.data, b.data);
      }
      const internal = await local.fail({ kind: "internal" }).catch((e: unknown) => e);
      assert.equal((internal as AppError).code, "rpc.internal");
      assert.doesNotMatch(JSON.stringify((internal as AppError).data), /hunter2/);
    } finally {
      remote.close();
    }
  });

  it("gives up at the deadline with rpc.unavailable, and the handler learns its caller is gone", async () => {
    const local = createLocalClient<Client>(registration, "test.Local").client as unknown as Client;
    const before = hanging.length;
    const err = await local.hang({}, { timeoutMs: 30 }).catch((e: unknown) => e);
    assert.ok(err instanceof AppError);
    assert.equal(err.code, "rpc.unavailable");
    const ctx = hanging[before];
    assert.ok(ctx, "the handler ran");
    assert.equal(ctx.cancelled, true);
    assert.equal(ctx.signal.aborted, true);
  });

  it("over real gRPC too, a handler learns when its caller's deadline passes", async () => {
    const remote = connectService<Client>(definition, "test.Local", server.address);
    try {
      const before = hanging.length;
      const err = await (remote.client as unknown as Client).hang({}, { timeoutMs: 100 }).catch((e: unknown) => e);
      assert.ok(err instanceof AppError);
      assert.equal(err.code, "rpc.unavailable");
      const ctx = hanging[before];
      assert.ok(ctx, "the handler ran");
      for (let i = 0; i < 100 && !ctx.cancelled; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(ctx.cancelled, true);
    } finally {
      remote.close();
    }
  });
});

describe("abortable and scopedClient", () => {
  const store = {
    calls: 0,
    async write(): Promise<string> {
      this.calls++;
      return "written";
    },
    name: "store",
  };

  it("lets steps run while the call is live and refuses the next step once it was cancelled", async () => {
    const call = { cancelled: false };
    const guarded = abortable(store, call);
    assert.equal(await guarded.write(), "written");
    assert.equal(guarded.name, "store");
    call.cancelled = true;
    await assert.rejects(
      async () => guarded.write(),
      (e: unknown) => e instanceof AppError && e.code === "rpc.unavailable",
    );
    assert.equal(store.calls, 1, "the refused step never reached the store");
  });

  it("binds a call-scoped client to the caller's request id and remaining time", async () => {
    const given: Record<string, unknown>[] = [];
    const client = {
      within: (opts: Record<string, unknown>) => {
        given.push(opts);
        return { get: async () => "ok" };
      },
      get: async () => "unscoped",
    };
    const ctx = { requestId: "r-9", callerKeyId: undefined, deadline: Date.now() + 5000, cancelled: false };
    const scoped = scopedClient(client, ctx);
    assert.equal(await scoped.get(), "ok");
    assert.equal(given[0]?.requestId, "r-9");
    const timeoutMs = given[0]?.timeoutMs as number;
    assert.ok(timeoutMs > 0 && timeoutMs <= 5000, `timeoutMs ${timeoutMs}`);
    assert.equal(Object.hasOwn(given[0] ?? {}, "callerKeyId"), false);
  });
});
