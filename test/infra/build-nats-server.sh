#!/usr/bin/env bash
# Builds nats-server from its Go module at the version in nats-server.version
# into a cache outside the repository and prints the binary's path; a cached
# build is reused. The harness uses it when no nats-server is installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(tr -d '[:space:]' < "$here/nats-server.version")"
cache="${PMX_CACHE_DIR:-$HOME/.cache/pkiserver}"
dir="$cache/nats-server-$version"
out="$dir/nats-server"

if [[ ! -x "$out" ]]; then
  command -v go >/dev/null || { echo "build-nats-server.sh: Go is not installed (https://go.dev/dl/)" >&2; exit 1; }
  mkdir -p "$dir"
  tmp="$(mktemp -d "$dir/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  # Build output goes to stderr so stdout carries only the path.
  GOBIN="$tmp" go install -trimpath "github.com/nats-io/nats-server/v2@$version" >&2
  mv -f "$tmp/nats-server" "$out"
fi

echo "$out"
