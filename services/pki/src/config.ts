import { env, parseConfig, type ServiceEnv, serviceEnv, serviceEnvFields, splitAddress, z } from "@pkiserver/kit";

export interface PkiConfig extends ServiceEnv {
  /** Where the gRPC server listens. */
  readonly listen: { readonly host: string; readonly port: number };
}

const schema = z.object({
  PMX_PKI_LISTEN: env.address("127.0.0.1:8113"),
  ...serviceEnvFields,
});

/** The pki service's settings from the environment; throws ConfigError listing every problem. */
export function loadConfig(source: Record<string, string | undefined>): PkiConfig {
  const c = parseConfig(schema, source);
  return { listen: splitAddress(c.PMX_PKI_LISTEN), ...serviceEnv(c) };
}
