import type { EventBus } from "./bus";
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
