import { checkSecretKey, env, processEnv, type ServiceConfig, serviceConfigLoader } from "@pkiserver/kit/config";

export interface ApiKeyConfig extends ServiceConfig {
  readonly initializationToken: string | undefined;
  /** PMX_SECRET_KEY: `kid:base64key[,kid:base64key…]`, the SecretBox format. */
  readonly secretKey: string | undefined;
}

const load = serviceConfigLoader(
  { name: "PMX_APIKEY_LISTEN", default: "127.0.0.1:8111" },
  { PMX_INITIALIZATION_TOKEN: env.optionalString(), PMX_SECRET_KEY: env.optionalString() },
  checkSecretKey,
);

/** Reads and validates this service's environment; throws a ConfigError listing every problem. */
export function loadConfig(environment: Record<string, string | undefined> = processEnv()): ApiKeyConfig {
  const { service, values } = load(environment);
  return { ...service, initializationToken: values.PMX_INITIALIZATION_TOKEN, secretKey: values.PMX_SECRET_KEY };
}
