import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { handleUnaryCall, ServiceDefinition } from "@grpc/grpc-js";
import { AppError, invalidParams } from "./errors";
import { createClient, type GrpcServerHandle, implement, MetadataKeys, startGrpcServer, toGrpcError } from "./grpc";
import { createLogger } from "./logger";

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
};

const definition: ServiceDefinition = {
  Fail: {
    path: "/test.Echo/Fail",
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

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
          implementation: implement<any>(definition, handlers as any, silent),
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
    const err = toGrpcError(new AppError("rpc.invalid_params", { data: { n: 1n } }), silent, "r1");
    assert.deepEqual(err.metadata?.get(MetadataKeys.errorCode), ["rpc.invalid_params"]);
    assert.deepEqual(err.metadata?.get(MetadataKeys.errorData), []);
  });
});
