/** Who a gRPC call is made for, as the gateway said in its metadata. */
export interface CallIdentity {
  readonly requestId: string;
  readonly callerKeyId: string | undefined;
}

/** Bus message headers naming the request and caller an event was published for. */
export const CallHeaders = {
  requestId: "pmx-request-id",
  callerKeyId: "pmx-caller-key-id",
} as const;

/** The headers an event published while serving `identity`'s call carries (none outside a call). */
export function callIdentityHeaders(identity: CallIdentity | undefined): Record<string, string> | undefined {
  if (identity === undefined) return undefined;
  const headers: Record<string, string> = {};
  if (identity.requestId !== "") headers[CallHeaders.requestId] = identity.requestId;
  if (identity.callerKeyId) headers[CallHeaders.callerKeyId] = identity.callerKeyId;
  return Object.keys(headers).length > 0 ? headers : undefined;
}

/**
 * An event publisher that can be bound to the call it publishes for, so its
 * events carry that call's request id and caller (for the audit log). Bound
 * per call by `bindToCall`, explicitly: no async context is tracked.
 */
export interface CallBindable<T> {
  forCall(identity: CallIdentity): T;
}
