import { fields, tokenIdentityFromEnv, tokenIdentityProblem } from "@pkiserver/contract";
// The kit's config entry only (zod, no driver): main.ts reads this config
// before starting telemetry, which must hook grpc-js and http before they load.
import {
  ConfigError,
  checkGrpcTls,
  env,
  grpcTlsEnvFields,
  grpcTlsFrom,
  parseConfig,
  processEnv,
  z,
} from "@pkiserver/kit/config";
import ipaddr from "ipaddr.js";

const trustedProxies = env.list().superRefine((items, ctx) => {
  for (const item of items) {
    if (!ipaddr.isValid(item) && !ipaddr.isValidCIDR(item)) {
      ctx.addIssue({ code: "custom", message: `not an IP or CIDR: ${item}` });
    }
  }
});

const { bool, address } = env;
const optionalString = env.optionalString();

// The port as configured (not the bound one), so auth derives the same default issuer.
const tokenIdentity = (e: {
  PMX_PORT: number;
  PMX_ISSUER: string | undefined;
  PMX_TOKEN_AUDIENCE: string | undefined;
}) => tokenIdentityFromEnv(e);

const TIER_NAMES = fields.RATE_LIMIT_TIERS;
type TierName = (typeof TIER_NAMES)[number];

/** `pki=6000,user=120,...`: requests per minute per tier (0: no default limit for that tier). */
const rateLimits = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const out: Partial<Record<TierName, number>> = {};
    for (const raw of (v ?? "").split(",")) {
      const item = raw.trim();
      if (item === "") continue;
      const m = /^([a-z]+)=(\d{1,7})$/.exec(item);
      const tier = m?.[1] as TierName | undefined;
      if (m === null || tier === undefined || !TIER_NAMES.includes(tier) || Number(m[2]) > fields.MAX_RATE_LIMIT) {
        ctx.addIssue({
          code: "custom",
          message: `expected tier=requestsPerMinute (tiers ${TIER_NAMES.join(", ")}; 0..1000000), got "${item}"`,
        });
        continue;
      }
      if (out[tier] !== undefined) ctx.addIssue({ code: "custom", message: `tier ${tier} given twice` });
      out[tier] = Number(m[2]);
    }
    return out;
  });

const DEFAULT_TIER_LIMITS: Record<TierName, number> = { pki: 6000, pkiadmin: 600, user: 120, audit: 60, auth: 600 };

const schema = z
  .object({
    PMX_HOST: z.string().min(1).default("0.0.0.0"),
    PMX_PORT: z.coerce.number().int().min(0).max(65535).default(8101),
    PMX_APIKEY_ADDR: address("127.0.0.1:8111"),
    PMX_AUTH_ADDR: address("127.0.0.1:8112"),
    PMX_PKI_ADDR: address("127.0.0.1:8113"),
    PMX_AUDIT_ADDR: address("127.0.0.1:8114"),
    ...grpcTlsEnvFields,
    PMX_CORS_ORIGINS: env.origins(),
    PMX_TRUSTED_PROXIES: trustedProxies,
    PMX_PKI_PUBLIC_READ: bool(false),
    /** Deprecated: read for one release as the `pki` tier's default. */
    PMX_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).optional(),
    PMX_RATE_LIMITS: rateLimits,
    PMX_REDIS_URL: env.redisUrl(),
    PMX_WS_PING_INTERVAL: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
    PMX_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1).default(10_000),
    PMX_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1).default(30_000),
    PMX_MAX_CONNECTIONS_PER_CLIENT: z.coerce.number().int().min(1).default(256),
    PMX_NATS_URL: env.natsUrl(),
    PMX_NATS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '_' and '-'")
      .default("pkiserver"),
    PMX_ISSUER: optionalString,
    PMX_TOKEN_AUDIENCE: optionalString,
    PMX_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    OTEL_EXPORTER_OTLP_ENDPOINT: z
      .url()
      .optional()
      .or(z.literal("").transform(() => undefined)),
  })
  .refine((e) => e.PMX_HEADERS_TIMEOUT_MS <= e.PMX_REQUEST_TIMEOUT_MS, {
    path: ["PMX_HEADERS_TIMEOUT_MS"],
    message: "must not exceed PMX_REQUEST_TIMEOUT_MS (the headers are part of the request)",
  })
  .superRefine((e, ctx) => {
    checkGrpcTls(e, ctx);
    const problem = tokenIdentityProblem(tokenIdentity(e));
    if (problem) ctx.addIssue({ code: "custom", path: [problem.field], message: problem.message });
  })
  .transform((e) => ({
    host: e.PMX_HOST,
    port: e.PMX_PORT,
    apikeyAddr: e.PMX_APIKEY_ADDR,
    authAddr: e.PMX_AUTH_ADDR,
    pkiAddr: e.PMX_PKI_ADDR,
    auditAddr: e.PMX_AUDIT_ADDR,
    /** Mutual TLS to the services (PMX_GRPC_TLS_*); plaintext, with callers' tokens forwarded, when unset. */
    grpcTls: grpcTlsFrom(e),
    /** Empty: CORS off. `*` allows any origin. */
    corsOrigins: e.PMX_CORS_ORIGINS,
    trustedProxies: e.PMX_TRUSTED_PROXIES,
    pkiPublicRead: e.PMX_PKI_PUBLIC_READ,
    /** Requests per minute per tier (API.md section 9); 0 turns a tier's default off. */
    rateLimits: {
      ...DEFAULT_TIER_LIMITS,
      ...(e.PMX_RATE_LIMIT_PER_MINUTE !== undefined ? { pki: e.PMX_RATE_LIMIT_PER_MINUTE } : {}),
      ...e.PMX_RATE_LIMITS,
    },
    /** Counters shared by every gateway replica; absent: each gateway counts alone. */
    redisUrl: e.PMX_REDIS_URL,
    /** Settings still read but on their way out, to be warned about at start. */
    deprecations:
      e.PMX_RATE_LIMIT_PER_MINUTE !== undefined
        ? ["PMX_RATE_LIMIT_PER_MINUTE is deprecated: set PMX_RATE_LIMITS=pki=<n> instead"]
        : [],
    /** How often WebSocket peers are pinged (ms); a peer that misses two pings is dropped. */
    wsPingIntervalMs: e.PMX_WS_PING_INTERVAL,
    /** A request's headers must arrive within this many ms of its start (API.md section 8). */
    headersTimeoutMs: e.PMX_HEADERS_TIMEOUT_MS,
    /** A request's headers and body must arrive within this many ms of its start. */
    requestTimeoutMs: e.PMX_REQUEST_TIMEOUT_MS,
    /** Open connections (HTTP and WebSocket together) per client IP, IPv6 per /64. */
    maxConnectionsPerClient: e.PMX_MAX_CONNECTIONS_PER_CLIENT,
    natsUrl: e.PMX_NATS_URL,
    natsPrefix: e.PMX_NATS_PREFIX,
    logLevel: e.PMX_LOG_LEVEL,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    /** `iss` and `aud` access tokens must carry; the same defaults as auth's. */
    tokenIdentity: tokenIdentity(e),
  }));

export type GatewayConfig = z.infer<typeof schema>;

/** The kit's ConfigError (every problem, one per line), by the name the gateway exports. */
export { ConfigError as GatewayConfigError };

/** Reads the gateway's configuration; throws ConfigError listing every problem. */
export function loadConfig(source: Record<string, string | undefined> = processEnv()): GatewayConfig {
  return parseConfig(schema, source);
}
