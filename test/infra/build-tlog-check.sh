#!/usr/bin/env bash
# Builds the log interoperability checker (test/interop/tlog-check) into the
# cache and prints the binary's path (see go-build-cached.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/go-build-cached.sh" "$here/../interop/tlog-check" tlog-check
