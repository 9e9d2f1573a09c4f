"""A soak of mixed traffic on a real three-node cluster (issue 24, part 2).

Writer threads bulk-index documents with a picture and a caption through a deep_hash pipeline (fused, image
and text codes and the embedding), while searcher threads send hamming queries by code (top-k), by radius,
by text and by picture with rerank, all on loopback, for --minutes. A 429 (back-pressure) is retried and
counted; any other failed request or bulk item is a failure.

Measured and printed (and written as JSON with --out): requests and p50/p99/max latency of each kind; per
node, every 5 s, the process's resident memory (ONNX Runtime's native memory included), split into its
anonymous part (heap and native memory) and its mapped files (the index's segments), and, from the node's
GC log, the heap after each collection; the floor of the heap after GC and the resident memory per minute,
and their trend (least squares, MB a minute) from minute 2 to the end. At the end every acknowledged
document must be in the index.

With --minutes 4 or more, the memory must be flat from minute 2 to the end: the anonymous resident memory's
trend under 2% of its level a minute, its last minute within 10% (plus 32 MB) of minute 2's, and the live
heap (after a full collection forced with jcmd at 2 minutes and at the end) within 10% (plus 32 MB) of its
value at 2 minutes. The mapped part grows with the index and is reported, not judged. Shorter runs (the test command runs one minute) report the figures without judging them.

    python3 soak.py --es-home DIR --base DIR [--minutes 10] [--writers 2] [--searchers 2] [--fill N] [--out FILE]

With --fill N the index is filled with N documents and force-merged first, off the clock, and then only the
searchers run: the index stays still, so memory that grows is the queries' (their hashing included).
"""

import argparse
import calendar
import json
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, HttpError, log, request  # noqa: E402
import fault_test  # noqa: E402

INDEX = "soak"
PIPELINE = "soak"

GC_LINE = re.compile(r"^\[([^\]]+)\].*\[gc\s*\] GC\(\d+\) (Pause \S+).* (\d+)M->(\d+)M\((\d+)M\)")


def create_index(cluster):
    cluster.call("PUT", "/_ingest/pipeline/" + PIPELINE, {"processors": [{"deep_hash": {
        "image_field": "image", "text_field": "caption", "target_field": "hash",
        "image_target_field": "image_hash", "text_target_field": "text_hash", "embedding_field": "embedding",
        "remove_image": True}}]})
    cluster.call("DELETE", "/" + INDEX, expect=(200, 404))
    cluster.call("PUT", "/" + INDEX, {
        "settings": {"number_of_shards": 3, "number_of_replicas": 1, "index.deep_hash.codec": True,
                     "index.default_pipeline": PIPELINE, "index.max_result_window": 200000},
        "mappings": {"properties": {
            "doc_id": {"type": "keyword"}, "sample": {"type": "integer"}, "label": {"type": "keyword"},
            "hash": {"type": "binary_hash", "bits": 64},
            "image_hash": {"type": "binary_hash", "bits": 64},
            "text_hash": {"type": "binary_hash", "bits": 64},
            "embedding": {"type": "dense_vector", "dims": 256, "similarity": "l2_norm"}}}})
    cluster.wait_for_green(INDEX)


class Latencies:
    def __init__(self):
        self.lock = threading.Lock()
        self.ms = {}
        self.count = {}
        self.retried_429 = {}
        self.failures = []

    def record(self, kind, ms):
        with self.lock:
            self.ms.setdefault(kind, []).append(ms)

    def retried(self, kind, n=1):
        with self.lock:
            self.retried_429[kind] = self.retried_429.get(kind, 0) + n

    def fail(self, what):
        with self.lock:
            if len(self.failures) < 50:
                self.failures.append(what)
            log("FAILED: " + what[:400])

    def summary(self):
        out = {}
        for kind, values in sorted(self.ms.items()):
            v = sorted(values)
            out[kind] = {"requests": len(v), "p50_ms": round(v[len(v) // 2], 1),
                         "p99_ms": round(v[min(len(v) - 1, int(len(v) * 0.99))], 1), "max_ms": round(v[-1], 1),
                         "retried_429": self.retried_429.get(kind, 0)}
        return out


class Writer(threading.Thread):
    def __init__(self, soak, i):
        super().__init__(daemon=True)
        self.soak = soak
        self.i = i

    def run(self):
        s = self.soak
        n = 0
        pending = []
        while not s.stop.is_set() or pending:
            if not pending:
                if s.stop.is_set():
                    break
                pending = ["w%d-%07d" % (self.i, n + k) for k in range(s.bulk_size)]
                n += s.bulk_size
                for doc_id in pending:
                    s.sent[doc_id] = s.rand.randrange(len(s.samples))
            lines = []
            for doc_id in pending:
                smp = s.samples[s.sent[doc_id]]
                lines.append(json.dumps({"index": {"_index": INDEX, "_id": doc_id}}))
                lines.append(json.dumps({"doc_id": doc_id, "sample": s.sent[doc_id], "label": smp["label"],
                                         "caption": smp["caption"], "image": smp["image"]}))
            node = s.cluster.nodes[self.i % len(s.cluster.nodes)]
            t = time.time()
            try:
                r = request(node.url, "POST", "/_bulk", "\n".join(lines) + "\n", timeout=120, ndjson=True)
            except HttpError as e:
                s.lat.fail("bulk: no answer: %s" % e)
                time.sleep(1)
                continue
            ms = (time.time() - t) * 1000
            if r.status == 429:
                s.lat.retried("bulk", len(pending))
                time.sleep(0.2)
                continue
            if r.status != 200:
                s.lat.fail("bulk: %r" % r)
                pending = []
                continue
            s.lat.record("bulk", ms)
            retry = []
            for doc_id, item in zip(pending, r.json()["items"]):
                st = item["index"]["status"]
                if st in (200, 201):
                    s.acked.add(doc_id)
                elif st == 429:
                    retry.append(doc_id)
                else:
                    s.lat.fail("bulk item %s: %s" % (doc_id, json.dumps(item)[:300]))
            if retry:
                s.lat.retried("bulk", len(retry))
                time.sleep(0.2)
            pending = retry


class Searcher(threading.Thread):
    KINDS = ("code_topk", "radius", "text_rerank", "picture_rerank")

    def __init__(self, soak, i):
        super().__init__(daemon=True)
        self.soak = soak
        self.i = i
        self.rand = random.Random(soak.seed * 31 + i)

    def query(self, kind):
        s = self.soak
        smp = s.samples[self.rand.randrange(len(s.samples))]
        code = "%016x" % self.rand.getrandbits(64)
        if kind == "code_topk":
            return {"size": 10, "query": {"hamming": {"field": "hash", "code": code}}}
        if kind == "radius":
            return {"size": 100, "query": {"hamming": {"field": "image_hash", "code": code, "max_distance": 20}}}
        if kind == "text_rerank":
            return {"size": 10, "query": {"hamming": {"field": "hash", "text": smp["caption"],
                                                       "rerank": {"field": "embedding", "window": 50}}}}
        return {"size": 10, "query": {"hamming": {"field": "hash", "image": smp["image"],
                                                   "rerank": {"field": "embedding", "window": 50}}}}

    def run(self):
        s = self.soak
        k = 0
        while not s.stop.is_set():
            kind = self.KINDS[(k + self.i) % len(self.KINDS)]
            k += 1
            body = self.query(kind)
            body["_source"] = False
            node = s.cluster.nodes[(self.i + k) % len(s.cluster.nodes)]
            while True:
                t = time.time()
                try:
                    r = request(node.url, "POST", "/%s/_search" % INDEX, body, timeout=60)
                except HttpError as e:
                    s.lat.fail("%s: no answer: %s" % (kind, e))
                    break
                if r.status == 429:
                    s.lat.retried(kind)
                    time.sleep(0.1)
                    continue
                if r.status != 200 or r.json()["_shards"]["failed"]:
                    s.lat.fail("%s: %r" % (kind, r))
                    break
                s.lat.record(kind, (time.time() - t) * 1000)
                break


class Memory(threading.Thread):
    """Every 5 s, each node's resident memory; at the end, the post-GC heap from the GC logs."""

    def __init__(self, soak):
        super().__init__(daemon=True)
        self.soak = soak
        self.samples = []   # (seconds since start, node, rss bytes)

    def run(self):
        s = self.soak
        gc_at_minute_2 = False
        while not s.stop.wait(5):
            t = time.time() - s.t0
            if not gc_at_minute_2 and t >= 120:
                # The live heap at the start of minute 3 (young collections' floors creep up until G1 marks).
                for n in s.cluster.nodes:
                    n.full_gc()
                gc_at_minute_2 = True
            for n in s.cluster.nodes:
                try:
                    rss, anon, mapped = n.rss_bytes("VmRSS"), n.rss_bytes("RssAnon"), n.rss_bytes("RssFile")
                except OSError:
                    continue
                if rss:
                    self.samples.append((t, n.name, rss, anon, mapped))


def gc_after(node, t0, full_only=False):
    """(seconds since t0, heap after GC in MB) of each collection (or each full one) in the node's GC log since t0."""
    out = []
    path = node.gc_log()
    if not os.path.exists(path):
        return out
    with open(path, errors="replace") as f:
        for line in f:
            m = GC_LINE.match(line)
            if not m:
                continue
            stamp = m.group(1)
            try:
                ts = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + stamp[19:23])
            except ValueError:
                continue
            if ts >= t0 and (not full_only or "Pause Full" in line):
                out.append((ts - t0, int(m.group(4))))
    return out


def trend(points):
    """Least-squares slope (per minute) of [(seconds, value)]."""
    if len(points) < 3:
        return 0.0
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return 0.0
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx * 60


def per_minute(points, agg):
    minutes = {}
    for t, v in points:
        minutes.setdefault(int(t // 60) + 1, []).append(v)
    return {m: agg(v) for m, v in sorted(minutes.items())}


class Soak:
    def __init__(self, cluster, samples, seed, bulk_size):
        self.cluster = cluster
        self.samples = samples
        self.seed = seed
        self.rand = random.Random(seed)
        self.bulk_size = bulk_size
        self.sent = {}
        self.acked = set()
        self.lat = Latencies()
        self.stop = threading.Event()
        self.t0 = None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--es-home", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--searchers", type=int, default=2)
    ap.add_argument("--bulk-size", type=int, default=10)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--fill", type=int, default=0,
                    help="index this many documents first, then only search (a fixed index: memory growth is the queries')")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    log("soak: seed %d, %.1f minutes, %d writers, %d searchers" % (seed, args.minutes, args.writers, args.searchers))
    cluster = Cluster(args.es_home, args.base)
    problems = []
    result = {}
    try:
        cluster.setup()
        create_index(cluster)
        soak = Soak(cluster, fault_test.load_samples(args.samples), seed, args.bulk_size)
        # Each node loads the model at its first hashing request (seconds): before the clock starts.
        for n in cluster.nodes:
            cluster.call("POST", "/_deep_hash/models/default/_hash", {"text": "warm up", "image": soak.samples[0]["image"]}, url=n.url)
        if args.fill:
            # A fixed index: filled first, off the clock; then the writers stop and only searches run, so that
            # memory that grows can only be the queries' (nothing is added to the index).
            fillers = [Writer(soak, i) for i in range(max(1, args.writers))]
            for t in fillers:
                t.start()
            while len(soak.acked) < args.fill:
                time.sleep(1)
            soak.stop.set()
            for t in fillers:
                t.join(180)
            soak.stop.clear()
            cluster.call("POST", "/%s/_refresh" % INDEX)
            cluster.call("POST", "/%s/_forcemerge?max_num_segments=1" % INDEX, timeout=600)
            log("soak: index filled with %d documents and force-merged; only searches from now" % len(soak.acked))
            soak.lat = Latencies()
        soak.t0 = time.time()
        writers = 0 if args.fill else args.writers
        threads = [Writer(soak, i) for i in range(writers)] + [Searcher(soak, i) for i in range(args.searchers)]
        mem = Memory(soak)
        for t in threads + [mem]:
            t.start()
        deadline = soak.t0 + args.minutes * 60
        while time.time() < deadline:
            time.sleep(min(30, max(0.1, deadline - time.time())))
            log("soak: %.0f s, %d documents acknowledged, %s" % (
                time.time() - soak.t0, len(soak.acked),
                ", ".join("%s %d" % (k, len(v)) for k, v in sorted(soak.lat.ms.items()))))
        soak.stop.set()
        for t in threads:
            t.join(180)
        mem.join(10)
        duration = time.time() - soak.t0
        for n in cluster.nodes:
            n.full_gc()
        time.sleep(2)
        cluster.call("POST", "/%s/_refresh" % INDEX)
        docs = fault_test.all_docs(cluster, INDEX)
        missing = [i for i in soak.acked if i not in docs]
        if missing:
            problems.append("%d acknowledged documents missing: %s" % (len(missing), missing[:5]))
        if soak.lat.failures:
            problems.append("%d failed requests: %s" % (len(soak.lat.failures), soak.lat.failures[:3]))
        result = {"seed": seed, "minutes": round(duration / 60, 2), "writers": writers, "fill": args.fill,
                  "searchers": args.searchers, "bulk_size": args.bulk_size,
                  "documents_acknowledged": len(soak.acked), "documents_in_index": len(docs),
                  "missing": len(missing), "failed_requests": len(soak.lat.failures),
                  "latency": soak.lat.summary(), "nodes": {}}
        judge = args.minutes >= 4
        for n in cluster.nodes:
            rss = [(t, v / 2**20) for t, name, v, _, _ in mem.samples if name == n.name]
            anon = [(t, a / 2**20) for t, name, _, a, _ in mem.samples if name == n.name]
            mapped = [(t, f / 2**20) for t, name, _, _, f in mem.samples if name == n.name]
            heap = gc_after(n, soak.t0)
            full = gc_after(n, soak.t0, full_only=True)
            # Judged on the anonymous part (heap, ONNX Runtime's and Lucene's native memory): the mapped part is
            # the index's files, which grow with the documents the soak adds.
            late_rss = [p for p in anon if p[0] >= 60]
            late_heap = [p for p in heap if p[0] >= 60]
            heap_floor = per_minute(heap, min)
            rss_max = per_minute(anon, max)
            info = {"rss_mb_per_minute_max": {m: round(v) for m, v in per_minute(rss, max).items()},
                    "rss_anon_mb_per_minute_max": {m: round(v) for m, v in rss_max.items()},
                    "rss_file_mb_per_minute_max": {m: round(v) for m, v in per_minute(mapped, max).items()},
                    "heap_after_gc_mb_per_minute_min": heap_floor,
                    "collections": len(heap),
                    # The live heap: after a full collection forced at 2 minutes and at the end.
                    "heap_after_full_gc_mb": [[round(t), v] for t, v in full],
                    "rss_anon_trend_mb_per_minute_from_minute_2": round(trend(late_rss), 1),
                    "rss_file_trend_mb_per_minute_from_minute_2": round(trend([p for p in mapped if p[0] >= 60]), 1),
                    "heap_floor_trend_mb_per_minute_from_minute_2": round(trend(
                        [((m - 1) * 60, v) for m, v in heap_floor.items() if m >= 2]), 1)}
            result["nodes"][n.name] = info
            log("soak: %s %s" % (n.name, json.dumps(info)))
            if judge and late_rss:
                level = sum(v for _, v in late_rss) / len(late_rss)
                if info["rss_anon_trend_mb_per_minute_from_minute_2"] > 0.02 * level:
                    problems.append("%s: anonymous resident memory grows %.1f MB a minute from minute 2 (level %.0f MB)" % (
                        n.name, info["rss_anon_trend_mb_per_minute_from_minute_2"], level))
                m2, last = rss_max.get(2), rss_max[max(rss_max)]
                if m2 and last > m2 * 1.10 + 32:
                    problems.append("%s: anonymous resident memory %.0f MB in the last minute, %.0f MB in minute 2" % (n.name, last, m2))
            if judge and len(full) >= 2 and full[-1][1] > full[0][1] * 1.10 + 32:
                problems.append("%s: live heap (after a full GC) %d MB at the end, %d MB at 2 minutes" % (n.name, full[-1][1], full[0][1]))
            elif judge and late_heap and len(full) < 2:
                floors = [v for m, v in heap_floor.items() if m >= 2]
                if floors and floors[-1] > floors[0] * 1.10 + 32:
                    problems.append("%s: heap after GC %d MB in the last minute, %d MB in minute 2" % (n.name, floors[-1], floors[0]))
        for kind, s in result["latency"].items():
            log("soak: %-15s %6d requests  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  429s retried %d" % (
                kind, s["requests"], s["p50_ms"], s["p99_ms"], s["max_ms"], s["retried_429"]))
        for kind in (() if args.fill else ("bulk",)) + Searcher.KINDS:
            if not result["latency"].get(kind, {}).get("requests"):
                problems.append("no successful %s request" % kind)
        log("soak: %d documents acknowledged, %d in the index, %d missing, %d failed requests" % (
            len(soak.acked), len(docs), len(missing), len(soak.lat.failures)))
    except Exception as e:
        problems.append("%s: %s" % (type(e).__name__, e))
        for n in cluster.nodes:
            log(n.log_tail(30))
    finally:
        cluster.stop_all()
    result["problems"] = problems
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    log("soak: %s" % ("FAILED: " + "; ".join(p[:500] for p in problems) if problems else "passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
