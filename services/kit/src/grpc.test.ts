import assert from "node:assert/strict";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import type { handleUnaryCall, ServiceDefinition } from "@grpc/grpc-js";
import { openAccess } from "./call-auth";
import { AppError, invalidParams } from "./errors";
import { createClient, type GrpcServerHandle, implement, MetadataKeys, startGrpcServer, toGrpcError } from "./grpc";
import { createLogger } from "./logger";
import { jsonRpc } from "./testing/json-rpc";

const definition: ServiceDefinition = { Fail: jsonRpc("/test.Echo/Fail") };

type Handlers = { Fail: handleUnaryCall<{ data?: unknown; internal?: boolean }, unknown> };

describe("gRPC error mapping", () => {
  let server: GrpcServerHandle;
  const silent = createLogger({ name: "test", level: "silent" });
  before(async () => {
    const handlers = {
      Fail: async (req: { data: unknown; internal?: boolean }) => {
        if (req.internal) throw new Error("database password is hunter2");
        throw invalidParams(req.data as string);
      },
    };
    server = await startGrpcServer({
      host: "127.0.0.1",
      port: 0,
      services: [
        {
          name: "test.Echo",
          definition,
          // biome-ignore lint/suspicious/noExplicitAny: a hand-written test service
          implementation: implement<any>(definition, handlers as any, silent, openAccess(definition)),
        },
      ],
    });
  });
  after(() => server.stop(100));

  const call = async (req: unknown): Promise<AppError> => {
    const c = createClient<Handlers>(definition, "test.Echo", server.address);
    try {
      await c.client.Fail(req as { data?: unknown }, { timeoutMs: 3000 });
      assert.fail("expected an error");
    } catch (err) {
      assert.ok(err instanceof AppError, String(err));
      return err;
    } finally {
      c.close();
    }
  };

  it("carries an AppError's code and data to the caller", async () => {
    const err = await call({ data: "name -> too long" });
    assert.equal(err.code, "rpc.invalid_params");
    assert.equal(err.data, "name -> too long");
  });

  it("carries data holding characters outside ASCII", async () => {
    const data = "scopes -> 0 -> Unknown scope 'pkí:réad ✓ \u{1F600}'";
    const err = await call({ data });
    assert.equal(err.code, "rpc.invalid_params");
    assert.equal(err.data, data);
  });

  it("answers data too large for metadata with the code alone rather than failing the call", async () => {
    const err = await call({ data: "x".repeat(64 * 1024) });
    assert.equal(err.code, "rpc.invalid_params");
  });

  it("turns an unknown error into a bare internal error, without its detail", async () => {
    const err = await call({ internal: true });
    assert.equal(err.code, "rpc.internal");
    assert.equal(err.data, null);
    assert.doesNotMatch(String(err.internal), /hunter2/);
  });

  it("sends the code alone when the data cannot be encoded, instead of throwing", () => {
    const err = toGrpcError(new AppError("rpc.invalid_params", { data: { n: 1n } }), silent);
    assert.deepEqual(err.metadata?.get(MetadataKeys.errorCode), ["rpc.invalid_params"]);
    assert.deepEqual(err.metadata?.get(MetadataKeys.errorData), []);
  });
});

describe("gRPC client facing a server that is not there", () => {
  it("reports UNAVAILABLE as rpc.unavailable rather than an internal error", async () => {
    // Nothing listens on port 1 of loopback: the channel cannot connect.
    const c = createClient<Handlers>(definition, "test.Echo", "127.0.0.1:1");
    try {
      await c.client.Fail({}, { timeoutMs: 3000 });
      assert.fail("expected an error");
    } catch (err) {
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.code, "rpc.unavailable");
      assert.equal(err.rpcCode, -32000);
    } finally {
      c.close();
    }
  });
});

describe("gRPC server logging and shutdown", () => {
  const slowDefinition: ServiceDefinition = {
    Slow: jsonRpc("/test.Slow/Slow"),
  };
  type SlowHandlers = { Slow: handleUnaryCall<object, unknown> };

  const startSlow = (handler: () => Promise<unknown>, logger = createLogger({ name: "t", level: "silent" })) =>
    startGrpcServer({
      host: "127.0.0.1",
      port: 0,
      services: [
        {
          name: "test.Slow",
          definition: slowDefinition,
          // biome-ignore lint/suspicious/noExplicitAny: a hand-written test service
          implementation: implement<any>(slowDefinition, { Slow: handler } as any, logger, openAccess(slowDefinition)),
        },
      ],
    });

  it("writes the request id once in the line of an internal error", async () => {
    const lines: string[] = [];
    const logger = createLogger({ name: "test", destination: { write: (l: string) => void lines.push(l) } });
    const server = await startSlow(async () => {
      throw new Error("boom");
    }, logger);
    const c = createClient<SlowHandlers>(slowDefinition, "test.Slow", server.address);
    try {
      await c.client.Slow({}, { requestId: "req-once", timeoutMs: 3000 }).catch(() => undefined);
      const line = lines.find((l) => l.includes('"internal error"'));
      assert.ok(line, "the internal error is logged");
      assert.equal(line.match(/"requestId"/g)?.length, 1, line);
      assert.match(line, /"requestId":"req-once"/);
    } finally {
      c.close();
      await server.stop(100);
    }
  });

  it("stop() waits for running handlers even when their callers have gone, so stores outlive them", async () => {
    const events: string[] = [];
    let release: () => void = () => undefined;
    let started: () => void = () => undefined;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const server = await startSlow(async () => {
      started();
      await new Promise<void>((r) => {
        release = r;
      });
      events.push("handler finished");
      return {};
    });
    const c = createClient<SlowHandlers>(slowDefinition, "test.Slow", server.address);
    // The caller gives up (its deadline passes and it closes), leaving the handler running.
    const call = c.client.Slow({}, { timeoutMs: 200 }).catch(() => undefined);
    await running;
    await call;
    c.close();
    const stopped = server.stop(5000).then(() => events.push("stopped"));
    await new Promise((r) => setTimeout(r, 300));
    release();
    await stopped;
    assert.deepEqual(events, ["handler finished", "stopped"]);
  });

  it("stop() gives up on a handler that outlives the grace period", async () => {
    const server = await startSlow(() => new Promise(() => undefined));
    const c = createClient<SlowHandlers>(slowDefinition, "test.Slow", server.address);
    const pending = c.client.Slow({}, { timeoutMs: 5000 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await server.stop(300);
    assert.ok(Date.now() - t0 < 2000, "stop returned after the grace period");
    await pending;
    c.close();
  });
});

describe("gRPC client calls", () => {
  const echoDefinition: ServiceDefinition = { Echo: jsonRpc("/test.Calls/Echo") };
  type EchoHandlers = { Echo: handleUnaryCall<{ text?: string; waitMs?: number }, unknown> };
  let server: GrpcServerHandle;
  before(async () => {
    const handlers = {
      Echo: async (req: { text?: string; waitMs?: number }, ctx: { requestId?: string }) => {
        if (req.waitMs) await new Promise((r) => setTimeout(r, req.waitMs));
        return { text: req.text, requestId: ctx.requestId };
      },
    };
    server = await startGrpcServer({
      host: "127.0.0.1",
      port: 0,
      services: [
        {
          name: "test.Calls",
          definition: echoDefinition,
          // biome-ignore lint/suspicious/noExplicitAny: a hand-written test service
          implementation: implement<any>(
            echoDefinition,
            // biome-ignore lint/suspicious/noExplicitAny: a hand-written test service
            handlers as any,
            createLogger({ name: "t", level: "silent" }),
            openAccess(echoDefinition),
          ),
        },
      ],
    });
  });
  after(() => server.stop(100));

  it("answers with the response and carries the request id in metadata", async () => {
    const c = createClient<EchoHandlers>(echoDefinition, "test.Calls", server.address);
    try {
      const res = await Promise.all(
        ["a", "b", "c"].map((text) => c.client.Echo({ text }, { requestId: `req-${text}`, timeoutMs: 3000 })),
      );
      assert.deepEqual(res, [
        { text: "a", requestId: "req-a" },
        { text: "b", requestId: "req-b" },
        { text: "c", requestId: "req-c" },
      ]);
    } finally {
      c.close();
    }
  });

  it("gives up at the deadline with rpc.unavailable", async () => {
    const c = createClient<EchoHandlers>(echoDefinition, "test.Calls", server.address);
    try {
      const t0 = Date.now();
      await assert.rejects(c.client.Echo({ waitMs: 2000 }, { timeoutMs: 150 }), (err: unknown) => {
        assert.ok(err instanceof AppError, String(err));
        assert.equal(err.code, "rpc.unavailable");
        return true;
      });
      assert.ok(Date.now() - t0 < 1500, "rejected at the deadline, not when the handler finished");
    } finally {
      c.close();
    }
  });

  it("turns a response it cannot read into rpc.internal", async () => {
    const unreadable: ServiceDefinition = {
      Echo: {
        ...(echoDefinition.Echo as ReturnType<typeof jsonRpc>),
        responseDeserialize: () => {
          throw new Error("not a message of this type");
        },
      },
    };
    const c = createClient<EchoHandlers>(unreadable, "test.Calls", server.address);
    try {
      await assert.rejects(c.client.Echo({ text: "x" }, { timeoutMs: 3000 }), (err: unknown) => {
        assert.ok(err instanceof AppError, String(err));
        assert.equal(err.code, "rpc.internal");
        return true;
      });
    } finally {
      c.close();
    }
  });

  it("turns a request it cannot write into rpc.internal without calling", async () => {
    const unwritable: ServiceDefinition = {
      Echo: {
        ...(echoDefinition.Echo as ReturnType<typeof jsonRpc>),
        requestSerialize: () => {
          throw new Error("cannot encode");
        },
      },
    };
    const c = createClient<EchoHandlers>(unwritable, "test.Calls", server.address);
    try {
      await assert.rejects(c.client.Echo({ text: "x" }), (err: unknown) => {
        assert.ok(err instanceof AppError, String(err));
        assert.equal(err.code, "rpc.internal");
        return true;
      });
    } finally {
      c.close();
    }
  });
});

describe("gRPC client kept connected", () => {
  it("connects at once, without waiting for a first call, and connects again when the connection drops", async () => {
    const sockets: Socket[] = [];
    let arrived: () => void = () => undefined;
    const listener = createServer((s) => {
      sockets.push(s);
      arrived();
    });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    const next = (ms: number) =>
      new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), ms);
        arrived = () => {
          clearTimeout(t);
          resolve(true);
        };
      });
    const port = (listener.address() as AddressInfo).port;
    const first = next(3000);
    const c = createClient<Handlers>(definition, "test.Echo", `127.0.0.1:${port}`, undefined, { keepConnected: true });
    try {
      assert.equal(await first, true, "a connection was opened before any call");
      const second = next(5000);
      sockets[0]?.destroy();
      assert.equal(await second, true, "a new connection replaced the dropped one");
    } finally {
      c.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => listener.close(r));
    }
  });
});
