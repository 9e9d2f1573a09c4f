#!/usr/bin/env bash
# Proves model/train_collection.py on two public collections no one here made: Material Design Icons
# with their tags as labels, and Font Awesome Free without labels (pairs only). Writes the models under
# model/work/models/ and copies their cards (README.md, results.json, plots) to model/public-collections/cards/.
#   model/public-collections/run.sh           every icon (about 7,400 and 2,900 pictures)
#   model/public-collections/run.sh --quick   a few hundred of each, 3 epochs, and each export checked in Java (CI)
set -euo pipefail
cd "$(dirname "$0")"
# The full run trains two variants (with and without the contrastive term over the codes) and keeps the
# better on each collection's validation split; the card lists both.
quick=""; limit=(); suffix=""; variants=(--code-contrastive 0,1)
if [ "${1:-}" = "--quick" ]; then quick="--quick"; limit=(--limit 150); suffix="-quick"; variants=(); fi
# npm ci only when a package is missing or at another version than package.json pins.
if ! node -e '
  const deps = require("./package.json").dependencies;
  for (const [name, version] of Object.entries(deps)) {
    if (require("./node_modules/" + name + "/package.json").version !== version) process.exit(1);
  }' 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
fi
work=../work/collections
# The model's Python unit tests first (model/tests: the collection path's reading, splitting, relevance
# and ITQ head; the backbones' conversion; the export's shared trunk; the evaluation protocol).
[ -n "$quick" ] && /usr/bin/python3 -m unittest discover -s ../tests
/usr/bin/python3 prepare.py mdi --out "$work/mdi-data$suffix" "${limit[@]}"
/usr/bin/python3 prepare.py fontawesome --out "$work/fontawesome-data$suffix" "${limit[@]}"
../collection.sh --collection "$work/mdi-data$suffix/items.jsonl" --name "mdi$suffix" --version "mdi$suffix" "${variants[@]}" $quick
../collection.sh --collection "$work/fontawesome-data$suffix/items.jsonl" --labels none --name "fontawesome$suffix" --version "fontawesome$suffix" "${variants[@]}" $quick
names=("mdi$suffix" "fontawesome$suffix")
if [ -n "$quick" ]; then
    # One tower each: captions alone with labels (a trained text head), pictures alone without labels (ITQ).
    ../collection.sh --collection "$work/mdi-data$suffix/items.jsonl" --key image=no-such-key --name mdi-text-quick --quick
    ../collection.sh --collection "$work/fontawesome-data$suffix/items.jsonl" --key caption=no-such-key --labels none --name fontawesome-image-quick --quick
    # A picture encoder of the user's own, given as an ONNX file (here the MobileNetV2 graph the first run
    # exported, whose input is fixed at 128 px), copied into the model and chained before its head.
    ../collection.sh --collection "$work/mdi-data$suffix/items.jsonl" --image-encoder ../work/models/mdi-quick/image-encoder.onnx \
        --image-size 128 --image-mean 0,0,0 --image-std 1,1,1 --name mdi-own-encoder-quick --quick
    names+=(mdi-text-quick fontawesome-image-quick mdi-own-encoder-quick)
fi
for name in "${names[@]}"; do
    if [ -n "$quick" ]; then
        # The export must load in the Java runtime and reproduce its golden vectors through the whole chain.
        (cd ../.. && mvn -B -q test -Dtest=GoldenVectorsTests -Dsurefire.failIfNoSpecifiedTests=false -Dtests.model.dir="$PWD/model/work/models/$name")
    else
        mkdir -p "cards/$name"
        cp ../work/models/$name/{README.md,results.json,model.json,validation.png,map.png} "cards/$name/"
    fi
done
