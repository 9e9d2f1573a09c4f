#!/usr/bin/env bash
# All of deep-hash's tests: unit, Lucene and in-process cluster tests (Maven Surefire), then the
# model pipeline in quick mode (data, MiniLM embeddings, every training, evaluation, export), a model
# trained on each of two public collections (quick), then the plugin zip installed with
# elasticsearch-plugin into a real 8.19.21 node and driven over HTTP, with one user-trained model, and
# the client examples (examples/run.sh) against that node; last, a real three-node cluster killed mid-bulk,
# filled up and corrupted, then soaked for a minute (integ-tests/cluster/run.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> Unit and in-process cluster tests, then the plugin zip (mvn package)"
mvn -B package

echo "==> Model pipeline, quick mode (model/run.sh --quick)"
model/run.sh --quick

echo "==> Your own collection, quick mode: two public icon collections (model/public-collections/run.sh --quick)"
model/public-collections/run.sh --quick

echo "==> Real-node integration tests (integ-tests/run.sh), the user-trained model installed among them, then the Java and JavaScript client examples"
integ-tests/run.sh

echo "==> A real three-node cluster under faults and load (integ-tests/cluster/run.sh): kills mid-bulk, a full disk, a corrupted copy, CheckIndex, a one-minute soak"
integ-tests/cluster/run.sh
