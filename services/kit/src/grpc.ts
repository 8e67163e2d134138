import { performance } from "node:perf_hooks";
import {
  type Channel,
  type ChannelCredentials,
  connectivityState as ConnectivityState,
  credentials as grpcCredentials,
  type handleUnaryCall,
  Metadata,
  type MethodDefinition,
  makeGenericClientConstructor,
  propagate as Propagate,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type ServiceError,
  type StatusObject,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { HealthImplementation } from "grpc-health-check";
import {
  admitCaller,
  bearerToken,
  type CallAccess,
  type Caller,
  CallerMetadata,
  INTERNAL_CALLER,
  type RpcRule,
  statedCaller,
} from "./call-auth";
import { AppError, ErrorCatalogue, isErrorCode } from "./errors";
import { addStandardServices, errorFromStatusDetails, setStatusDetails } from "./grpc-standard";
import type { Logger } from "./logger";
import { MethodMetrics } from "./metrics";
import { tracingStarted } from "./tracing-state";

/** Metadata keys carried on every internal call. */
export const MetadataKeys = {
  requestId: "x-request-id",
  callerKeyId: "pmx-caller-key-id",
  errorCode: "pmx-error-code",
  errorData: "pmx-error-data",
} as const;

export interface CallContext {
  readonly requestId: string;
  /** The API key the call is made for, when known from its authentication (for auditing). */
  readonly callerKeyId: string | undefined;
  /** The authenticated caller; undefined only on an open RPC called without credentials. */
  readonly caller: Caller | undefined;
  readonly logger: Logger;
  readonly metadata: Metadata;
  /** When the caller stops waiting (ms since the epoch); Infinity when it set no deadline. */
  readonly deadline: number;
  /** Aborted when the caller cancels or its deadline passes: work for it should stop. */
  readonly signal: AbortSignal;
  /** True once the caller cancelled or its deadline passed (cheaper than `signal`). */
  readonly cancelled: boolean;
}

/** Default deadline of a call that names none. */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/**
 * Options for a call made while serving `ctx`: the same request id and
 * caller, and no more time than the caller has left.
 */
export function callOptionsWithin(ctx: Pick<CallContext, "requestId" | "callerKeyId" | "deadline">): CallOptions {
  return {
    requestId: ctx.requestId,
    ...(ctx.callerKeyId === undefined ? {} : { callerKeyId: ctx.callerKeyId }),
    ...(Number.isFinite(ctx.deadline) ? { timeoutMs: Math.max(1, ctx.deadline - Date.now()) } : {}),
  };
}

/** An RPC implementation as a plain async function of the request. */
export type AsyncHandlers<S> = {
  [K in keyof S]: S[K] extends handleUnaryCall<infer Req, infer Res>
    ? (req: Req, ctx: CallContext) => Promise<Res>
    : never;
};

/** The client side of a service, as async functions. */
export type AsyncClient<S> = {
  [K in keyof S]: S[K] extends handleUnaryCall<infer Req, infer Res>
    ? (req: Req, opts?: CallOptions) => Promise<Res>
    : never;
};

export interface CallOptions {
  requestId?: string;
  callerKeyId?: string;
  /**
   * Who the call is made for: handed over as is in process, stated in
   * metadata over mutual TLS, else its token forwarded as a Bearer credential.
   * Absent: the calling component itself (in process or over mutual TLS).
   */
  caller?: Caller | undefined;
  /** Milliseconds until the call is abandoned (default 10 s). */
  timeoutMs?: number;
}

/**
 * Turns any error into the gRPC error that carries its catalogue code (in
 * pmx-error-code and pmx-error-data, and as a google.rpc.Status with an
 * ErrorInfo in grpc-status-details-bin). `logger` is the call's own, already
 * bound to its request id.
 */
export function toGrpcError(err: unknown, logger: Logger): Partial<ServiceError> {
  const appErr = AppError.from(err);
  const entry = ErrorCatalogue[appErr.code];
  if (appErr.code === "rpc.internal") {
    // The detail goes to the log only; the caller sees the bare catalogue entry.
    logger.error({ err: appErr.internal ?? String(err) }, "internal error");
  }
  const metadata = new Metadata();
  metadata.set(MetadataKeys.errorCode, appErr.code);
  let json: string | undefined;
  if (appErr.data !== null && appErr.data !== undefined) {
    try {
      // Metadata values are printable ASCII: escape the rest as JSON allows.
      json = JSON.stringify(appErr.data)?.replace(
        /[^ -~]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
      );
    } catch (err) {
      logger.error({ err: String(err) }, "error data cannot be sent");
    }
    if (json !== undefined) metadata.set(MetadataKeys.errorData, json);
  }
  setStatusDetails(metadata, appErr.code, json);
  return { code: entry.grpc, details: entry.message, metadata };
}

/** Turns an error received from a gRPC call back into the AppError it was made from. */
export function fromGrpcError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const se = err as Partial<ServiceError>;
  const codeValue = se?.metadata?.get(MetadataKeys.errorCode)[0];
  if (typeof codeValue === "string" && isErrorCode(codeValue)) {
    const rawData = se.metadata?.get(MetadataKeys.errorData)[0];
    let data: unknown = null;
    if (typeof rawData === "string") {
      try {
        data = JSON.parse(rawData);
      } catch {
        data = null;
      }
    }
    return new AppError(codeValue, { data });
  }
  const fromDetails = errorFromStatusDetails(se?.metadata);
  if (fromDetails !== undefined) return fromDetails;
  const grpcStatus = typeof se?.code === "number" ? status[se.code] : "unknown";
  const internal = `gRPC ${grpcStatus}: ${se?.details ?? String(err)}`;
  // A backend that is down, restarting or too busy to answer in time is
  // unavailable, not broken: the caller may try again.
  if (se?.code === status.UNAVAILABLE || se?.code === status.DEADLINE_EXCEEDED) {
    return new AppError("rpc.unavailable", { internal, cause: err });
  }
  return new AppError("rpc.internal", { internal, cause: err });
}

/**
 * The context a handler made by `implement` gets: one object per call, its
 * logger, metadata and abort signal made only when asked (most calls use none).
 */
class ServerCallContext implements CallContext {
  caller: Caller | undefined = undefined;
  callerKeyId: string | undefined = undefined;
  readonly deadline: number;
  cancelled = false;
  private abort: AbortController | undefined = undefined;
  private log: Logger | undefined = undefined;

  constructor(
    private readonly call: ServerUnaryCall<unknown, unknown>,
    readonly requestId: string,
    private readonly rpc: string,
    private readonly parentLogger: Logger,
  ) {
    const deadline = call.getDeadline();
    this.deadline = deadline instanceof Date ? deadline.getTime() : deadline;
  }

  get logger(): Logger {
    this.log ??= this.parentLogger.child({ requestId: this.requestId, rpc: this.rpc });
    return this.log;
  }

  /** Read on use: an in-process call makes its metadata only when asked. */
  get metadata(): Metadata {
    return this.call.metadata;
  }

  get signal(): AbortSignal {
    if (this.abort === undefined) {
      this.abort = new AbortController();
      if (this.cancelled) this.abort.abort();
    }
    return this.abort.signal;
  }

  cancel(): void {
    this.cancelled = true;
    this.abort?.abort();
  }
}

function firstString(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/**
 * Set on each call by the server that received it (`startGrpcServer`): true
 * on a mutual-TLS server, where the handshake already required and verified
 * the client's certificate, false on a plaintext one. Asking the TLS socket
 * for the peer's certificate on every call (what getAuthContext does) was a
 * fifth of a service's CPU time per call.
 */
const PEER_VERIFIED = Symbol("pkiserver.peerVerified");

/** True when the call's peer presented a client certificate the server verified (mutual TLS). */
function peerAuthenticated(call: ServerUnaryCall<unknown, unknown>): boolean {
  const known = (call as unknown as Record<symbol, boolean | undefined>)[PEER_VERIFIED];
  if (known !== undefined) return known;
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  return cert !== undefined && cert !== null && Object.keys(cert).length > 0;
}

/**
 * Wraps async handlers into grpc-js handlers with authentication (every call
 * is admitted by its RPC's rule in `access` before the handler runs), error
 * mapping and request-scoped logging.
 */
export function implement<S extends UntypedServiceImplementation>(
  definition: ServiceDefinition,
  handlers: AsyncHandlers<S>,
  logger: Logger,
  access: CallAccess<Extract<keyof AsyncHandlers<S>, string>>,
): S {
  const impl: Record<string, handleUnaryCall<unknown, unknown>> = {};
  const rules = access.rules as Readonly<Record<string, CallAccess["rules"][string]>>;
  for (const name of Object.keys(definition)) {
    const fn = (handlers as Record<string, (req: unknown, ctx: CallContext) => Promise<unknown>>)[name];
    if (typeof fn !== "function") throw new Error(`no handler for RPC ${name}`);
    const rule = rules[name];
    if (rule === undefined) throw new Error(`no access rule for RPC ${name}`);
    // `/pkiserver.pki.v1.PkiService/GetHost`: the service and method as the wire names them.
    const [, service = "", method = name] = (definition[name]?.path ?? "").split("/");
    const metrics = new MethodMetrics(service, method);
    impl[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const started = performance.now();
      const local = call instanceof LocalCall ? call : undefined;
      const requestId = (local ? local.requestId : firstString(call.metadata, MetadataKeys.requestId)) || "";
      const ctx = new ServerCallContext(call, requestId, name, logger);
      // grpc-js emits "cancelled" when the client cancels, disconnects or its deadline passes.
      call.once("cancelled", () => ctx.cancel());
      // Who calls: handed over in process; a Bearer token, verified here; or an mTLS peer's statement.
      let pending: Promise<Caller> | undefined;
      let failure: unknown;
      let trusted = false;
      if (local !== undefined) {
        trusted = true;
        ctx.caller = local.caller ?? INTERNAL_CALLER;
      } else {
        const token = bearerToken(firstString(call.metadata, CallerMetadata.authorization));
        if (token !== undefined) {
          // An open RPC checks its own secret: a token it does not need is not verified.
          if (rule !== "open") {
            if (access.tokens === undefined) failure = new AppError("auth.unauthorized");
            else pending = access.tokens.verify(token);
          }
        } else if (peerAuthenticated(call)) {
          trusted = true;
          try {
            ctx.caller = statedCaller(
              firstString(call.metadata, CallerMetadata.keyId),
              firstString(call.metadata, CallerMetadata.scope),
            );
          } catch (err) {
            failure = err;
          }
        }
      }
      // Only an authenticated caller names the key the call is made for.
      ctx.callerKeyId =
        ctx.caller?.apiKeyId ||
        (local
          ? local.callerKeyId || undefined
          : trusted
            ? firstString(call.metadata, MetadataKeys.callerKeyId)
            : undefined);
      const run = () => {
        admitCaller(rule, ctx.caller);
        return fn(call.request, ctx);
      };
      let result: Promise<unknown>;
      try {
        result =
          failure !== undefined
            ? Promise.reject(failure)
            : pending !== undefined
              ? pending.then((verified) => {
                  ctx.caller = verified;
                  ctx.callerKeyId = verified.apiKeyId || undefined;
                  return run();
                })
              : run();
      } catch (err) {
        result = Promise.reject(err);
      }
      result.then(
        (res) => {
          metrics.observe(status.OK, (performance.now() - started) / 1000);
          callback(null, res);
        },
        (err: unknown) => {
          const grpcErr = toGrpcError(err, ctx.logger);
          metrics.observe(grpcErr.code ?? status.UNKNOWN, (performance.now() - started) / 1000);
          callback(grpcErr as ServiceError);
        },
      );
    };
  }
  return impl as unknown as S;
}

/**
 * The RPCs of a generated server interface, without the string index
 * signature it inherits from grpc-js: mapped over, that signature would
 * demand a handler of type `never` for every string.
 */
export type RpcsOf<S> = { [K in keyof S as string extends K ? never : K]: S[K] };

/** Who may call each RPC of a generated server interface. */
export type RpcRules<S> = Readonly<Record<keyof RpcsOf<S>, RpcRule>>;

/** The async handlers of a generated server interface's RPCs. */
export type RpcHandlers<S> = AsyncHandlers<RpcsOf<S>>;

/**
 * A service as its gRPC server registers it: the generated `definition`
 * under `name` (the generated client's `serviceName`), each RPC run by its
 * async handler once the RPC's rule in `access` admits the call.
 */
export function serviceRegistration<S>(
  name: string,
  definition: ServiceDefinition,
  handlers: RpcHandlers<S>,
  logger: Logger,
  access: CallAccess<Extract<keyof RpcsOf<S>, string>>,
): ServiceRegistration {
  return {
    name,
    definition,
    implementation: implement<UntypedServiceImplementation>(
      definition,
      handlers as AsyncHandlers<UntypedServiceImplementation>,
      logger,
      access,
    ),
  };
}

export interface GrpcServerHandle {
  readonly port: number;
  readonly address: string;
  readonly server: Server;
  readonly health: HealthImplementation;
  /** The services it serves, for in-process clients (`connectService`). */
  readonly services: readonly ServiceRegistration[];
  /** Stops accepting calls, lets running calls finish (up to graceMs), then closes. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServiceRegistration {
  readonly name: string;
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
}

/**
 * Counts the unary handlers running. A handler's caller may cancel (its
 * deadline passes, its channel closes), which ends the HTTP/2 stream at once
 * while the handler goes on using the stores; stopping must wait for the
 * handler, not the stream.
 */
class RunningCalls {
  private count = 0;
  private waiters: (() => void)[] = [];

  wrap(
    definition: ServiceDefinition,
    impl: UntypedServiceImplementation,
    /** Whether the server requires and verifies client certificates (see PEER_VERIFIED). */
    mutualTls: boolean,
  ): UntypedServiceImplementation {
    const wrapped: UntypedServiceImplementation = { ...impl };
    for (const [name, fn] of Object.entries(impl)) {
      const method = definition[name];
      if (method === undefined || method.requestStream || method.responseStream) continue;
      wrapped[name] = ((call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        (call as unknown as Record<symbol, boolean>)[PEER_VERIFIED] = mutualTls;
        this.count++;
        let finished = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          this.count--;
          if (this.count === 0) for (const w of this.waiters.splice(0)) w();
        };
        try {
          (fn as handleUnaryCall<unknown, unknown>)(call, (err, value, trailer, flags) => {
            finish();
            callback(err, value, trailer, flags);
          });
        } catch (err) {
          finish();
          throw err;
        }
      }) as UntypedServiceImplementation[string];
    }
    return wrapped;
  }

  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}

const serviceName = (s: ServiceRegistration) => s.name;

/** Starts a gRPC server with the given services and the standard health and reflection services. */
export async function startGrpcServer(opts: {
  host: string;
  port: number;
  services: readonly ServiceRegistration[];
  /** Mutual TLS: every client must present a certificate that chains to `tls.ca`. Plaintext otherwise. */
  tls?: GrpcTls | undefined;
}): Promise<GrpcServerHandle> {
  const server = new Server({ "grpc.max_receive_message_length": 4 * 1024 * 1024 });
  const running = new RunningCalls();
  const health = addStandardServices(server, opts.services.map(serviceName));
  for (const s of opts.services) {
    server.addService(s.definition, running.wrap(s.definition, s.implementation, opts.tls !== undefined));
  }
  const bindHost = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${bindHost}:${opts.port}`,
      opts.tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(opts.tls.ca, [{ private_key: opts.tls.key, cert_chain: opts.tls.cert }], true),
      (err, boundPort) => (err ? reject(err) : resolve(boundPort)),
    );
  });
  return {
    port,
    address: `${bindHost}:${port}`,
    server,
    health,
    services: opts.services,
    stop: async (graceMs = 5000) => {
      health.setStatus("", "NOT_SERVING");
      for (const s of opts.services) health.setStatus(s.name, "NOT_SERVING");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        const shutDown = new Promise<void>((r) => server.tryShutdown(() => r()));
        void Promise.all([shutDown, running.idle()]).then(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** PEM files of mutual TLS on the gRPC channels: this process's certificate chain and key, and the CA its peers' certificates must chain to. */
export interface GrpcTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

export interface ClientOptions {
  /** Mutual TLS: the server's certificate is verified against `ca`, and this process presents its own. */
  tls?: GrpcTls | undefined;
  /**
   * Connect at once and stay connected: reconnect whenever the channel falls
   * idle, instead of connecting on the first call. A process whose file
   * descriptors run out (clients flooding it) then still has its channel.
   */
  keepConnected?: boolean;
}

/** The longest delay a Node timer takes (about 24.8 days): grpc-js cannot turn its idle timer off. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Keeps a channel connected: whenever it becomes idle, asks it to connect again. */
function keepConnected(channel: Channel): void {
  const watch = () => {
    const state = channel.getConnectivityState(true);
    if (state === ConnectivityState.SHUTDOWN) return;
    channel.watchConnectivityState(state, Number.POSITIVE_INFINITY, () => watch());
  };
  watch();
}

/**
 * One unary call made on the channel itself, as grpc-js's client methods make
 * it underneath, without their per-call layers (an EventEmitter call object,
 * the interceptor chain, the callback's bookkeeping): the same deadline,
 * metadata, serialisation and status; errors become AppError.
 */
function unaryOnChannel(
  channel: Channel,
  def: MethodDefinition<unknown, unknown>,
  req: unknown,
  md: Metadata,
  timeoutMs = 10_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let payload: Buffer;
    try {
      payload = def.requestSerialize(req);
    } catch (err) {
      reject(new AppError("rpc.internal", { internal: `serialising ${def.path}: ${String(err)}`, cause: err }));
      return;
    }
    const call = channel.createCall(def.path, new Date(Date.now() + timeoutMs), undefined, null, Propagate.DEFAULTS);
    let response: unknown;
    let received = false;
    let failure: ServiceError | undefined;
    call.start(md, {
      onReceiveMetadata() {},
      onReceiveMessage(message: Buffer) {
        if (received) return;
        received = true;
        try {
          response = def.responseDeserialize(message);
        } catch (err) {
          failure = Object.assign(new Error(String(err)), {
            code: status.INTERNAL,
            details: `response of ${def.path} could not be read: ${String(err)}`,
            metadata: new Metadata(),
          });
          call.cancelWithStatus(status.INTERNAL, "response could not be read");
        }
      },
      onReceiveStatus(st: StatusObject) {
        if (st.code === status.OK && failure === undefined) {
          if (received) resolve(response);
          else
            reject(
              fromGrpcError({ code: status.UNIMPLEMENTED, details: "no response message", metadata: st.metadata }),
            );
          return;
        }
        reject(fromGrpcError(failure ?? { code: st.code, details: st.details, metadata: st.metadata }));
      },
    });
    call.startRead();
    call.sendMessageWithContext({}, payload);
    call.halfClose();
  });
}

/** A gRPC client whose methods are async functions that throw AppError. */
export function createClient<S>(
  definition: ServiceDefinition,
  serviceName: string,
  address: string,
  credentials: ChannelCredentials = grpcCredentials.createInsecure(),
  options: ClientOptions = {},
): { client: AsyncClient<S>; close(): void; waitForReady(timeoutMs: number): Promise<void> } {
  const Ctor = makeGenericClientConstructor(definition, serviceName);
  const mutualTls = options.tls !== undefined;
  if (options.tls !== undefined)
    credentials = grpcCredentials.createSsl(options.tls.ca, options.tls.key, options.tls.cert);
  const channelOptions = options.keepConnected ? { "grpc.client_idle_timeout_ms": MAX_TIMER_MS } : {};
  const raw = new Ctor(address, credentials, channelOptions) as unknown as Record<
    string,
    (req: unknown, md: Metadata, opts: { deadline: Date }, cb: (err: ServiceError | null, res: unknown) => void) => void
  > & { close(): void; waitForReady(deadline: Date, cb: (err?: Error) => void): void; getChannel(): Channel };
  if (options.keepConnected) keepConnected(raw.getChannel());
  const channel = raw.getChannel();
  const metadataOf = (opts: CallOptions): Metadata => {
    const md = new Metadata();
    if (opts.requestId) md.set(MetadataKeys.requestId, opts.requestId);
    if (opts.callerKeyId) md.set(MetadataKeys.callerKeyId, opts.callerKeyId);
    const caller = opts.caller;
    if (caller !== undefined) {
      if (mutualTls) {
        // The server verified this process's certificate: it takes the caller as stated.
        if (caller.apiKeyId !== "") {
          md.set(CallerMetadata.keyId, caller.apiKeyId);
          md.set(CallerMetadata.scope, caller.scopes.join(" "));
        }
      } else if (caller.token !== undefined) {
        md.set(CallerMetadata.authorization, `Bearer ${caller.token}`);
      }
    }
    return md;
  };
  const client: Record<string, (req: unknown, opts?: CallOptions) => Promise<unknown>> = {};
  for (const [name, def] of Object.entries(definition)) {
    const method = raw[name];
    if (typeof method !== "function") throw new Error(`client has no method ${name}`);
    // Through the client's method when a tracing SDK runs (its gRPC instrumentation wraps
    // those: client spans, trace context in metadata); else straight on the channel.
    const traced = (req: unknown, opts: CallOptions) =>
      new Promise((resolve, reject) => {
        const deadline = new Date(Date.now() + (opts.timeoutMs ?? 10_000));
        method.call(raw, req, metadataOf(opts), { deadline }, (err, res) =>
          err ? reject(fromGrpcError(err)) : resolve(res),
        );
      });
    client[name] = (req, opts = {}) =>
      tracingStarted() ? traced(req, opts) : unaryOnChannel(channel, def, req, metadataOf(opts), opts.timeoutMs);
  }
  return {
    client: client as AsyncClient<S>,
    close: () => raw.close(),
    waitForReady: (timeoutMs) =>
      new Promise((resolve, reject) =>
        raw.waitForReady(new Date(Date.now() + timeoutMs), (err) => (err ? reject(err) : resolve())),
      ),
  };
}

export { status as GrpcStatus };

/** A client of one service, and how to close it. */
export interface ServiceChannel<S> {
  readonly client: AsyncClient<S>;
  close(): void;
  waitForReady(timeoutMs: number): Promise<void>;
}

/** Where a service is: a gRPC address (`host:port`), or its registration in this process. */
export type ServiceTarget = string | ServiceRegistration;

/** A client of the service at `target`: over gRPC for an address, in process for a registration. */
export function connectService<S>(
  definition: ServiceDefinition,
  serviceName: string,
  target: ServiceTarget,
  options: ClientOptions = {},
): ServiceChannel<S> {
  return typeof target === "string"
    ? createClient<S>(definition, serviceName, target, undefined, options)
    : createLocalClient<S>(target, serviceName);
}

const tracer = trace.getTracer("@pkiserver/kit");

/** The error a local call ends with when its handler throws instead of answering. */
function internalError(err: unknown): ServiceError {
  return {
    name: "Error",
    message: String(err),
    code: status.INTERNAL,
    details: String(err),
    metadata: new Metadata(),
  };
}

const DEADLINE_EXCEEDED: Readonly<Omit<ServiceError, "metadata">> = {
  name: "Error",
  message: "Deadline exceeded",
  code: status.DEADLINE_EXCEEDED,
  details: "Deadline exceeded",
};

/**
 * The server side of one in-process call, as much of grpc-js's
 * ServerUnaryCall as a handler made by `implement` uses. It is also the
 * call's state: the deadline timer and the promise it settles.
 */
class LocalCall {
  cancelled = false;
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  /** Listeners of "cancelled", the one event a handler listens for (no EventEmitter per call). */
  private onCancel: (() => void)[] | undefined;
  private md: Metadata | undefined;

  constructor(
    readonly request: unknown,
    /** The call's request id and the key it is made for, which a server reads from metadata. */
    readonly requestId: string | undefined,
    readonly callerKeyId: string | undefined,
    private readonly deadline: number,
    private readonly resolve: (res: unknown) => void,
    private readonly reject: (err: unknown) => void,
    /** Told the call's gRPC status once it ends (the spans), when tracing. */
    private readonly ended: ((code: status) => void) | undefined,
    /** The caller as the calling code verified it: this channel needs no credentials. */
    readonly caller: Caller | undefined,
  ) {}

  getDeadline(): number {
    return this.deadline;
  }

  /** The metadata the call would carry over gRPC, made on first use (`implement` reads the fields). */
  get metadata(): Metadata {
    if (this.md === undefined) {
      this.md = new Metadata();
      if (this.requestId) this.md.set(MetadataKeys.requestId, this.requestId);
      if (this.callerKeyId) this.md.set(MetadataKeys.callerKeyId, this.callerKeyId);
    }
    return this.md;
  }

  once(event: string, listener: () => void): this {
    if (event !== "cancelled") return this;
    if (this.onCancel === undefined) this.onCancel = [listener];
    else this.onCancel.push(listener);
    return this;
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const listener of this.onCancel?.splice(0) ?? []) listener();
  }

  /** Starts the handler, and the timer that gives up on it at the deadline. */
  start(handler: handleUnaryCall<unknown, unknown>, timeoutMs: number): void {
    this.timer = setTimeout(() => {
      this.cancel();
      this.finish(status.DEADLINE_EXCEEDED, { ...DEADLINE_EXCEEDED, metadata: new Metadata() });
    }, timeoutMs);
    try {
      handler(this as unknown as ServerUnaryCall<unknown, unknown>, (err, res) =>
        this.finish(err ? (err.code ?? status.UNKNOWN) : status.OK, err ? (err as ServiceError) : null, res),
      );
    } catch (err) {
      this.finish(status.INTERNAL, internalError(err));
    }
  }

  private finish(code: status, err: ServiceError | null, res?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.ended?.(code);
    if (err) this.reject(fromGrpcError(err));
    else this.resolve(res);
  }
}

/**
 * A client that calls a service's handlers in this process: the same
 * handlers and the same protobuf messages (the generated message objects,
 * handed over as they are rather than encoded and decoded: neither side
 * changes a message it sent or received), the same metadata, deadlines,
 * cancellation and error mapping, and, when tracing, client and server spans
 * named as grpc-js instrumentation names them; but no HTTP/2 framing,
 * sockets or event-loop hops. The one-process form uses it.
 */
export function createLocalClient<S>(registration: ServiceRegistration, serviceName: string): ServiceChannel<S> {
  const client: Record<string, (req: unknown, opts?: CallOptions) => Promise<unknown>> = {};
  const handlers = registration.implementation as Record<string, handleUnaryCall<unknown, unknown>>;
  for (const [name, def] of Object.entries(registration.definition)) {
    const handler = handlers[name];
    if (typeof handler !== "function") throw new Error(`${serviceName} has no handler for ${name}`);
    const spanName = `grpc.${def.path.replace(/^\//, "")}`;
    const attributes = { "rpc.system": "grpc", "rpc.service": serviceName, "rpc.method": def.originalName ?? name };
    const call = (req: unknown, opts: CallOptions, ended?: (code: status) => void) =>
      new Promise<unknown>((resolve, reject) => {
        const timeoutMs = opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
        const deadline = Date.now() + timeoutMs;
        new LocalCall(req, opts.requestId, opts.callerKeyId, deadline, resolve, reject, ended, opts.caller).start(
          handler,
          timeoutMs,
        );
      });
    const traced = (req: unknown, opts: CallOptions) =>
      tracer.startActiveSpan(spanName, { kind: SpanKind.CLIENT, attributes }, (clientSpan) =>
        tracer.startActiveSpan(spanName, { kind: SpanKind.SERVER, attributes }, (serverSpan) =>
          call(req, opts, (code) => {
            for (const span of [serverSpan, clientSpan]) {
              span.setAttribute("rpc.grpc.status_code", code);
              if (code !== status.OK) span.setStatus({ code: SpanStatusCode.ERROR });
              span.end();
            }
          }),
        ),
      );
    client[name] = (req, opts = {}) => (tracingStarted() ? traced(req, opts) : call(req, opts));
  }
  return {
    client: client as AsyncClient<S>,
    close: () => undefined,
    waitForReady: async () => undefined,
  };
}
