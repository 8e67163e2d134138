import { z } from "zod";
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
};

/** An env value where empty means unset, with a default. */
function stringOr(def: string) {
  return z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === "" ? def : v));
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Env fields every service process reads the same way. */
export const serviceEnvFields = {
  PMX_MONGO_URL: env.optionalString(),
  PMX_MONGO_DB: stringOr("pkiserver"),
  PMX_NATS_URL: env.optionalString(),
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
  /** NATS when set; the in-process bus otherwise. */
  readonly natsUrl: string | undefined;
  readonly natsPrefix: string;
  readonly logLevel: string;
  readonly otlpEndpoint: string | undefined;
  /** Where a service's own process serves `/metrics`; undefined: it serves none. */
  readonly metricsListen: { readonly host: string; readonly port: number } | undefined;
  /** Test only: PMX_TEST_EVENT_PUBLISH_DELAY_MS; 0 outside tests. */
  readonly testEventPublishDelayMs: number;
}

type ServiceEnvValues = z.infer<z.ZodObject<typeof serviceEnvFields>>;

export function serviceEnv(v: ServiceEnvValues): ServiceEnv {
  return {
    mongoUrl: v.PMX_MONGO_URL,
    mongoDb: v.PMX_MONGO_DB,
    natsUrl: v.PMX_NATS_URL,
    natsPrefix: v.PMX_NATS_PREFIX,
    logLevel: v.PMX_LOG_LEVEL,
    otlpEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT,
    metricsListen: v.PMX_METRICS_LISTEN === undefined ? undefined : splitAddress(v.PMX_METRICS_LISTEN),
    testEventPublishDelayMs: v.PMX_TEST_EVENT_PUBLISH_DELAY_MS,
  };
}

/** The shared service settings alone (for a process that runs several services). */
export function loadServiceEnv(source: Record<string, string | undefined>): ServiceEnv {
  return serviceEnv(parseConfig(z.object(serviceEnvFields), source));
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
