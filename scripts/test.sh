#!/usr/bin/env bash
# All of deep-hash's tests, on both Elasticsearch lines the plugin builds for (8.19.21 and 9.1.10):
# unit, Lucene and in-process cluster tests (Maven Surefire) against each line's test framework, with
# each line's plugin zip; then the model pipeline in quick mode (data, MiniLM embeddings, every training,
# evaluation, export) and a model trained on each of two public collections (quick); then each zip
# installed with elasticsearch-plugin into a real node of its release and driven over HTTP, with one
# user-trained model, the dashboards' requests and the client examples (integ-tests/run.sh); the upgrade
# from 8.19 to 9.1 on the same data (integ-tests/upgrade.sh); last, a real three-node 8.19 cluster killed
# mid-bulk, filled up and corrupted, then soaked for a minute (integ-tests/cluster/run.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> Elasticsearch 8.19.21: unit and in-process cluster tests, then the plugin zip (scripts/build-plugin.sh: mvn package)"
scripts/build-plugin.sh 8.19.21 -B

echo "==> Elasticsearch 9.1.10: the same tests against the 9.1 test framework, then its zip (mvn -Pes9 package)"
scripts/build-plugin.sh 9.1.10 -B

echo "==> Model pipeline, quick mode (model/run.sh --quick)"
model/run.sh --quick

echo "==> The other bundled models' pipelines, quick mode (model/run-bundled.sh accurate --quick: two backbones, no shared trunk; fast --quick: the int8 MiniLM as the model's own text encoder)"
model/run-bundled.sh accurate --quick
model/run-bundled.sh fast --quick

echo "==> Your own collection, quick mode: two public icon collections (model/public-collections/run.sh --quick)"
model/public-collections/run.sh --quick

echo "==> Real-node integration tests on Elasticsearch 8.19.21 (integ-tests/run.sh), the user-trained model installed among them, then the dashboards, the Java and JavaScript client examples and the fuzzer"
ES_VERSION=8.19.21 integ-tests/run.sh

echo "==> The same on Elasticsearch 9.1.10 with the 9.1 zip (ES_VERSION=9.1.10 integ-tests/run.sh)"
ES_VERSION=9.1.10 integ-tests/run.sh

echo "==> The upgrade: indices written on 8.19.21 opened by 9.1.10 on the same data path (integ-tests/upgrade.sh)"
integ-tests/upgrade.sh

echo "==> A real three-node cluster under faults and load (integ-tests/cluster/run.sh): kills mid-bulk, a full disk, a corrupted copy, CheckIndex, a one-minute soak"
integ-tests/cluster/run.sh
