#!/usr/bin/env bash
# Builds protoc-gen-go (google.golang.org/protobuf/cmd/protoc-gen-go, the
# version pinned in test/infra/grpc-tools/go.mod) into the cache and prints the
# binary's path (see go-build-cached.sh). A test generates Go from proto/ with
# it, with no flag: every file must name its Go package itself.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/go-build-cached.sh" "$here/grpc-tools" protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
