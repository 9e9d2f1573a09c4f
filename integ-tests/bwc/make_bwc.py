"""Writes the backward-compatibility resources of one on-disk format (issue 24, part 4).

Run once per format, by the build that introduces it, never again for that format: the files it writes are
committed, and every later build must read them and answer exactly as recorded (BackwardIndexTests on the
Lucene index, BackwardIndexIT on the snapshot restored into a real node), the way Lucene's backward-codecs
tests keep old indices readable.

It drives a running node of the current build (integ-tests/es-node.sh, with path.repo) over HTTP:
an index with index.deep_hash.codec and binary_hash fields of 64, 72 (not a multiple of 64) and 256 bits,
500 documents in three segments, some without a code, ten deleted; then
  - <name>.json: every live document's codes (from doc values) and the answers of hamming queries by code,
    top-k and radius, on each field, as the node gave them;
  - <name>-index.zip: the shard's Lucene files (the index closed, so that they are still), for the unit test;
  - <name>-snapshot.zip: an fs snapshot repository holding the index, for the real-node test.

    python3 make_bwc.py --url URL --node-dir DIR --name fixedbits819-es8.19.21 --out-unit DIR --out-it DIR
    python3 make_bwc.py ... --name fixedbits819v2-es8.19.21 --multi-index   # version 2: multi-index tables

With --multi-index (FixedBits819 version 2) the fields are mapped with index_options multi_index (m per
segment, and a fixed m of 4 on the 64-bit field), and each field also gets top-k queries with k and
queries forced through the tables and through the scan.
"""

import argparse
import glob
import json
import os
import random
import shutil
import sys
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cluster"))
from cluster import request  # noqa: E402

FIELDS = {"hash": 64, "odd": 72, "wide": 256}
DOCS = 500
SEED = 24


def call(url, method, path, body=None, expect=(200,)):
    r = request(url, method, path, body, timeout=120)
    if r.status not in expect:
        raise SystemExit("%s %s: %r" % (method, path, r))
    return r.json()


def mapping(bits, multi_index):
    field = {"type": "binary_hash", "bits": bits}
    if multi_index:
        field["index_options"] = {"type": "multi_index", "substrings": 4} if bits == 64 else {"type": "multi_index"}
    return field


def zip_dir(src, dest):
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _, files in os.walk(src):
            for f in sorted(files):
                if f == "write.lock":
                    continue
                full = os.path.join(root, f)
                z.write(full, os.path.relpath(full, src))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--node-dir", required=True, type=os.path.abspath, help="the node's directory (es-node.sh: data/ and snapshots/ under it)")
    ap.add_argument("--name", required=True, help="e.g. fixedbits819-es8.19.21")
    ap.add_argument("--out-unit", required=True, help="where the Lucene index zip and the JSON go (unit test resources)")
    ap.add_argument("--out-it", required=True, help="where the snapshot zip and the JSON go (integration test resources)")
    ap.add_argument("--multi-index", action="store_true", help="map the fields with index_options multi_index (format version 2)")
    args = ap.parse_args()
    url, index = args.url, "bwc-" + args.name.split("-")[0]
    rand = random.Random(SEED)

    call(url, "DELETE", "/" + index, expect=(200, 404))
    call(url, "PUT", "/" + index, {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0, "index.deep_hash.codec": True},
        "mappings": {"properties": dict({"doc_id": {"type": "keyword"}},
                                        **{f: mapping(b, args.multi_index) for f, b in FIELDS.items()})}})
    # Codes with structure (near-duplicates of a few centres) so that radius queries find something.
    centres = {f: [rand.getrandbits(b) for _ in range(8)] for f, b in FIELDS.items()}
    for segment in range(3):
        lines = []
        for i in range(segment * DOCS // 3, (segment + 1) * DOCS // 3 if segment < 2 else DOCS):
            doc = {"doc_id": "d%04d" % i}
            for f, b in FIELDS.items():
                if rand.random() < 0.9:
                    code = rand.choice(centres[f])
                    for _ in range(rand.randrange(0, b // 6)):
                        code ^= 1 << rand.randrange(b)
                    doc[f] = format(code, "0%dx" % (b // 4))
            lines.append(json.dumps({"index": {"_id": doc["doc_id"]}}))
            lines.append(json.dumps(doc))
        r = request(url, "POST", "/%s/_bulk?refresh=true" % index, "\n".join(lines) + "\n", ndjson=True)
        assert r.status == 200 and not r.json()["errors"], r
    for i in rand.sample(range(DOCS), 10):
        call(url, "DELETE", "/%s/_doc/d%04d?refresh=true" % (index, i))
    call(url, "POST", "/%s/_flush" % index)

    docs = {}
    hits = call(url, "POST", "/%s/_search" % index, {"size": DOCS, "sort": [{"doc_id": "asc"}], "_source": False,
                                                     "docvalue_fields": ["doc_id"] + list(FIELDS)})["hits"]["hits"]
    for h in hits:
        docs[h["fields"]["doc_id"][0]] = {f: h["fields"][f][0] for f in FIELDS if f in h["fields"]}
    queries = []
    for f, b in FIELDS.items():
        some = next(d[f] for d in docs.values() if f in d)
        near = format(int(some, 16) ^ (1 << rand.randrange(b)), "0%dx" % (b // 4))
        far = format(rand.getrandbits(b), "0%dx" % (b // 4))
        requests = [{"size": 10, "query": {"hamming": {"field": f, "code": near}}},
                    {"size": DOCS, "query": {"hamming": {"field": f, "code": near, "max_distance": b // 8}}},
                    {"size": 10, "query": {"hamming": {"field": f, "code": far}}}]
        if args.multi_index:
            requests += [{"size": 10, "query": {"hamming": {"field": f, "code": near, "k": 10, "strategy": "index"}}},
                         {"size": 10, "query": {"hamming": {"field": f, "code": far, "k": 10, "strategy": "scan"}}},
                         {"size": DOCS, "query": {"hamming": {"field": f, "code": near, "max_distance": b // 8, "strategy": "index"}}}]
        for q in requests:
            q["_source"] = False
            q["track_total_hits"] = True
            q["docvalue_fields"] = ["doc_id"]
            r = call(url, "POST", "/%s/_search" % index, q)
            queries.append({"request": {k: v for k, v in q.items() if k not in ("_source", "docvalue_fields")},
                            "total": r["hits"]["total"]["value"],
                            "hits": [[h["fields"]["doc_id"][0], h["_score"]] for h in r["hits"]["hits"]]})
    record = {"index": index, "format": "FixedBits819 version %d" % (2 if args.multi_index else 1),
              "written_by": "deep-hash 0.1.0-SNAPSHOT on Elasticsearch 8.19.21", "multi_index": args.multi_index,
              "fields": FIELDS, "live_docs": len(docs), "docs": docs, "queries": queries}

    # The snapshot: an fs repository under the node's path.repo, zipped.
    repo = os.path.join(args.node_dir, "snapshots", "bwc-" + args.name)
    shutil.rmtree(repo, ignore_errors=True)
    call(url, "PUT", "/_snapshot/bwc-make", {"type": "fs", "settings": {"location": repo}})
    call(url, "PUT", "/_snapshot/bwc-make/snapshot?wait_for_completion=true", {"indices": index, "include_global_state": False})
    call(url, "DELETE", "/_snapshot/bwc-make")

    # The Lucene files, the index closed so that nothing changes under the copy.
    uuid = call(url, "GET", "/%s/_settings" % index)[index]["settings"]["index"]["uuid"]
    call(url, "POST", "/%s/_close?wait_for_active_shards=all" % index)
    shard = glob.glob(os.path.join(args.node_dir, "data", "indices", uuid, "0", "index"))[0]
    # Counted in the closed copy: merges may still have been running when the index was flushed.
    record["segments"] = len(glob.glob(os.path.join(shard, "*.si")))
    os.makedirs(args.out_unit, exist_ok=True)
    os.makedirs(args.out_it, exist_ok=True)
    zip_dir(shard, os.path.join(args.out_unit, args.name + "-index.zip"))
    zip_dir(repo, os.path.join(args.out_it, args.name + "-snapshot.zip"))
    for out in (args.out_unit, args.out_it):
        with open(os.path.join(out, args.name + ".json"), "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
    call(url, "DELETE", "/" + index)
    print("wrote %s: %d live documents in %d segments, %d queries" % (args.name, len(docs), record["segments"], len(queries)))


if __name__ == "__main__":
    main()
