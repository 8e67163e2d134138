import * as apikey from "@pkiserver/apikey";
import {
  type AsyncClient,
  connectService,
  createLogger,
  type EventBus,
  MemoryEventBus,
  type ServiceApp,
  type ServiceRegistration,
} from "@pkiserver/kit";
import { apikeyV1 } from "@pkiserver/proto";
import { addTestKey, type TestKey, type TestKeyOptions } from "./system";

export interface TestApiKeyService {
  /** Its gRPC address on loopback. */
  readonly address: string;
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
  const app: ServiceApp = await apikey.buildApp(apikey.loadConfig({}), {
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
    registration,
    client: channel.client,
    addKey: (key) => addTestKey({ apikey: channel.client }, key),
    stop: async () => {
      channel.close();
      await app.stop();
      if (opts.bus === undefined) await bus.close();
    },
  };
}
