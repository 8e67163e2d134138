#!/usr/bin/env node
// Regenerates TypeScript from the .proto files with buf + ts-proto.
// With --check, generates into a temporary directory and fails when the
// committed code differs from what the protos produce.

const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const protoDir = path.resolve(__dirname, "..");
const committed = path.join(protoDir, "src", "gen");
const check = process.argv.includes("--check");
const buf = require.resolve("@bufbuild/buf/bin/buf");

function generate(outDir) {
  fs.rmSync(outDir, { recursive: true, force: true });
  const template = fs
    .readFileSync(path.join(protoDir, "buf.gen.yaml"), "utf8")
    .replace("out: src/gen", `out: ${outDir}`);
  execFileSync(buf, ["generate", "--template", template], { cwd: protoDir, stdio: "inherit" });
}

function listFiles(dir, base = dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? listFiles(full, base) : [path.relative(base, full)];
  });
}

if (!check) {
  generate(committed);
  process.exit(0);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pkiserver-gen-"));
try {
  const fresh = path.join(tmp, "gen");
  generate(fresh);
  const a = listFiles(committed).sort();
  const b = listFiles(fresh).sort();
  const problems = [];
  for (const f of new Set([...a, ...b])) {
    const x = a.includes(f) ? fs.readFileSync(path.join(committed, f), "utf8") : null;
    const y = b.includes(f) ? fs.readFileSync(path.join(fresh, f), "utf8") : null;
    if (x === null) problems.push(`missing from proto/src/gen: ${f}`);
    else if (y === null) problems.push(`stale file in proto/src/gen: ${f}`);
    else if (x !== y) problems.push(`differs from its .proto: proto/src/gen/${f}`);
  }
  if (problems.length > 0) {
    console.error(`Generated code is out of date (run \`npm run generate\`):\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  console.log("generated code matches proto/");
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
