import { env, parseConfig, z } from "@pkiserver/kit";

export interface PkiConfig {
  /** Where the gRPC server listens. */
  readonly listen: { readonly host: string; readonly port: number };
  /** MongoDB when set; in-memory stores otherwise. */
  readonly mongoUrl: string | undefined;
  readonly mongoDb: string;
  /** NATS when set; the in-process bus otherwise. */
  readonly natsUrl: string | undefined;
  readonly natsPrefix: string;
  readonly logLevel: string;
  readonly otlpEndpoint: string | undefined;
}

const orDefault = (def: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === "" ? def : v));

const schema = z.object({
  PMX_PKI_LISTEN: env.address("127.0.0.1:8113"),
  PMX_MONGO_URL: env.optionalString(),
  PMX_MONGO_DB: orDefault("pkiserver"),
  PMX_NATS_URL: env.optionalString(),
  PMX_NATS_PREFIX: orDefault("pkiserver"),
  PMX_LOG_LEVEL: orDefault("info").pipe(z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])),
  OTEL_EXPORTER_OTLP_ENDPOINT: env.url(),
});

/** The pki service's settings from the environment; throws ConfigError listing every problem. */
export function loadConfig(source: Record<string, string | undefined>): PkiConfig {
  const c = parseConfig(schema, source);
  return {
    listen: parseAddress(c.PMX_PKI_LISTEN),
    mongoUrl: c.PMX_MONGO_URL,
    mongoDb: c.PMX_MONGO_DB,
    natsUrl: c.PMX_NATS_URL,
    natsPrefix: c.PMX_NATS_PREFIX,
    logLevel: c.PMX_LOG_LEVEL,
    otlpEndpoint: c.OTEL_EXPORTER_OTLP_ENDPOINT,
  };
}

function parseAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(address.slice(i + 1)) };
}
