import {
  MAX_TOKEN_LIFETIME_MS,
  type TokenIdentity,
  tokenIdentityFromEnv,
  tokenIdentityProblem,
} from "@pkiserver/contract";
import { checkSecretKey, env, processEnv, type ServiceConfig, serviceConfigLoader } from "@pkiserver/kit/config";

const load = serviceConfigLoader(
  { name: "PMX_AUTH_LISTEN", default: "127.0.0.1:8112" },
  {
    PMX_APIKEY_ADDR: env.address("127.0.0.1:8111"),
    PMX_ACCESS_TOKEN_LIFETIME: env.positiveInt(900_000),
    PMX_REFRESH_TOKEN_LIFETIME: env.positiveInt(604_800_000),
    PMX_SIGNING_KEY_ROTATION: env.positiveInt(86_400_000),
    PMX_SECRET_KEY: env.optionalString(),
  },
  (v, ctx) => {
    if (v.PMX_REFRESH_TOKEN_LIFETIME > MAX_TOKEN_LIFETIME_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["PMX_REFRESH_TOKEN_LIFETIME"],
        message: `must be at most ${MAX_TOKEN_LIFETIME_MS} (90 days)`,
      });
    }
    const identityProblem = tokenIdentityProblem(tokenIdentityFromEnv(v));
    if (identityProblem)
      ctx.addIssue({ code: "custom", path: [identityProblem.field], message: identityProblem.message });
    if (v.PMX_ACCESS_TOKEN_LIFETIME > v.PMX_REFRESH_TOKEN_LIFETIME) {
      ctx.addIssue({
        code: "custom",
        path: ["PMX_ACCESS_TOKEN_LIFETIME"],
        message: "must not exceed PMX_REFRESH_TOKEN_LIFETIME",
      });
    }
    // Signing keys stored in MongoDB are shared by every replica, so their
    // private halves are sealed under a key all replicas know.
    checkSecretKey(v, ctx);
  },
);

export interface AuthConfig extends ServiceConfig {
  apikeyAddress: string;
  accessTokenLifetimeMs: number;
  refreshTokenLifetimeMs: number;
  signingKeyRotationMs: number;
  /** `kid:base64key[,…]`, never logged. */
  secretKey: string | undefined;
  /** `iss` (PMX_ISSUER, default http://localhost:<PMX_PORT>) and `aud` (PMX_TOKEN_AUDIENCE) of access tokens. */
  tokenIdentity: TokenIdentity;
}

/** Reads and validates this service's environment; throws ConfigError listing every problem. */
export function loadConfig(source: Record<string, string | undefined> = processEnv()): AuthConfig {
  const { service, values: v } = load(source);
  return {
    ...service,
    apikeyAddress: v.PMX_APIKEY_ADDR,
    accessTokenLifetimeMs: v.PMX_ACCESS_TOKEN_LIFETIME,
    refreshTokenLifetimeMs: v.PMX_REFRESH_TOKEN_LIFETIME,
    signingKeyRotationMs: v.PMX_SIGNING_KEY_ROTATION,
    secretKey: v.PMX_SECRET_KEY,
    tokenIdentity: tokenIdentityFromEnv(v),
  };
}
