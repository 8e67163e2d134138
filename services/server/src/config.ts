import { randomBytes } from "node:crypto";
import { type ApiKeyConfig, loadConfig as loadApiKeyConfig } from "@pkiserver/apikey/config";
import { type AuditConfig, loadConfig as loadAuditConfig } from "@pkiserver/audit/config";
import { type AuthConfig, loadConfig as loadAuthConfig } from "@pkiserver/auth/config";
import { type GatewayConfig, loadConfig as loadGatewayConfig } from "@pkiserver/gateway/config";
import { collectConfigs, loadServiceEnv, maskUrl, processEnv, type ServiceEnv } from "@pkiserver/kit/config";
import { loadConfig as loadPkiConfig, type PkiConfig } from "@pkiserver/pki/config";

/** Every component's configuration, read from one environment. */
export interface ComponentConfigs {
  /** What every service reads the same way (stores, bus, log level, telemetry). */
  readonly settings: ServiceEnv;
  readonly gateway: GatewayConfig;
  readonly apikey: ApiKeyConfig;
  readonly auth: AuthConfig;
  readonly pki: PkiConfig;
  readonly audit: AuditConfig;
}

/** The embedded form's configuration. */
export interface SystemConfig extends ComponentConfigs {
  /** No PMX_INITIALIZATION_TOKEN was set: the first key is made at start and printed. */
  readonly printFirstKey: boolean;
  /** PMX_INITIALIZATION_TOKEN, or a random one nobody sees when it is unset. */
  readonly initializationToken: string;
}

/**
 * Reads every component's configuration, all before any is used: the
 * problems of all of them are thrown together in one ConfigError.
 */
export function loadComponentConfigs(env: Record<string, string | undefined>): ComponentConfigs {
  return collectConfigs({
    settings: () => loadServiceEnv(env),
    gateway: () => loadGatewayConfig(env),
    apikey: () => loadApiKeyConfig(env),
    auth: () => loadAuthConfig(env),
    pki: () => loadPkiConfig(env),
    audit: () => loadAuditConfig(env),
  });
}

/**
 * The embedded form's configuration from the environment. With no
 * initialization token the operator wants a key printed at start: a random
 * token nobody sees lets this process, and only it, create that key.
 */
export function loadSystemConfig(source: Record<string, string | undefined> = processEnv()): SystemConfig {
  const env = { ...source };
  const printFirstKey = !env.PMX_INITIALIZATION_TOKEN;
  if (printFirstKey) env.PMX_INITIALIZATION_TOKEN = randomBytes(32).toString("base64url");
  return {
    ...loadComponentConfigs(env),
    printFirstKey,
    initializationToken: env.PMX_INITIALIZATION_TOKEN as string,
  };
}

/** The environment the distributed launcher hands to its processes (each validates its own part). */
export function launcherEnv(): Record<string, string | undefined> {
  return processEnv();
}

/** Settings whose values are secrets: shown as `***` when set. */
const SECRET_FIELDS = new Set(["secretKey", "initializationToken", "signingKey"]);
/** Settings holding URLs, which may carry credentials: shown with the password masked. */
const URL_FIELDS = new Set(["mongoUrl", "natsUrl", "redisUrl", "otlpEndpoint"]);

function masked(key: string, value: unknown): unknown {
  if (value === undefined || value === null) return value;
  if (SECRET_FIELDS.has(key)) return "***";
  if (URL_FIELDS.has(key) && typeof value === "string") {
    return value
      .split(",")
      .map((u) => maskUrl(u.trim()))
      .join(",");
  }
  if (Array.isArray(value)) return value.map((v) => masked("", v));
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, masked(k, v)]));
  }
  return value;
}

/**
 * The effective configuration of every component (defaults applied), secrets
 * masked: what `pkiserver config print` shows. Throws ConfigError listing
 * every problem when the environment is invalid.
 */
export function effectiveConfig(source: Record<string, string | undefined> = processEnv()): Record<string, unknown> {
  return masked("", loadComponentConfigs(source)) as Record<string, unknown>;
}
