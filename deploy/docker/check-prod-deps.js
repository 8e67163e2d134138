#!/usr/bin/env node
// Checks a production install made by install-prod-deps.sh (the image's
// /app without the compiled output):
//   - every dependency of every shipped workspace resolves, from that
//     workspace's folder, to an installed version its range accepts (a copy
//     that leaves out a nested node_modules, or an older hoisted copy, fails),
//     and so does every package the image's healthcheck.js loads from /app;
//   - no test or build tool and no unused OpenTelemetry exporter is there.
// Prints the size of the installed packages.
//
//   node deploy/docker/check-prod-deps.js <dir> [--budget-mb N]

const { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } = require("node:fs");
const { dirname, join, relative } = require("node:path");
const semver = require("semver");

/** Packages that must never reach the image: test infrastructure, build tools, the all-in-one SDK. */
const FORBIDDEN = [
  /^testcontainers$/,
  /^dockerode$/,
  /^docker-compose$/,
  /^ssh2$/,
  /^autocannon$/,
  /^typescript$/,
  /^ts-proto$/,
  /^@biomejs\//,
  /^@bufbuild\/buf/,
  /^@pkiserver\/(server|cli|test|test-harness)$/,
  /^@opentelemetry\/sdk-node$/,
  // The processes export traces and metrics over OTLP/HTTP only.
  /^@opentelemetry\/exporter-(?!(trace|metrics)-otlp-http$)/,
  /^@opentelemetry\/otlp-grpc-exporter-base$/,
];

function readJson(file) {
  return JSON.parse(readFileSync(file, "utf8"));
}

/** Node's lookup of a bare specifier's package folder: node_modules of each ancestor, nearest first. */
function findPackage(fromDir, name, top) {
  let dir = fromDir;
  for (;;) {
    const candidate = join(dir, "node_modules", name, "package.json");
    if (existsSync(candidate)) return candidate;
    if (dir === top) return undefined;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** Every package folder under a node_modules tree, with its name. */
function* packages(nodeModules) {
  if (!existsSync(nodeModules)) return;
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith(".")) continue;
    const names = entry.startsWith("@") ? readdirSync(join(nodeModules, entry)).map((n) => `${entry}/${n}`) : [entry];
    for (const name of names) {
      const dir = join(nodeModules, name);
      yield { name, dir };
      if (!lstatSync(dir).isSymbolicLink()) yield* packages(join(dir, "node_modules"));
    }
  }
}

function sizeOf(path) {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const entry of readdirSync(path)) total += sizeOf(join(path, entry));
  return total;
}

function main() {
  const args = process.argv.slice(2);
  const top = args[0];
  if (!top) {
    console.error("usage: check-prod-deps.js <dir> [--budget-mb N]");
    return 2;
  }
  const budgetAt = args.indexOf("--budget-mb");
  const budgetMb = budgetAt >= 0 ? Number(args[budgetAt + 1]) : undefined;
  const root = realpathSync(top);
  const problems = [];

  const workspaces = readJson(join(root, "package.json")).workspaces.filter((ws) =>
    existsSync(join(root, ws, "package.json")),
  );
  const nodeModulesDirs = [join(root, "node_modules"), ...workspaces.map((ws) => join(root, ws, "node_modules"))];

  for (const ws of workspaces) {
    const manifest = readJson(join(root, ws, "package.json"));
    for (const [name, range] of Object.entries(manifest.dependencies ?? {})) {
      const found = findPackage(join(root, ws), name, root);
      if (!found) {
        problems.push(`${ws}: dependency ${name} is not installed where ${ws} can load it`);
        continue;
      }
      let version;
      try {
        version = readJson(realpathSync(found)).version;
      } catch {
        problems.push(`${ws}: dependency ${name} resolves to a missing folder (${relative(root, found)})`);
        continue;
      }
      if (!semver.satisfies(version, range)) {
        problems.push(`${ws}: dependency ${name}@${range} resolves to ${version} (${relative(root, found)})`);
      }
    }
  }

  // healthcheck.js sits in /app and loads packages from the root node_modules.
  const healthcheck = readFileSync(join(__dirname, "healthcheck.js"), "utf8");
  for (const [, name] of healthcheck.matchAll(/require\("([^":]+)"\)/g)) {
    if (!findPackage(root, name, root)) problems.push(`healthcheck.js: ${name} is not installed in the image's /app`);
  }

  for (const dir of nodeModulesDirs) {
    for (const pkg of packages(dir)) {
      if (FORBIDDEN.some((re) => re.test(pkg.name))) {
        problems.push(`${relative(root, pkg.dir)}: ${pkg.name} has no place in the production image`);
      }
      if (lstatSync(pkg.dir).isSymbolicLink()) {
        try {
          statSync(pkg.dir);
        } catch {
          problems.push(`${relative(root, pkg.dir)}: dangling link`);
        }
      }
    }
  }

  const bytes = nodeModulesDirs.filter((d) => existsSync(d)).reduce((sum, d) => sum + sizeOf(d), 0);
  const mb = bytes / 1e6;
  console.log(
    `prod-deps: ${mb.toFixed(1)} MB of production packages for ${workspaces.join(", ")}` +
      (budgetMb !== undefined ? ` (budget ${budgetMb} MB)` : ""),
  );
  if (budgetMb !== undefined && mb > budgetMb) {
    problems.push(`production packages take ${mb.toFixed(1)} MB, over the ${budgetMb} MB budget`);
  }
  for (const p of problems) console.error(`prod-deps: ${p}`);
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = main();
