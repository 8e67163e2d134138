import { env, parseConfig, SecretBox, z } from "@pkiserver/kit";

const schema = z
  .object({
    PMX_AUTH_LISTEN: env.address("127.0.0.1:8112"),
    PMX_APIKEY_ADDR: env.address("127.0.0.1:8111"),
    PMX_ACCESS_TOKEN_LIFETIME: env.positiveInt(900_000),
    PMX_REFRESH_TOKEN_LIFETIME: env.positiveInt(604_800_000),
    PMX_SIGNING_KEY_ROTATION: env.positiveInt(86_400_000),
    PMX_SECRET_KEY: env.optionalString(),
    PMX_MONGO_URL: env.optionalString(),
    PMX_MONGO_DB: z.string().min(1).default("pkiserver"),
    PMX_NATS_URL: env.optionalString(),
    PMX_NATS_PREFIX: z.string().min(1).default("pkiserver"),
    PMX_LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
    OTEL_EXPORTER_OTLP_ENDPOINT: env.optionalString(),
  })
  .superRefine((v, ctx) => {
    if (v.PMX_ACCESS_TOKEN_LIFETIME > v.PMX_REFRESH_TOKEN_LIFETIME) {
      ctx.addIssue({
        code: "custom",
        path: ["PMX_ACCESS_TOKEN_LIFETIME"],
        message: "must not exceed PMX_REFRESH_TOKEN_LIFETIME",
      });
    }
    if (v.PMX_MONGO_URL && !v.PMX_SECRET_KEY) {
      // Signing keys stored in MongoDB are shared by every replica, so their
      // private halves must be sealed under a key all replicas know.
      ctx.addIssue({ code: "custom", path: ["PMX_SECRET_KEY"], message: "is required when PMX_MONGO_URL is set" });
    }
    if (v.PMX_SECRET_KEY) {
      try {
        SecretBox.fromConfig(v.PMX_SECRET_KEY);
      } catch (err) {
        ctx.addIssue({ code: "custom", path: ["PMX_SECRET_KEY"], message: (err as Error).message });
      }
    }
  });

export interface AuthConfig {
  listen: { host: string; port: number };
  apikeyAddress: string;
  accessTokenLifetimeMs: number;
  refreshTokenLifetimeMs: number;
  signingKeyRotationMs: number;
  /** `kid:base64key[,…]`, never logged. */
  secretKey: string | undefined;
  mongoUrl: string | undefined;
  mongoDb: string;
  natsUrl: string | undefined;
  natsPrefix: string;
  logLevel: string;
  otlpEndpoint: string | undefined;
}

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(address.slice(colon + 1)) };
}

/** Reads and validates this service's environment; throws ConfigError listing every problem. */
export function loadConfig(source: Record<string, string | undefined>): AuthConfig {
  const v = parseConfig(schema, source);
  return {
    listen: splitAddress(v.PMX_AUTH_LISTEN),
    apikeyAddress: v.PMX_APIKEY_ADDR,
    accessTokenLifetimeMs: v.PMX_ACCESS_TOKEN_LIFETIME,
    refreshTokenLifetimeMs: v.PMX_REFRESH_TOKEN_LIFETIME,
    signingKeyRotationMs: v.PMX_SIGNING_KEY_ROTATION,
    secretKey: v.PMX_SECRET_KEY,
    mongoUrl: v.PMX_MONGO_URL,
    mongoDb: v.PMX_MONGO_DB,
    natsUrl: v.PMX_NATS_URL,
    natsPrefix: v.PMX_NATS_PREFIX,
    logLevel: v.PMX_LOG_LEVEL,
    otlpEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT,
  };
}
