#!/usr/bin/env bash
# Checks the dashboards against a running node (see test.js), and import.sh's request (import-test.js);
# installs what the checks need first,
# idempotently: Debian's chromium, and the npm packages package-lock.json pins into node_modules.
#   dashboards/test.sh http://127.0.0.1:9200
set -euo pipefail
cd "$(dirname "$0")"
url="${1:-${TESTS_ES_URL:-}}"
[ -n "$url" ] || { echo "usage: dashboards/test.sh <elasticsearch url>" >&2; exit 2; }

if ! command -v chromium >/dev/null 2>&1; then
    echo "dashboards: installing chromium"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
        || { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
fi
# npm ci only when an installed package is missing or at another version than package.json pins.
if ! node -e '
  const deps = require("./package.json").dependencies;
  for (const [name, version] of Object.entries(deps)) {
    if (require("./node_modules/" + name + "/package.json").version !== version) process.exit(1);
  }' 2>/dev/null; then
    echo "dashboards: npm ci (vega, vega-lite, vega-interpreter, vega-embed, hjson)"
    npm ci --no-audit --no-fund --loglevel=error
fi
node import-test.js
exec node test.js "$url"
