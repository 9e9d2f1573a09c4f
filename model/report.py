"""Turns results.json into the model card's tables (tables.md) and plots (PR curves, MAP against bits).

  /usr/bin/python3 model/report.py --results model/results
"""
import argparse
import json
import os

import matplotlib
import numpy as np

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


PROTOCOL_NAMES = {"tasks": "plain", "twin_free": "twins left out", "other_emoji": "own emoji left out",
                  "corrected": "corrected (both)"}

# The model card's targets at 64 bits, read on the corrected protocol.
TARGETS = {"fused->fused": 0.85, "text->image": 0.70, "image->text": 0.70, "image->image": 0.65}


def tables_of(entry, protocol):
    """The task table of a run or baseline entry under a protocol ("tasks": the plain one)."""
    return entry["tasks"] if protocol == "tasks" else entry["protocols"][protocol]


def spread(values):
    """mean ± standard deviation (min to max) of one figure over seeds; signed where it can be negative."""
    v = np.array(values)
    form = "+.3f" if v.min() < 0 else ".3f"
    sd = v.std(ddof=1) if len(v) > 1 else 0.0
    return f"{v.mean():{form}} ± {sd:.3f} ({v.min():{form}} to {v.max():{form}})"


def width_table(fused, runs, baselines, protocol):
    rows = []
    for bits in sorted(fused):
        name, run = fused[bits]
        rows.append([f"deep-hash {bits}"] + [fmt(tables_of(run, protocol).get(t, {}).get("map")) for t in TASKS])
        for method, label in BASELINES:
            b = baselines.get(f"{method}-{bits}")
            if b:
                rows.append([f"{label} {bits}"] + [fmt(tables_of(b, protocol).get(t, {}).get("map")) for t in TASKS])
    for name, run in runs.items():
        if "role" not in run and run["text_encoder"] == "lstm":
            rows.append([f"deep-hash {run['bits']}, LSTM text tower"] + [fmt(tables_of(run, protocol).get(t, {}).get("map")) for t in TASKS])
        if run.get("role") in ("image-only", "text-only"):
            rows.append([f"{run['role']} deep hash {run['bits']}"] + [fmt(tables_of(run, protocol).get(t, {}).get("map")) for t in TASKS])
    return table(["codes"] + TASKS, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True)
    args = parser.parse_args()
    with open(os.path.join(args.results, "results.json")) as f:
        results = json.load(f)
    runs, baselines = results["runs"], results["baselines"]
    fused = {r["bits"]: (name, r) for name, r in runs.items() if "role" not in r and r["text_encoder"] != "lstm"}
    split = results["test"]
    which = "held-out test" if results.get("split", "test") == "test" else "validation"
    out = [f"{which.capitalize()} split: {split['emoji']} emoji, {split['pictures']} pictures; relevance = same subgroup. "
           f"{split['twins']} of its emoji have a man/woman/person twin in training; without them, "
           f"{split['twin_free']['emoji']} emoji and {split['twin_free']['pictures']} pictures.\n"]

    out.append("### MAP over all, by width (plain protocol)\n")
    out.append(width_table(fused, runs, baselines, "tasks"))
    out.append("\n### MAP over all, by width (corrected protocol: twins left out, own emoji left out of each ranking)\n")
    out.append(width_table(fused, runs, baselines, "corrected"))

    out.append("\n### MAP of every run under each protocol\n")
    rows = []
    for name, run in runs.items():
        for protocol, label in PROTOCOL_NAMES.items():
            rows.append([name, label] + [fmt(tables_of(run, protocol).get(t, {}).get("map")) for t in TASKS])
    out.append(table(["run", "protocol"] + TASKS, rows))

    out.append("\n### Epochs chosen on the validation emoji\n")
    rows = []
    for name, run in runs.items():
        sel = run.get("selection") or {}
        rows.append([name, run.get("seed", ""), sel.get("epoch", ""), len(sel.get("curve", [])),
                     fmt(sel.get("score")), ", ".join(sel.get("tasks", []))])
    out.append(table(["run", "seed", "epoch kept", "epochs trained", "validation score (mean MAP)", "tasks"], rows))

    seeds = [(name, run) for name, run in runs.items() if run.get("role") == "seed"]
    if seeds and 64 in fused:
        group = [fused[64]] + seeds
        out.append(f"\n### 64 bits: spread over {len(group)} seeds ({', '.join(str(r.get('seed')) for _, r in group)}), "
                   f"mean ± standard deviation (min to max)\n")
        rows = []
        for protocol in ("tasks", "corrected"):
            for t in TASKS:
                values = [tables_of(r, protocol)[t]["map"] for _, r in group if t in tables_of(r, protocol)]
                itq_values = [tables_of(r["itq"] if "itq" in r else baselines["itq-64"], protocol).get(t, {}).get("map")
                              for _, r in group]
                ahead = ([v - i for v, i in zip(values, itq_values)] if None not in itq_values else [])
                rows.append([PROTOCOL_NAMES[protocol], t, spread(values),
                             spread(itq_values) if ahead else "", spread(ahead) if ahead else ""])
        out.append(table(["protocol", "task", "deep-hash MAP", "ITQ over its own latents", "deep-hash minus ITQ"], rows))

    if 64 in fused:
        name, run = fused[64]
        out.append("\n### 64 bits against the targets\n")
        rows = []
        for t, target in TARGETS.items():
            plain, corrected = run["tasks"][t]["map"], run["protocols"]["corrected"][t]["map"]
            rows.append([f"{t} >= {target:.2f}", fmt(plain), fmt(corrected),
                         "met" if corrected >= target else f"missed by {target - corrected:.3f}"])
        out.append(table(["target", "plain", "corrected", "on the corrected protocol"], rows))
        rows = []
        for bits in sorted(fused):
            b = baselines.get(f"itq-{bits}")
            if b:
                for protocol in ("tasks", "corrected"):
                    ours, theirs = tables_of(fused[bits][1], protocol)["fused->fused"]["map"], tables_of(b, protocol)["fused->fused"]["map"]
                    rows.append([bits, PROTOCOL_NAMES[protocol], fmt(ours), fmt(theirs), f"{100 * (ours - theirs):+.1f} points"])
        out.append("\nFused codes against ITQ over the model's own latents:\n")
        out.append(table(["bits", "protocol", "deep-hash fused->fused", "ITQ", "difference"], rows))

    if 64 in fused:
        name, run = fused[64]
        out.append("\n### 64 bits: P@10, precision within Hamming radius 2, hierarchical search\n")
        rows = []
        for t, r in [(t, run["tasks"].get(t)) for t in TASKS] + [(t + " (corrected)", run["protocols"]["corrected"].get(t)) for t in TASKS]:
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

    with open(os.path.join(args.results, "tables.md"), "w") as f:
        f.write("\n".join(out) + "\n")
    widths = sorted(fused)
    if len(widths) < 2:  # one width: no curve to draw
        return
    fig, ax = plt.subplots(figsize=(5, 4))
    for t in ["fused->fused", "text->image", "image->text", "image->image"]:
        ax.plot(widths, [fused[b][1]["protocols"]["corrected"][t]["map"] for b in widths], marker="o", label=f"deep-hash {t}")
    for method, label in [("cca-itq", "CCA-ITQ, backbones"), ("itq", "ITQ, its latents"), ("lsh", "LSH, its latents")]:
        ws = [b for b in widths if f"{method}-{b}" in baselines]
        ax.plot(ws, [baselines[f"{method}-{b}"]["protocols"]["corrected"]["fused->fused"]["map"] for b in ws], linestyle="--", marker="x", label=f"{label} fused->fused")
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths)
    ax.set_xticklabels(widths)
    ax.set_xlabel("bits")
    ax.set_ylabel("MAP, corrected protocol (held-out emoji)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(args.results, "map-vs-bits.png"), dpi=110)


if __name__ == "__main__":
    main()
