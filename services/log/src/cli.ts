#!/usr/bin/env node
// pkiserver-log: checks the directory's transparency log without trusting the server.
//
//   pkiserver-log verify-key --key VERIFIER_KEY --user U --instance I --context C --date MS [FILE]
//     FILE (or stdin) holds a pki/getKeyProof result (or the whole JSON-RPC reply).
//   pkiserver-log audit --key VERIFIER_KEY --url SERVER_URL --state FILE
//     Authorization header from PMX_LOG_AUTHORIZATION (e.g. "Bearer <token>").
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { separateValues } from "./args.js";
import { auditLog, httpFetcher, readAuditState, writeAuditState } from "./audit.js";
import { type KeyProofAnswer, provesKey, VerificationError, verifyKeyProof } from "./verify.js";

const USAGE = `usage:
  pkiserver-log verify-key --key VERIFIER_KEY --user USER --instance INSTANCE --context CONTEXT --date MS [FILE]
  pkiserver-log audit --key VERIFIER_KEY --url SERVER_URL --state FILE   (Authorization: $PMX_LOG_AUTHORIZATION)`;

function need(values: Record<string, unknown>, names: string[]): void {
  const missing = names.filter((n) => typeof values[n] !== "string" || values[n] === "");
  if (missing.length > 0) throw new UsageError(`missing --${missing.join(", --")}`);
}

class UsageError extends Error {}

export async function main(argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "verify-key") {
      const options = {
        key: { type: "string" },
        user: { type: "string" },
        instance: { type: "string" },
        context: { type: "string" },
        date: { type: "string" },
        pubkey: { type: "string" },
      } as const;
      const { values, positionals } = parseArgs({
        args: separateValues(rest, options),
        allowPositionals: true,
        options,
      });
      need(values, ["key", "user", "instance", "context", "date"]);
      const date = Number(values.date);
      if (!Number.isSafeInteger(date) || date < 0) throw new UsageError("--date is milliseconds since the epoch");
      const text = readFileSync(positionals[0] ?? 0, "utf8");
      const parsed = JSON.parse(text) as KeyProofAnswer | { result: KeyProofAnswer };
      const answer = "result" in parsed ? parsed.result : parsed;
      const v = verifyKeyProof(answer, values.key!, {
        userId: values.user!,
        instanceId: values.instance!,
        contextId: values.context!,
        date,
      });
      if (values.pubkey !== undefined && !provesKey(v, values.pubkey)) {
        out(`FAIL: the key in force at ${date} is ${v.entry.userPubKey ?? "none (deleted)"}`);
        return 1;
      }
      out(
        `OK: ${v.entry.userPubKey ?? "no key (deleted)"} in force at ${date} (record ${v.entry.seq}, checkpoint ${v.checkpoint.origin} size ${v.checkpoint.size})`,
      );
      return 0;
    }
    if (command === "audit") {
      const options = { key: { type: "string" }, url: { type: "string" }, state: { type: "string" } } as const;
      const { values } = parseArgs({ args: separateValues(rest, options), options });
      need(values, ["key", "url", "state"]);
      const previous = readAuditState(values.state!);
      const r = await auditLog(httpFetcher(values.url!, env.PMX_LOG_AUTHORIZATION), values.key!, previous);
      writeAuditState(values.state!, r.checkpoint);
      out(
        `OK: ${r.checkpoint.origin} size ${r.checkpoint.size}${previous ? `, extends size ${previous.size}` : ", first run"}`,
      );
      return 0;
    }
    throw new UsageError(command === undefined ? "no command" : `unknown command ${command}`);
  } catch (err) {
    if (err instanceof UsageError) {
      out(`${err.message}\n${USAGE}`);
      return 2;
    }
    if (err instanceof VerificationError) {
      out(`FAIL: ${err.message}`);
      return 1;
    }
    out(`ERROR: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`)).then((code) => {
    process.exitCode = code;
  });
}
