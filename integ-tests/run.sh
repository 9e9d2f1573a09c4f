#!/usr/bin/env bash
# Runs the deep-hash integration tests end to end: sets up a real Elasticsearch node from the
# integ-test distribution with the plugin zip installed, starts it, runs the *IT tests against it
# over HTTP (phase 1), then while it runs: a collection read from an index (1b), the Kibana dashboards'
# requests (1c), the Java and JavaScript client examples (1d, examples/run.sh) and the fuzzer (1e,
# fuzz/fuzz.py); restarts the node on the same data and runs the second half of RestartIT
# (phase 2), restarts it on JDK 25 and runs HashingIT there (phase 3), restarts it with
# deep_hash.models.path naming a directory outside its config directory and runs ModelsPathIT
# (phase 4), and stops the node whatever happens. Exits with the tests' status.
#
#   integ-tests/run.sh                       all ITs
#   integ-tests/run.sh -Dit.test=BadInputIT  extra arguments go to Maven in phase 1 (e.g. one class;
#                                            phase 2 runs only if RestartIT ran in phase 1, phase 4
#                                            only if the arguments name ModelsPathIT)
#
# Environment: PLUGIN_ZIP, ES_JAVA_HOME, ES_HEAP, ES_NODE_DIR (see es-node.sh);
#   TESTS_SEED   seed for the random data and queries (printed by every run; decimal or 0x-hex)
#   TESTS_DOCS   documents in BinaryHashIT's index (default 3000)
#   TESTS_INDEX_SETTINGS  extra settings (a JSON object) for every index the ITs create,
#                e.g. {"index.codec":"best_compression"}
#   SKIP_EXAMPLES=1  leave out phase 1d (the Java and JavaScript client examples)
#   KEEP_NODE=1  leave the node running after the tests (for poking at it; stop with es-node.sh stop)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd -P)"
NODE="$SCRIPT_DIR/es-node.sh"
export PLUGIN_ZIP="${PLUGIN_ZIP:-$("$NODE" plugin-zip)}"

if [ ! -f "$PLUGIN_ZIP" ]; then
  echo "[run] plugin zip not found: $PLUGIN_ZIP" >&2
  echo "[run] build it first:  $REPO_ROOT/scripts/build-plugin.sh ${ES_VERSION:-}" >&2
  exit 2
fi
for src in "$REPO_ROOT/src/main" "$REPO_ROOT/pom.xml"; do
  if [ -e "$src" ] && [ -n "$(find "$src" -newer "$PLUGIN_ZIP" -type f -print -quit 2>/dev/null)" ]; then
    echo "[run] warning: $src has files newer than $(basename "$PLUGIN_ZIP"); rebuild with 'mvn package' to test them" >&2
    break
  fi
done

started=0
mvn_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$mvn_pid" ] && kill -0 "$mvn_pid" 2>/dev/null; then
    echo "[run] interrupted: stopping Maven (pid $mvn_pid)" >&2
    kill -TERM "$mvn_pid" 2>/dev/null || true
    wait "$mvn_pid" 2>/dev/null || true
  fi
  if [ "$started" = 1 ]; then
    if [ "${KEEP_NODE:-0}" = 1 ]; then
      echo "[run] KEEP_NODE=1: node left running at $("$NODE" url 2>/dev/null || echo '?')" >&2
    else
      "$NODE" stop || true
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Maven in the background, so that INT/TERM reach the trap at once rather than after Maven ends.
run_mvn() {
  local status=0
  mvn "$@" &
  mvn_pid=$!
  wait "$mvn_pid" || status=$?
  mvn_pid=""
  return "$status"
}

t0=$SECONDS
"$NODE" stop >/dev/null 2>&1 || true   # a node left over from an earlier run (KEEP_NODE=1)
"$NODE" setup
started=1   # from here on, always stop on exit (stop is a no-op when nothing runs)
# Two user models for HashingIT: a copy of the shipped one, and one whose text.onnx changed after its
# model.json was written (the node must start, list it as unusable and refuse only it).
user_models="$("$NODE" home)/config/deep-hash/models"
rm -rf "$user_models"
mkdir -p "$user_models"
cp -r "$REPO_ROOT/model/export" "$user_models/copy"
cp -r "$REPO_ROOT/model/export" "$user_models/broken"
echo "changed" > "$user_models/broken/text.onnx"
# A model trained on a user's own collection, for UserModelIT: the quick Material Design Icons model that
# scripts/test.sh trains before these tests (model/public-collections/run.sh --quick), when it is there.
user_trained="${TESTS_USER_MODEL:-$REPO_ROOT/model/work/models/mdi-quick}"
if [ -f "$user_trained/model.json" ]; then
  cp -r "$user_trained" "$user_models/user-trained"
  user_model_args=("-Dtests.user.model.dir=$user_models/user-trained")
else
  user_model_args=()
  echo "[run] no user-trained model at $user_trained: UserModelIT will be skipped (model/public-collections/run.sh --quick trains it)" >&2
fi
chmod -R a+rX "$user_models"
url="$("$NODE" start)"
echo "[run] node at $url (setup+start $((SECONDS - t0)) s)" >&2

# ModelReloadIT copies, replaces and removes models in the node's user models directory while it runs.
# BackwardIndexIT unpacks earlier builds' snapshots under the node's path.repo (es-node.sh: snapshots/ beside the home).
mvn_args=(-f "$SCRIPT_DIR/pom.xml" -B -Dstyle.color=never verify "-Dtests.models.dir=$user_models"
  "-Dtests.repo.dir=$(dirname "$("$NODE" home)")/snapshots")
[ -n "${TESTS_SEED:-}" ] && mvn_args+=("-Dtests.seed=$TESTS_SEED")
[ -n "${TESTS_DOCS:-}" ] && mvn_args+=("-Dtests.docs=$TESTS_DOCS")
[ -n "${TESTS_INDEX_SETTINGS:-}" ] && mvn_args+=("-Dtests.index.settings=$TESTS_INDEX_SETTINGS")

# Phase 1: every IT; RestartIT's first half leaves its state for phase 2.
state="$SCRIPT_DIR/target/restart-it-state.json"
rm -f "$state"
t1=$SECONDS
rc=0
run_mvn "${mvn_args[@]}" "-DTESTS_ES_URL=$url" -Dtests.restart.phase=before "${user_model_args[@]}" "$@" || rc=$?
echo "[run] phase 1 (ITs) finished with status $rc in $((SECONDS - t1)) s" >&2

# Phases 1b to 1d run while the node is up; each one's status joins rc.
extra_phase() {  # extra_phase NAME WHAT COMMAND...
  local name="$1" what="$2" t=$SECONDS status=0
  shift 2
  "$@" || status=$?
  echo "[run] phase $name ($what) finished with status $status in $((SECONDS - t)) s" >&2
  [ "$rc" -eq 0 ] && rc=$status
  return 0
}

# Phase 1b: a collection read from an index by model/train_collection.py --es, compared with the same
# collection read from its JSONL file, and a quick model trained from it (the quick Material Design
# Icons collection that scripts/test.sh prepares before these tests).
items="$REPO_ROOT/model/work/collections/mdi-data-quick/items.jsonl"
if [ -f "$items" ] && [ -z "$*" ]; then
  extra_phase 1b "a collection read from an index" /usr/bin/python3 "$SCRIPT_DIR/collection_from_index.py" "$url" "$items"
else
  echo "[run] phase 1b (a collection read from an index) skipped: no $items (model/public-collections/run.sh --quick writes it), or a subset of tests was asked for" >&2
fi

# Phase 1c: the Kibana dashboards (dashboards/test.sh): every panel's request on this node, every Vega
# spec rendered in headless Chromium from the answers, the screenshots rewritten. SKIP_DASHBOARDS=1 skips it.
if [ "${SKIP_DASHBOARDS:-0}" != 1 ]; then
  extra_phase 1c "Kibana dashboards" "$REPO_ROOT/dashboards/test.sh" "$url"
else
  echo "[run] phase 1c (Kibana dashboards) skipped: SKIP_DASHBOARDS=1" >&2
fi

# Phase 1d: the client examples (examples/run.sh: the official Java and JavaScript clients), each
# checking its answers; also when a subset of tests was asked for. SKIP_EXAMPLES=1 leaves them out.
if [ "${SKIP_EXAMPLES:-0}" != 1 ]; then
  extra_phase 1d "client examples, Java and JavaScript" "$REPO_ROOT/examples/run.sh" "$url"
else
  echo "[run] phase 1d (client examples) skipped: SKIP_EXAMPLES=1" >&2
fi

# Phase 1e: the fuzzer (integ-tests/fuzz/fuzz.py): hostile and unusual pictures, captions, codes and bodies
# through the processor, _hash and the query, twice, with the stats' counters, threads and memory checked.
# It needs Debian's Pillow (python3-pil, which model/setup.sh installs).
if [ -z "$*" ] && /usr/bin/python3 -c 'import PIL' 2>/dev/null; then
  fuzz_seed=()
  [ -n "${TESTS_SEED:-}" ] && fuzz_seed=(--seed "$((TESTS_SEED & 0x7fffffff))")
  extra_phase 1e "the fuzzer" /usr/bin/python3 "$SCRIPT_DIR/fuzz/fuzz.py" "$url" "${fuzz_seed[@]}"
else
  echo "[run] phase 1e (the fuzzer) skipped: a subset of tests was asked for, or no Pillow for /usr/bin/python3 (apt-get install python3-pil)" >&2
fi

# Phase 2: restart the node on the same data; RestartIT checks what survived and writes on.
if [ -f "$state" ]; then
  t2=$SECONDS
  "$NODE" stop
  url="$("$NODE" start)"
  rc2=0
  run_mvn "${mvn_args[@]}" "-DTESTS_ES_URL=$url" -Dtests.restart.phase=after -Dit.test=RestartIT || rc2=$?
  echo "[run] phase 2 (after a restart) finished with status $rc2 in $((SECONDS - t2)) s" >&2
  [ "$rc" -eq 0 ] && rc=$rc2
else
  echo "[run] phase 2 (after a restart) skipped: RestartIT did not complete its first half" >&2
fi
# Phase 3: the model on the other JDK the node supports (ONNX Runtime's native library under the
# entitlement policy): the node restarted on Temurin 25, HashingIT again.
JDK25="${JDK25_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
es_major="${ES_VERSION:-8}"; es_major="${es_major%%.*}"
if [ -x "$JDK25/bin/java" ] && [ "${ES_JAVA_HOME:-}" != "$JDK25" ] && [ "$es_major" -lt 9 ] && [ -z "$*" ]; then
  t3=$SECONDS
  "$NODE" stop
  url="$(ES_JAVA_HOME="$JDK25" "$NODE" start)"
  rc3=0
  run_mvn "${mvn_args[@]}" "-DTESTS_ES_URL=$url" -Dit.test=HashingIT || rc3=$?
  echo "[run] phase 3 (HashingIT on JDK 25) finished with status $rc3 in $((SECONDS - t3)) s" >&2
  [ "$rc" -eq 0 ] && rc=$rc3
else
  echo "[run] phase 3 (HashingIT on JDK 25) skipped: no JDK at $JDK25, a 9.x node (on JDK 25 from the start), or a subset of tests was asked for" >&2
fi
# Phase 4: users' models in a directory outside the node's config directory, named by
# deep_hash.models.path, which the node reads only under the plugin's entitlement policy.
if [ -z "$*" ] || [[ "$*" == *ModelsPathIT* ]]; then
  t4=$SECONDS
  shared_models="$(dirname "$("$NODE" home)")/shared-models"
  rm -rf "$shared_models"
  mkdir -p "$shared_models"
  cp -r "$REPO_ROOT/model/export" "$shared_models/shared"
  chmod -R a+rX "$shared_models"
  "$NODE" stop
  extra="deep_hash.models.path: \"$shared_models\""
  [ -n "${ES_EXTRA_CONFIG:-}" ] && extra="$ES_EXTRA_CONFIG"$'\n'"$extra"
  url="$(ES_EXTRA_CONFIG="$extra" "$NODE" start)"
  rc4=0
  run_mvn "${mvn_args[@]}" "-DTESTS_ES_URL=$url" -Dit.test=ModelsPathIT "-Dtests.models.path.dir=$shared_models" || rc4=$?
  echo "[run] phase 4 (ModelsPathIT, deep_hash.models.path outside the config directory) finished with status $rc4 in $((SECONDS - t4)) s" >&2
  [ "$rc" -eq 0 ] && rc=$rc4
else
  echo "[run] phase 4 (ModelsPathIT) skipped: a subset of tests was asked for" >&2
fi
echo "[run] tests finished with status $rc (total $((SECONDS - t0)) s)" >&2
if [ "$rc" -ne 0 ]; then
  "$NODE" log 2>&1 | tail -n 40 >&2 || true
fi
exit "$rc"
