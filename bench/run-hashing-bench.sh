#!/usr/bin/env bash
# Hashing through a real node (see bench/hashing_bench.py): ingest rate with and without the deep_hash
# processor (the node's caption cache off, then on), MAP of text, image and fused queries on the
# model's whole test split against model/'s offline MAP, and hash-only / hash + re-rank / exact dense
# search. Starts its own node (ES_NODE_NAME=bench-hashing) on Temurin 25, writes
# bench/results/hashing.json, stops the node. With `batching`, the batching comparison instead (issue 23:
# batching off and on side by side, bulk sizes 1/50/500, one and four clients, query-time hashing
# latency), the caption cache off then on, into bench/results/batching.json. With `trunk`, the shipped
# model (its picture trunk exported once, shared by the image and fused heads) against the same run
# exported with a whole backbone in each picture graph (export.py --no-trunk, installed beside it as the
# user model `no-trunk`): the image, fused and full pipelines with each, side by side, the caption cache
# off, into bench/results/trunk.json. With `accurate`, the two bundled models side by side (`default` and
# `accurate`, whose image tower runs the 1.4x MobileNetV2 and whose fused tower a second, 1.0x backbone):
# the same pipelines, the caption cache off, into bench/results/accurate.json. With `fast`, `default` against
# the bundled `fast` (the same configuration over langchain4j's int8 MiniLM, its own text encoder, with pictures
# at 96 px): pictures, captions, fused and full pipelines, the caption cache off, into bench/results/fast.json (int8.json is
# the same comparison from before `fast` was bundled, its heads installed as a user model). With
# `quality NAME`, only the MAP check for the bundled model NAME (default, accurate or fast) against its own
# model/results (model/results/NAME/results.json; model/results/results.json for default), into
# bench/results/quality-NAME.json. With `px96 RUN`, the bundled `fast` against model/'s run RUN (trained with
# --pretrained-size 96: pictures upsampled to 96 px instead of 128 for MobileNetV2) exported and installed as the
# user model `px96`: pictures, fused and full pipelines, the caption cache off, into bench/results/px96.json.
# With `int8trunk [DIR]`, the bundled `fast` against an export whose picture trunk is int8 (DIR, such as a model/
# run trained with --int8-trunk and exported; without DIR, `fast` itself with its trunk quantized by
# model/quantize_trunk.py and its heads unchanged), installed as the user model `fast-int8trunk`: pictures, fused and
# full pipelines, the caption cache off, then the MAP of each model through the node on the validation split (where
# the choice is made; no offline figures cover it), into bench/results/int8trunk.json.
#   bench/run-hashing-bench.sh [runs] [batching|trunk|accurate|fast|quality NAME|px96 RUN|int8trunk [DIR]]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs="${1:-3}"
mode="${2:-}"
quality_model="${3:-default}"
bench/setup.sh
mvn -B -q package -DskipTests  # always: a zip left from an older build would measure old code
if [ ! -f model/work/data/images.npy ]; then
  bash model/setup.sh
  /usr/bin/python3 model/data.py --out model/work/data
fi
mkdir -p bench/work bench/results
/usr/bin/python3 model/documents.py --data model/work/data --split test --out bench/work/test-docs.ndjson

export ES_NODE_NAME=bench-hashing ES_HEAP="${ES_HEAP:-2g}"
export ES_JAVA_HOME="${ES_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
integ-tests/es-node.sh stop >/dev/null 2>&1 || true
integ-tests/es-node.sh setup
user_model() {  # name, then export.py's options: exported to bench/work/<name>, installed as a user model of the node
  /usr/bin/python3 model/export.py --name "$1" --out "bench/work/$1" "${@:2}" 2>&1 | grep -v -i warn | tail -1
  local models
  models="$(integ-tests/es-node.sh home)/config/deep-hash/models"
  rm -rf "${models:?}/$1" && mkdir -p "$models" && cp -r "bench/work/$1" "$models/$1"
}
if [ "$mode" = px96 ]; then
  user_model px96 --run "${3:?usage: bench/run-hashing-bench.sh RUNS px96 RUN}"
fi
if [ "$mode" = int8trunk ]; then
  rm -rf bench/work/fast-int8trunk
  if [ -n "${3:-}" ]; then
    cp -r "$3" bench/work/fast-int8trunk
  else
    /usr/bin/python3 model/quantize_trunk.py --export model/export-fast --out bench/work/fast-int8trunk 2>&1 | grep -v '^features: [0-9]'
  fi
  models="$(integ-tests/es-node.sh home)/config/deep-hash/models"
  rm -rf "${models:?}/fast-int8trunk" && mkdir -p "$models" && cp -r bench/work/fast-int8trunk "$models/fast-int8trunk"
  /usr/bin/python3 model/documents.py --data model/work/data --split val --out bench/work/val-docs.ndjson
fi
if [ "$mode" = trunk ]; then
  user_model no-trunk --run "$(/usr/bin/python3 -c 'import json; print(json.load(open("model/export/model.json"))["version"])')" --no-trunk
fi
trap 'integ-tests/es-node.sh stop' EXIT INT TERM
out=bench/results/hashing.json
[ "$mode" = batching ] && out=bench/results/batching.json
[ "$mode" = trunk ] && out=bench/results/trunk.json
[ "$mode" = accurate ] && out=bench/results/accurate.json
[ "$mode" = fast ] && out=bench/results/fast.json
[ "$mode" = px96 ] && out=bench/results/px96.json
[ "$mode" = int8trunk ] && out=bench/results/int8trunk.json
[ "$mode" = quality ] && out=bench/results/quality-$quality_model.json
offline=model/results/results.json
[ "$quality_model" = default ] || offline=model/results/$quality_model/results.json
rm -f "$out"
run() {  # label, extra config, phase, then any further options of hashing_bench.py (a later --docs or --offline wins)
  integ-tests/es-node.sh stop >/dev/null 2>&1 || true
  local url
  url=$(ES_EXTRA_CONFIG="$2" integ-tests/es-node.sh start)
  /usr/bin/python3 bench/hashing_bench.py --url "$url" --docs bench/work/test-docs.ndjson \
    --offline "$offline" --out "$out" --runs "$runs" --phase "$3" --label "$1" "${@:4}"
}
if [ "$mode" = trunk ]; then
  run no-caption-cache "deep_hash.text.cache_size: 0" ingest --models default,no-trunk --pipelines image,fused,full
elif [ "$mode" = accurate ]; then
  run no-caption-cache "deep_hash.text.cache_size: 0" ingest --models default,accurate --pipelines image,fused,full
elif [ "$mode" = fast ]; then
  run no-caption-cache "deep_hash.text.cache_size: 0" ingest --models default,fast --pipelines image,text,fused,full
elif [ "$mode" = px96 ]; then
  run no-caption-cache "deep_hash.text.cache_size: 0" ingest --models fast,px96 --pipelines image,fused,full
elif [ "$mode" = int8trunk ]; then
  run no-caption-cache "deep_hash.text.cache_size: 0" ingest --models fast,fast-int8trunk --pipelines image,fused,full
  for model in fast fast-int8trunk; do
    run "quality-val-$model" "" quality --quality-model "$model" --quality-key "quality_val@$model" --no-rerank \
      --docs bench/work/val-docs.ndjson --offline ""
  done
elif [ "$mode" = quality ]; then
  run quality "" quality --quality-model "$quality_model"
elif [ "$mode" = batching ]; then
  run no-caption-cache "deep_hash.text.cache_size: 0" batching
  run caption-cache "" batching
else
  run no-caption-cache "deep_hash.text.cache_size: 0" ingest
  run caption-cache "" all
fi
echo "==> $out"
