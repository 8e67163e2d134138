import type { ServiceDefinition } from "@grpc/grpc-js";
import { type AsyncClient, connectService, type ServiceTarget } from "@pkiserver/kit";
import { apikeyV1, auditV1, authV1, pkiV1 } from "@pkiserver/proto";

const KEEP = { keepConnected: true };

/** The services the gateway calls, as async gRPC clients. */
export interface ServiceClients {
  apikey: AsyncClient<apikeyV1.ApiKeyServiceServer>;
  auth: AsyncClient<authV1.AuthServiceServer>;
  pki: AsyncClient<pkiV1.PkiServiceServer>;
  audit: AsyncClient<auditV1.AuditServiceServer>;
}

/**
 * Clients of the services: over gRPC for an address (`host:port`), in
 * process for a service registered in this process (the one-process form).
 * Network channels connect at once and stay connected, so a flood of clients
 * that exhausts the gateway's file descriptors cannot also cut it off from the
 * services.
 */
export function createServiceClients(targets: {
  apikey: ServiceTarget;
  auth: ServiceTarget;
  pki: ServiceTarget;
  audit: ServiceTarget;
}): {
  clients: ServiceClients;
  close(): void;
} {
  const connect = <S>(definition: ServiceDefinition, client: { serviceName: string }, target: ServiceTarget) =>
    connectService<S>(definition, client.serviceName, target, KEEP);
  const channels = [
    connect<apikeyV1.ApiKeyServiceServer>(apikeyV1.ApiKeyServiceService, apikeyV1.ApiKeyServiceClient, targets.apikey),
    connect<authV1.AuthServiceServer>(authV1.AuthServiceService, authV1.AuthServiceClient, targets.auth),
    connect<pkiV1.PkiServiceServer>(pkiV1.PkiServiceService, pkiV1.PkiServiceClient, targets.pki),
    connect<auditV1.AuditServiceServer>(auditV1.AuditServiceService, auditV1.AuditServiceClient, targets.audit),
  ] as const;
  const [apikey, auth, pki, audit] = channels;
  return {
    clients: { apikey: apikey.client, auth: auth.client, pki: pki.client, audit: audit.client },
    close: () => {
      for (const channel of channels) channel.close();
    },
  };
}
