import type { ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { AppError } from "./errors";
import {
  type AsyncHandlers,
  type CallContext,
  type CallOptions,
  callOptionsWithin,
  implement,
  type ServiceRegistration,
} from "./grpc";
import type { Logger } from "./logger";

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
  scope: { stores?: readonly (keyof D)[]; clients?: readonly (keyof D)[] },
): (ctx: CallContext) => D {
  const stores = scope.stores ?? [];
  const clients = scope.clients ?? [];
  return (ctx) => {
    const bound = { ...deps };
    for (const name of stores) bound[name] = abortable(deps[name] as object, ctx) as D[keyof D];
    for (const name of clients) bound[name] = scopedClient(deps[name] as object, ctx) as D[keyof D];
    return bound;
  };
}

/** A handler factory of a service's transport: `(deps) => (request) => response`. */
type HandlerFactory<D> = (deps: D) => (req: never) => Promise<unknown>;

/**
 * gRPC handlers from handler factories, each call running its factory on
 * `forCall(ctx)` (the dependencies bound to that call, see `bindToCall`).
 */
export function perCall<D, H extends Record<string, HandlerFactory<NoInfer<D>>>>(
  forCall: (ctx: CallContext) => D,
  factories: H,
): { [K in keyof H]: (req: Parameters<ReturnType<H[K]>>[0], ctx: CallContext) => ReturnType<ReturnType<H[K]>> } {
  const handlers: Record<string, (req: never, ctx: CallContext) => Promise<unknown>> = {};
  for (const [name, factory] of Object.entries(factories)) {
    handlers[name] = (req, ctx) => factory(forCall(ctx))(req);
  }
  return handlers as {
    [K in keyof H]: (req: Parameters<ReturnType<H[K]>>[0], ctx: CallContext) => ReturnType<ReturnType<H[K]>>;
  };
}

/**
 * A generated server interface without the string index signature it
 * inherits from grpc-js: mapped over, that signature would demand a handler
 * of type `never` for every string.
 */
export type Rpcs<S> = { [K in keyof S as string extends K ? never : K]: S[K] };

/**
 * The registration of a service: named as its generated client names it,
 * its async handlers wrapped by `implement` (error mapping, request logging).
 */
export function registration<S>(
  client: { readonly serviceName: string },
  definition: ServiceDefinition,
  handlers: AsyncHandlers<Rpcs<S>>,
  logger: Logger,
): ServiceRegistration {
  return {
    name: client.serviceName,
    definition,
    // The handlers' types were checked against the interface above; grpc-js takes them untyped.
    implementation: implement<UntypedServiceImplementation>(
      definition,
      handlers as AsyncHandlers<UntypedServiceImplementation>,
      logger,
    ),
  };
}
