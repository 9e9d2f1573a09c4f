#!/usr/bin/env bash
# The second bundled model, "accurate": run.sh's shipped configuration with nsfwjs's 1.4x-wide MobileNetV2
# (its graph model, 128 px) as the image tower's backbone, while the fused tower's frozen copy stays the
# 1.0x MobileNetV2 (the wide one as the fused tower's features lost 2 to 3 points of fused MAP on the
# validation split: model/README.md, "What was tried"). Three seeds; the best validation score ships;
# the test split is read once, by evaluate.py, into results/accurate.
#   model/run-accurate.sh           about 35 minutes a seed on 2 cores once both feature caches exist (the
#                                   first run computes them: about 20 more minutes); writes model/export-accurate
#   model/run-accurate.sh --quick   a few batches on 300 emoji, under model/work/quick (CI): the script and the
#                                   export of a two-backbone model (no shared trunk) keep working
# Needs run.sh's data and MiniLM caption embeddings (run.sh, or run.sh --quick, first).
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
quick=""
[ "${1:-}" = "--quick" ] && quick="--quick"

if [ -n "$quick" ]; then
    data=work/quick/data; results=work/quick/results-accurate; export_dir=work/quick/export-accurate; prefix=quick-
    seeds=(8); baselines=(--no-baselines)  # run.sh --quick checks the baselines' code
else
    data=work/data; results=results/accurate; export_dir=export-accurate; prefix=""
    seeds=(7 8 9); baselines=()
fi
[ -f "$data/captions-minilm.f32" ] || { echo "run-accurate: $data/captions-minilm.f32 is missing: run model/run.sh $quick first" >&2; exit 1; }
mkdir -p work/logs
accurate=(--epochs 50 --centres 1 --centres-kind semantic --fusion latents --pretrained-image 1 --pretrained-cnn 0
          --pretrained-backbone mobilenet_v2_mid --pretrained-size 128
          --pretrained-layer expanded_conv_12/expand/Relu6,expanded_conv_13/expand/Relu6,expanded_conv_14/expand/Relu6
          --pretrained-finetune expanded_conv_12/add --pretrained-lr-scale 0.1 --pretrained-fused-frozen 1
          --pretrained-fused-backbone mobilenet_v2
          --pretrained-fused-layer block_12_expand_relu,block_13_expand_relu,block_14_expand_relu
          --quantization 0.5 --ste 1 --bits 64)
runs=()
for seed in "${seeds[@]}"; do
    name="${prefix}mixed-64-seed$seed"
    $PY train.py $quick --data "$data" "${accurate[@]}" --seed "$seed" --name "$name" > "work/logs/$name.log" 2>&1 \
        || { cat "work/logs/$name.log" >&2; exit 1; }
    tail -1 "work/logs/$name.log"
    runs+=("$name")
done
best=$($PY -c 'import sys, runs; print(runs.run_names_by_validation(sys.argv[1:])[0])' "${runs[@]}")
others=$(printf '%s\n' "${runs[@]}" | grep -vx "$best" | paste -sd, || true)
echo "run-accurate: $best has the best validation score of ${runs[*]}: it ships as [accurate]"
$PY evaluate.py --data "$data" --out "$results" --runs "$best" --seed-runs "$others" --image-only "" --text-only "" "${baselines[@]}"
$PY report.py --results "$results"
margin=""
[ -n "$quick" ] && margin="--margin 1e-5"
$PY export.py --data "$data" --run "$best" --out "$export_dir" --name accurate $margin 2>&1 | grep -v -i warn | tail -1
if [ -n "$quick" ]; then
    (cd .. && mvn -B -q test -Dtest=GoldenVectorsTests -Dsurefire.failIfNoSpecifiedTests=false -Dtests.model.dir="$PWD/model/$export_dir")
fi
