import { credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import type { GrpcTls } from "@pkiserver/kit";

/*
 * The standard gRPC health check (grpc.health.v1.Health/Check), spoken with
 * hand-rolled encoding: the request is an empty message (service ""), the
 * reply a single enum field, so no generated code is needed for it.
 */

const SERVING = 1;

function decodeStatus(buf: Buffer): number {
  // Field 1, wire type 0 (varint): tag byte 0x08. Absent means UNKNOWN (0).
  return buf[0] === 0x08 ? (buf[1] ?? 0) : 0;
}

const HealthDefinition = {
  check: {
    path: "/grpc.health.v1.Health/Check",
    requestStream: false,
    responseStream: false,
    requestSerialize: (_value: object) => Buffer.alloc(0),
    requestDeserialize: (_buf: Buffer) => ({}),
    responseSerialize: (value: { status: number }) => Buffer.from([0x08, value.status]),
    responseDeserialize: (buf: Buffer) => ({ status: decodeStatus(buf) }),
    originalName: "check",
  },
};

export interface HealthProbe {
  /** True when the server answers SERVING within `timeoutMs`. */
  check(timeoutMs: number): Promise<boolean>;
  close(): void;
}

export function createHealthProbe(address: string, tls?: GrpcTls): HealthProbe {
  const Ctor = makeGenericClientConstructor(HealthDefinition, "grpc.health.v1.Health");
  const creds = tls === undefined ? credentials.createInsecure() : credentials.createSsl(tls.ca, tls.key, tls.cert);
  const client = new Ctor(address, creds) as unknown as {
    check(
      req: object,
      opts: { deadline: Date },
      cb: (err: ServiceError | null, res?: { status: number }) => void,
    ): void;
    close(): void;
  };
  return {
    check: (timeoutMs) =>
      new Promise((resolve) => {
        client.check({}, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) =>
          resolve(err === null && res?.status === SERVING),
        );
      }),
    close: () => client.close(),
  };
}
