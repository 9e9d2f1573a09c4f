"""Node failures on a real three-node cluster, mid-bulk (issue 24, part 1).

Three nodes of the distribution with the plugin (cluster.py), an index with index.deep_hash.codec and one
replica, documents with a picture and a caption bulk-indexed through a deep_hash pipeline by writer threads
that fail over to another node when theirs dies. While they write, each round kills with SIGKILL, at a random
moment: a data node (neither master nor the writers' node), the elected master, the node the writers talk
to, and a node while a force-merge runs; each comes back on its data. Then, with writes going on, the disk
fills (the flood-stage watermark raised above the free space): writes are refused with 429 and a message
that says so, nothing refused is in the index, and writes resume once the watermark comes down.

After that, checked:
- every acknowledged document is there, and every document's three codes (fused, image, text), read from
  doc values, equal what POST _deep_hash/models/default/_hash gives its picture and caption now;
- the cluster is green, and every shard copy (preference _shards:N|_only_nodes:ID, since _primary and
  _replica left Elasticsearch in 7.0) answers hamming queries by code (top-k and radius) and by text
  exactly like the other copy, and like a brute-force oracle over the expected codes;
- Lucene's CheckIndex (plugin jar and Elasticsearch's on the class path) is clean over every shard copy
  after recovery and after a force-merge to one segment;
- a byte flipped in the middle of a FixedBits819 .dvd file of one copy (node stopped) fails that copy when
  it opens, with a checksum error in the node's log; Elasticsearch rebuilds it from the good copy, and
  both copies answer like the oracle again.

    python3 fault_test.py --es-home DIR --base DIR [--rounds N] [--seed S]

Exits 0 when every check passed; prints each check and its figures.
"""

import argparse
import glob
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, HttpError, log, request  # noqa: E402

INDEX = "faults"
PIPELINE = "faults"
BITS = 64
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(REPO_ROOT, "demo", "emoji-test-sample.ndjson")


class Failures:
    def __init__(self):
        self.items = []

    def check(self, ok, what):
        if not ok:
            self.items.append(what)
            log("FAILED: " + what)
        return ok


def load_samples(limit):
    samples = []
    with open(SAMPLES) as f:
        for line in f:
            d = json.loads(line)
            caption = d["caption"] if isinstance(d["caption"], str) else ", ".join(d["caption"])
            samples.append({"image": d["image"], "caption": caption, "label": d["label"]})
            if len(samples) == limit:
                break
    return samples


def create_index(cluster, shards, compound):
    cluster.call("PUT", "/_ingest/pipeline/" + PIPELINE, {"processors": [{"deep_hash": {
        "image_field": "image", "text_field": "caption", "target_field": "hash",
        "image_target_field": "image_hash", "text_target_field": "text_hash", "remove_image": True}}]})
    cluster.call("DELETE", "/" + INDEX, expect=(200, 404))
    cluster.call("PUT", "/" + INDEX, {
        "settings": {"number_of_shards": shards, "number_of_replicas": 1, "index.deep_hash.codec": True,
                     "index.default_pipeline": PIPELINE, "index.max_result_window": 200000,
                     # A node that leaves comes back within the test: wait for it rather than copy shards around.
                     "index.unassigned.node_left.delayed_timeout": "2m",
                     # Standalone .dvd files (not inside .cfs), so that the corruption test can flip a byte in one.
                     "index.compound_format": compound},
        "mappings": {"properties": {
            "doc_id": {"type": "keyword"}, "sample": {"type": "integer"}, "label": {"type": "keyword"},
            # Multi-index tables on two fields: they go through the kills, the corruption and the recoveries too.
            "hash": {"type": "binary_hash", "bits": BITS, "index_options": {"type": "multi_index"}},
            "image_hash": {"type": "binary_hash", "bits": BITS, "index_options": {"type": "multi_index"}},
            "text_hash": {"type": "binary_hash", "bits": BITS}}}})
    cluster.wait_for_green(INDEX)


class Writers:
    """Threads bulk-indexing new documents through the pipeline, failing over when their node dies.

    A document counts as acknowledged once an item of a bulk response says 200 or 201. An item refused with
    429 or 503 (flood stage, a primary being promoted) is retried in a later bulk; a bulk whose answer was
    lost (the node died) is sent again whole to another node: the same _id, so at most overwritten with
    the same document.
    """

    def __init__(self, cluster, samples, threads, bulk_size, seed):
        self.cluster = cluster
        self.samples = samples
        self.threads = threads
        self.bulk_size = bulk_size
        self.rand = random.Random(seed)
        self.lock = threading.Lock()
        self.acked = {}          # doc id -> sample index
        self.sent = {}           # every id ever sent -> sample index
        self.refused = {}        # status -> count of refused items
        self.refused_ids = []    # (time, id) of items refused by a block
        self.reasons = {}
        self.failovers = 0
        self.lost_answers = 0
        self.unexpected = []
        self.next_id = 0
        self.client = cluster.nodes[0]
        self.stopping = threading.Event()
        self.workers = []

    def start(self):
        self.stopping.clear()
        self.workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)]
        for w in self.workers:
            w.start()

    def stop(self):
        self.stopping.set()
        for w in self.workers:
            w.join(300)

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def _new_docs(self, n):
        with self.lock:
            ids = []
            for _ in range(n):
                doc_id = "d%06d" % self.next_id
                self.next_id += 1
                sample = self.rand.randrange(len(self.samples))
                self.sent[doc_id] = sample
                ids.append(doc_id)
            return ids

    def _body(self, ids):
        lines = []
        for doc_id in ids:
            s = self.sent[doc_id]
            sample = self.samples[s]
            lines.append(json.dumps({"index": {"_index": INDEX, "_id": doc_id}}))
            lines.append(json.dumps({"doc_id": doc_id, "sample": s, "label": sample["label"],
                                     "caption": sample["caption"], "image": sample["image"]}))
        return "\n".join(lines) + "\n"

    def _client_url(self):
        with self.lock:
            if not self.client.alive():
                live = self.cluster.live()
                if not live:
                    return None
                self.client = live[0]
                self.failovers += 1
            return self.client.url

    def _run(self, worker):
        pending = []
        while not self.stopping.is_set() or pending:
            ids = pending + self._new_docs(max(0, self.bulk_size - len(pending))) if not self.stopping.is_set() else pending
            pending = []
            url = self._client_url()
            if url is None:
                time.sleep(0.5)
                pending = ids
                continue
            try:
                r = request(url, "POST", "/_bulk", self._body(ids), timeout=120, ndjson=True)
            except HttpError:
                with self.lock:
                    self.lost_answers += 1
                pending = ids
                time.sleep(0.2)
                continue
            if r.status != 200:
                with self.lock:
                    self.refused[r.status] = self.refused.get(r.status, 0) + len(ids)
                    self.reasons.setdefault(r.status, r.body[:300].decode("utf-8", "replace"))
                pending = ids
                time.sleep(0.5)
                continue
            now = time.time()
            for doc_id, item in zip(ids, r.json()["items"]):
                result = item["index"]
                status = result["status"]
                with self.lock:
                    if status in (200, 201):
                        self.acked[doc_id] = self.sent[doc_id]
                    elif status in (429, 503):
                        self.refused[status] = self.refused.get(status, 0) + 1
                        reason = json.dumps(result.get("error", {}))[:400]
                        self.reasons.setdefault(status, reason)
                        if "flood-stage" in reason:
                            self.refused_ids.append((now, doc_id))
                        pending.append(doc_id)
                    else:
                        self.unexpected.append((doc_id, status, result.get("error")))
            if pending:
                time.sleep(0.5)


def wait_until(pred, timeout, what, step=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))


def kill_and_return(cluster, writers, node, what, rand, before=(1.0, 4.0)):
    """Lets the writers run a random while, kills node with SIGKILL, lets them run on, starts it again."""
    time.sleep(rand.uniform(*before))
    acked = writers.acked_count()
    log("%s: SIGKILL %s (acknowledged so far: %d)" % (what, node.name, acked))
    node.kill()
    time.sleep(rand.uniform(2.0, 5.0))
    node.start()
    cluster.wait_for_nodes(len(cluster.nodes))
    health = cluster.wait_for_green(INDEX, timeout=300)
    log("%s: %s back, green (%d nodes); acknowledged now %d" % (what, node.name, health["number_of_nodes"], writers.acked_count()))


def round_of_kills(cluster, writers, rand, rnd):
    master = cluster.master()
    client = writers.client
    others = [n for n in cluster.nodes if n is not master and n is not client]
    if others:
        kill_and_return(cluster, writers, rand.choice(others), "round %d, a data node" % rnd, rand)
    kill_and_return(cluster, writers, cluster.master(), "round %d, the elected master" % rnd, rand)
    kill_and_return(cluster, writers, writers.client, "round %d, the writers' node" % rnd, rand)
    # Mid force-merge: start one without waiting, then kill a node that holds copies while it runs.
    time.sleep(rand.uniform(0.5, 2.0))
    task = cluster.call("POST", "/%s/_forcemerge?max_num_segments=1&wait_for_completion=false" % INDEX).json()["task"]
    time.sleep(rand.uniform(0.1, 0.8))
    running = cluster.call("GET", "/_tasks?actions=*forcemerge*&detailed").json()
    busy = [n for n in running.get("nodes", {})]
    victims = [cluster.node_by_id(i) for i in busy if any(n.node_id == i for n in cluster.nodes)] or cluster.nodes
    victim = rand.choice(victims)
    log("round %d: force-merge task %s running on %d node(s) when %s is killed" % (rnd, task, len(busy), victim.name))
    kill_and_return(cluster, writers, victim, "round %d, a node mid force-merge" % rnd, rand, before=(0.0, 0.0))


def disk_full(cluster, writers, failures):
    """Flood stage: the watermarks raised above the disk's free space, then lowered again."""
    before_refused = writers.refused.get(429, 0)
    cluster.call("PUT", "/_cluster/settings", {"persistent": {
        "cluster.routing.allocation.disk.watermark.low": "300tb",
        "cluster.routing.allocation.disk.watermark.high": "200tb",
        "cluster.routing.allocation.disk.watermark.flood_stage": "100tb"}})
    t0 = time.time()
    wait_until(lambda: writers.refused.get(429, 0) > before_refused + 20, 90, "writes refused at flood stage")
    log("disk full: writes refused %.1f s after the flood stage was raised; reason: %s" % (
        time.time() - t0, writers.reasons.get(429)))
    failures.check("flood-stage" in (writers.reasons.get(429) or ""), "the refusal names the flood-stage watermark: %s" % writers.reasons.get(429))
    # Nothing refused is in the index (the block is still on: the writers keep being refused).
    time.sleep(2)
    with writers.lock:
        refused = [doc_id for _, doc_id in writers.refused_ids if doc_id not in writers.acked]
    cluster.call("POST", "/%s/_refresh" % INDEX)
    sample = refused[:200]
    found = cluster.call("POST", "/%s/_search" % INDEX, {"size": 0, "query": {"ids": {"values": sample}}}).json()["hits"]["total"]["value"]
    failures.check(len(sample) > 0 and found == 0, "none of %d refused documents is in the index (found %d)" % (len(sample), found))
    acked_during = writers.acked_count()
    cluster.call("PUT", "/_cluster/settings", {"persistent": {
        "cluster.routing.allocation.disk.watermark.low": None,
        "cluster.routing.allocation.disk.watermark.high": None,
        "cluster.routing.allocation.disk.watermark.flood_stage": None}})
    t1 = time.time()
    wait_until(lambda: writers.acked_count() > acked_during + 50, 120, "writes to resume after the flood stage")
    log("disk full: writes resumed %.1f s after the watermarks came down (%d refused items in all)" % (
        time.time() - t1, writers.refused.get(429, 0) - before_refused))


def expected_codes(cluster, samples, used):
    codes = {}
    for s in sorted(used):
        sample = samples[s]
        r = cluster.call("POST", "/_deep_hash/models/default/_hash", {"image": sample["image"], "text": sample["caption"]}).json()
        codes[s] = {"hash": r["code"], "image_hash": r["codes"]["image"], "text_hash": r["codes"]["text"]}
    return codes


def all_docs(cluster, index=INDEX):
    """Every document's codes read from doc values: {id: {sample, hash, image_hash, text_hash}}."""
    docs = {}
    after = None
    while True:
        body = {"size": 5000, "sort": [{"doc_id": "asc"}], "_source": False,
                "docvalue_fields": ["doc_id", "sample", "hash", "image_hash", "text_hash"]}
        if after:
            body["search_after"] = after
        hits = cluster.call("POST", "/%s/_search" % index, body).json()["hits"]["hits"]
        if not hits:
            return docs
        for h in hits:
            f = h["fields"]
            docs[h["_id"]] = {k: f[k][0] for k in ("sample", "hash", "image_hash", "text_hash") if k in f}
        after = hits[-1]["sort"]


def hamming(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def check_documents(cluster, writers, codes, failures):
    cluster.call("POST", "/%s/_refresh" % INDEX)
    docs = all_docs(cluster)
    missing = [i for i in writers.acked if i not in docs]
    failures.check(not missing, "every acknowledged document is there: %d acknowledged, %d missing %s" % (
        len(writers.acked), len(missing), missing[:5]))
    strangers = [i for i in docs if i not in writers.sent]
    failures.check(not strangers, "no document that was never sent: %s" % strangers[:5])
    wrong = []
    for doc_id, d in docs.items():
        want = codes.get(d.get("sample"))
        for field in ("hash", "image_hash", "text_hash"):
            if want is None or d.get(field) != want[field]:
                wrong.append((doc_id, field, d.get(field), want and want[field]))
    failures.check(not wrong, "every document's codes equal _hash's for its inputs (%d documents, %d wrong: %s)" % (
        len(docs), len(wrong), wrong[:3]))
    log("documents: %d acknowledged, %d in the index (%d sent; the rest had their answer lost or were refused)" % (
        len(writers.acked), len(docs), len(writers.sent)))
    return docs


def copy_answers(cluster, docs, codes, rand, failures, label):
    """Every copy of every shard answers each query exactly, and the copies of a shard agree."""
    copies = cluster.shard_copies(INDEX)
    shards = sorted({s for s, _, _ in copies})
    text = "hot drink"
    text_code = cluster.call("POST", "/_deep_hash/models/default/_hash", {"text": text}).json()["code"]
    some = rand.choice(list(docs.values()))
    queries = [
        ("code top-k", {"hamming": {"field": "hash", "code": some["hash"], "strategy": "index"}}, "hash", some["hash"], None),
        ("code radius 12", {"hamming": {"field": "image_hash", "code": some["image_hash"], "max_distance": 12, "strategy": "index"}},
         "image_hash", some["image_hash"], 12),
        ("random code radius 24", None, "hash", "%016x" % rand.getrandbits(64), 24),
        ("text top-k", {"hamming": {"field": "image_hash", "text": text}}, "image_hash", text_code, None),
    ]
    checked = 0
    for name, query, field, qcode, radius in queries:
        if query is None:
            query = {"hamming": {"field": field, "code": qcode, "max_distance": radius}}
        oracle = {}
        for doc_id, d in docs.items():
            dist = hamming(d[field], qcode)
            if radius is None or dist <= radius:
                oracle[doc_id] = 1.0 - dist / BITS
        union = {}
        for shard in shards:
            per_copy = []
            for s, primary, node in copies:
                if s != shard:
                    continue
                pref = "_shards:%d|_only_nodes:%s" % (shard, node.node_id)
                r = cluster.call("POST", "/%s/_search?preference=%s" % (INDEX, pref),
                                 {"size": 200000, "_source": False, "track_total_hits": True, "query": query}).json()
                hits = {h["_id"]: h["_score"] for h in r["hits"]["hits"]}
                per_copy.append((node.name, primary, hits))
                checked += 1
            first = per_copy[0][2]
            for node_name, primary, hits in per_copy[1:]:
                failures.check(hits == first, "%s, %s: shard %d's copies on %s and %s agree (%d vs %d hits)" % (
                    label, name, shard, per_copy[0][0], node_name, len(first), len(hits)))
            union.update(first)
        bad = [(i, union.get(i), s) for i, s in oracle.items() if abs(union.get(i, -1) - s) > 1e-6]
        extra = [i for i in union if i not in oracle]
        failures.check(not bad and not extra, "%s, %s: the shards' answers equal the brute-force oracle (%d matches; %d wrong, %d extra: %s)" % (
            label, name, len(oracle), len(bad), len(extra), bad[:3]))
    log("%s: %d queries, each on every copy of %d shards (%d searches), checked against the oracle" % (label, len(queries), len(shards), checked))


def check_index_all_copies(cluster, failures, label):
    """Closes the index, runs Lucene's CheckIndex over every shard copy, opens the index again.

    A closed index's copies keep their Lucene write lock (the node holds it), so CheckIndex, which takes it,
    runs over a byte-for-byte copy of each copy's files taken while the index is closed.
    """
    uuid = cluster.index_uuid(INDEX)
    cluster.call("POST", "/%s/_flush" % INDEX)
    cluster.call("POST", "/%s/_close?wait_for_active_shards=all" % INDEX)
    es_home = cluster.es_home
    cp = "%s/lib/*:%s/plugins/deep-hash/*" % (es_home, es_home)
    java = os.path.join(cluster.java_home, "bin", "java")
    copies = sorted(glob.glob(os.path.join(cluster.base, "n*", "data", "indices", uuid, "*", "index")))
    clean = 0
    scratch = os.path.join(cluster.base, "checkindex")
    for d in copies:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(d, scratch, ignore=shutil.ignore_patterns("write.lock"))
        p = subprocess.run([java, "-cp", cp, "org.apache.lucene.index.CheckIndex", scratch, "-threadCount", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.stdout.decode("utf-8", "replace")
        ok = p.returncode == 0 and "No problems were detected with this index" in out
        if ok:
            clean += 1
        segs = [line.strip() for line in out.splitlines() if "codec=" in line]
        failures.check(ok, "%s: CheckIndex clean on %s (status %d)%s" % (label, d, p.returncode, "" if ok else "\n" + out[-3000:]))
        if ok:
            log("%s: CheckIndex clean on %s (%d segments, codecs %s)" % (label, os.path.relpath(d, cluster.base), len(segs),
                sorted({s.split("codec=")[1].split()[0] for s in segs})))
    failures.check(len(copies) == 2 * len({os.path.basename(os.path.dirname(c)) for c in copies}),
                   "%s: two copies of every shard on disk (%d copies)" % (label, len(copies)))
    shutil.rmtree(scratch, ignore_errors=True)
    cluster.call("POST", "/%s/_open?wait_for_active_shards=all" % INDEX)
    cluster.wait_for_green(INDEX)
    return clean


def corrupt_one_copy(cluster, docs, codes, rand, failures):
    """A byte flipped in the middle of a FixedBits819 .dvd file of a replica, node stopped; then started."""
    uuid = cluster.index_uuid(INDEX)
    cluster.call("POST", "/%s/_flush" % INDEX)
    copies = [(s, p, n) for s, p, n in cluster.shard_copies(INDEX) if not p]
    shard, _, node = rand.choice(copies)
    shard_dir = os.path.join(node.data, "indices", uuid, str(shard), "index")
    node.stop()
    files = sorted(f for f in glob.glob(os.path.join(shard_dir, "*FixedBits819*.dvd")) if os.path.getsize(f) > 200)
    failures.check(bool(files), "the stopped copy has a FixedBits819 .dvd file to corrupt (in %s)" % shard_dir)
    if not files:
        node.start()
        cluster.wait_for_green(INDEX)
        return
    target = max(files, key=os.path.getsize)
    size = os.path.getsize(target)
    pos = 100 + rand.randrange(size - 200)   # inside the codes: past the header, before the footer
    with open(target, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0x10]))
    log("corruption: flipped one bit of byte %d of %s (%d bytes), shard %d's replica on %s" % (
        pos, os.path.basename(target), size, shard, node.name))
    log_size = os.path.getsize(node.log_file()) if os.path.exists(node.log_file()) else 0
    node.start()
    cluster.wait_for_nodes(len(cluster.nodes))
    cluster.wait_for_green(INDEX, timeout=300)
    with open(node.log_file(), errors="replace") as f:
        f.seek(log_size)
        new_log = f.read()
    detected = "checksum failed" in new_log and "CorruptIndexException" in new_log
    failures.check(detected, "the flipped byte is reported as a checksum failure (CorruptIndexException) in %s's log" % node.name)
    if detected:
        line = next(l for l in new_log.splitlines() if "checksum failed" in l)
        log("corruption: %s logged: %s" % (node.name, line.strip()[:300]))
    still = os.path.exists(target) and os.path.getsize(target) == size
    if still:
        with open(target, "rb") as f:
            f.seek(pos)
            still = f.read(1)[0] == b[0] ^ 0x10
    failures.check(not still, "the corrupted file is gone from the rebuilt copy")
    copy_answers(cluster, docs, codes, rand, failures, "after the corrupted copy was rebuilt")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--es-home", required=True, help="ES_HOME with the plugin installed (es-node.sh setup)")
    ap.add_argument("--base", required=True, help="where the nodes live (wiped)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of the four kills (default 1)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--shards", type=int, default=3)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--bulk-size", type=int, default=20)
    ap.add_argument("--samples", type=int, default=120, help="distinct pictures used (each re-hashed once for the check)")
    ap.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    log("seed %d (rerun with --seed %d)" % (seed, seed))
    rand = random.Random(seed)
    failures = Failures()
    cluster = Cluster(args.es_home, args.base)
    t0 = time.time()
    try:
        cluster.setup()
        create_index(cluster, args.shards, compound=False)
        samples = load_samples(args.samples)
        writers = Writers(cluster, samples, args.writers, args.bulk_size, seed)
        writers.start()
        wait_until(lambda: writers.acked_count() >= 40, 180, "the first documents")
        for rnd in range(1, args.rounds + 1):
            round_of_kills(cluster, writers, rand, rnd)
        disk_full(cluster, writers, failures)
        time.sleep(2)
        writers.stop()
        failures.check(not writers.unexpected, "no bulk item failed other than 429/503: %s" % writers.unexpected[:3])
        log("writers: %d sent, %d acknowledged, refused items %s, %d answers lost to a dying node, %d failovers; first reasons: %s" % (
            len(writers.sent), len(writers.acked), writers.refused, writers.lost_answers, writers.failovers,
            json.dumps(writers.reasons)[:800]))
        cluster.wait_for_green(INDEX)
        codes = expected_codes(cluster, samples, set(writers.sent.values()))
        docs = check_documents(cluster, writers, codes, failures)
        copy_answers(cluster, docs, codes, rand, failures, "after recovery")
        check_index_all_copies(cluster, failures, "after recovery")
        cluster.call("POST", "/%s/_forcemerge?max_num_segments=1" % INDEX, timeout=600)
        cluster.wait_for_green(INDEX)
        copy_answers(cluster, docs, codes, rand, failures, "after a force-merge")
        check_index_all_copies(cluster, failures, "after a force-merge")
        corrupt_one_copy(cluster, docs, codes, rand, failures)
        check_documents(cluster, writers, codes, failures)
    except Exception as e:
        failures.check(False, "%s: %s" % (type(e).__name__, e))
        for n in cluster.nodes:
            log(n.log_tail(30))
    finally:
        if not args.keep:
            cluster.stop_all()
    log("%s in %.0f s (seed %d)" % ("FAILED: %d checks" % len(failures.items) if failures.items else "all checks passed",
                                     time.time() - t0, seed))
    for f in failures.items:
        log("  - " + f[:1500])
    return 1 if failures.items else 0


if __name__ == "__main__":
    sys.exit(main())
