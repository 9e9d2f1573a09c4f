#!/usr/bin/python3
"""Chart of scan throughput per code width from a JMH JSON result (bench/results/jmh.json)."""
import json
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

LABELS = {
    "rawLongArray": "raw long[] loop, codes back to back (the limit)",
    "rawLongArrayPlanes": "raw long[] loop, the format's word planes",
    "formatScan": "hamming block scan, FixedBits819",
    "formatTop10": "hamming top-10 query, FixedBits819",
    "mmapReadLong": "mmapped file, readLong per word",
    "binaryDocValuesScan": "hamming scan, Lucene90 doc values",
    "binaryDocValuesTop10": "hamming top-10 query, Lucene90",
}

source, target = sys.argv[1], sys.argv[2]
rows = json.load(open(source))
series = {}
for row in rows:
    name = row["benchmark"].rsplit(".", 1)[1]
    if name not in LABELS:
        continue
    bits = int(row["params"]["bits"])
    codes = int(row["params"]["codes"])
    ms = row["primaryMetric"]["score"]
    series.setdefault(name, {})[bits] = codes / (ms / 1000) / 1e9
fig, ax = plt.subplots(figsize=(8, 5))
for name, label in LABELS.items():
    if name in series:
        widths = sorted(series[name])
        ax.plot(widths, [series[name][w] for w in widths], marker="o", label=label)
ax.set_xscale("log", base=2)
ax.set_xticks([64, 128, 256, 512])
ax.set_xticklabels(["64", "128", "256", "512"])
ax.set_xlabel("code width (bits)")
ax.set_ylabel("throughput (billion codes / s, one thread)")
ax.set_title("Hamming scan over 1M codes (JMH, Temurin 25)")
ax.grid(True, alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(target, dpi=110)
print("wrote", target)
