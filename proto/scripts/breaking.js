#!/usr/bin/env node
// `buf breaking` for every versioned package: a `.../v1/*.proto` must stay
// wire-compatible with the version of it that was first committed (fields
// never renumbered, removed ones reserved). An incompatible change belongs in
// a new version (`v2/`), which gets its own baseline when it is first committed.
//
// The language options (go_package, java_package, csharp_namespace, ...) were
// added to the v1 files after their first version. They change no byte on the
// wire but do change other languages' generated code, so they are held to the
// first commit that set them: every rule against the first version except
// theirs, then every rule against that commit.

const { execFileSync } = require("node:child_process");
const path = require("node:path");

const protoDir = path.resolve(__dirname, "..");
const repo = path.resolve(protoDir, "..");
const buf = require.resolve("@bufbuild/buf/bin/buf");
const git = (...args) => execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();

const LANGUAGE_OPTION_RULES = [
  "FILE_SAME_CSHARP_NAMESPACE",
  "FILE_SAME_GO_PACKAGE",
  "FILE_SAME_JAVA_MULTIPLE_FILES",
  "FILE_SAME_JAVA_OUTER_CLASSNAME",
  "FILE_SAME_JAVA_PACKAGE",
  "FILE_SAME_OBJC_CLASS_PREFIX",
  "FILE_SAME_PHP_NAMESPACE",
  "FILE_SAME_RUBY_PACKAGE",
];

/** The oldest commit found by these `git log` arguments, if any. */
function oldest(...args) {
  try {
    return git("log", "--format=%H", ...args)
      .split("\n")
      .filter(Boolean)
      .pop();
  } catch {
    return undefined;
  }
}

// The oldest commit that added a .proto file under proto/.
const baseline = oldest("--diff-filter=A", "--", "proto/*.proto", "proto/**/*.proto");
if (!baseline) {
  console.log("check:breaking: no committed .proto baseline (not a git checkout, or no history); nothing to compare");
  process.exit(0);
}
// The oldest commit that set a language option on the project's own files.
const optionsBaseline = oldest("-S", "option go_package", "--", "proto/pkiserver");

// The callerScope fields of the API-key requests and the clientId of auth's
// InspectToken/RevokeToken were removed on purpose: a service takes the caller
// from the call's authentication, never from the request. Deleting a field is
// allowed in those two files only, and everywhere a removed field must leave
// its number and name reserved.
const RESERVED_DELETIONS = ["FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED", "FIELD_NO_DELETE_UNLESS_NAME_RESERVED"];
const DELIBERATE_DELETIONS = {
  FIELD_NO_DELETE: ["pkiserver/apikey/v1/apikey.proto", "pkiserver/auth/v1/auth.proto"],
};

function breaking(against, except) {
  const config = {
    version: "v1",
    breaking: { use: ["FILE", ...RESERVED_DELETIONS], except, ignore_only: DELIBERATE_DELETIONS },
  };
  try {
    execFileSync(
      buf,
      ["breaking", "proto", "--against", `.git#ref=${against},subdir=proto`, "--config", JSON.stringify(config)],
      { cwd: repo, stdio: "inherit" },
    );
    return true;
  } catch {
    return false;
  }
}

if (!breaking(baseline, LANGUAGE_OPTION_RULES)) {
  console.error(`check:breaking: proto/ is not wire-compatible with ${baseline.slice(0, 12)}`);
  process.exit(1);
}
console.log(`check:breaking: proto/ is wire-compatible with ${baseline.slice(0, 12)}`);
if (optionsBaseline) {
  if (!breaking(optionsBaseline, [])) {
    console.error(`check:breaking: proto/ changed a language option set in ${optionsBaseline.slice(0, 12)}`);
    process.exit(1);
  }
  console.log(`check:breaking: the language options are those of ${optionsBaseline.slice(0, 12)}`);
}
