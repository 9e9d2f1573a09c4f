#!/usr/bin/env bash
# Trains, evaluates and exports a hashing model for your own collection (model/train_collection.py):
#   model/collection.sh --collection my-photos/items.jsonl --name products [--out DIR] [--bits 64] ...
#   model/collection.sh --es http://localhost:9200 --index photos --image-field image --caption-field caption --name photos
# Installs what it needs first (Debian's PyTorch and ONNX, nsfwjs for the default picture encoder) and
# compiles the plugin's Java code, which computes the frozen encoders' features as a node does.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup.sh"
(cd "$here/.." && mvn -B -q compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime)
exec /usr/bin/python3 "$here/train_collection.py" "$@"
