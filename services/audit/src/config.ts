import { processEnv, type ServiceConfig, serviceConfigLoader, z } from "@pkiserver/kit/config";

export const DEFAULT_AUDIT_RETENTION_MS = 90 * 24 * 3600_000;

export interface AuditConfig extends ServiceConfig {
  /** PMX_AUDIT_RETENTION: how long events are kept, ms (90 days by default). */
  readonly retentionMs: number;
}

const load = serviceConfigLoader(
  { name: "PMX_AUDIT_LISTEN", default: "127.0.0.1:8114" },
  {
    PMX_AUDIT_RETENTION: z.coerce
      .number()
      .int()
      .min(60_000)
      .max(10 * 366 * 24 * 3600_000)
      .default(DEFAULT_AUDIT_RETENTION_MS),
  },
);

/** Reads and validates this service's environment; throws a ConfigError listing every problem. */
export function loadConfig(environment: Record<string, string | undefined> = processEnv()): AuditConfig {
  const { service, values } = load(environment);
  return { ...service, retentionMs: values.PMX_AUDIT_RETENTION };
}
