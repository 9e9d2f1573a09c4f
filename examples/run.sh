#!/usr/bin/env bash
# Runs the client examples against a running node with the plugin: the Java one (official
# elasticsearch-java client, through Maven) and the JavaScript one (official @elastic/elasticsearch,
# Node 18+). Each checks every answer and exits non-zero on a wrong one; this script exits with the
# first failure's status. Installs what they need only when missing or stale (Maven's repository;
# `npm ci` when examples/js/node_modules is missing or older than package-lock.json).
#
#   examples/run.sh http://127.0.0.1:9200      (or ES_URL)
#   EXAMPLES="java" examples/run.sh URL        only some of them (java, js)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
url="${1:-${ES_URL:-http://localhost:9200}}"
rc=0

# Debian's Maven 3.8.7 writes "\e[0m" even with -B -Dstyle.color=never: strip what is left.
nocolor() { sed -u $'s/\e\\[[0-9;]*m//g'; }

for example in ${EXAMPLES:-java js}; do
  t=$SECONDS
  status=0
  case "$example" in
    java)
      mvn -B -q -Dstyle.color=never -f java/pom.xml compile exec:java -Dexec.args="$url" 2>&1 | nocolor || status=$?
      ;;
    js)
      if ! command -v node >/dev/null 2>&1; then
        echo "[examples] node is not installed: the JavaScript example needs Node 18 or newer" >&2
        status=2
      else
        if [ ! -f js/node_modules/.package-lock.json ] || [ js/package-lock.json -nt js/node_modules/.package-lock.json ]; then
          (cd js && npm ci --no-audit --no-fund --loglevel=error) >&2 || status=$?
        fi
        [ "$status" -eq 0 ] && { node js/deep-hash.mjs "$url" || status=$?; }
      fi
      ;;
    *)
      echo "[examples] unknown example: $example (java, js)" >&2
      status=2
      ;;
  esac
  echo "[examples] $example finished with status $status in $((SECONDS - t)) s" >&2
  [ "$rc" -eq 0 ] && rc=$status
done
exit "$rc"
