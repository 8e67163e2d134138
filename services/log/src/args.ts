import type { ParseArgsConfig } from "node:util";

/**
 * A command line rewritten so that a value beginning with "-" is read as the value it is: generated
 * ids and secrets may begin with "-" (base64url), as may user and context ids, and node's parseArgs
 * would take them for options (or refuse them as ambiguous option values).
 * A string option's value is joined to it (`--secret=-x`); every positional goes after a "--". Only
 * two-character tokens ("-h") are taken for short options.
 */
export function separateValues(argv: readonly string[], options: NonNullable<ParseArgsConfig["options"]>): string[] {
  const flags: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (token.startsWith("--")) {
      const next = argv[i + 1];
      if (!token.includes("=") && options[token.slice(2)]?.type === "string" && next !== undefined) {
        flags.push(`${token}=${next}`);
        i++;
      } else {
        flags.push(token);
      }
    } else if (token.length === 2 && token.startsWith("-")) {
      flags.push(token);
    } else {
      positionals.push(token);
    }
  }
  return [...flags, "--", ...positionals];
}
