/** The command line's own settings: where the gateway is and which API key to call it with. */
export interface CliSettings {
  /** PMX_CLI_URL: the gateway's base URL. */
  readonly url: string | undefined;
  /** PMX_CLI_CLIENT_ID: the API key's id. */
  readonly clientId: string | undefined;
  /** PMX_CLI_CLIENT_SECRET: the API key's secret; never printed. */
  readonly clientSecret: string | undefined;
  /** PMX_CLI_LOG_KEY: the transparency log's verifier key to pin. */
  readonly logKey: string | undefined;
}

function value(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

/** The CLI's settings from the environment (command-line options take precedence over them). */
export function cliSettings(source: Record<string, string | undefined> = process.env): CliSettings {
  return {
    url: value(source.PMX_CLI_URL),
    clientId: value(source.PMX_CLI_CLIENT_ID),
    clientSecret: value(source.PMX_CLI_CLIENT_SECRET),
    logKey: value(source.PMX_CLI_LOG_KEY),
  };
}

/** The environment `config print` describes: this process's. */
export function serverEnv(): Record<string, string | undefined> {
  return process.env;
}
