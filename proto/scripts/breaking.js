#!/usr/bin/env node
// `buf breaking` for every versioned package: a `.../v1/*.proto` must stay
// wire-compatible with the version of it that was first committed (fields
// never renumbered, removed ones reserved). An incompatible change belongs in
// a new version (`v2/`), which gets its own baseline when it is first committed.

const { execFileSync } = require("node:child_process");
const path = require("node:path");

const protoDir = path.resolve(__dirname, "..");
const repo = path.resolve(protoDir, "..");
const buf = require.resolve("@bufbuild/buf/bin/buf");
const git = (...args) => execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();

let baseline;
try {
  // The oldest commit that added a .proto file under proto/.
  baseline = git("log", "--diff-filter=A", "--format=%H", "--", "proto/*.proto", "proto/**/*.proto")
    .split("\n")
    .filter(Boolean)
    .pop();
} catch {
  baseline = undefined;
}
if (!baseline) {
  console.log("check:breaking: no committed .proto baseline (not a git checkout, or no history); nothing to compare");
  process.exit(0);
}
try {
  execFileSync(buf, ["breaking", "proto", "--against", `.git#ref=${baseline},subdir=proto`], {
    cwd: repo,
    stdio: "inherit",
  });
} catch {
  console.error(`check:breaking: proto/ is not wire-compatible with ${baseline.slice(0, 12)}`);
  process.exit(1);
}
console.log(`check:breaking: proto/ is wire-compatible with ${baseline.slice(0, 12)}`);
