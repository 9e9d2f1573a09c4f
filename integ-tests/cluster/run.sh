#!/usr/bin/env bash
# Fault and load tests on a real three-node cluster (issue 24): three processes of the integ-test
# distribution on loopback, sharing one ES_HOME with the plugin zip installed by elasticsearch-plugin
# (es-node.sh setup, node name "cluster"), each with its own config, data, logs and ports.
#
#   integ-tests/cluster/run.sh           the test command's short version: one round of the four kills
#                                        mid-bulk, the disk filling up, a corrupted copy, CheckIndex,
#                                        then a one-minute soak (about 7 minutes here)
#   integ-tests/cluster/run.sh --full    the recorded run: three rounds of kills and a ten-minute soak,
#                                        the soak's figures written to integ-tests/cluster/soak-10min.json
#                                        (RELIABILITY.md quotes them)
#
# Environment: ES_VERSION (8.19.21, or 9.1.10), PLUGIN_ZIP (default: the zip for ES_VERSION, see es-node.sh),
# ES_JAVA_HOME, TESTS_SEED.
# Exits non-zero when a check failed; every node is stopped whatever happens.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"
export PLUGIN_ZIP="${PLUGIN_ZIP:-$("$REPO_ROOT/integ-tests/es-node.sh" plugin-zip)}"
[ -f "$PLUGIN_ZIP" ] || { echo "[cluster] plugin zip not found: $PLUGIN_ZIP; build it with scripts/build-plugin.sh ${ES_VERSION:-}" >&2; exit 2; }

full=0
[ "${1:-}" = "--full" ] && full=1
export ES_NODE_NAME=cluster
"$REPO_ROOT/integ-tests/es-node.sh" stop >/dev/null 2>&1 || true
"$REPO_ROOT/integ-tests/es-node.sh" setup >&2
es_home="$("$REPO_ROOT/integ-tests/es-node.sh" home)"
ES_JAVA_HOME="$("$REPO_ROOT/integ-tests/es-node.sh" java-home)"   # JDK 21+ for a 9.x distribution (ES_VERSION)
export ES_JAVA_HOME
base="$(dirname "$es_home")/nodes"   # beside the distribution: readable by the user the nodes run as
seed=()
[ -n "${TESTS_SEED:-}" ] && seed=(--seed "$TESTS_SEED")

rc=0
if [ "$full" = 1 ]; then
  /usr/bin/python3 "$SCRIPT_DIR/fault_test.py" --es-home "$es_home" --base "$base" --rounds 3 "${seed[@]}" || rc=$?
  s=0
  /usr/bin/python3 "$SCRIPT_DIR/soak.py" --es-home "$es_home" --base "$base" --minutes 10 "${seed[@]}" \
    --out "$SCRIPT_DIR/soak-10min.json" || s=$?
  [ "$rc" -eq 0 ] && rc=$s
else
  /usr/bin/python3 "$SCRIPT_DIR/fault_test.py" --es-home "$es_home" --base "$base" --rounds 1 "${seed[@]}" || rc=$?
  s=0
  /usr/bin/python3 "$SCRIPT_DIR/soak.py" --es-home "$es_home" --base "$base" --minutes 1 "${seed[@]}" || s=$?
  [ "$rc" -eq 0 ] && rc=$s
fi
echo "[cluster] finished with status $rc" >&2
exit "$rc"
