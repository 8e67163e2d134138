import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { main, separateValues } from "./main";

const OPTIONS = {
  json: { type: "boolean" },
  secret: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const NO_SETTINGS = { url: undefined, clientId: undefined, clientSecret: undefined, logKey: undefined };

function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  return main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, NO_SETTINGS).then((code) => ({
    code,
    out,
    err,
  }));
}

describe("command line values beginning with '-'", () => {
  it("reads a generated id beginning with '-' as a positional, in its place", () => {
    assert.deepEqual(separateValues(["sessions", "revoke", "k1", "-DaZ9_x", "--json"], OPTIONS), [
      "--json",
      "--",
      "sessions",
      "revoke",
      "k1",
      "-DaZ9_x",
    ]);
  });

  it("joins a string option to a value beginning with '-', and keeps --opt=value and -h as they are", () => {
    assert.deepEqual(separateValues(["keys", "rotate", "k1", "--secret", "-s3cr3t", "--json=true", "-h"], OPTIONS), [
      "--secret=-s3cr3t",
      "--json=true",
      "-h",
      "--",
      "keys",
      "rotate",
      "k1",
    ]);
  });

  it("keeps what follows a '--' as positionals", () => {
    assert.deepEqual(separateValues(["a", "--", "--json", "-x"], OPTIONS), ["--", "a", "--json", "-x"]);
  });

  it("counts an id beginning with '-' as an argument of the command, not as an unknown option", async () => {
    const r = await run(["sessions", "revoke", "-Dabcdef"]);
    assert.equal(r.code, 2);
    assert.match(r.err.join("\n"), /sessions revoke takes API_KEY_ID SESSION_ID/);
  });

  it("still refuses an unknown option", async () => {
    const r = await run(["keys", "list", "--bogus"]);
    assert.equal(r.code, 2);
    assert.match(r.err.join("\n"), /Unknown option '--bogus'/);
  });
});
