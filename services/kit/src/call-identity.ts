import { AsyncLocalStorage } from "node:async_hooks";

/** Who a gRPC call is made for, as the gateway said in its metadata. */
export interface CallIdentity {
  readonly requestId: string;
  readonly callerKeyId: string | undefined;
}

const current = new AsyncLocalStorage<CallIdentity>();

/** Runs `fn` as part of the call `identity`: events it publishes say so (for the audit log). */
export function withCallIdentity<T>(identity: CallIdentity, fn: () => T): T {
  return current.run(identity, fn);
}

/** Bus message headers naming the request and caller an event was published for. */
export const CallHeaders = {
  requestId: "pmx-request-id",
  callerKeyId: "pmx-caller-key-id",
} as const;

/** The headers of the call being served, if any. */
export function callIdentityHeaders(): Record<string, string> {
  const id = current.getStore();
  if (id === undefined) return {};
  return {
    ...(id.requestId !== "" ? { [CallHeaders.requestId]: id.requestId } : {}),
    ...(id.callerKeyId ? { [CallHeaders.callerKeyId]: id.callerKeyId } : {}),
  };
}
