#!/usr/bin/env bash
# bench/run-node-bench.sh under Java Flight Recorder: the same node and queries, with a recording of the
# whole run (JFR's "profile" settings), then where the search threads spent their samples
# (bench/jfr_top.py). The timings of such a run carry JFR's overhead: they are not benchmark figures,
# and the result file is tagged "profile" (git ignores it).
#   bench/run-node-profile.sh 10000000:64:2:hamming-format,floor
# Writes PROFILE_DIR (default /tmp/deep-hash-profile): bench.jfr, samples.json, top.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir="${PROFILE_DIR:-/tmp/deep-hash-profile}"
mkdir -p "$dir"
chmod 777 "$dir"  # the node runs as its own user (integ-tests/es-node.sh)
rm -f "$dir/bench.jfr"
java_home="${ES_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
heap="${ES_HEAP:-4g}"
BENCH_TAG=profile ES_JAVA_HOME="$java_home" \
  ES_JAVA_OPTS="-Xms$heap -Xmx$heap -XX:StartFlightRecording=settings=profile,dumponexit=true,filename=$dir/bench.jfr" \
  bench/run-node-bench.sh "$@"
"$java_home/bin/jfr" print --json --events jdk.ExecutionSample "$dir/bench.jfr" >"$dir/samples.json"
/usr/bin/python3 bench/jfr_top.py "$dir/samples.json" | tee "$dir/top.txt"
