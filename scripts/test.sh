#!/usr/bin/env bash
# All of deep-hash's tests: unit, Lucene and in-process cluster tests (Maven Surefire), then the
# plugin zip installed with elasticsearch-plugin into a real 8.19.21 node and driven over HTTP, then
# the model pipeline in quick mode (data, MiniLM embeddings, every training, evaluation, export).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> Unit and in-process cluster tests, then the plugin zip (mvn package)"
mvn -B package

echo "==> Real-node integration tests (integ-tests/run.sh)"
integ-tests/run.sh

echo "==> Model pipeline, quick mode (model/run.sh --quick)"
model/run.sh --quick
