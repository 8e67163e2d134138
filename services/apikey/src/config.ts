import { env, parseConfig, SecretBox, z } from "@pkiserver/kit";

export interface ApiKeyConfig {
  /** Where the gRPC server listens (PMX_APIKEY_LISTEN, host:port). */
  readonly listen: { host: string; port: number };
  readonly initializationToken: string | undefined;
  /** PMX_SECRET_KEY: `kid:base64key[,kid:base64key…]`, the SecretBox format. */
  readonly secretKey: string | undefined;
  readonly mongoUrl: string | undefined;
  readonly mongoDb: string;
  readonly natsUrl: string | undefined;
  readonly natsPrefix: string;
  readonly logLevel: string;
  readonly otlpEndpoint: string | undefined;
}

const schema = z
  .object({
    PMX_APIKEY_LISTEN: env.address("127.0.0.1:8111"),
    PMX_INITIALIZATION_TOKEN: env.optionalString(),
    PMX_SECRET_KEY: env.optionalString(),
    PMX_MONGO_URL: env.optionalString(),
    PMX_MONGO_DB: z.string().min(1).default("pkiserver"),
    PMX_NATS_URL: env.optionalString(),
    PMX_NATS_PREFIX: z.string().min(1).default("pkiserver"),
    PMX_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    OTEL_EXPORTER_OTLP_ENDPOINT: env.url(),
  })
  .superRefine((v, ctx) => {
    if (v.PMX_MONGO_URL && !v.PMX_SECRET_KEY) {
      // Secrets in a database outlive the process, so the key sealing them must too.
      ctx.addIssue({ code: "custom", path: ["PMX_SECRET_KEY"], message: "required when PMX_MONGO_URL is set" });
    }
    if (v.PMX_SECRET_KEY) {
      try {
        SecretBox.fromConfig(v.PMX_SECRET_KEY);
      } catch (err) {
        // SecretBox's messages name the entry, never the key material.
        ctx.addIssue({ code: "custom", path: ["PMX_SECRET_KEY"], message: (err as Error).message });
      }
    }
  });

/** Reads and validates this service's environment; throws a ConfigError listing every problem. */
export function loadConfig(environment: Record<string, string | undefined>): ApiKeyConfig {
  const c = parseConfig(schema, environment);
  return {
    listen: splitAddress(c.PMX_APIKEY_LISTEN),
    initializationToken: c.PMX_INITIALIZATION_TOKEN,
    secretKey: c.PMX_SECRET_KEY,
    mongoUrl: c.PMX_MONGO_URL,
    mongoDb: c.PMX_MONGO_DB,
    natsUrl: c.PMX_NATS_URL,
    natsPrefix: c.PMX_NATS_PREFIX,
    logLevel: c.PMX_LOG_LEVEL,
    otlpEndpoint: c.OTEL_EXPORTER_OTLP_ENDPOINT,
  };
}

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(address.slice(colon + 1)) };
}
