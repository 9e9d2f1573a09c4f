"""FAISS on the codes and queries MultiIndexBench wrote: IndexBinaryFlat (exact scan) and
IndexBinaryMultiHash (multi-index hashing with a fixed number of tables), radius and top-k, one thread.

  /usr/bin/python3 bench/faiss_mih.py bench/work/mih/random-64b-10000000 [--nhash 4] [--threads 1]

Prints p50 and p99 in ms per search over the queries (after a warm-up pass), and the mean hits, in
the same shape as MultiIndexBench. Debian's python3-faiss (bench/setup.sh installs it).
"""
import argparse
import os
import time

import faiss
import numpy as np


def timed(queries, search):
    for q in queries:
        search(q)
    ms = []
    hits = 0
    for q in queries:
        start = time.perf_counter()
        hits += search(q)
        ms.append((time.perf_counter() - start) * 1000)
    ms.sort()
    p99 = ms[min(len(ms) - 1, int(np.ceil(len(ms) * 0.99)) - 1)]
    return "p50 %8.3f ms p99 %8.3f ms hits %.1f" % (ms[len(ms) // 2], p99, hits / len(queries))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--nhash", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--radii", default="0,2,4,6,8,12")
    parser.add_argument("--ks", default="1,10,100")
    args = parser.parse_args()
    name = os.path.basename(args.dir.rstrip("/"))
    bits = int(name.split("-")[1].rstrip("b"))
    nbytes = bits // 8
    codes = np.fromfile(os.path.join(args.dir, "codes.u8"), dtype=np.uint8).reshape(-1, nbytes)
    queries = np.fromfile(os.path.join(args.dir, "queries.u8"), dtype=np.uint8).reshape(-1, nbytes)
    faiss.omp_set_num_threads(args.threads)
    print("# faiss %s %s codes=%d queries=%d threads=%d" % (faiss.__version__, name, len(codes), len(queries), args.threads))

    flat = faiss.IndexBinaryFlat(bits)
    flat.add(codes)
    b = bits // args.nhash
    start = time.perf_counter()
    multi = faiss.IndexBinaryMultiHash(bits, args.nhash, b)
    multi.add(codes)
    print("IndexBinaryMultiHash(nhash=%d, b=%d) built in %.1f s" % (args.nhash, b, time.perf_counter() - start))

    def radius(index, r):
        def search(q):
            lims, _, _ = index.range_search(q.reshape(1, -1), r + 1)  # FAISS's radius is exclusive: d < radius
            return int(lims[1])
        return search

    def knn(index, k):
        def search(q):
            distances, _ = index.search(q.reshape(1, -1), k)
            return int((distances[0] >= 0).sum())
        return search

    def exact_share(k):
        """The share of queries whose k distances from MultiHash equal the exact ones (its top-k is approximate)."""
        same = 0
        for q in queries:
            exact, _ = flat.search(q.reshape(1, -1), k)
            got, _ = multi.search(q.reshape(1, -1), k)
            same += int(np.array_equal(np.sort(exact[0]), np.sort(got[0])))
        return same / len(queries)

    for r in [int(x) for x in args.radii.split(",")]:
        print("radius %2d faiss-flat      %s" % (r, timed(queries, radius(flat, r))))
        # Exact by the pigeonhole rule only with nflip = floor(r / nhash) (the default 0 is exact for r < nhash).
        multi.nflip = r // args.nhash
        print("radius %2d faiss-multihash %s (nflip %d)" % (r, timed(queries, radius(multi, r)), multi.nflip))
    multi.nflip = 0
    for k in [int(x) for x in args.ks.split(",")]:
        print("top %3d faiss-flat      %s" % (k, timed(queries, knn(flat, k))))
        print("top %3d faiss-multihash %s (nflip 0; exact top-%d for %.0f%% of queries)" % (k, timed(queries, knn(multi, k)), k, 100 * exact_share(k)))


if __name__ == "__main__":
    main()
