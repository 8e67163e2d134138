#!/usr/bin/env bash
# Builds the test MongoDB-compatible server (test/infra/ferretdb) into the
# cache and prints the binary's path (see go-build-cached.sh; its cache key is
# the one ferretdbCachePath() in test/harness computes).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/go-build-cached.sh" "$here/ferretdb" ferretdb
