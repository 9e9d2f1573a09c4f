#!/usr/bin/env bash
# Quick start: build the plugin, start a real Elasticsearch 8.19.21 node with it installed, load a
# small demo index and run one hamming query. The node keeps running; stop it with
#   ES_NODE_NAME=demo integ-tests/es-node.sh stop
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> Building the plugin (mvn package, tests skipped; scripts/test.sh runs them)"
mvn -B -q package -DskipTests

export ES_NODE_NAME=demo
integ-tests/es-node.sh stop >/dev/null 2>&1 || true
integ-tests/es-node.sh setup
url=$(integ-tests/es-node.sh start)
echo "==> Node up at $url with: $(curl -s "$url/_cat/plugins?h=component,version" | tr '\n' ' ')"

curl -s -o /dev/null -X DELETE "$url/demo" || true
curl -s -f -o /dev/null -X PUT "$url/demo" -H 'Content-Type: application/json' -d '{
  "settings": {"number_of_shards": 2, "number_of_replicas": 0, "index.deep_hash.codec": true},
  "mappings": {"properties": {
    "title": {"type": "text"},
    "label": {"type": "keyword"},
    "hash":  {"type": "binary_hash", "bits": 64}
  }}}'
curl -s -f -o /dev/null -X POST "$url/demo/_bulk?refresh=true" -H 'Content-Type: application/x-ndjson' --data-binary @demo/demo-docs.ndjson
echo "==> Indexed $(curl -s "$url/demo/_count" | sed 's/.*"count":\([0-9]*\).*/\1/') documents into index [demo]"

query='{
  "size": 5,
  "_source": ["title", "hash"],
  "query": {"hamming": {"field": "hash", "code": "f2a34de452e6b43f", "max_distance": 12}}
}'
echo
echo "==> Example query: codes within 12 bits of f2a34de452e6b43f, closest first"
echo "curl -s -X POST '$url/demo/_search' -H 'Content-Type: application/json' -d '$query'"
echo
echo "==> Answer (id, score = 1 - distance/64, title, code):"
curl -s -f -X POST "$url/demo/_search" -H 'Content-Type: application/json' -d "$query" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("total:", r["hits"]["total"]["value"])
for h in r["hits"]["hits"]:
    src = h["_source"]
    print("  %-8s %.4f  %-14s %s" % (h["_id"], h["_score"], src["title"], src["hash"]))
'
echo
echo "The node keeps running at $url. Stop it with: ES_NODE_NAME=demo integ-tests/es-node.sh stop"
