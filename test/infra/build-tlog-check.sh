#!/usr/bin/env bash
# Builds the log interoperability checker (test/interop/tlog-check) into a cache
# outside the repository and prints the binary's path. The cache key is the
# hash of the program's sources, so an unchanged program is never rebuilt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/../interop/tlog-check"
cache="${PMX_CACHE_DIR:-$HOME/.cache/pkiserver}"

# Cache key: go.mod, go.sum, then the Go files in byte order of their names.
hash="$(cd "$src" && cat go.mod go.sum $(LC_ALL=C ls -- *.go) | sha256sum | cut -c1-16)"
out="$cache/tlog-check-$hash/tlog-check"

if [[ ! -x "$out" ]]; then
  command -v go >/dev/null || { echo "build-tlog-check.sh: Go is not installed (https://go.dev/dl/)" >&2; exit 1; }
  mkdir -p "$(dirname "$out")"
  tmp="$out.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  # Build output goes to stderr so stdout carries only the path.
  (cd "$src" && go build -trimpath -o "$tmp" .) >&2
  mv -f "$tmp" "$out"
fi

echo "$out"
