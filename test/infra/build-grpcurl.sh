#!/usr/bin/env bash
# Builds grpcurl (github.com/fullstorydev/grpcurl/cmd/grpcurl, the version
# pinned in test/infra/grpc-tools/go.mod) into the cache and prints the
# binary's path (see go-build-cached.sh). The reflection, health and
# error-detail tests call the services with it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/go-build-cached.sh" "$here/grpc-tools" grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl
