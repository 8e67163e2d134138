import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { separateValues } from "./args.js";

const OPTIONS = {
  json: { type: "boolean" },
  secret: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

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
});
