import { type AsyncClient, createClient } from "@pkiserver/kit";
import { apikeyV1, authV1, pkiV1 } from "@pkiserver/proto";

const KEEP = { keepConnected: true };

/** The three services the gateway calls, as async gRPC clients. */
export interface ServiceClients {
  apikey: AsyncClient<apikeyV1.ApiKeyServiceServer>;
  auth: AsyncClient<authV1.AuthServiceServer>;
  pki: AsyncClient<pkiV1.PkiServiceServer>;
}

/**
 * Clients to the services at these addresses (`host:port`), and a way to
 * close them. Their channels connect at once and stay connected, so a flood
 * of clients that exhausts the gateway's file descriptors cannot also cut it
 * off from the services.
 */
export function createServiceClients(addresses: { apikey: string; auth: string; pki: string }): {
  clients: ServiceClients;
  close(): void;
} {
  const apikey = createClient<apikeyV1.ApiKeyServiceServer>(
    apikeyV1.ApiKeyServiceService,
    "pkiserver.apikey.v1.ApiKeyService",
    addresses.apikey,
    undefined,
    KEEP,
  );
  const auth = createClient<authV1.AuthServiceServer>(
    authV1.AuthServiceService,
    "pkiserver.auth.v1.AuthService",
    addresses.auth,
    undefined,
    KEEP,
  );
  const pki = createClient<pkiV1.PkiServiceServer>(
    pkiV1.PkiServiceService,
    "pkiserver.pki.v1.PkiService",
    addresses.pki,
    undefined,
    KEEP,
  );
  return {
    clients: { apikey: apikey.client, auth: auth.client, pki: pki.client },
    close: () => {
      apikey.close();
      auth.close();
      pki.close();
    },
  };
}
