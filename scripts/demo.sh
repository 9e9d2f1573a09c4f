#!/usr/bin/env bash
# Quick start: build the plugin, start a real Elasticsearch 8.19.21 (or ES_VERSION=9.1.10) node with it installed, index 400
# real captioned pictures from the model's test split through the deep_hash ingest pipeline, and run a
# text query against the pictures' codes (cross-modal), an image query, and a re-ranked query. The
# node keeps running; stop it with
#   ES_NODE_NAME=demo integ-tests/es-node.sh stop
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian's Maven 3.8.7 writes "\e[0m" even in batch mode with colours off: strip what is left.
nocolor() { sed -u $'s/\e\\[[0-9;]*m//g'; }

# ES_VERSION=9.1.10 scripts/demo.sh runs the same demo on Elasticsearch 9.1 with the plugin built for it.
export ES_VERSION="${ES_VERSION:-8.19.21}"
echo "==> Building the plugin for Elasticsearch $ES_VERSION (scripts/build-plugin.sh: mvn package, tests skipped; scripts/test.sh runs them)"
PLUGIN_ZIP="$(scripts/build-plugin.sh "$ES_VERSION" -B -q -Dstyle.color=never -DskipTests 2> >(nocolor >&2))"
export PLUGIN_ZIP

export ES_NODE_NAME=demo
integ-tests/es-node.sh stop >/dev/null 2>&1 || true
integ-tests/es-node.sh setup 2>&1 | nocolor >&2   # fetches the distribution through Maven the first time
url=$(integ-tests/es-node.sh start)
echo "==> Node up at $url with: $(curl -s "$url/_cat/plugins?h=component,version" | tr '\n' ' ')"
echo "==> Models: $(curl -s "$url/_deep_hash/models" | python3 -c 'import json,sys; print(", ".join("%s (%d bits, %s)" % (m["name"], m["bits"], "/".join(m["entry_points"])) for m in json.load(sys.stdin)["models"]))')"

# The pipeline: the fused image+caption code, the per-modality codes for cross-modal search, and the
# embedding for re-ranking, and which model hashed each document when (model_info, for the health
# dashboard); the picture itself is not kept.
curl -s -f -o /dev/null -X PUT "$url/_ingest/pipeline/emoji" -H 'Content-Type: application/json' -d '{
  "description": "hash each picture and its caption with the bundled model",
  "processors": [{"deep_hash": {
    "model": "default", "image_field": "image", "text_field": "caption",
    "target_field": "hash", "image_target_field": "image_hash", "text_target_field": "text_hash",
    "embedding_field": "embedding", "model_info_field": "model_info", "remove_image": true}}]}'
curl -s -o /dev/null -X DELETE "$url/emoji" || true
curl -s -f -o /dev/null -X PUT "$url/emoji" -H 'Content-Type: application/json' -d '{
  "settings": {"number_of_shards": 2, "number_of_replicas": 0, "index.deep_hash.codec": true, "index.default_pipeline": "emoji"},
  "mappings": {"properties": {
    "label": {"type": "text"}, "caption": {"type": "text"},
    "subgroup": {"type": "keyword"}, "group": {"type": "keyword"}, "style": {"type": "keyword"},
    "hash": {"type": "binary_hash", "bits": 64},
    "image_hash": {"type": "binary_hash", "bits": 64, "bits_field": true},
    "text_hash": {"type": "binary_hash", "bits": 64},
    "embedding": {"type": "dense_vector", "dims": 256, "similarity": "l2_norm"},
    "model_info": {"properties": {"name": {"type": "keyword"}, "version": {"type": "keyword"}, "hashed_at": {"type": "date"}}}
  }}}'
python3 -c '
import json, sys
for line in open("demo/emoji-test-sample.ndjson"):
    doc = json.loads(line)
    print(json.dumps({"index": {"_id": str(doc["picture"])}}))
    print(json.dumps(doc))
' > "${TMPDIR:-/tmp}/deep-hash-demo-bulk.ndjson"
took=$(curl -s -f -X POST "$url/emoji/_bulk?refresh=true" -H 'Content-Type: application/x-ndjson' \
  --data-binary @"${TMPDIR:-/tmp}/deep-hash-demo-bulk.ndjson" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert not r["errors"], r; print(r["took"])')
echo "==> Indexed $(curl -s "$url/emoji/_count" | sed 's/.*"count":\([0-9]*\).*/\1/') pictures of emoji never seen in training through the pipeline in ${took} ms"

show() {  # prints the hits of a search: score, label, subgroup, style
  python3 -c '
import json, sys
r = json.load(sys.stdin)
for h in r["hits"]["hits"]:
    s = h["_source"]
    print("  %.4f  %-34s %-22s %s" % (h["_score"], s["label"][:34], s["subgroup"], s["style"]))
'
}
search() { curl -s -f -X POST "$url/emoji/_search" -H 'Content-Type: application/json' -d "$1"; }

q1='{"size": 5, "_source": ["label", "subgroup", "style"],
  "query": {"hamming": {"field": "image_hash", "text": "a cat"}}}'
echo
echo "==> Text query against the pictures' image codes (cross-modal): \"a cat\""
echo "curl -X POST '$url/emoji/_search' -H 'Content-Type: application/json' -d '$q1'"
search "$q1" | show

picture=$(python3 -c '
import json
for line in open("demo/emoji-test-sample.ndjson"):
    d = json.loads(line)
    if d["subgroup"] == "animal-mammal" and d["style"] == "twitter":
        print(d["picture"], d["image"], d["label"]); break
')
read -r pid image label <<<"$picture"
q2='{"size": 5, "_source": ["label", "subgroup", "style"],
  "query": {"bool": {"must": {"hamming": {"field": "image_hash", "image": "'$image'"}}, "must_not": {"ids": {"values": ["'$pid'"]}}}}}'
echo
echo "==> Image query: the twitter picture of \"$label\" (base64 PNG in [image]), itself left out"
search "$q2" | show

q3='{"size": 5, "_source": ["label", "subgroup", "style"],
  "query": {"hamming": {"field": "hash", "text": "hot drink", "rerank": {"field": "embedding", "window": 50}}}}'
echo
echo "==> Text query against the fused image+caption codes, the best 50 per shard re-ranked by the embedding: \"hot drink\""
echo "curl -X POST '$url/emoji/_search' -H 'Content-Type: application/json' -d '$q3'"
search "$q3" | show

echo
echo "==> Hashing statistics of the node: $(curl -s "$url/_deep_hash/stats" | python3 -c 'import json,sys; n=list(json.load(sys.stdin)["nodes"].values())[0]; print("documents_hashed=%d queries_hashed=%d fused avg %.1f ms" % (n["documents_hashed"], n["queries_hashed"], n["inference"]["fused"]["avg_time_in_millis"]))')"
echo
echo "Kibana 8.19 dashboards for this index (its data view, the search and the collection-health dashboards): $PWD/dashboards/deep-hash.ndjson"
if [ -n "${KIBANA_URL:-}" ]; then
  echo "==> Importing them into the Kibana at $KIBANA_URL (dashboards/import.sh; KIBANA_AUTH=user:password if it asks)"
  dashboards/import.sh "$KIBANA_URL" || echo "    the import failed (above); the node and its index are up all the same" >&2
else
  echo "    import them on Kibana's Saved Objects page, or run KIBANA_URL=http://localhost:5601 scripts/demo.sh (or dashboards/import.sh URL); see dashboards/README.md"
fi
echo "The node keeps running at $url. Stop it with: ES_NODE_NAME=demo integ-tests/es-node.sh stop"
