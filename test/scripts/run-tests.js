#!/usr/bin/env node
// Runs the compiled tests with node's test runner.
//
//   node test/scripts/run-tests.js           every test; starts MongoDB and NATS first
//   node test/scripts/run-tests.js --unit    unit tests only (beside their sources); needs nothing
//
// The servers are started once for the whole run and handed to every test
// process through PMX_TEST_MONGO_URL / PMX_TEST_NATS_URL; each test file
// isolates itself with a fresh database name and subject prefix.

const { spawn } = require("node:child_process");
const { existsSync, readdirSync, readFileSync } = require("node:fs");
const { dirname, join, relative, resolve, sep } = require("node:path");

const root = join(__dirname, "..", "..");
const roots = ["proto", "services", "gateway", "test"];

function findTests(dir, inDist, out) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) findTests(path, inDist || e.name === "dist", out);
    else if (inDist && e.isFile() && e.name.endsWith(".test.js")) out.push(path);
  }
  return out;
}

/** The TypeScript file a compiled test came from, by its source map; undefined when there is no map. */
function sourceOf(file) {
  try {
    const map = JSON.parse(readFileSync(`${file}.map`, "utf8"));
    const [source] = map.sources ?? [];
    return source === undefined ? undefined : resolve(dirname(file), map.sourceRoot ?? "", source);
  } catch {
    return undefined;
  }
}

/**
 * A unit test needs no server: compiled from a package's src/, or from a test folder of its own
 * below `test/` (such as gateway/test/system, the real services in process); its dist/ does not
 * sit directly in a `test` folder.
 */
function isUnit(file) {
  const parts = relative(root, file).split(sep);
  const dist = parts.indexOf("dist");
  return dist > 0 && parts[dist - 1] !== "test";
}

async function main() {
  const unit = process.argv.includes("--unit");
  const found = roots.flatMap((r) => findTests(join(root, r), false, [])).sort();
  // A compiled test whose source was moved or deleted is left in dist/ by tsc: it is not run.
  const all = found.filter((file) => {
    const source = sourceOf(file);
    if (source === undefined || existsSync(source)) return true;
    console.error(
      `run-tests: skipping ${relative(root, file)}: its source ${relative(root, source)} is gone (stale build output)`,
    );
    return false;
  });
  const files = unit ? all.filter(isUnit) : all;
  if (files.length === 0) {
    console.error("run-tests: no compiled test files (**/dist/**/*.test.js) found; run `tsc -b` first");
    return 1;
  }

  const env = { ...process.env };
  let infra;
  if (!unit) {
    const harness = join(root, "test", "harness", "dist", "index.js");
    if (!existsSync(harness)) {
      console.error("run-tests: test/harness is not built; run `tsc -b` first");
      return 1;
    }
    try {
      infra = await require(harness).startSharedInfra({ build: true });
    } catch (err) {
      console.error(`run-tests: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    }
    console.log(`run-tests: ${infra.description}`);
    env.PMX_TEST_MONGO_URL = infra.mongoUrl;
    env.PMX_TEST_NATS_URL = infra.natsUrl;
  }

  console.log(`run-tests: ${files.length} test files (${unit ? "unit" : "unit, integration and end-to-end"})`);
  const args = [
    "--test",
    "--test-concurrency=2",
    // Per test file as a whole too: the distributed e2e file runs many suites on a shared 2-core machine.
    "--test-timeout=300000",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    ...files.map((f) => relative(root, f)),
  ];
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: "inherit" });
  const forward = (signal) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  const code = await new Promise((resolve) => {
    child.on("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  if (infra) await infra.stop();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
