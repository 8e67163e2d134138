import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { main } from "./main";

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
