#!/usr/bin/env bash
# The bundled models beside `default` (which run.sh makes), each from its options in configs.sh: three seeds,
# the best validation score ships, the test split is read once, by evaluate.py, into results/<name>.
#   model/run-bundled.sh accurate     nsfwjs's 1.4x MobileNetV2 as the picture tower's backbone: about 35 minutes
#                                     a seed on 2 cores once both feature caches exist (the first run computes
#                                     them: about 20 more minutes); writes model/export-accurate
#   model/run-bundled.sh fast         default's configuration over the int8 MiniLM, pictures at 96 px through an
#                                     int8 MobileNetV2 trunk: about 13 minutes a seed alone (the first run embeds
#                                     every caption through the int8 encoder and computes the int8 trunk's feature
#                                     cache: about 6 more); writes model/export-fast
#   model/run-bundled.sh NAME --quick a few batches on 300 emoji, under model/work/quick (CI): the script and the
#                                     export keep working (accurate: two backbones, no shared trunk; fast: the
#                                     model's own text encoder and the int8 trunk), and the export reproduces its
#                                     golden vectors in Java
# Needs run.sh's data and MiniLM caption embeddings (run.sh, or run.sh --quick, first).
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
name="${1:-}"
quick=""
[ "${2:-}" = "--quick" ] && quick="--quick"
source ./configs.sh
case "$name" in
    accurate) options=("${accurate[@]}"); run_stem=mixed-64 ;;
    fast) options=("${fast[@]}"); run_stem=int8t-96 ;;
    *) echo "usage: model/run-bundled.sh accurate|fast [--quick]" >&2; exit 2 ;;
esac

if [ -n "$quick" ]; then
    data=work/quick/data; results=work/quick/results-$name; export_dir=work/quick/export-$name; prefix=quick-
    seeds=(8); baselines=(--no-baselines)  # run.sh --quick checks the baselines' code
else
    data=work/data; results=results/$name; export_dir=export-$name; prefix=""
    seeds=(7 8 9); baselines=()
fi
[ -f "$data/captions-minilm.f32" ] || { echo "run-bundled: $data/captions-minilm.f32 is missing: run model/run.sh $quick first" >&2; exit 1; }
mkdir -p work/logs
runs=()
for seed in "${seeds[@]}"; do
    run="${prefix}$run_stem-seed$seed"
    $PY train.py $quick --data "$data" "${options[@]}" --seed "$seed" --name "$run" > "work/logs/$run.log" 2>&1 \
        || { cat "work/logs/$run.log" >&2; exit 1; }
    tail -1 "work/logs/$run.log"
    runs+=("$run")
done
best=$($PY -c 'import sys, runs; print(runs.run_names_by_validation(sys.argv[1:])[0])' "${runs[@]}")
others=$(printf '%s\n' "${runs[@]}" | grep -vx "$best" | paste -sd, || true)
echo "run-bundled: $best has the best validation score of ${runs[*]}: it ships as [$name]"
$PY evaluate.py --data "$data" --out "$results" --runs "$best" --seed-runs "$others" --image-only "" --text-only "" "${baselines[@]}"
$PY report.py --results "$results"
margin=""
[ -n "$quick" ] && margin="--margin 1e-5"
$PY export.py --data "$data" --run "$best" --out "$export_dir" --name "$name" $margin 2>&1 | grep -v -i warn | tail -1
if [ -n "$quick" ]; then
    (cd .. && mvn -B -q test -Dtest=GoldenVectorsTests -Dsurefire.failIfNoSpecifiedTests=false -Dtests.model.dir="$PWD/model/$export_dir")
fi
