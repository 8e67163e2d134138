import { createClient, createLogger, type EventBus, type MongoHandle } from "@pkiserver/kit";
import { buildApp, loadConfig, PKI_SERVICE_NAME, type PkiAppOptions } from "@pkiserver/pki";
import { pkiV1 } from "@pkiserver/proto";
import { callingAs, EVERY_SCOPE, testTokens } from "@pkiserver/testing";

/**
 * pki served on a free port of loopback as its own process would serve it, and a gRPC client
 * that calls it as a caller with every scope (every call is authenticated: its token is
 * verified as pki verifies any). Replicas given one `access` trust the same tokens.
 */
export async function servePki(opts: {
  name: string;
  bus: EventBus;
  mongo?: MongoHandle | undefined;
  env?: Record<string, string>;
  access?: ReturnType<typeof testTokens>;
  app?: PkiAppOptions;
}) {
  const access = opts.access ?? testTokens();
  const app = await buildApp(
    loadConfig(opts.env ?? {}),
    {
      logger: createLogger({ name: opts.name, level: "silent" }),
      bus: opts.bus,
      ...(opts.mongo ? { mongo: opts.mongo } : {}),
      listen: { host: "127.0.0.1", port: 0 },
      tokens: access.tokens,
    },
    opts.app,
  );
  const conn = callingAs(
    createClient<pkiV1.PkiServiceServer>(pkiV1.PkiServiceService, PKI_SERVICE_NAME, app.grpc.address),
    (await access.sign(EVERY_SCOPE)).caller,
  );
  await conn.waitForReady(5000);
  return {
    app,
    pki: conn.client,
    /** Closes the client, then stops the service (the bus and MongoDB stay the caller's). */
    close: async () => {
      conn.close();
      await app.stop();
    },
  };
}
