"""A collection read from an Elasticsearch index (model/train_collection.py --es), against a real node:
the quick Material Design Icons collection is indexed with its pictures as base64, read back with a
point-in-time search, compared item by item with the same collection read from its JSONL file (the same
captions, labels, groups and splits, pictures with the same bytes), and a quick model is trained from the
index. integ-tests/run.sh runs it while the node is up.

  /usr/bin/python3 integ-tests/collection_from_index.py http://127.0.0.1:9200 model/work/collections/mdi-data-quick/items.jsonl
"""
import base64
import hashlib
import json
import os
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "model"))

import collection as coll  # noqa: E402
import train_collection  # noqa: E402

INDEX = "deep-hash-it-collection"


def call(url, method, path, body=None, ndjson=False):
    data = None if body is None else (body if ndjson else json.dumps(body)).encode("utf-8")
    request = urllib.request.Request(url + path, method=method, data=data,
                                     headers={"Content-Type": "application/x-ndjson" if ndjson else "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        if method == "DELETE" and e.code == 404:
            return None
        raise AssertionError(f"{method} {path}: {e.code} {e.read().decode(errors='replace')[:500]}") from None


def main():
    url, items_path = sys.argv[1].rstrip("/"), sys.argv[2]
    expected = coll.read_jsonl(items_path)
    coll.prepare(expected)
    call(url, "DELETE", f"/{INDEX}")
    call(url, "PUT", f"/{INDEX}", {"settings": {"number_of_shards": 2, "number_of_replicas": 0},
                                   "mappings": {"properties": {"picture": {"type": "binary"}, "title": {"type": "text"},
                                                               "tags": {"type": "keyword"}, "meta": {"properties": {"base": {"type": "keyword"}}}}}})
    lines = []
    for item in expected:
        doc = {"title": item.captions, "tags": item.labels, "meta": {"base": item.group}}
        if item.image:
            with open(item.image, "rb") as f:
                doc["picture"] = base64.b64encode(f.read()).decode("ascii")
        lines += [json.dumps({"index": {"_id": item.id}}), json.dumps(doc)]
    answer = call(url, "POST", f"/{INDEX}/_bulk?refresh=true", "\n".join(lines) + "\n", ndjson=True)
    assert not answer["errors"], json.dumps(answer)[:1000]
    try:
        with tempfile.TemporaryDirectory() as work:
            # A small page, so that the point-in-time search pages through the index.
            read = coll.read_index(url, INDEX, "picture", "title", "tags", "meta.base", work, page=37)
            coll.prepare(read)
            by_id = {i.id: i for i in read}
            assert len(read) == len(expected), f"read {len(read)} items from the index, expected {len(expected)}"
            for e in expected:
                r = by_id[e.id]
                assert (r.captions, r.labels, r.group, r.split) == (e.captions, e.labels, e.group, e.split), (e.id, vars(r), vars(e))
                with open(e.image, "rb") as a, open(r.image, "rb") as b:
                    assert hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest(), e.id
            out = os.path.join(work, "model")
            train_collection.main(["--es", url, "--index", INDEX, "--image-field", "picture", "--caption-field", "title",
                                   "--labels-field", "tags", "--group-field", "meta.base", "--name", "from-index",
                                   "--out", out, "--work", os.path.join(work, "cache"), "--quick"])
            with open(os.path.join(out, "model.json")) as f:
                model = json.load(f)
            assert model["name"] == "from-index" and set(model["entry_points"]) == {"image", "text", "fused"}, model
            print(f"collection_from_index: {len(read)} documents read back like the JSONL (captions, labels, groups, splits, "
                  f"picture bytes); a quick model trained from the index", file=sys.stderr)
    finally:
        call(url, "DELETE", f"/{INDEX}")


if __name__ == "__main__":
    main()
