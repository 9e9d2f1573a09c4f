#!/usr/bin/python3
"""Markdown tables for bench/RESULTS.md from bench/results/*.json (JMH and real-node runs)."""
import glob
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def jmh_table(path):
    rows = json.load(open(path))
    data = {}
    for row in rows:
        name = row["benchmark"].rsplit(".", 1)[1]
        bits = int(row["params"]["bits"])
        metric = row["primaryMetric"]
        data.setdefault(bits, {})[name] = (metric["score"], metric["scoreError"], int(row["params"]["codes"]))
    names = ["rawLongArray", "rawLongArrayPlanes", "formatScan", "formatTop10", "binaryDocValuesScan", "binaryDocValuesTop10",
             "mmapReadLong", "mmapCopyOnly", "kernelOnly", "flatBlockScan"]
    names = [n for n in names if any(n in d for d in data.values())]
    out = ["| bits | " + " | ".join(names) + " | format / faster raw | format / Lucene90 |",
           "|" + "---|" * (len(names) + 3)]
    for bits in sorted(data):
        d = data[bits]
        cells = []
        for n in names:
            if n in d:
                score, err, codes = d[n]
                cells.append(f"{score:.3f} ± {err:.3f}")
            else:
                cells.append("")
        raw = min(d[n][0] for n in ("rawLongArray", "rawLongArrayPlanes") if n in d)
        fmt, lucene = d["formatScan"][0], d["binaryDocValuesScan"][0]
        out.append(f"| {bits} | " + " | ".join(cells) + f" | {raw / fmt:.2f} | {lucene / fmt:.1f}x |")
    return "\n".join(out)


def jmh_forks_table(path):
    """Mean per benchmark and width with the range of the forks' own means; ratios of the means."""
    rows = json.load(open(path))
    data = {}
    for row in rows:
        name = row["benchmark"].rsplit(".", 1)[1]
        forks = [sum(f) / len(f) for f in row["primaryMetric"]["rawData"]]
        data.setdefault(int(row["params"]["bits"]), {})[name] = (row["primaryMetric"]["score"], min(forks), max(forks), len(forks))
    names = [n for n in ["rawLongArray", "rawLongArrayPlanes", "formatScan", "formatTop10", "binaryDocValuesScan"]
             if any(n in d for d in data.values())]
    out = ["| bits | " + " | ".join(names) + " | formatScan / faster raw | formatScan / Lucene90 |",
           "|" + "---|" * (len(names) + 3)]
    for bits in sorted(data):
        d = data[bits]
        cells = [f"{d[n][0]:.3f} ({d[n][1]:.3f}–{d[n][2]:.3f})" if n in d else "" for n in names]
        raw = min(d[n][0] for n in ("rawLongArray", "rawLongArrayPlanes") if n in d)
        fmt = d["formatScan"][0]
        out.append(f"| {bits} | " + " | ".join(cells) + f" | {raw / fmt:.2f} | {d['binaryDocValuesScan'][0] / fmt:.1f}x |")
    return "\n".join(out)


def node_tables():
    out = []
    for path in sorted(glob.glob(os.path.join(HERE, "results", "node-*.json"))):
        r = json.load(open(path))
        out.append(f"**{r['docs']:,} codes of {r['bits']} bits, {r['shards']} shard(s)** "
                   f"({r['queries']} queries, first 10 not timed; radius {r['radius']}; node on {r['node_jvm']}{', Elasticsearch ' + r['es_version'] if 'es_version' in r else ''}; "
                   f"`{os.path.relpath(path, HERE)}`)\n")
        out.append("| variant | top-10 p50 ms | top-10 p99 ms | radius p50 ms | radius p99 ms | exact top-10 | exact radius | recall@10 | docs/s indexed | index bytes/doc | field bytes/doc |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        fmt_p50 = r["variants"].get("hamming-format", {}).get("top10", {}).get("p50_ms")
        for v, e in r["variants"].items():
            t, rad = e.get("top10", {}), e.get("radius", {})
            if v == "floor":
                out.append(f"| floor: match_all, 10 hits (any search's cost) | {t['p50_ms']:.2f} | {t['p99_ms']:.2f} | – | – | – | – | – | – | – | – |")
                continue
            rate = f"{e['docs_per_second']:,.0f}" if "docs_per_second" in e else "(same index)" if ":" in v else "(reused)"
            sizes = f"{e['index_bytes_per_doc']:.1f} | {e['field_bytes_per_doc']:.1f}" if "index_bytes_per_doc" in e else "– | –"
            out.append(
                f"| {v} | {t.get('p50_ms', float('nan')):.2f} | {t.get('p99_ms', float('nan')):.2f} | "
                + (f"{rad['p50_ms']:.2f} | {rad['p99_ms']:.2f}" if rad else "– | –")
                + f" | {e['top10_exact_queries']}/{r['queries']} | "
                + (f"{e['radius_exact_queries']}/{r['queries']}" if e.get("radius_exact_queries") is not None else "–")
                + f" | {e['recall_at_10']:.3f} | {rate} | {sizes} |")
        f = r["faiss"]
        out.append(f"| FAISS IndexBinaryFlat {f['version']} (in-process, 1 thread) | {f['top10']['p50_ms']:.2f} | {f['top10']['p99_ms']:.2f} | "
                   f"{f['radius']['p50_ms']:.2f} | {f['radius']['p99_ms']:.2f} | reference | reference | 1 | – | – | – |")
        if fmt_p50:
            ratios = []
            for v in r["variants"]:
                p = r["variants"][v].get("top10", {}).get("p50_ms")
                if p and v not in ("hamming-format", "floor"):
                    ratios.append(f"{v} / hamming-format = {p / fmt_p50:.2f}")
            ratios.append(f"hamming-format / FAISS = {fmt_p50 / f['top10']['p50_ms']:.2f}")
            floor = r["variants"].get("floor", {}).get("top10", {}).get("p50_ms")
            if floor:
                ratios.append(f"(hamming-format - floor) / FAISS = {(fmt_p50 - floor) / f['top10']['p50_ms']:.2f}")
            out.append("\nTop-10 p50 ratios: " + "; ".join(ratios) + ".\n")
    return "\n".join(out)


if __name__ == "__main__":
    jmh = os.path.join(HERE, "results", "jmh.json")
    if os.path.exists(jmh):
        print("### JMH (ms per pass over 1M codes, mean ± 99.9% CI)\n")
        print(jmh_table(jmh))
        print()
    for name, machine in (("jmh-forks3.json", "AVX-512 machine"), ("jmh-forks3-avx2.json", "AVX2 machine"),
                          ("jmh-forks3-avx2-countfirst.json", "AVX2 machine, count-first kernel"),
                          ("jmh-forks3-intel.json", "Intel machine, count-first kernel")):
        forks = os.path.join(HERE, "results", name)
        if os.path.exists(forks):
            print(f"### JMH, 3 forks, {machine} (ms per pass, mean of 15 iterations; in brackets the lowest and highest fork mean)\n")
            print(jmh_forks_table(forks))
            print()
    print("### Real node\n")
    print(node_tables())
