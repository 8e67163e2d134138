import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { credentials, loadPackageDefinition, Metadata, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { healthV1, pkiV1, rpcErrorDetails, rpcStatus } from "@pkiserver/proto";
import { openAccess } from "./call-auth";
import { AppError, ErrorCatalogue, type ErrorCode, GrpcCode } from "./errors";
import { fromGrpcError, type GrpcServerHandle, implement, MetadataKeys, startGrpcServer } from "./grpc";
import {
  ERROR_DOMAIN,
  errorReason,
  HEALTH_SERVICE_NAME,
  isStandardServiceMethod,
  STATUS_DETAILS_KEY,
} from "./grpc-standard";
import { createLogger } from "./logger";
import { watchReadiness } from "./service";

const PKI_SERVICE = pkiV1.PkiServiceClient.serviceName;
const silent = createLogger({ name: "test", level: "silent" });

/** A pki service whose every RPC fails with the error its request's user id names. */
function failingPkiService() {
  const handlers = Object.fromEntries(
    Object.keys(pkiV1.PkiServiceService).map((name) => [
      name,
      async (req: { ref?: { userId?: string } }) => {
        const userId = req.ref?.userId ?? "";
        if (userId === "with-data") throw new AppError("rpc.invalid_params", { data: "userId -> bad ✓" });
        throw new AppError("pki.no_key");
      },
    ]),
  );
  return {
    name: PKI_SERVICE,
    definition: pkiV1.PkiServiceService,
    implementation: implement<UntypedServiceImplementation>(
      pkiV1.PkiServiceService,
      handlers as never,
      silent,
      openAccess(pkiV1.PkiServiceService),
    ),
  };
}

/** The reply's trailers of a GetCurrentKey call that fails. */
function failingCall(address: string, userId: string): Promise<ServiceError> {
  const client = new pkiV1.PkiServiceClient(address, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.getCurrentKey(
      { ref: { userId, instanceId: "i", contextId: "c" } },
      new Metadata(),
      { deadline: Date.now() + 5000 },
      (err) => {
        client.close();
        if (err) resolve(err);
        else reject(new Error("expected an error"));
      },
    );
  });
}

function decodeDetails(metadata: Metadata): { status: rpcStatus.Status; info: rpcErrorDetails.ErrorInfo } {
  const [raw] = metadata.get(STATUS_DETAILS_KEY);
  assert.ok(Buffer.isBuffer(raw), `${STATUS_DETAILS_KEY} is missing`);
  const status = rpcStatus.Status.decode(raw);
  assert.equal(status.details.length, 1);
  const [any] = status.details;
  assert.equal(any?.typeUrl, "type.googleapis.com/google.rpc.ErrorInfo");
  return { status, info: rpcErrorDetails.ErrorInfo.decode(any?.value ?? Buffer.alloc(0)) };
}

describe("standard gRPC services and error details", () => {
  let server: GrpcServerHandle;
  before(async () => {
    server = await startGrpcServer({ host: "127.0.0.1", port: 0, services: [failingPkiService()] });
  });
  after(() => server.stop(100));

  it("sends a google.rpc.Status with an ErrorInfo besides the pmx-error-code trailer", async () => {
    const err = await failingCall(server.address, "u");
    assert.equal(err.code, GrpcCode.NOT_FOUND);
    assert.deepEqual(err.metadata.get(MetadataKeys.errorCode), ["pki.no_key"]);
    const { status, info } = decodeDetails(err.metadata);
    assert.equal(status.code, GrpcCode.NOT_FOUND);
    assert.equal(status.message, ErrorCatalogue["pki.no_key"].message);
    assert.equal(info.reason, "PKI_NO_KEY");
    assert.equal(info.domain, ERROR_DOMAIN);
    assert.deepEqual(info.metadata, { code: "pki.no_key", rpcCode: "79" });
  });

  it("puts an error's data in the ErrorInfo", async () => {
    const err = await failingCall(server.address, "with-data");
    assert.equal(err.code, GrpcCode.INVALID_ARGUMENT);
    const { info } = decodeDetails(err.metadata);
    assert.equal(info.reason, "RPC_INVALID_PARAMS");
    assert.equal(JSON.parse(info.metadata.data ?? "null"), "userId -> bad ✓");
  });

  it("gives the caller the AppError from the Status alone when the pmx trailers are gone", async () => {
    const err = await failingCall(server.address, "with-data");
    err.metadata.remove(MetadataKeys.errorCode);
    err.metadata.remove(MetadataKeys.errorData);
    const appErr = fromGrpcError(err);
    assert.equal(appErr.code, "rpc.invalid_params");
    assert.equal(appErr.data, "userId -> bad ✓");
  });

  it("tells the standard services' methods from the project's", () => {
    assert.equal(isStandardServiceMethod("/grpc.health.v1.Health/Check"), true);
    assert.equal(isStandardServiceMethod("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"), true);
    assert.equal(isStandardServiceMethod("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"), true);
    assert.equal(isStandardServiceMethod(`/${PKI_SERVICE}/GetKeyAt`), false);
    assert.equal(isStandardServiceMethod("/grpc.health.v1.HealthX/Check"), false);
  });

  it("names every catalogue code by a distinct ErrorInfo reason of the allowed form", () => {
    const reasons = Object.keys(ErrorCatalogue).map((c) => errorReason(c as ErrorCode));
    assert.equal(new Set(reasons).size, reasons.length);
    for (const r of reasons) {
      assert.match(r, /^[A-Z][A-Z0-9_]+[A-Z0-9]$/);
      assert.ok(r.length <= 63, r);
    }
  });

  it("answers grpc.health.v1 (the shipped proto) per service, following the status set", async () => {
    const client = new healthV1.HealthClient(server.address, credentials.createInsecure());
    const check = (service: string) =>
      new Promise<healthV1.HealthCheckResponse_ServingStatus>((resolve, reject) =>
        client.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))),
      );
    try {
      assert.equal(await check(""), healthV1.HealthCheckResponse_ServingStatus.SERVING);
      assert.equal(await check(PKI_SERVICE), healthV1.HealthCheckResponse_ServingStatus.SERVING);
      server.health.setStatus(PKI_SERVICE, "NOT_SERVING");
      assert.equal(await check(PKI_SERVICE), healthV1.HealthCheckResponse_ServingStatus.NOT_SERVING);
      const listed = await new Promise<healthV1.HealthListResponse>((resolve, reject) =>
        client.list({}, (err, res) => (err ? reject(err) : resolve(res))),
      );
      assert.deepEqual(Object.keys(listed.statuses).sort(), ["", PKI_SERVICE]);
      await assert.rejects(check("pkiserver.nope.v1.Nope"), (e: ServiceError) => e.code === GrpcCode.NOT_FOUND);
    } finally {
      server.health.setStatus(PKI_SERVICE, "SERVING");
      client.close();
    }
  });

  it("serves reflection: the server's services, and the project's files by symbol", async () => {
    const protoPath = join(
      dirname(require.resolve("@grpc/reflection/package.json")),
      "build/proto/grpc/reflection/v1/reflection.proto",
    );
    const pkg = loadPackageDefinition(loadSync(protoPath, { keepCase: true, oneofs: true })) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: new (a: string, c: unknown) => ReflectionClient } } };
    };
    type ReflectionReply = {
      list_services_response?: { service: { name: string }[] };
      file_descriptor_response?: { file_descriptor_proto: Buffer[] };
      error_response?: { error_code: number };
    };
    type ReflectionClient = {
      ServerReflectionInfo(): {
        write(m: object): void;
        end(): void;
        on(e: "data", f: (r: ReflectionReply) => void): void;
        on(e: "error", f: (err: Error) => void): void;
      };
      close(): void;
    };
    const client = new pkg.grpc.reflection.v1.ServerReflection(server.address, credentials.createInsecure());
    const ask = (request: object) =>
      new Promise<ReflectionReply>((resolve, reject) => {
        const stream = client.ServerReflectionInfo();
        stream.on("data", resolve);
        stream.on("error", reject);
        stream.write(request);
        stream.end();
      });
    try {
      const listed = await ask({ list_services: "*" });
      const names = listed.list_services_response?.service.map((s) => s.name).sort();
      assert.deepEqual(names, [HEALTH_SERVICE_NAME, PKI_SERVICE]);
      const files = await ask({ file_containing_symbol: `${PKI_SERVICE}.GetCurrentKey` });
      const protos = files.file_descriptor_response?.file_descriptor_proto ?? [];
      assert.ok(
        protos.some((p) => p.includes("pkiserver/pki/v1/pki.proto")),
        "the descriptor of pki.proto is served",
      );
      const missing = await ask({ file_containing_symbol: "pkiserver.nope.v1.Nope" });
      assert.equal(missing.error_response?.error_code, GrpcCode.NOT_FOUND);
    } finally {
      client.close();
    }
  });
});

describe("health following readiness", () => {
  it("turns the server and its service NOT_SERVING while a dependency is away, and SERVING again", async () => {
    const grpc = await startGrpcServer({ host: "127.0.0.1", port: 0, services: [failingPkiService()] });
    let ready = true;
    const app = { name: "pki", grpc, isReady: async () => ready, stop: () => grpc.stop(100) };
    const stopWatch = watchReadiness(app, [PKI_SERVICE], 20);
    const client = new healthV1.HealthClient(grpc.address, credentials.createInsecure());
    const statuses = () =>
      Promise.all(
        ["", PKI_SERVICE].map(
          (service) =>
            new Promise<healthV1.HealthCheckResponse_ServingStatus>((resolve, reject) =>
              client.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))),
            ),
        ),
      );
    const until = async (want: healthV1.HealthCheckResponse_ServingStatus) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const got = await statuses();
        if (got.every((s) => s === want)) return;
        if (Date.now() > deadline) assert.fail(`health stayed ${got.join(",")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await until(healthV1.HealthCheckResponse_ServingStatus.SERVING);
      ready = false;
      await until(healthV1.HealthCheckResponse_ServingStatus.NOT_SERVING);
      ready = true;
      await until(healthV1.HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      stopWatch();
      client.close();
      await app.stop();
    }
  });
});
