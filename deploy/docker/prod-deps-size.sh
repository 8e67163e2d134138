#!/usr/bin/env bash
# Performs the image's production install (install-prod-deps.sh, as the
# Dockerfile's prod-deps stage does) in a temporary folder from the package
# manifests and the lockfile alone, checks it (check-prod-deps.js) and prints
# the size of the packages the image would carry. No Docker engine needed.
#
#   deploy/docker/prod-deps-size.sh              budget: PMX_PROD_DEPS_BUDGET_MB (default 100)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
budget="${PMX_PROD_DEPS_BUDGET_MB:-100}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cp "$root/package.json" "$root/package-lock.json" "$work/"
while IFS= read -r ws; do
  mkdir -p "$work/$ws"
  cp "$root/$ws/package.json" "$work/$ws/"
done < <(node -p 'require(process.argv[1]).workspaces.join("\n")' "$root/package.json")

if ! (cd "$work" && sh "$root/deploy/docker/install-prod-deps.sh") >"$work.log" 2>&1; then
  cat "$work.log" >&2
  rm -f "$work.log"
  exit 1
fi
rm -f "$work.log"
# Run from the repository so the checker finds its own dependency (semver).
node "$root/deploy/docker/check-dockerfile.js"
(cd "$root" && node deploy/docker/check-prod-deps.js "$work" --budget-mb "$budget")
# Disk usage as a layer would take it (block-rounded, so above the byte count).
echo "prod-deps: on disk: $(cd "$work" && find . -name node_modules -prune -print0 | du -csh --files0-from=- | tail -1 | cut -f1)"
