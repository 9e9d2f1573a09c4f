#!/usr/bin/env bash
# Where a node's time goes while it hashes (issue 23): for each pipeline named (image, text, fused, full;
# default image fused full), a node on Temurin 25 under Java Flight Recorder (its "profile" settings), the
# caption cache off, ingesting the test split in bulks of 500 from four clients for a minute
# (bench/hashing_profile.py); then the Java execution samples by thread pool and by frame over every
# thread, and the native-method samples (ONNX Runtime) of the hashing pool (bench/jfr_top.py). Timings
# under JFR are not benchmark figures.
#   bench/run-hashing-profile.sh [image fused full ...]
# Writes PROFILE_DIR (default /tmp/deep-hash-hashing-profile): <pipeline>.jfr, <pipeline>-top.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir="${PROFILE_DIR:-/tmp/deep-hash-hashing-profile}"
mkdir -p "$dir"
chmod 777 "$dir"  # the node runs as its own user (integ-tests/es-node.sh)
pipelines=("$@")
[ ${#pipelines[@]} -gt 0 ] || pipelines=(image fused full)
[ -f bench/work/test-docs.ndjson ] || /usr/bin/python3 model/documents.py --data model/work/data --split test --out bench/work/test-docs.ndjson
export ES_NODE_NAME=bench-hashing-profile ES_JAVA_HOME="${ES_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
integ-tests/es-node.sh stop >/dev/null 2>&1 || true
integ-tests/es-node.sh setup
trap 'integ-tests/es-node.sh stop >/dev/null 2>&1 || true' EXIT INT TERM
for p in "${pipelines[@]}"; do
  rm -f "$dir/$p.jfr"
  url=$(ES_EXTRA_CONFIG="deep_hash.text.cache_size: 0" \
    ES_JAVA_OPTS="-Xms2g -Xmx2g -XX:StartFlightRecording=settings=profile,dumponexit=true,filename=$dir/$p.jfr" \
    integ-tests/es-node.sh start)
  (cd bench && /usr/bin/python3 hashing_profile.py --url "$url" --docs work/test-docs.ndjson --pipeline "$p" --seconds "${SECONDS_PER_PIPELINE:-60}") | tee "$dir/$p-top.txt"
  integ-tests/es-node.sh stop >/dev/null
  # Java code on every thread; then code in native methods (ONNX Runtime's inference) on the hashing pool,
  # which JFR samples apart (a thread in native code is no ExecutionSample; idle threads wait in native too).
  "$ES_JAVA_HOME/bin/jfr" print --json --events jdk.ExecutionSample "$dir/$p.jfr" >"$dir/$p-samples.json"
  { echo; echo "== Java execution samples, every thread"; } | tee -a "$dir/$p-top.txt"
  /usr/bin/python3 bench/jfr_top.py "$dir/$p-samples.json" --threads '' --rows 30 | tee -a "$dir/$p-top.txt"
  "$ES_JAVA_HOME/bin/jfr" print --json --events jdk.NativeMethodSample "$dir/$p.jfr" >"$dir/$p-samples.json"
  { echo; echo "== native method samples, the deep_hash pool"; } | tee -a "$dir/$p-top.txt"
  /usr/bin/python3 bench/jfr_top.py "$dir/$p-samples.json" --threads '[deep_hash]' --rows 10 | tee -a "$dir/$p-top.txt"
  rm -f "$dir/$p-samples.json"
done
