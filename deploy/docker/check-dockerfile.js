#!/usr/bin/env node
// Checks the Dockerfile against the workspaces: every workspace's manifest is
// copied into the manifests stage (npm ci refuses to run without all of
// them), and every workspace the image ships (all but those
// install-prod-deps.sh removes) has its compiled dist/ copied into the
// runtime stage. Run by prod-deps-size.sh, so CI fails when a new workspace
// is forgotten in the image.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const root = join(__dirname, "..", "..");
const dockerfile = readFileSync(join(__dirname, "Dockerfile"), "utf8");
const installer = readFileSync(join(__dirname, "install-prod-deps.sh"), "utf8");
const workspaces = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).workspaces;
const dropped = new Set((/^for ws in ([^;]+); do/m.exec(installer)?.[1] ?? "").trim().split(/\s+/));

const problems = [];
for (const ws of workspaces) {
  if (!dockerfile.includes(`COPY ${ws}/package.json ${ws}/`)) {
    problems.push(`${ws}: its package.json is not copied into the manifests stage`);
  }
  if (!dropped.has(ws) && !dockerfile.includes(`COPY --from=build /app/${ws}/dist ${ws}/dist`)) {
    problems.push(`${ws}: shipped (install-prod-deps.sh keeps it) but its dist/ is not copied into the runtime stage`);
  }
}
if (dropped.size === 0 || [...dropped].some((ws) => !workspaces.includes(ws))) {
  problems.push(
    `install-prod-deps.sh: its list of dropped workspaces (${[...dropped].join(" ")}) does not name workspaces`,
  );
}
if (problems.length > 0) {
  console.error(`Dockerfile check:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`Dockerfile check: ${workspaces.length} workspaces, ${workspaces.length - dropped.size} shipped`);
