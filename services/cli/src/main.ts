#!/usr/bin/env node
// pkiserver: the operator's command line (README, "Command line").
import { parseArgs } from "node:util";
import { separateValues, VerificationError } from "@pkiserver/log";
import { COMMANDS, type Command, type Output, UsageError, type Values } from "./commands";
import { type CliSettings, cliSettings, serverEnv } from "./config";
import { GatewayClient, RpcError } from "./rpc";

const DEFAULT_URL = "http://localhost:8101";

const GLOBAL_OPTIONS = {
  url: { type: "string" },
  "client-id": { type: "string" },
  "client-secret": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export const USAGE = `usage: pkiserver COMMAND [options]

commands:
${COMMANDS.map((c) => `  ${c.usage}\n      ${c.summary}`).join("\n")}

options:
  --url URL              the gateway (PMX_CLI_URL; ${DEFAULT_URL} by default)
  --client-id ID         the API key to call it with (PMX_CLI_CLIENT_ID)
  --client-secret SECRET its secret (PMX_CLI_CLIENT_SECRET; the variable keeps it out of the process list)
  --json                 machine-readable output
  -h, --help             this text

exit codes: 0 done, 1 refused or failed (the JSON-RPC error's message is printed), 2 wrong usage`;

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

function findCommand(argv: readonly string[]): Command | undefined {
  // The command's two words are the first two positionals, wherever the options are.
  const { positionals } = parseArgs({ args: [...argv], strict: false, allowPositionals: true });
  return COMMANDS.find((c) => c.words[0] === positionals[0] && c.words[1] === positionals[1]);
}

function clientFor(values: Values, settings: CliSettings): () => GatewayClient {
  let client: GatewayClient | undefined;
  return () => {
    if (client) return client;
    const url = ((values.url as string | undefined) ?? settings.url ?? DEFAULT_URL).replace(/\/+$/, "");
    const id = (values["client-id"] as string | undefined) ?? settings.clientId;
    const secret = (values["client-secret"] as string | undefined) ?? settings.clientSecret;
    if (!id || !secret) {
      throw new UsageError("credentials needed: --client-id and --client-secret (or PMX_CLI_CLIENT_ID/_SECRET)");
    }
    client = new GatewayClient(url, id, secret);
    return client;
  };
}

/** Runs one command line; resolves to the exit code. */
export async function main(argv: readonly string[], io: Io, settings: CliSettings = cliSettings()): Promise<number> {
  const command = findCommand(argv);
  let json = false;
  try {
    if (command === undefined) {
      if (argv.includes("--help") || argv.includes("-h")) {
        io.out(USAGE);
        return 0;
      }
      throw new UsageError(argv.length === 0 ? "no command" : `unknown command: ${argv.slice(0, 2).join(" ")}`);
    }
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: separateValues(argv, { ...GLOBAL_OPTIONS, ...command.options }),
        options: { ...GLOBAL_OPTIONS, ...command.options },
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const values = parsed.values as Values;
    json = values.json === true;
    if (values.help === true) {
      io.out(`usage: pkiserver ${command.usage}\n  ${command.summary}`);
      return 0;
    }
    const args = parsed.positionals.slice(2);
    if (args.length !== command.args.length) {
      throw new UsageError(`${command.words.join(" ")} takes ${command.args.join(" ") || "no arguments"}`);
    }
    const output: Output | undefined = await command.run({
      values,
      args,
      client: clientFor(values, settings),
      emit: io.out,
      json,
      logKey: settings.logKey,
      serverEnv,
    });
    if (output) {
      if (json) io.out(JSON.stringify(output.json, null, 2));
      else for (const line of output.lines) io.out(line);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`pkiserver: ${err.message}`);
      io.err(command ? `usage: pkiserver ${command.usage}` : USAGE);
      return 2;
    }
    const message = describe(err);
    if (json) io.out(JSON.stringify({ error: message }));
    io.err(`pkiserver: ${message}`);
    return 1;
  }
}

function describe(err: unknown): string {
  if (err instanceof RpcError) return err.code === undefined ? err.message : `${err.message} (code ${err.code})`;
  if (err instanceof VerificationError) return `log verification FAILED: ${err.message}`;
  if (err instanceof Error && err.name === "ConfigError") return err.message;
  return err instanceof Error ? err.message : String(err);
}

if (require.main === module) {
  // Output piped into a reader that stops early (head) ends the command quietly.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  main(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`pkiserver: ${describe(err)}\n`);
      process.exitCode = 1;
    },
  );
}
