#!/usr/bin/env bash
# Real-node benchmark (see bench/node_bench.py): starts a node of its own on Temurin 25 with a 4 GiB
# heap and the plugin installed, runs the configurations given as "DOCS:BITS:SHARDS:VARIANTS" words
# (default: the 1M-code set), writes bench/results/*.json, and stops the node.
#   bench/run-node-bench.sh 1000000:64:1:hamming-format,hamming-plain,bit-flat,bit-hnsw
# BENCH_TAG=x appends "-x" to the result files' names (so a run on another machine keeps the committed
# ones); ES_HEAP and ES_EXTRA_CONFIG (lines for elasticsearch.yml) pass through to the node; ES_VERSION
# names the Elasticsearch release (8.19.21 or 9.1.10), node and plugin alike; NODE_BENCH_ARGS passes options
# to node_bench.py (for example "--codes-from bench/work/mih/clustered-64b-10000000 --radii 2,4,8").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bench/setup.sh
# Always built: a zip left from an older build would benchmark old code. ES_VERSION picks the line
# (default 8.19.21; ES_VERSION=9.1.10 benchmarks the 9.1 plugin on a 9.1 node).
export ES_VERSION="${ES_VERSION:-8.19.21}"
export PLUGIN_ZIP="$(scripts/build-plugin.sh "$ES_VERSION")"

export ES_NODE_NAME=bench ES_HEAP="${ES_HEAP:-4g}"
export ES_JAVA_HOME="${ES_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
integ-tests/es-node.sh stop >/dev/null 2>&1 || true
# REUSE=1 keeps the node's data from the last run (KEEP_DATA), so that node_bench.py --reuse finds its indices.
KEEP_DATA="${REUSE:+1}" integ-tests/es-node.sh setup
url=$(integ-tests/es-node.sh start)
trap 'integ-tests/es-node.sh stop' EXIT INT TERM

configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(
  "1000000:64:1:hamming-format,hamming-plain,bit-flat,bit-hnsw"
  "1000000:64:2:hamming-format,hamming-plain,bit-flat"
  "1000000:256:1:hamming-format,hamming-plain,bit-flat"
)
mkdir -p bench/results
for config in "${configs[@]}"; do
  IFS=: read -r docs bits shards variants <<<"$config"
  out="bench/results/node-${docs}-${bits}b-${shards}s${BENCH_TAG:+-$BENCH_TAG}.json"
  echo "==> $docs codes of $bits bits, $shards shard(s): $variants -> $out"
  /usr/bin/python3 bench/node_bench.py --url "$url" --docs "$docs" --bits "$bits" --shards "$shards" \
    --variants "$variants" --out "$out" ${REUSE:+--reuse} ${NODE_BENCH_ARGS:-} >/dev/null
done
