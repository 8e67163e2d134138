import { type AsyncClient, connectService, type GrpcTls, type ServiceTarget } from "@pkiserver/kit";
import { apikeyV1, auditV1, authV1, pkiV1 } from "@pkiserver/proto";

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
export function createServiceClients(
  targets: {
    apikey: ServiceTarget;
    auth: ServiceTarget;
    pki: ServiceTarget;
    audit: ServiceTarget;
  },
  /** Mutual TLS on the network channels: the services then take the caller as the gateway states it. */
  tls?: GrpcTls,
): {
  clients: ServiceClients;
  close(): void;
} {
  const KEEP = { keepConnected: true, tls };
  const apikey = connectService<apikeyV1.ApiKeyServiceServer>(
    apikeyV1.ApiKeyServiceService,
    apikeyV1.ApiKeyServiceClient.serviceName,
    targets.apikey,
    KEEP,
  );
  const auth = connectService<authV1.AuthServiceServer>(
    authV1.AuthServiceService,
    authV1.AuthServiceClient.serviceName,
    targets.auth,
    KEEP,
  );
  const pki = connectService<pkiV1.PkiServiceServer>(
    pkiV1.PkiServiceService,
    pkiV1.PkiServiceClient.serviceName,
    targets.pki,
    KEEP,
  );
  const audit = connectService<auditV1.AuditServiceServer>(
    auditV1.AuditServiceService,
    auditV1.AuditServiceClient.serviceName,
    targets.audit,
    KEEP,
  );
  return {
    clients: { apikey: apikey.client, auth: auth.client, pki: pki.client, audit: audit.client },
    close: () => {
      apikey.close();
      auth.close();
      pki.close();
      audit.close();
    },
  };
}
