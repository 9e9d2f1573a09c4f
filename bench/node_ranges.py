"""Radius search on one force-merged segment through a real node, the search worker threads on and off.

With them on, the searcher has Elasticsearch's search-worker executor and a scanned segment's radius search
runs in ranges on both cores; off, the same ranges run one after the other on the search thread (about the
lazy scan's cost). Loads DOCS random 64-bit codes into a one-shard index with index.deep_hash.codec (once;
a later run reuses it), force-merges it into one segment, then alternates the cluster setting
search.worker_threads_enabled round by round (the order swapped every other round) over 40 queries.

    python3 bench/node_ranges.py URL DOCS [ROUNDS]
"""
import json, random, statistics, sys, time, urllib.request

url = sys.argv[1]
docs = int(sys.argv[2])
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 10

def call(method, path, body=None, ndjson=False):
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/x-ndjson" if ndjson else "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())

rng = random.Random(7)
exists = True
try:
    call("GET", "/ranges/_count")
except Exception:
    exists = False
if not exists:
    call("PUT", "/ranges", {"settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1", "index.deep_hash.codec": True},
                            "mappings": {"properties": {"h": {"type": "binary_hash", "bits": 64}}}})
    t = time.time()
    for start in range(0, docs, 20000):
        lines = []
        for i in range(start, min(docs, start + 20000)):
            lines.append('{"index":{}}')
            lines.append('{"h":"%016x"}' % rng.getrandbits(64))
        r = call("POST", "/ranges/_bulk", "\n".join(lines) + "\n", ndjson=True)
        assert not r["errors"]
    call("POST", "/ranges/_refresh")
    call("POST", "/ranges/_forcemerge?max_num_segments=1")
    call("POST", "/ranges/_refresh")
    print(f"loaded {docs} in {time.time() - t:.0f} s", flush=True)
print("segments:", call("GET", "/ranges/_segments")["indices"]["ranges"]["shards"]["0"][0]["num_search_segments"])
qs = ["%016x" % rng.getrandbits(64) for _ in range(40)]
def run(radius):
    took, wall, hits = [], [], []
    for q in qs:
        body = {"size": 10, "query": {"hamming": {"field": "h", "code": q, "max_distance": radius}}}
        t = time.perf_counter()
        r = call("POST", "/ranges/_search?request_cache=false", body)
        wall.append((time.perf_counter() - t) * 1000)
        took.append(r["took"])
        hits.append(r["hits"]["total"]["value"])
    return statistics.median(wall), statistics.median(took), sum(hits)
for radius in (12, 14):
    res = {True: [], False: []}
    run(radius)  # warm-up
    for rnd in range(rounds):
        for setting in ([True, False] if rnd % 2 == 0 else [False, True]):
            call("PUT", "/_cluster/settings", {"transient": {"search.worker_threads_enabled": setting}})
            res[setting].append(run(radius))
    for setting in (True, False):
        walls = [w for w, _, _ in res[setting]]
        tooks = [t for _, t, _ in res[setting]]
        print(f"radius {radius} worker threads {'on ' if setting else 'off'}: wall p50 of round medians {statistics.median(walls):.2f} ms "
              f"(rounds {min(walls):.2f}-{max(walls):.2f}), took {statistics.median(tooks):.1f} ms; hits {res[setting][0][2]}", flush=True)
    ratios = [off[0] / on[0] for on, off in zip(res[True], res[False])]
    print(f"radius {radius}: off/on wall per round {', '.join(f'{x:.2f}' for x in ratios)}", flush=True)
call("PUT", "/_cluster/settings", {"transient": {"search.worker_threads_enabled": None}})
