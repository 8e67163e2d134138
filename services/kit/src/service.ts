import type { EventBus } from "./bus";
import type { BearerVerifier } from "./call-auth";
import type { GrpcServerHandle } from "./grpc";
import type { Logger } from "./logger";
import type { MongoHandle } from "./mongo";

/** What every service's composition root gets from the process that runs it. */
export interface ServiceDeps {
  logger: Logger;
  bus: EventBus;
  /** MongoDB when configured; in-memory stores otherwise. */
  mongo?: MongoHandle;
  /** Where the gRPC server listens; port 0 picks a free one. */
  listen: { host: string; port: number };
  /**
   * Verifies the Bearer tokens presented on the service's calls, when the
   * process that runs it shares one verifier (the one-process form); else the
   * service follows auth's keys and revocations itself.
   */
  tokens?: BearerVerifier;
}

/** A running service, as its composition root returns it. */
export interface ServiceApp {
  readonly name: string;
  readonly grpc: GrpcServerHandle;
  /** True when every dependency (store, bus) answers. */
  isReady(): Promise<boolean>;
  /** Stops serving and closes what the service opened (not the deps it was given). */
  stop(): Promise<void>;
}

/**
 * Keeps a service's gRPC health status ("" and its service names) in step
 * with its dependencies, so a probe of the standard health service (the
 * gateway's /ready, Kubernetes) sees NOT_SERVING while MongoDB or NATS is
 * away and SERVING again when it returns. Returns a function that stops it.
 */
export function watchReadiness(app: ServiceApp, serviceNames: readonly string[], intervalMs = 2000): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    let ok = false;
    try {
      ok = await app.isReady();
    } catch {
      ok = false;
    }
    if (stopped) return;
    const status = ok ? "SERVING" : "NOT_SERVING";
    for (const name of ["", ...serviceNames]) app.grpc.health.setStatus(name, status);
    timer = setTimeout(tick, intervalMs);
    timer.unref();
  };
  void tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
