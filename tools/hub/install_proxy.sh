#!/usr/bin/env bash
# Install JupyterHub's proxy (configurable-http-proxy, pinned by package.json and
# package-lock.json here) into the course environment: $VENV/lib/hub-proxy, with
# $VENV/bin/configurable-http-proxy linking to it. Not `npm -g`: the hub uses the pinned
# proxy of this environment whatever else the machine has. Runs only when the lock changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
VENV=${VENV:?VENV must name the course environment}
target=$VENV/lib/hub-proxy
command -v npm >/dev/null || { echo "hub: npm is missing (apt-get install npm, or Node.js 20+)" >&2; exit 1; }
if ! cmp -s "$here/package-lock.json" "$target/package-lock.json" || [ ! -x "$target/node_modules/.bin/configurable-http-proxy" ]; then
  rm -rf "$target" && mkdir -p "$target"
  cp "$here/package.json" "$here/package-lock.json" "$target/"
  (cd "$target" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
ln -sfn "$target/node_modules/.bin/configurable-http-proxy" "$VENV/bin/configurable-http-proxy"
echo "hub: configurable-http-proxy $(cd "$target" && node -p "require('configurable-http-proxy/package.json').version") in $target"
