"""Hashing through a real node: ingest rate, MAP through the node against model/'s offline MAP, and
hash-only against hash + re-rank against exact dense search (P@10 and latency).

Run by bench/run-hashing-bench.sh, which starts the node; this script only talks HTTP to it.

    /usr/bin/python3 bench/hashing_bench.py --url URL --docs test-docs.ndjson --offline model/results/results.json \
        --out bench/results/hashing.json [--runs 3] [--phase ingest|quality|batching|all] [--label NAME]

Ingest: the same bulk requests (500 pictures each, the whole test split) are sent to an index without a
pipeline and to indices with a `deep_hash` pipeline (image only, caption only, fused, fused + per-modality
codes + embedding), alternating variants within each run (every other run in reverse order), one client.
With `--models a,b`, each pipeline runs once per model (the variant `full@b` is the full pipeline with
model b), alternating with the rest.

Batching (issue 23): each pipeline at bulk sizes 1, 50 and 500, from one and from four concurrent clients,
with the node's batching off (`deep_hash.batch.max_size: 1`) and on (its default), the two alternating
within each run through the cluster settings API on the same node; then query-time hashing latency (a
`hamming` query by caption, hashed at rewrite) with batching off and on. The node's `_deep_hash/stats`
after each run gives the batch sizes and waits.

MAP: every test picture and caption is a query, as in model/evaluate.py (relevant = same subgroup, MAP over
the whole ranking, a query never retrieves itself). The node's ranking is taken as it answers (ties in the
node's order) and, to compare with evaluate.py, re-sorted by distance with evaluate.py's tie-breaking (a
fixed random order of the database): with identical codes that MAP must equal the offline one exactly.
"""
import argparse
import json
import statistics
import sys
import threading
import time

import numpy as np

from node_bench import Node, percentile

BITS = 64
PIPELINES = {
    "image": {"image_field": "image", "target_field": "hash"},
    "text": {"text_field": "caption", "target_field": "hash"},
    "fused": {"image_field": "image", "text_field": "caption", "target_field": "hash"},
    "full": {"image_field": "image", "text_field": "caption", "target_field": "hash", "image_target_field": "image_hash",
             "text_target_field": "text_hash", "embedding_field": "embedding", "remove_image": True},
}
MAPPING = {"properties": {
    "hash": {"type": "binary_hash", "bits": BITS}, "image_hash": {"type": "binary_hash", "bits": BITS},
    "text_hash": {"type": "binary_hash", "bits": BITS}, "subgroup": {"type": "keyword"}, "picture": {"type": "integer"},
    "emoji": {"type": "integer"}, "image": {"type": "keyword", "index": False, "doc_values": False},
    "embedding": {"type": "dense_vector", "dims": 256, "similarity": "l2_norm", "index_options": {"type": "flat"}},
}}


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def create(node, index, pipeline=None, shards=1):
    node.request("DELETE", f"/{index}?ignore_unavailable=true")
    settings = {"number_of_shards": shards, "number_of_replicas": 0, "index.deep_hash.codec": True, "refresh_interval": "-1"}
    if pipeline:
        settings["index.default_pipeline"] = pipeline
    node.request("PUT", f"/{index}", {"settings": settings, "mappings": MAPPING})


def bulk_bodies(docs, batch=500):
    bodies = []
    for s in range(0, len(docs), batch):
        lines = []
        for d in docs[s:s + batch]:
            lines.append(json.dumps({"index": {"_id": str(d["picture"])}}))
            lines.append(json.dumps({k: d[k] for k in ("image", "caption", "subgroup", "picture", "emoji")}))
        bodies.append(("\n".join(lines) + "\n").encode())
    return bodies


def ingest(node, index, bodies):
    """Seconds to index every body, one bulk after the other; fails on any item error."""
    start = time.perf_counter()
    for body in bodies:
        r = node.request("POST", f"/{index}/_bulk", body, "application/x-ndjson")
        if r["errors"]:
            raise RuntimeError(json.dumps([i for i in r["items"] if "error" in i["index"]][:3]))
    elapsed = time.perf_counter() - start
    node.request("POST", f"/{index}/_refresh")
    return elapsed


def ingest_concurrently(url, index, bodies, clients):
    """Seconds to index every body from `clients` threads, each with its own connection, taking bodies in turn."""
    nodes = [Node(url) for _ in range(clients)]
    failures = []

    def send(k):
        for body in bodies[k::clients]:
            r = nodes[k].request("POST", f"/{index}/_bulk", body, "application/x-ndjson")
            if r["errors"]:
                failures.append(json.dumps([i for i in r["items"] if "error" in i["index"]][:3]))
                return

    threads = [threading.Thread(target=send, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(failures[0])
    return elapsed


def set_batching(node, on):
    """Batching off (max_size 1) or back to the node's default (the setting removed)."""
    node.request("PUT", "/_cluster/settings", {"persistent": {"deep_hash.batch.max_size": None if on else 1}})


def batching_phase(node, url, docs, runs, label, out, bulk_sizes=(1, 50, 500), query_latency=True):
    """Docs a second per pipeline, bulk size and client count, batching off and on side by side."""
    for name, processor in PIPELINES.items():
        node.request("PUT", f"/_ingest/pipeline/bench-{name}", {"processors": [{"deep_hash": processor}]})
    cells = [(p, size, clients) for p in PIPELINES for size in bulk_sizes for clients in (1, 4)]
    # Bulks of 1 are mostly HTTP: 200 documents measure them; the others send 1000.
    sample = {1: docs[:200], 50: docs[:1000], 500: docs[:1000]}
    rates = {}
    batch_stats = []
    for run in range(runs):
        for pipeline, size, clients in cells:
            for mode in ("off", "on") if run % 2 == 0 else ("on", "off"):
                set_batching(node, mode == "on")
                index = f"batching-{pipeline}"
                create(node, index, f"bench-{pipeline}")
                seconds = ingest_concurrently(url, index, bulk_bodies(sample[size], size), clients)
                node.request("DELETE", f"/{index}")
                key = f"{pipeline} bulk={size} clients={clients} batching={mode}"
                rates.setdefault(key, []).append(len(sample[size]) / seconds)
                print(f"run {run + 1} {key}: {rates[key][-1]:.0f} docs/s", file=sys.stderr)
        batch_stats.append(list(node.request("GET", "/_deep_hash/stats")["nodes"].values())[0]["batching"])
    latency = {}
    if query_latency:
        latency = query_hashing_latency(node, docs)
    out.setdefault("batching", {})[label] = {
        "docs_per_s": {k: {"runs": v, "median": statistics.median(v)} for k, v in rates.items()},
        "query_hashing_ms": {m: {"p50": percentile(v, 50), "p99": percentile(v, 99), "queries": len(v)} for m, v in latency.items()},
        "node_batching_stats": batch_stats,
    }


def query_hashing_latency(node, docs):
    """A hamming query by caption, hashed at rewrite, on an index of 1000 fused codes: ms per query, batching off and on."""
    set_batching(node, True)
    create(node, "batching-query", "bench-fused")
    ingest(node, "batching-query", bulk_bodies(docs[:1000]))
    latency = {}
    for mode in ("off", "on", "off", "on"):
        set_batching(node, mode == "on")
        for d in docs[:300]:
            _, ms = ranking(node, "batching-query", {"field": "hash", "text": ", ".join(d["caption"])}, size=10)
            latency.setdefault(mode, []).append(ms)
    node.request("DELETE", "/batching-query")
    set_batching(node, True)
    return latency


def ranking(node, index, query, exclude=None, size=10000, **extra):
    body = {"size": size, "_source": False, "track_total_hits": False, "query": {"hamming": query}}
    if exclude is not None:
        body["query"] = {"bool": {"must": {"hamming": query}, "must_not": {"ids": {"values": [exclude]}}}}
    body.update(extra)
    start = time.perf_counter()
    r = node.request("POST", f"/{index}/_search?filter_path=took,hits.hits._id,hits.hits._score", body)
    return r.get("hits", {}).get("hits", []), (time.perf_counter() - start) * 1000


def average_precision(relevant_in_order, n_relevant):
    hits = np.asarray(relevant_in_order, dtype=np.float64)
    if n_relevant == 0:
        return None
    cum = np.cumsum(hits)
    return float((hits * cum / np.arange(1, len(hits) + 1)).sum() / n_relevant)


def map_task(node, index, queries, db_ids, db_labels, make_query, self_id):
    """MAP in the node's order and with evaluate.py's tie-breaking, and P@10."""
    position = {i: p for p, i in enumerate(db_ids)}
    jitter = np.random.default_rng(0).random(len(db_ids))
    node_aps, tied_aps, p10 = [], [], []
    for q in queries:
        hits, _ = ranking(node, index, make_query(q), exclude=self_id(q))
        ids = [h["_id"] for h in hits]
        label = q["subgroup"]
        n_rel = sum(1 for i in db_ids if db_labels[i] == label and i != self_id(q))
        if len(ids) != len(db_ids) - (1 if self_id(q) is not None else 0):
            raise RuntimeError(f"a ranking of {len(ids)} documents for a database of {len(db_ids)}")
        rel = [db_labels[i] == label for i in ids]
        ap = average_precision(rel, n_rel)
        if ap is None:
            continue
        node_aps.append(ap)
        p10.append(sum(rel[:10]) / 10)
        distances = np.array([round(BITS * (1 - h["_score"])) for h in hits])
        order = np.lexsort((jitter[[position[i] for i in ids]], distances))
        tied_aps.append(average_precision([rel[k] for k in order], n_rel))
    return {"queries": len(node_aps), "map_node_order": float(np.mean(node_aps)), "map": float(np.mean(tied_aps)),
            "p@10": float(np.mean(p10))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--docs", required=True, help="the test split as documents (model/documents.py)")
    parser.add_argument("--offline", help="model/results/results.json: the offline MAP the quality phase is compared with "
                                              "(none: no comparison, as for a split the offline figures do not cover)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phase", choices=["ingest", "quality", "batching", "all"], default="all")
    parser.add_argument("--bulk-sizes", default="1,50,500", help="the batching phase's bulk sizes")
    parser.add_argument("--no-query-latency", action="store_true", help="leave out the batching phase's query-time latency")
    parser.add_argument("--label", default="default", help="names this ingest run in the output (e.g. the node's cache setting)")
    parser.add_argument("--models", default="default",
                        help="the ingest phase's models, comma-separated: each pipeline runs with each (side by side)")
    parser.add_argument("--pipelines", default=",".join(PIPELINES), help="the ingest phase's pipelines, comma-separated")
    parser.add_argument("--quality-model", default="default",
                        help="the model whose MAP the quality phase measures (hashed by it at ingest and query time); "
                             "--offline then names that model's results.json")
    parser.add_argument("--quality-key", default="quality",
                        help="the output's key for the quality phase (several models' phases can share one file)")
    parser.add_argument("--no-rerank", action="store_true", help="leave out the quality phase's hash / re-rank / dense comparison")
    args = parser.parse_args()
    node = Node(args.url)
    docs = read(args.docs)
    # A second invocation (another --label) adds to the file the first one wrote.
    try:
        with open(args.out) as f:
            out = json.load(f)
    except (OSError, ValueError):
        out = {}
    out["docs"] = len(docs)
    bodies = bulk_bodies(docs)

    if args.phase in ("ingest", "all"):
        models = args.models.split(",")
        variants = ["none"]
        for name in args.pipelines.split(","):
            for model in models:
                variant = name if model == "default" else f"{name}@{model}"
                node.request("PUT", f"/_ingest/pipeline/bench-{variant}", {"processors": [{"deep_hash": {**PIPELINES[name], "model": model}}]})
                variants.append(variant)
        seconds = {v: [] for v in variants}
        for run in range(args.runs):
            # The node is still warming up over the first runs: every other run takes the variants backwards.
            for v in variants if run % 2 == 0 else variants[::-1]:
                index = "ingest-" + v.replace("@", "-at-")
                create(node, index, None if v == "none" else f"bench-{v}")
                seconds[v].append(ingest(node, index, bodies))
                node.request("DELETE", f"/{index}")
                print(f"run {run + 1} {v}: {len(docs) / seconds[v][-1]:.0f} docs/s", file=sys.stderr)
        stats = node.request("GET", "/_deep_hash/stats")
        out.setdefault("ingest", {})[args.label] = {
            v: {"docs_per_s": [len(docs) / s for s in seconds[v]], "median_docs_per_s": len(docs) / statistics.median(seconds[v])}
            for v in variants}
        out.setdefault("ingest_stats", {})[args.label] = list(stats["nodes"].values())[0]

    if args.phase == "batching":
        batching_phase(node, args.url, docs, args.runs, args.label, out,
                       tuple(int(b) for b in args.bulk_sizes.split(",")), not args.no_query_latency)

    if args.phase in ("quality", "all"):
        qm = args.quality_model
        create(node, "quality", "bench-full")
        node.request("PUT", "/_ingest/pipeline/bench-full", {"processors": [{"deep_hash": {**PIPELINES["full"], "model": qm}}]})
        ingest(node, "quality", bodies)
        # One document per emoji with its caption only: the database of image->text, as in evaluate.py.
        captions = {}
        for d in docs:
            captions.setdefault(d["emoji"], {"picture": d["emoji"], "emoji": d["emoji"], "caption": d["caption"],
                                             "subgroup": d["subgroup"], "image": None})
        caption_docs = [captions[e] for e in sorted(captions)]
        create(node, "captions", "bench-full")
        lines = []
        for d in caption_docs:
            lines.append(json.dumps({"index": {"_id": str(d["emoji"])}}))
            lines.append(json.dumps({"caption": d["caption"], "subgroup": d["subgroup"], "emoji": d["emoji"]}))
        node.request("POST", "/captions/_bulk?refresh=true", ("\n".join(lines) + "\n").encode(), "application/x-ndjson")
        node.request("POST", "/quality/_refresh")
        pictures = sorted(docs, key=lambda d: d["picture"])
        picture_ids = [str(d["picture"]) for d in pictures]
        picture_labels = {str(d["picture"]): d["subgroup"] for d in pictures}
        emoji_ids = [str(d["emoji"]) for d in caption_docs]
        emoji_labels = {str(d["emoji"]): d["subgroup"] for d in caption_docs}
        text = lambda q: ", ".join(q["caption"])
        tasks = {
            "image->image": ("quality", pictures, picture_ids, picture_labels, lambda q: {"field": "image_hash", "image": q["image"]}, lambda q: str(q["picture"])),
            "text->image": ("quality", caption_docs, picture_ids, picture_labels, lambda q: {"field": "image_hash", "text": text(q)}, lambda q: None),
            "image->text": ("captions", pictures, emoji_ids, emoji_labels, lambda q: {"field": "text_hash", "image": q["image"]}, lambda q: None),
            "fused->fused": ("quality", pictures, picture_ids, picture_labels, lambda q: {"field": "hash", "image": q["image"], "text": text(q)}, lambda q: str(q["picture"])),
            "text->fused": ("quality", caption_docs, picture_ids, picture_labels, lambda q: {"field": "hash", "text": text(q)}, lambda q: None),
        }
        offline = None
        if args.offline:
            with open(args.offline) as f:
                # The shipped run: the 64-bit run over a MiniLM (float or int8) that is neither another seed nor a
                # baseline (as model/report.py picks it).
                offline = next(r for r in json.load(f)["runs"].values()
                               if r["bits"] == 64 and r["text_encoder"].startswith("minilm") and "role" not in r)["tasks"]
        quality = {}
        for name, (index, queries, db_ids, db_labels, make, self_id) in tasks.items():
            t0 = time.perf_counter()
            r = map_task(node, index, queries, db_ids, db_labels, lambda q: {**make(q), "model": qm}, self_id)
            if offline:
                r["offline_map"] = offline[name]["map"]
                r["offline_p@10"] = offline[name]["p@10"]
            r["seconds"] = time.perf_counter() - t0
            quality[name] = r
            print(f"{name}: node {r['map']:.4f} (node order {r['map_node_order']:.4f})"
                  + (f" offline {r['offline_map']:.4f}" if offline else ""), file=sys.stderr)
        out[args.quality_key] = quality

        if not args.no_rerank:
            # Hash only, hash + re-rank and exact dense search: P@10 and latency of the top 10.
            rerank = {}
            for name, field, make in (("text->fused", "hash", lambda q: {"text": text(q)}),
                                      ("fused->fused", "hash", lambda q: {"text": text(q), "image": q["image"]})):
                queries = caption_docs if name.startswith("text") else pictures
                rows = {"hash": ([], []), "hash+rerank": ([], []), "dense exact": ([], [])}
                for q in queries:
                    self_id = None if name.startswith("text") else str(q["picture"])
                    label = q["subgroup"]
                    hashed = node.request("POST", f"/_deep_hash/models/{qm}/_hash", make(q))
                    for variant in rows:
                        if variant == "dense exact":
                            # index_options flat: the kNN search compares every vector, an exact search.
                            body = {"size": 10, "_source": False, "knn": {
                                "field": "embedding", "query_vector": hashed["embedding"], "k": 10, "num_candidates": 100,
                                "filter": {"bool": {"must_not": {"ids": {"values": [self_id] if self_id else []}}}}}}
                            start = time.perf_counter()
                            hits = node.request("POST", "/quality/_search?filter_path=hits.hits._id", body).get("hits", {}).get("hits", [])
                            ms = (time.perf_counter() - start) * 1000
                        else:
                            query = {"field": field, "code": hashed["code"]}
                            if variant == "hash+rerank":
                                query["rerank"] = {"field": "embedding", "window": 100, "vector": hashed["embedding"]}
                            hits, ms = ranking(node, "quality", query, exclude=self_id, size=10)
                        rows[variant][0].append(sum(picture_labels[h["_id"]] == label for h in hits[:10]) / 10)
                        rows[variant][1].append(ms)
                rerank[name] = {v: {"p@10": float(np.mean(p)), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99), "queries": len(p)}
                                for v, (p, ms) in rows.items()}
                print(name, json.dumps(rerank[name]), file=sys.stderr)
            out["rerank"] = rerank

    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
