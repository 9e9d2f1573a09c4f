#!/usr/bin/python3
"""Real-node benchmark: the hamming query against its rivals, over the same random codes, in one run.

Loads N random codes of B bits into one index per variant on a running Elasticsearch node with the
plugin installed, then sends the same queries to every variant in turn (round-robin, so that the
machine's noise falls on all of them alike) and measures client-side latency over a kept-alive HTTP
connection. FAISS (Debian's python3-faiss, IndexBinaryFlat, one thread) answers the same queries in
this process and is the exact reference: every exact variant's top-10 distances and radius sets are
checked against it, and hnsw's recall@10 is computed from it.

Variants:
  hamming-format  binary_hash + hamming query, index.deep_hash.codec: true (the plugin's format)
  hamming-plain   binary_hash + hamming query, Elasticsearch's default doc values
  hamming-format:k  hamming-format's index, top-10 with "k": 10 (each shard's 10 nearest found first,
                  a large segment scanned in ranges on every core); radius queries as hamming-format's
  hamming-mih     the plugin's format with "index_options": {"type": "multi_index"}; top-10 with "k": 10,
                  radius with max_distance, both with strategy auto (tables or scan per segment)
  bit-flat        dense_vector element_type bit, index_options flat, knn (exact)
  bit-hnsw        dense_vector element_type bit, index_options hnsw, knn num_candidates 100
  bit-hnsw:N      the same index, knn num_candidates N (a variant "base:N" shares base's index)
  floor           not a rival: a match_all search for 10 hits on the first variant's index, the cost
                  of any 10-hit search request on this node (HTTP, JSON, query and fetch phases)
Codes: random by default; --codes-from DIR loads the codes and queries MultiIndexBench wrote there
(codes.u8, queries.u8: its random or clustered codes, the same the one-segment bench and faiss_mih.py
ran), and --radii 2,4,8 times each radius (default: the one radius that holds about 50 random codes).
Writes one JSON result per configuration to --out.
"""
import argparse
import http.client
import itertools
import json
import math
import os
import random
import re
import statistics
import sys
import time
import urllib.parse

import faiss
import numpy as np


class Node:
    def __init__(self, url):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=3600)

    def request(self, method, path, body=None, content_type="application/json"):
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers={"Content-Type": content_type})
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=3600)
        result = json.loads(payload) if payload else {}
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} -> {response.status}: {json.dumps(result)[:2000]}")
        return result


def mapping(variant, bits):
    if variant.startswith("hamming"):
        field = {"type": "binary_hash", "bits": bits}
        if variant == "hamming-mih":  # the plugin's format with multi-index tables (issue 25)
            field["index_options"] = {"type": "multi_index"}
    else:
        kind = "flat" if variant == "bit-flat" else "hnsw"
        field = {"type": "dense_vector", "element_type": "bit", "dims": bits, "index": True,
                 "similarity": "l2_norm", "index_options": {"type": kind}}
    return {"properties": {"h": field}}


def create(node, index, variant, bits, shards):
    node.request("DELETE", f"/{index}?ignore_unavailable=true")
    settings = {"number_of_shards": shards, "number_of_replicas": 0, "refresh_interval": "-1",
                "index.codec": "default"}
    if variant in ("hamming-format", "hamming-mih"):
        settings["index.deep_hash.codec"] = True
    node.request("PUT", f"/{index}", {"settings": settings, "mappings": mapping(variant, bits)})


def load(node, index, hexes, batch=5000):
    start = time.perf_counter()
    for i in range(0, len(hexes), batch):
        lines = []
        for j in range(i, min(i + batch, len(hexes))):
            lines.append('{"index":{"_id":"%d"}}' % j)
            lines.append('{"h":"%s"}' % hexes[j])
        result = node.request("POST", f"/{index}/_bulk", "\n".join(lines) + "\n", "application/x-ndjson")
        if result.get("errors"):
            raise RuntimeError("bulk errors: " + json.dumps(result)[:2000])
        if (i // batch) % 100 == 0:
            print(f"  {index}: {i + batch}/{len(hexes)}", file=sys.stderr, flush=True)
    node.request("POST", f"/{index}/_refresh")
    indexed = time.perf_counter() - start
    segments = len(node.request("GET", f"/_cat/segments/{index}?format=json&h=shard,segment"))
    force_merge(node, index)
    node.request("POST", f"/{index}/_refresh")
    merged = time.perf_counter() - start - indexed
    return indexed, merged, segments


def force_merge(node, index):
    """Force-merges to one segment per shard as a task and polls it every 5 s: an hnsw
    merge of millions of vectors outlasts any single HTTP request's timeout."""
    task = node.request("POST", f"/{index}/_forcemerge?max_num_segments=1&wait_for_completion=false")["task"]
    for polls in itertools.count():
        status = node.request("GET", f"/_tasks/{task}")
        if status.get("completed"):
            if "error" in status:
                raise RuntimeError(f"force-merge of {index} failed: {json.dumps(status['error'])[:2000]}")
            return
        if polls and polls % 60 == 0:
            print(f"  {index}: force-merge running for about {polls * 5} s", file=sys.stderr, flush=True)
        time.sleep(5)


def disk_usage(node, index, docs):
    stats = node.request("GET", f"/{index}/_stats/store")
    total = stats["_all"]["primaries"]["store"]["size_in_bytes"]
    usage = node.request("POST", f"/{index}/_disk_usage?run_expensive_tasks=true")
    field = usage[index]["fields"].get("h", {})
    return {"index_bytes_per_doc": total / docs, "field_bytes_per_doc": field.get("total_in_bytes", 0) / docs,
            "field_detail": {k: v for k, v in field.items() if k.endswith("_in_bytes")}}


def base_of(variant):
    """The variant whose index a variant queries: "bit-hnsw:1000" queries bit-hnsw's."""
    return variant.split(":", 1)[0]


def query_body(variant, hex_code, k, radius):
    if variant == "floor":
        return {"size": k, "_source": False, "query": {"match_all": {}}}
    if variant.startswith("hamming"):
        q = {"field": "h", "code": hex_code}
        if radius is not None:
            q["max_distance"] = radius
        elif variant == "hamming-mih" or variant.endswith(":k"):
            q["k"] = k  # each shard's k nearest first: the tables (hamming-mih) or the parallel scan (hamming-format:k)
        body = {"size": k, "_source": False, "query": {"hamming": q}}
        if radius is not None:
            body["track_total_hits"] = True
        return body
    if ":" in variant:
        candidates = int(variant.split(":", 1)[1])
    else:
        candidates = k if variant == "bit-flat" else 100
    return {"size": k, "_source": False,
            "knn": {"field": "h", "query_vector": hex_code, "k": k, "num_candidates": max(candidates, k)}}


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(p / 100 * len(ordered))) - 1)]


def radius_for(bits, docs, expected=50):
    """The radius within which about `expected` of `docs` random codes fall: Binomial(bits, 1/2)."""
    cumulative = 0.0
    for r in range(bits + 1):
        cumulative += math.comb(bits, r) / 2 ** bits
        if cumulative * docs >= expected:
            return r
    return bits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--variants", default="hamming-format,hamming-plain,bit-flat,bit-hnsw")
    ap.add_argument("--reuse", action="store_true", help="keep indices from an earlier run of the same configuration")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--codes-from", help="a directory MultiIndexBench wrote (codes.u8, queries.u8); its size and width win")
    ap.add_argument("--radii", help="comma-separated radii to time (default: the radius holding about 50 random codes)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    variants = args.variants.split(",")
    rng = np.random.default_rng(args.seed)
    if args.codes_from:
        codes_kind, width, count = os.path.basename(args.codes_from.rstrip("/")).split("-")
        args.bits, args.docs = int(width.rstrip("b")), int(count)
        codes = np.fromfile(os.path.join(args.codes_from, "codes.u8"), dtype=np.uint8).reshape(args.docs, args.bits // 8)
        queries = np.fromfile(os.path.join(args.codes_from, "queries.u8"), dtype=np.uint8).reshape(-1, args.bits // 8)
        queries = queries[:args.queries]
    else:
        codes_kind = "random"
        codes = rng.integers(0, 256, size=(args.docs, args.bits // 8), dtype=np.uint8)
        queries = rng.integers(0, 256, size=(args.queries, args.bits // 8), dtype=np.uint8)
    hexes = [c.tobytes().hex() for c in codes]
    query_hexes = [q.tobytes().hex() for q in queries]
    radius = radius_for(args.bits, args.docs)
    # One radius under the key "radius" (the default), or each of --radii under "radius_<r>".
    radius_kinds = [("radius", radius)] if not args.radii else [(f"radius_{r}", int(r)) for r in args.radii.split(",")]
    node = Node(args.url)
    tag = f"{args.docs // 1000}k-{args.bits}b-{args.shards}s" + ("" if codes_kind == "random" else f"-{codes_kind}")
    result = {"docs": args.docs, "bits": args.bits, "shards": args.shards, "queries": len(queries), "codes": codes_kind,
              "radius": radius if not args.radii else [r for _, r in radius_kinds], "variants": {}}
    info = next(iter(node.request("GET", "/_nodes/_local/jvm")["nodes"].values()))
    jvm = info["jvm"]
    result["node_jvm"] = f'{jvm["vm_name"]} {jvm["version"]}'
    result["es_version"] = info["version"]  # (the integ-test distribution has no GET /)

    # Exact reference: FAISS, one thread.
    faiss.omp_set_num_threads(1)
    flat = faiss.IndexBinaryFlat(args.bits)
    flat.add(codes)
    exact_d, exact_i = flat.search(queries, 10)

    index_of = {v: f"bench-{base_of(v)}-{tag}" for v in variants if v != "floor"}
    if "floor" in variants:
        index_of["floor"] = index_of[next(v for v in variants if v != "floor")]
    for variant in variants:
        index = index_of[variant]
        entry = {"index": index}
        if variant == "floor" or base_of(variant) != variant:
            result["variants"][variant] = entry  # queries another variant's index
            continue
        # (all indices listed: naming one that does not exist is a 404, as it is after es-node.sh setup)
        exists = [i for i in node.request("GET", "/_cat/indices?format=json&h=index,docs.count") if i["index"] == index] if args.reuse else []
        if args.reuse and exists and int(exists[0]["docs.count"]) == args.docs:
            print(f"{index}: reusing", file=sys.stderr)
        else:
            create(node, index, variant, args.bits, args.shards)
            indexed, merged, segments = load(node, index, hexes)
            entry.update({"index_seconds": indexed, "docs_per_second": args.docs / indexed, "force_merge_seconds": merged,
                          "segments_before_force_merge": segments})
            print(f"{index}: {args.docs / indexed:.0f} docs/s, {segments} segments, merge {merged:.0f} s",
                  file=sys.stderr, flush=True)
        entry.update(disk_usage(node, index, args.docs))
        result["variants"][variant] = entry

    kinds = [("top10", None)] + radius_kinds
    timings = {(v, kind): [] for v in variants for kind, _ in kinds}
    took = {(v, kind): [] for v in variants for kind, _ in kinds}  # the node's own "took", in ms
    faiss_times = {kind: [] for kind, _ in kinds}
    checks = {v: {"top10_exact": 0, "recall_at_10": [], **{kind + "_exact": 0 for kind, _ in radius_kinds}} for v in variants}
    order = list(variants)
    for qi, hex_code in enumerate(query_hexes):
        q = queries[qi:qi + 1]
        start = time.perf_counter()
        flat.search(q, 10)
        faiss_times["top10"].append(time.perf_counter() - start)
        radius_sets = {}
        for kind, r in radius_kinds:
            start = time.perf_counter()
            lims, dist, ids = flat.range_search(q, r + 1)
            faiss_times[kind].append(time.perf_counter() - start)
            radius_sets[kind] = {str(i) for i in ids[lims[0]:lims[1]]}
        kth = exact_d[qi][9]
        random.Random(qi).shuffle(order)
        for variant in order:
            for kind, r in kinds:
                if r is not None and not variant.startswith("hamming"):
                    continue
                radius_set = radius_sets.get(kind)
                body = query_body(variant, hex_code, 10 if r is None else max(10, len(radius_set) + 10), r)
                start = time.perf_counter()
                response = node.request("POST", f"/{index_of[variant]}/_search?request_cache=false", body)
                elapsed = time.perf_counter() - start
                if qi >= 10:  # the first queries warm caches and JIT
                    timings[(variant, kind)].append(elapsed)
                    took[(variant, kind)].append(response["took"])
                if variant == "floor":
                    continue
                hit_ids = [h["_id"] for h in response["hits"]["hits"]]
                if kind == "top10":
                    distances = sorted(int(np.unpackbits(np.bitwise_xor(codes[int(i)], queries[qi])).sum()) for i in hit_ids)
                    if distances == sorted(int(d) for d in exact_d[qi]):
                        checks[variant]["top10_exact"] += 1
                    checks[variant]["recall_at_10"].append(sum(1 for d in distances if d <= kth) / 10)
                else:
                    if set(hit_ids) == radius_set and response["hits"]["total"]["value"] == len(radius_set):
                        checks[variant][kind + "_exact"] += 1
        if qi % 50 == 0:
            print(f"  query {qi}/{len(query_hexes)}", file=sys.stderr, flush=True)

    # How each shard answered the top-10 of a variant with k (profile API, not timed): the rewritten query's
    # description counts its segments answered by the multi-index tables and by a scan.
    for variant in variants:
        if not (variant == "hamming-mih" or variant.endswith(":k")):
            continue
        tally = {"queries_all_shards_by_tables": 0, "shard_segments_by_tables": 0, "shard_segments_by_scan": 0}
        for hex_code in query_hexes:
            body = dict(query_body(variant, hex_code, 10, None), profile=True)
            response = node.request("POST", f"/{index_of[variant]}/_search?request_cache=false", body)
            scanned = 0
            for shard in response["profile"]["shards"]:
                for search in shard["searches"]:
                    for q in search["query"]:
                        m = re.search(r"segments: (\d+) by multi_index, (\d+) by scan", q["description"])
                        if m:
                            tally["shard_segments_by_tables"] += int(m.group(1))
                            tally["shard_segments_by_scan"] += int(m.group(2))
                            scanned += int(m.group(2))
            tally["queries_all_shards_by_tables"] += scanned == 0
        result["variants"][variant]["top10_profile"] = tally
        print(f"{variant}: top-10 profile {tally}", file=sys.stderr, flush=True)

    def summary(values):
        ms = [v * 1000 for v in values]
        return {"p50_ms": statistics.median(ms), "p99_ms": percentile(ms, 99), "mean_ms": statistics.fmean(ms), "n": len(ms)}

    for variant in variants:
        entry = result["variants"][variant]
        for kind, r in kinds:
            if timings[(variant, kind)]:
                entry[kind] = summary(timings[(variant, kind)])
                entry[kind]["took_p50_ms"] = statistics.median(took[(variant, kind)])
        if variant == "floor":
            continue
        entry["top10_exact_queries"] = checks[variant]["top10_exact"]
        for kind, _ in radius_kinds:
            entry[kind + "_exact_queries"] = checks[variant][kind + "_exact"] if variant.startswith("hamming") else None
        entry["recall_at_10"] = statistics.fmean(checks[variant]["recall_at_10"])
    result["faiss"] = {**{kind: summary(times[10:]) for kind, times in faiss_times.items()}, "version": faiss.__version__}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
