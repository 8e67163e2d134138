#!/bin/sh
# Installs the production dependencies of the image's four processes into the
# current directory, which holds the root package.json, package-lock.json and
# every workspace's package.json (npm ci refuses to run without all of them).
# Used by the Dockerfile's prod-deps stage and by prod-deps-size.sh, so what is
# measured is what ships.
set -eu

# Install scripts are skipped: no production dependency needs one, and running
# none keeps native toolchains out of the build.
npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Workspaces that are not part of the image: the one-process launcher, the
# operator's command line, the tests and their support. npm links every workspace and installs its
# production dependencies; drop their links and their folders (manifests and nested node_modules).
for ws in services/server services/cli services/testing test/harness test; do
  rm -rf "$ws"
done
rm -f node_modules/@pkiserver/server node_modules/@pkiserver/cli node_modules/@pkiserver/testing node_modules/@pkiserver/test node_modules/@pkiserver/test-harness
# Command shims and npm's own bookkeeping serve no process at run time.
rm -rf node_modules/.bin node_modules/.package-lock.json
