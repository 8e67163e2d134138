import { readFileSync } from "node:fs";
import { ConnectionString } from "mongodb-connection-string-url";
import { z } from "zod";
import type { GrpcTls } from "./grpc";
import { SecretBox } from "./secret-box";

/**
 * Validates the environment against a schema once at start. Every problem is
 * listed, not just the first; the caller decides to exit.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

export function parseConfig<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>): z.infer<T> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "(env)"}: ${i.message}`),
    );
  }
  return result.data;
}

/**
 * Every problem of several components' configurations in one error: each
 * component's loader runs even when an earlier one failed, and a problem two
 * components share (PMX_MONGO_URL read by all four services) is listed once.
 * Returns the loaders' results when every one succeeds.
 */
export function collectConfigs<T extends Record<string, () => unknown>>(
  loaders: T,
): { [K in keyof T]: ReturnType<T[K]> } {
  const problems = new Set<string>();
  const out: Record<string, unknown> = {};
  for (const [name, load] of Object.entries(loaders)) {
    try {
      out[name] = load();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const p of err.problems) problems.add(p);
    }
  }
  if (problems.size > 0) throw new ConfigError([...problems]);
  return out as { [K in keyof T]: ReturnType<T[K]> };
}

/**
 * A process's entry: its configuration, or every problem printed and exit 1
 * before anything else (telemetry included) has started.
 */
export function configOrExit<T>(name: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** The environment of this process, for the config modules' loaders (read nowhere else). */
export function processEnv(): Record<string, string | undefined> {
  return process.env;
}

/**
 * A URL fit for messages and `config print`: the password (or a lone token)
 * of its user info replaced by `***`, query and fragment dropped (they may
 * carry credentials too).
 */
export function maskUrl(url: string): string {
  // Without a scheme (a malformed setting), the whole value is taken as `[userinfo@]host…`.
  const m = /^([a-z][a-z0-9+.-]*:\/\/)?([^?#]*)/i.exec(url.trim());
  const [, scheme = "", rest = ""] = m ?? [];
  // The last '@' ends the user info: a password may hold unescaped '/' or '@'.
  const at = rest.lastIndexOf("@");
  if (at < 0) return `${scheme}${rest}`;
  const userInfo = rest.slice(0, at);
  const colon = userInfo.indexOf(":");
  return `${scheme}${colon >= 0 ? `${userInfo.slice(0, colon)}:***` : "***"}${rest.slice(at)}`;
}

/** A comma-separated env list, trimmed, empty items dropped. */
function listOf(v: string | undefined): string[] {
  return (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function hasScheme(value: string, schemes: readonly string[]): boolean {
  try {
    return schemes.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Checks of URL-valued settings, shared by every component that reads them. */
export const urls = {
  /** A MongoDB connection string (`mongodb://` with one or more hosts, or `mongodb+srv://`). */
  mongo: (value: string): boolean => {
    try {
      new ConnectionString(value);
      return true;
    } catch {
      return false;
    }
  },
  /** One NATS server URL (`nats://` or `tls://`, with a host). */
  nats: (value: string): boolean => hasScheme(value, ["nats:", "tls:"]) && new URL(value).hostname !== "",
  /** A Redis or Valkey URL (`redis://` or `rediss://`, with a host). */
  redis: (value: string): boolean => hasScheme(value, ["redis:", "rediss:"]) && new URL(value).hostname !== "",
  /** A browser origin: `http(s)://host[:port]`, no path, query or trailing slash. */
  origin: (value: string): boolean => {
    if (!hasScheme(value, ["http:", "https:"])) return false;
    return new URL(value).origin === value;
  },
};

/** An env value trimmed, where empty means unset. */
function trimmedOptional() {
  return z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));
}

/** Reusable field parsers for env values. */
export const env = {
  port: (def: number) => z.coerce.number().int().min(0).max(65535).default(def),
  positiveInt: (def: number) => z.coerce.number().int().positive().default(def),
  bool: (def: boolean) =>
    z
      .enum(["true", "false", "1", "0", ""])
      .default(def ? "true" : "false")
      .transform((v) => v === "true" || v === "1"),
  optionalString: () =>
    z
      .string()
      .optional()
      .transform((v) => (v === undefined || v === "" ? undefined : v)),
  /** host:port of a peer service. */
  address: (def: string) =>
    z
      .string()
      .regex(/^[^\s:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/, "expected host:port")
      .default(def),
  url: () =>
    z
      .string()
      .url()
      .optional()
      .or(z.literal("").transform(() => undefined)),
  /** PMX_MONGO_URL: unset or empty means in-memory stores. */
  mongoUrl: () =>
    trimmedOptional().refine((v) => v === undefined || urls.mongo(v), {
      message: "expected mongodb://[user:password@]host[:port][,host…][/db] or mongodb+srv://host",
    }),
  /** PMX_NATS_URL: comma-separated server URLs; unset or empty means the in-process bus. */
  natsUrl: () =>
    trimmedOptional().superRefine((v, ctx) => {
      for (const item of listOf(v)) {
        if (!urls.nats(item)) {
          ctx.addIssue({
            code: "custom",
            message: `expected nats://host:port or tls://host:port, got ${maskUrl(item)}`,
          });
        }
      }
    }),
  /** PMX_REDIS_URL: unset or empty means no Redis. */
  redisUrl: () =>
    trimmedOptional().refine((v) => v === undefined || urls.redis(v), {
      message: "expected redis://host:port or rediss://host:port",
    }),
  /** A comma-separated list, items trimmed, empty ones dropped. */
  list: () => z.string().optional().transform(listOf),
  /** PMX_CORS_ORIGINS: `*` or comma-separated origins. */
  origins: () =>
    env.list().superRefine((items, ctx) => {
      for (const item of items) {
        if (item !== "*" && !urls.origin(item)) {
          ctx.addIssue({
            code: "custom",
            message: `expected * or origins such as https://app.example (scheme, host, optional port; no path), got "${item.slice(0, 200)}"`,
          });
        }
      }
    }),
};

/** An env value where empty means unset, with a default. */
function stringOr(def: string) {
  return z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === "" ? def : v));
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** PEM files of mutual TLS on the gRPC ports and channels: all three, or none (plaintext). */
export const grpcTlsEnvFields = {
  PMX_GRPC_TLS_CERT: env.optionalString(),
  PMX_GRPC_TLS_KEY: env.optionalString(),
  PMX_GRPC_TLS_CA: env.optionalString(),
};

type GrpcTlsEnv = { [K in keyof typeof grpcTlsEnvFields]?: string | undefined };

/** Refinement: the three TLS files are set together and readable. */
export function checkGrpcTls(v: GrpcTlsEnv, ctx: z.RefinementCtx): void {
  const names = Object.keys(grpcTlsEnvFields) as (keyof GrpcTlsEnv)[];
  const set = names.filter((n) => v[n] !== undefined);
  if (set.length === 0) return;
  if (set.length < names.length) {
    for (const n of names.filter((n) => v[n] === undefined)) {
      ctx.addIssue({ code: "custom", path: [n], message: `is required with ${set.join(" and ")}` });
    }
    return;
  }
  for (const n of names) {
    try {
      readFileSync(v[n] as string);
    } catch (err) {
      ctx.addIssue({
        code: "custom",
        path: [n],
        message: `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`,
      });
    }
  }
}

/** The TLS material the three files hold, or undefined when they are not set. */
export function grpcTlsFrom(v: GrpcTlsEnv): GrpcTls | undefined {
  if (v.PMX_GRPC_TLS_CERT === undefined || v.PMX_GRPC_TLS_KEY === undefined || v.PMX_GRPC_TLS_CA === undefined) {
    return undefined;
  }
  return {
    cert: readFileSync(v.PMX_GRPC_TLS_CERT),
    key: readFileSync(v.PMX_GRPC_TLS_KEY),
    ca: readFileSync(v.PMX_GRPC_TLS_CA),
  };
}

/** Env fields every service process reads the same way. */
export const serviceEnvFields = {
  ...grpcTlsEnvFields,
  /** Where auth is: its signing keys and revocations verify the tokens presented to a service. */
  PMX_AUTH_ADDR: env.address("127.0.0.1:8112"),
  // The issuer and audience tokens must name (read with the contract's tokenIdentityFromEnv).
  PMX_PORT: env.optionalString(),
  PMX_ISSUER: env.optionalString(),
  PMX_TOKEN_AUDIENCE: env.optionalString(),
  PMX_MONGO_URL: env.mongoUrl(),
  PMX_MONGO_DB: stringOr("pkiserver"),
  /** ms a start waits for MongoDB before it fails (and an operation for a server). */
  PMX_MONGO_TIMEOUT: z.coerce.number().int().min(100).max(600_000).default(5000),
  PMX_NATS_URL: env.natsUrl(),
  PMX_NATS_PREFIX: stringOr("pkiserver"),
  PMX_LOG_LEVEL: stringOr("info").pipe(z.enum(LOG_LEVELS)),
  OTEL_EXPORTER_OTLP_ENDPOINT: env.url(),
  /** host:port of the process's Prometheus `/metrics` listener (a service's own process); unset: none. */
  PMX_METRICS_LISTEN: env.optionalString().pipe(
    z
      .string()
      .regex(/^[^\s:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/, "expected host:port")
      .optional(),
  ),
  /** Test only: holds each event this long before it is sent to NATS (see NatsBusOptions.testPublishDelayMs). */
  PMX_TEST_EVENT_PUBLISH_DELAY_MS: z.coerce.number().int().min(0).default(0),
};

/** What `serviceEnvFields` configure, named for code. */
export interface ServiceEnv {
  /** MongoDB when set; in-memory stores otherwise. */
  readonly mongoUrl: string | undefined;
  readonly mongoDb: string;
  /** PMX_MONGO_TIMEOUT: how long a start waits for MongoDB, ms. */
  readonly mongoTimeoutMs: number;
  /** NATS when set; the in-process bus otherwise. */
  readonly natsUrl: string | undefined;
  readonly natsPrefix: string;
  readonly logLevel: string;
  readonly otlpEndpoint: string | undefined;
  /** Where a service's own process serves `/metrics`; undefined: it serves none. */
  readonly metricsListen: { readonly host: string; readonly port: number } | undefined;
  /** Test only: PMX_TEST_EVENT_PUBLISH_DELAY_MS; 0 outside tests. */
  readonly testEventPublishDelayMs: number;
  /** Mutual TLS on the gRPC port and the channels to other services (PMX_GRPC_TLS_*); plaintext when unset. */
  readonly grpcTls: GrpcTls | undefined;
  /** PMX_AUTH_ADDR: where auth's signing keys and revocations are read. */
  readonly authAddress: string;
  /** What names the tokens' issuer and audience (PMX_PORT, PMX_ISSUER, PMX_TOKEN_AUDIENCE), as set. */
  readonly tokenEnv: {
    PMX_PORT?: string | undefined;
    PMX_ISSUER?: string | undefined;
    PMX_TOKEN_AUDIENCE?: string | undefined;
  };
}

type ServiceEnvValues = z.infer<z.ZodObject<typeof serviceEnvFields>>;

export function serviceEnv(v: ServiceEnvValues): ServiceEnv {
  return {
    mongoUrl: v.PMX_MONGO_URL,
    mongoDb: v.PMX_MONGO_DB,
    mongoTimeoutMs: v.PMX_MONGO_TIMEOUT,
    natsUrl: v.PMX_NATS_URL,
    natsPrefix: v.PMX_NATS_PREFIX,
    logLevel: v.PMX_LOG_LEVEL,
    otlpEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT,
    metricsListen: v.PMX_METRICS_LISTEN === undefined ? undefined : splitAddress(v.PMX_METRICS_LISTEN),
    testEventPublishDelayMs: v.PMX_TEST_EVENT_PUBLISH_DELAY_MS,
    grpcTls: grpcTlsFrom(v),
    authAddress: v.PMX_AUTH_ADDR,
    tokenEnv: { PMX_PORT: v.PMX_PORT, PMX_ISSUER: v.PMX_ISSUER, PMX_TOKEN_AUDIENCE: v.PMX_TOKEN_AUDIENCE },
  };
}

/** A service's settings: its own gRPC listen address and what `serviceEnvFields` configure. */
export interface ServiceConfig extends ServiceEnv {
  /** Where the service's gRPC server listens (its PMX_<SERVICE>_LISTEN, host:port). */
  readonly listen: { readonly host: string; readonly port: number };
}

/**
 * The loader of one service's environment: its listen address (`listen`:
 * the variable and its default), its own `fields` and the shared
 * `serviceEnvFields`, checked by its own `refine` and then by `checkGrpcTls`.
 * The loader throws a ConfigError listing every problem; it returns the
 * shared settings and the parsed values.
 */
export function serviceConfigLoader<F extends z.ZodRawShape>(
  listen: { readonly name: string; readonly default: string },
  fields: F,
  refine?: (v: z.output<z.ZodObject<F>> & ServiceEnvValues, ctx: z.RefinementCtx) => void,
): (source: Record<string, string | undefined>) => {
  service: ServiceConfig;
  values: z.output<z.ZodObject<F>> & ServiceEnvValues;
} {
  const schema = z
    .object({ [listen.name]: env.address(listen.default), ...fields, ...serviceEnvFields })
    .superRefine((v, ctx) => {
      const values = v as z.output<z.ZodObject<F>> & ServiceEnvValues;
      refine?.(values, ctx);
      checkGrpcTls(values, ctx);
    });
  return (source) => {
    const v = parseConfig(schema, source) as z.output<z.ZodObject<F>> & ServiceEnvValues & Record<string, unknown>;
    return { service: { listen: splitAddress(v[listen.name] as string), ...serviceEnv(v) }, values: v };
  };
}

/** The shared service settings alone (for a process that runs several services). */
export function loadServiceEnv(source: Record<string, string | undefined>): ServiceEnv {
  return serviceEnv(parseConfig(z.object(serviceEnvFields).superRefine(checkGrpcTls), source));
}

/** `host:port` or `[v6]:port` (already validated by `env.address`) as parts. */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port: Number(address.slice(colon + 1)) };
}

/**
 * Refinement for services that seal values under PMX_SECRET_KEY: it must
 * parse, and it is required with MongoDB, where sealed values outlive the
 * process (an ephemeral key would make them unreadable after a restart).
 */
export function checkSecretKey(
  v: { PMX_MONGO_URL?: string | undefined; PMX_SECRET_KEY?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (v.PMX_MONGO_URL && !v.PMX_SECRET_KEY) {
    ctx.addIssue({ code: "custom", path: ["PMX_SECRET_KEY"], message: "is required when PMX_MONGO_URL is set" });
  }
  if (v.PMX_SECRET_KEY) {
    try {
      SecretBox.fromConfig(v.PMX_SECRET_KEY);
    } catch (err) {
      // SecretBox's messages name the entry, never the key material.
      ctx.addIssue({ code: "custom", path: ["PMX_SECRET_KEY"], message: (err as Error).message });
    }
  }
}

export { z };
