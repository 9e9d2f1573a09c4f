"""Turns results.json into the model card's tables (tables.md) and plots (PR curves, MAP against bits).

  /usr/bin/python3 model/report.py --results model/results
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TASKS = ["fused->fused", "image->image", "text->image", "image->text", "text->fused", "image->fused", "text->text"]


# Baselines of the width table: (results.json key prefix, row label).
BASELINES = [("cca-itq", "ITQ over the backbones' features (CCA)"), ("cca-lsh", "LSH over the backbones' features (CCA)"),
             ("itq", "ITQ over its own latents"), ("lsh", "LSH over its own latents"), ("random", "random")]


def fmt(v):
    return "" if v is None else f"{v:.3f}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True)
    args = parser.parse_args()
    with open(os.path.join(args.results, "results.json")) as f:
        results = json.load(f)
    runs, baselines = results["runs"], results["baselines"]
    fused = {r["bits"]: (name, r) for name, r in runs.items() if "role" not in r and r["text_encoder"] == "minilm"}
    out = [f"Held-out test split: {results['test']['emoji']} emoji, {results['test']['pictures']} pictures; relevance = same subgroup.\n"]

    out.append("### MAP over all, by width\n")
    rows = []
    for bits in sorted(fused):
        name, run = fused[bits]
        rows.append([f"deep-hash {bits}"] + [fmt(run["tasks"].get(t, {}).get("map")) for t in TASKS])
        for method, label in BASELINES:
            b = baselines.get(f"{method}-{bits}")
            if b:
                rows.append([f"{label} {bits}"] + [fmt(b.get(t, {}).get("map")) for t in TASKS])
    for name, run in runs.items():
        if "role" not in run and run["text_encoder"] == "lstm":
            rows.append([f"deep-hash {run['bits']}, LSTM text tower"] + [fmt(run["tasks"].get(t, {}).get("map")) for t in TASKS])
        if "role" in run:
            rows.append([f"{run['role']} deep hash {run['bits']}"] + [fmt(run["tasks"].get(t, {}).get("map")) for t in TASKS])
    out.append(table(["codes"] + TASKS, rows))

    if 64 in fused:
        name, run = fused[64]
        out.append("\n### 64 bits: P@10, precision within Hamming radius 2, hierarchical search\n")
        rows = []
        for t in TASKS:
            r = run["tasks"].get(t)
            if r:
                rows.append([t, fmt(r["map"]), fmt(r["p@10"]), fmt(r["p@r2"]), f"{100 * r['r2_empty']:.0f}%",
                             fmt(r.get("hierarchical_map")), fmt(r.get("hierarchical_p@10")),
                             fmt(r.get("dense_map")), fmt(r.get("dense_p@10"))])
        out.append(table(["task", "MAP", "P@10", "P@r<=2", "queries with nothing within r<=2",
                          "hierarchical MAP", "hierarchical P@10", "dense MAP", "dense P@10"], rows))
        if "multilingual_text->image" in run:
            out.append("\n### 64 bits: text->image MAP by caption language (trained mostly on English)\n")
            ml = run["multilingual_text->image"]
            out.append(table(["en"] + list(ml), [[fmt(run["tasks"]["text->image"]["map"])] + [fmt(v) for v in ml.values()]]))

        fig, ax = plt.subplots(figsize=(5, 4))
        for t, curve in run["pr"].items():
            ax.plot(curve["recall"], curve["precision"], marker=".", label=t)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title("64 bits, all codes within radius r = 0..64")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(args.results, "pr-64.png"), dpi=110)

    fig, ax = plt.subplots(figsize=(5, 4))
    widths = sorted(fused)
    for t in ["fused->fused", "text->image", "image->text", "image->image"]:
        ax.plot(widths, [fused[b][1]["tasks"][t]["map"] for b in widths], marker="o", label=f"deep-hash {t}")
    for method, label in [("cca-itq", "CCA-ITQ, backbones"), ("itq", "ITQ, its latents"), ("lsh", "LSH, its latents")]:
        ws = [b for b in widths if f"{method}-{b}" in baselines]
        ax.plot(ws, [baselines[f"{method}-{b}"]["fused->fused"]["map"] for b in ws], linestyle="--", marker="x", label=f"{label} fused->fused")
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths)
    ax.set_xticklabels(widths)
    ax.set_xlabel("bits")
    ax.set_ylabel("MAP (held-out emoji)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(args.results, "map-vs-bits.png"), dpi=110)

    with open(os.path.join(args.results, "tables.md"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
