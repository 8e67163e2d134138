import type { handleUnaryCall, ServerUnaryCall, ServiceError, sendUnaryData } from "@grpc/grpc-js";
import { MetadataKeys, type ServiceRegistration } from "@pkiserver/kit";
import type { ServiceName } from "@pkiserver/server";

/** One call a service received, with the metadata it carried. */
export interface RecordedCall {
  service: ServiceName;
  rpc: string;
  request: unknown;
  requestId: string;
  callerKeyId: string | undefined;
}

/** What a tapped service does before each call is handled. */
export interface Tap {
  readonly calls: RecordedCall[];
  /** Awaited before a call reaches the service: lets a test make the services slow. */
  beforeCall: (() => Promise<void>) | undefined;
}

function metadataString(call: ServerUnaryCall<unknown, unknown>, key: string): string | undefined {
  const v = call.metadata.get(key)[0];
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/**
 * The same registration, with every call recorded in `tap.calls` and held by
 * `tap.beforeCall` before the service's own handler runs.
 */
export function tapRegistration(name: ServiceName, registration: ServiceRegistration, tap: Tap): ServiceRegistration {
  const implementation: Record<string, handleUnaryCall<unknown, unknown>> = {};
  for (const [rpc, fn] of Object.entries(registration.implementation)) {
    const handler = fn as handleUnaryCall<unknown, unknown>;
    implementation[rpc] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      tap.calls.push({
        service: name,
        rpc,
        request: call.request,
        requestId: metadataString(call, MetadataKeys.requestId) ?? "",
        callerKeyId: metadataString(call, MetadataKeys.callerKeyId),
      });
      const hold = tap.beforeCall?.();
      if (hold === undefined) {
        handler(call, callback);
        return;
      }
      hold.then(
        () => handler(call, callback),
        (err: unknown) => callback(err as ServiceError),
      );
    };
  }
  return { ...registration, implementation };
}
