import { credentials, Metadata } from "@grpc/grpc-js";
import type { GrpcTls } from "@pkiserver/kit";
import { healthV1 } from "@pkiserver/proto";

/*
 * The standard gRPC health check (grpc.health.v1.Health/Check for the server
 * as a whole, service ""), with the client generated from the health proto
 * shipped in proto/.
 */

export interface HealthProbe {
  /** True when the server answers SERVING within `timeoutMs`. */
  check(timeoutMs: number): Promise<boolean>;
  close(): void;
}

export function createHealthProbe(address: string, tls?: GrpcTls): HealthProbe {
  const creds = tls === undefined ? credentials.createInsecure() : credentials.createSsl(tls.ca, tls.key, tls.cert);
  const client = new healthV1.HealthClient(address, creds);
  return {
    check: (timeoutMs) =>
      new Promise((resolve) => {
        client.check({ service: "" }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
          resolve(err === null && res.status === healthV1.HealthCheckResponse_ServingStatus.SERVING),
        );
      }),
    close: () => client.close(),
  };
}
