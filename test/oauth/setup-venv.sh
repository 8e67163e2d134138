#!/usr/bin/env bash
# Installs the third-party OAuth clients the e2e suite checks the server with
# (Authlib, PyJWT with its crypto extra, requests) into a venv cached under
# $HOME/.cache/pkiserver, and prints the venv's python. Versions are pinned so
# a release of one of them cannot change what the tests prove.
set -euo pipefail
venv="${PMX_OAUTH_VENV:-$HOME/.cache/pkiserver/venv-oauth}"
pins=("Authlib==1.9.10" "PyJWT[crypto]==2.15.1" "requests==2.34.2")
if ! "$venv/bin/python" -c 'import authlib, jwt, requests, cryptography' 2>/dev/null ||
  ! "$venv/bin/pip" freeze 2>/dev/null | grep -qx "Authlib==1.9.10"; then
  echo "oauth: installing ${pins[*]} into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}" >&2
fi
echo "$venv/bin/python"
