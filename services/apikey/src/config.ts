import {
  checkGrpcTls,
  checkSecretKey,
  env,
  parseConfig,
  processEnv,
  type ServiceEnv,
  serviceEnv,
  serviceEnvFields,
  splitAddress,
  z,
} from "@pkiserver/kit/config";

export interface ApiKeyConfig extends ServiceEnv {
  /** Where the gRPC server listens (PMX_APIKEY_LISTEN, host:port). */
  readonly listen: { host: string; port: number };
  readonly initializationToken: string | undefined;
  /** PMX_SECRET_KEY: `kid:base64key[,kid:base64key…]`, the SecretBox format. */
  readonly secretKey: string | undefined;
}

const schema = z
  .object({
    PMX_APIKEY_LISTEN: env.address("127.0.0.1:8111"),
    PMX_INITIALIZATION_TOKEN: env.optionalString(),
    PMX_SECRET_KEY: env.optionalString(),
    ...serviceEnvFields,
  })
  .superRefine((v, ctx) => {
    checkSecretKey(v, ctx);
    checkGrpcTls(v, ctx);
  });

/** Reads and validates this service's environment; throws a ConfigError listing every problem. */
export function loadConfig(environment: Record<string, string | undefined> = processEnv()): ApiKeyConfig {
  const c = parseConfig(schema, environment);
  return {
    listen: splitAddress(c.PMX_APIKEY_LISTEN),
    initializationToken: c.PMX_INITIALIZATION_TOKEN,
    secretKey: c.PMX_SECRET_KEY,
    ...serviceEnv(c),
  };
}
