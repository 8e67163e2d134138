import * as apikey from "@pkiserver/apikey";
import {
  type AsyncClient,
  connectService,
  createLogger,
  type EventBus,
  type GrpcTls,
  MemoryEventBus,
  type ServiceApp,
  type ServiceRegistration,
} from "@pkiserver/kit";
import { apikeyV1 } from "@pkiserver/proto";
import { writeDevTls } from "@pkiserver/server";
import { addTestKey, type TestKey, type TestKeyOptions } from "./system";

export interface TestApiKeyService {
  /** Its gRPC address on loopback, served over mutual TLS. */
  readonly address: string;
  /**
   * The PMX_GRPC_TLS_* files of a process that calls it (a certificate of the
   * same throwaway CA): a service that calls apikey is trusted by its
   * certificate, as in a deployment. `tls` holds the same material for a client.
   */
  readonly tlsEnv: Record<string, string>;
  readonly tls: GrpcTls;
  /** Its registration, for an in-process client. */
  readonly registration: ServiceRegistration;
  /** Adds a key, as a caller holding every scope. */
  addKey(key: TestKeyOptions): Promise<TestKey>;
  /** A client calling it in process. */
  readonly client: AsyncClient<apikeyV1.ApiKeyServiceServer>;
  stop(): Promise<void>;
}

/**
 * The real apikey service alone on a loopback port, with memory stores: for
 * the tests of a service that calls it (auth). Its events go to `bus` when
 * given, so the caller hears of key changes as it would in a deployment.
 */
export async function startApiKeyService(opts: { bus?: EventBus } = {}): Promise<TestApiKeyService> {
  const bus = opts.bus ?? new MemoryEventBus();
  const files = writeDevTls();
  const config = apikey.loadConfig(files.env);
  const tls = config.grpcTls as GrpcTls;
  const app: ServiceApp = await apikey.buildApp(config, {
    logger: createLogger({ name: "apikey", level: "silent" }),
    bus,
    listen: { host: "127.0.0.1", port: 0 },
  });
  const [registration] = app.grpc.services;
  if (registration === undefined) throw new Error("apikey serves no gRPC service");
  const channel = connectService<apikeyV1.ApiKeyServiceServer>(
    apikeyV1.ApiKeyServiceService,
    apikeyV1.ApiKeyServiceClient.serviceName,
    registration,
  );
  return {
    address: app.grpc.address,
    tlsEnv: files.env,
    tls,
    registration,
    client: channel.client,
    addKey: (key) => addTestKey({ apikey: channel.client }, key),
    stop: async () => {
      channel.close();
      await app.stop();
      files.remove();
      if (opts.bus === undefined) await bus.close();
    },
  };
}
