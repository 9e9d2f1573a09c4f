#!/usr/bin/env bash
# The upgrade test: indices written on Elasticsearch 8.19 with the 8.19 plugin open on 9.1 with the 9.1
# plugin and answer as before. A full-cluster restart upgrade as Elasticsearch documents it, on one node:
#
#   1. an 8.19.21 node with the 8.19 zip: RestartIT's first half (indices with the default and the
#      best_compression codec, ES's doc-values formats and index.deep_hash.codec with multi-index tables;
#      deletes and updates; answers checked against the oracle and recorded; a deep_hash pipeline; a snapshot)
#   2. replica allocation limited to primaries, a flush, the node stopped
#   3. a 9.1.10 node with the 9.1 zip set up on the same data path (es-node.sh KEEP_DATA=1) and started,
#      allocation enabled again
#   4. RestartIT's second half there: the recorded answers again, exactly; the pipeline; the 8.19 snapshot
#      restored and a 9.1 snapshot of it restored, both answering as recorded; new documents, deletes and
#      updates on the 8.19 segments, a force-merge into 9.1 segments, each checked against the oracle
#
# Both zips must be built (scripts/build-plugin.sh, and scripts/build-plugin.sh 9.1.10).
# Environment: FROM_VERSION (8.19.21), TO_VERSION (9.1.10), TESTS_SEED, ES_HEAP; the node is "upgrade".
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
NODE="$SCRIPT_DIR/es-node.sh"
FROM_VERSION="${FROM_VERSION:-8.19.21}"
TO_VERSION="${TO_VERSION:-9.1.10}"
export ES_NODE_NAME=upgrade
unset PLUGIN_ZIP ES_JAVA_HOME   # each release's own zip and JDK (es-node.sh)

for v in "$FROM_VERSION" "$TO_VERSION"; do
  zip="$(ES_VERSION="$v" "$NODE" plugin-zip)"
  [ -f "$zip" ] || { echo "[upgrade] no plugin zip for $v at $zip: build it with scripts/build-plugin.sh $v" >&2; exit 2; }
done

cleanup() {
  local rc=$?
  ES_VERSION="$TO_VERSION" "$NODE" stop >/dev/null 2>&1 || true
  ES_VERSION="$FROM_VERSION" "$NODE" stop >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT

t0=$SECONDS
ES_VERSION="$FROM_VERSION" "$NODE" stop >/dev/null 2>&1 || true
ES_VERSION="$TO_VERSION" "$NODE" stop >/dev/null 2>&1 || true
mvn_args=(-f "$SCRIPT_DIR/pom.xml" -B -q -Dstyle.color=never verify -Dit.test=RestartIT
  "-Dtests.repo.dir=$(dirname "$(ES_VERSION="$FROM_VERSION" "$NODE" home)")/snapshots")
[ -n "${TESTS_SEED:-}" ] && mvn_args+=("-Dtests.seed=$TESTS_SEED")
rm -f "$SCRIPT_DIR/target/restart-it-state.json"

echo "[upgrade] 1. Elasticsearch $FROM_VERSION: writing and recording (RestartIT, before)" >&2
ES_VERSION="$FROM_VERSION" "$NODE" setup
url="$(ES_VERSION="$FROM_VERSION" "$NODE" start)"
mvn "${mvn_args[@]}" "-DTESTS_ES_URL=$url" -Dtests.restart.phase=before

echo "[upgrade] 2. primaries only, flush, stop $FROM_VERSION" >&2
curl -sf -o /dev/null -X PUT "$url/_cluster/settings" -H 'Content-Type: application/json' \
  -d '{"persistent": {"cluster.routing.allocation.enable": "primaries"}}'
curl -sf -o /dev/null -X POST "$url/_flush"
ES_VERSION="$FROM_VERSION" "$NODE" stop

echo "[upgrade] 3. Elasticsearch $TO_VERSION on the same data path" >&2
KEEP_DATA=1 ES_VERSION="$TO_VERSION" "$NODE" setup
url="$(ES_VERSION="$TO_VERSION" "$NODE" start)"
# (The integ-test distribution has no GET /: its handler lives in a module that zip leaves out.)
version="$(curl -sf "$url/_nodes/_local?filter_path=nodes.*.version" \
  | /usr/bin/python3 -c 'import json,sys; print(next(iter(json.load(sys.stdin)["nodes"].values()))["version"])')"
[ "$version" = "$TO_VERSION" ] || { echo "[upgrade] the node says $version, expected $TO_VERSION" >&2; exit 1; }
curl -sf -o /dev/null -X PUT "$url/_cluster/settings" -H 'Content-Type: application/json' \
  -d '{"persistent": {"cluster.routing.allocation.enable": null}}'

echo "[upgrade] 4. Elasticsearch $TO_VERSION: the same answers, snapshots, writes and merges (RestartIT, after)" >&2
mvn "${mvn_args[@]}" "-DTESTS_ES_URL=$url" -Dtests.restart.phase=after
echo "[upgrade] passed: $FROM_VERSION to $TO_VERSION in $((SECONDS - t0)) s" >&2
