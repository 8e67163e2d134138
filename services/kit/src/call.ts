import type { CallBindable } from "./call-identity";
import { AppError } from "./errors";
import { type CallContext, type CallOptions, callOptionsWithin } from "./grpc";

/**
 * A view of `target` (a store, a client) whose methods refuse to start once
 * the call they work for was cancelled or ran out of time: a multi-step use
 * case stops at its next step instead of finishing work nobody waits for.
 * A step already running finishes (its own timeout bounds it).
 */
export function abortable<T extends object>(target: T, call: { readonly cancelled: boolean }): T {
  return new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop, t);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (call.cancelled) throw new AppError("rpc.unavailable", { internal: "the caller gave up" });
        return (value as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

/** A client that can make its calls on behalf of one incoming call (its request id, caller and deadline). */
export interface CallScoped<T> {
  within(call: CallOptions): T;
}

function isCallScoped<T>(value: T): value is T & CallScoped<T> {
  return typeof (value as Partial<CallScoped<T>>).within === "function";
}

/**
 * `client` for the calls it makes while serving `ctx`: with the caller's
 * request id and no more time than the caller has left, and refusing to start
 * once the caller gave up.
 */
export function scopedClient<T extends object>(
  client: T,
  ctx: Pick<CallContext, "requestId" | "callerKeyId" | "deadline" | "cancelled">,
): T {
  return abortable(isCallScoped(client) ? client.within(callOptionsWithin(ctx)) : client, ctx);
}

/**
 * The dependencies one call's handler works with: `deps` with the `stores`
 * made `abortable` and the `clients` scoped to the call (`scopedClient`).
 */
export function bindToCall<D extends object>(
  deps: D,
  scope: { stores?: readonly (keyof D)[]; clients?: readonly (keyof D)[]; events?: readonly (keyof D)[] },
): (ctx: CallContext) => D {
  const stores = scope.stores ?? [];
  const clients = scope.clients ?? [];
  const events = scope.events ?? [];
  return (ctx) => {
    const bound = { ...deps };
    for (const name of stores) bound[name] = abortable(deps[name] as object, ctx) as D[keyof D];
    for (const name of clients) bound[name] = scopedClient(deps[name] as object, ctx) as D[keyof D];
    for (const name of events) {
      // A publisher that cannot name the call (a test double) publishes as it is.
      const publisher = deps[name] as unknown as Partial<CallBindable<D[keyof D]>>;
      if (typeof publisher.forCall === "function") {
        bound[name] = publisher.forCall({ requestId: ctx.requestId, callerKeyId: ctx.callerKeyId });
      }
    }
    return bound;
  };
}
