#!/usr/bin/env bash
# Usage: go-build-cached.sh <Go module directory> <name> [package]
# Builds a Go program of the repository (the module directory's own main
# package, or the named package of a module it requires, such as a pinned
# third-party command) into a cache outside it and prints the binary's path.
# The cache key is the hash of the program's sources (go.mod, go.sum, then the
# Go files in byte order of their names), so an unchanged program is never
# rebuilt. test/harness computes the same key for FerretDB.
set -euo pipefail

src="$1"
name="$2"
pkg="${3:-.}"
cache="${PMX_CACHE_DIR:-$HOME/.cache/pkiserver}"

hash="$(cd "$src" && cat go.mod go.sum $(LC_ALL=C ls -- *.go) | sha256sum | cut -c1-16)"
out="$cache/$name-$hash/$name"

if [[ ! -x "$out" ]]; then
  command -v go >/dev/null || { echo "go-build-cached.sh: Go is not installed (https://go.dev/dl/), needed for $name" >&2; exit 1; }
  mkdir -p "$(dirname "$out")"
  tmp="$out.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  # Build output goes to stderr so stdout carries only the path.
  (cd "$src" && go build -trimpath -o "$tmp" "$pkg") >&2
  mv -f "$tmp" "$out"
fi

echo "$out"
