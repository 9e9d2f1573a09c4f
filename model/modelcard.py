"""The model card of a collection's model: README.md and two plots in the model directory, written from
train_collection.py's results.json (every figure comes from that run)."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TASK_NAMES = {
    "image->image": "picture -> pictures",
    "text->image": "caption -> pictures",
    "image->text": "picture -> captions",
    "fused->fused": "picture+caption -> pictures+captions",
    "text->fused": "caption -> pictures+captions",
    "image->fused": "picture -> pictures+captions",
    "text->text": "caption -> captions",
}


def fmt(v):
    return "" if v is None else f"{v:.3f}"


def write(out_dir, model, record, command):
    summary, results = record["summary"], record["test"]
    labelled = bool(summary["labels"])
    plots = []
    epochs = record["epochs"]
    if len(epochs) > 1:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot([e["epoch"] for e in epochs], [e["val_score"] for e in epochs], marker="o", markersize=3)
        ax.axvline(record["best_epoch"], color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation mean MAP")
        ax.set_title("Model selection (validation split only)")
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "validation.png"), dpi=110)
        plt.close(fig)
        plots.append("validation.png")
    tasks = list(results["deep-hash"])
    if tasks:
        methods = [m for m in results if any(t in results[m] for t in tasks)]
        fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(tasks)) + 2.5, 3.6))
        width = 0.8 / (len(methods) + 1)
        for k, m in enumerate(methods):
            ax.bar([i + k * width for i in range(len(tasks))], [results[m].get(t, {}).get("map", 0) for t in tasks], width, label=m)
        dense = [results["deep-hash"][t].get("dense_map", 0) for t in tasks]
        ax.bar([i + len(methods) * width for i in range(len(tasks))], dense, width, label="float embedding (exact)", color="lightgrey")
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(tasks))])
        ax.set_xticklabels(tasks, rotation=20, fontsize=8)
        ax.set_ylabel("MAP (test split)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "map.png"), dpi=110)
        plt.close(fig)
        plots.append("map.png")

    relevance = ("relevant = shares at least one label with the query (items without a label are left out of the evaluation)"
                 if labelled else "relevant = the same item or another item of its group (no labels: the pairs are the truth)")
    lines = [
        f"# Model card: `{model['name']}` (version `{model['version']}`)",
        "",
        f"A {model['bits']}-bit deep-hash model trained on a user's collection with `model/train_collection.py`. "
        "Every figure below comes from the run that wrote this directory (`results.json`).",
        "",
        "## Collection",
        f"- {summary['items']} items in {summary['groups']} groups; split by group (train / validation / test): "
        f"{summary['splits']['train']} / {summary['splits']['val']} / {summary['splits']['test']} items.",
        f"- Inputs: {', '.join(summary['modalities'])}." + (f" Pictures the encoder could not decode: {summary.get('undecodable_pictures', 0)}." if 'image' in summary['modalities'] else ""),
        "- Labels: " + (f"{len(summary['labels'])} distinct, on {summary['labelled_items']} items." if labelled else "none used."),
        "",
        "## Model",
        "- Picture encoder (frozen, run by the node before the head): " + (
            f"`{model['image_encoder']['file']}`, {model['image']['size']} px, {model['image_encoder']['dimensions']} features."
            if "image_encoder" in model else "none."),
        "- Caption encoder (frozen): " + (f"{model['text_encoder']['type']} ({model['text_encoder'].get('artifact', '')})."
                                          if "text_encoder" in model else "none."),
        (f"- Head: ITQ (Gong & Lazebnik) over the standardised {summary['modalities'][0]} features as one linear layer: "
         "with one modality and no labels nothing says which items belong together, so the head keeps the encoder's "
         "own neighbourhoods, binarised. Nothing was trained; the test split was read once."
         if record.get("head") == "itq" else
         f"- Head: a projection per tower to a 256-d latent, one shared sigmoid hash layer of {model['bits']} bits "
         "(binarised at 0.5); losses: " + ("DCMH pairwise over label similarity, multi-label classification on the codes, "
                                           if labelled else "DCMH pairwise with the pair as the unit, ") +
         "a contrastive term between each item's views (its picture, two of its captions, both) in the latent space"
         + (f" and over the relaxed codes (weight {summary['chosen_variant']['code_contrastive']:g})"
            if summary.get("chosen_variant", {}).get("code_contrastive") else "")
         + f", quantization (weight {summary.get('chosen_variant', {}).get('quantization', 0):g}) and bit balance."),
        (("- Variants trained, each scored on the validation split (mean MAP over its tasks): " + "; ".join(
            f"code contrastive {v['code_contrastive']:g}, quantization {v['quantization']:g}: {v['val_score']:.4f} (epoch {v['epoch']})"
            for v in summary["variants"]) + ". Kept: the best.\n" if len(summary.get("variants", [])) > 1 else "") +
         f"- Epochs: {len(epochs)}; kept: epoch {record['best_epoch']}, chosen on the validation split's mean MAP. "
         f"The test split was read once, after training." if record.get("head") != "itq" else "")
        + f" The whole run took {record['seconds']} s.",
        "",
        "## Retrieval on the test split",
        f"Every query ranks the whole test split by Hamming distance (ties in a fixed random order); {relevance}. "
        "MAP is over the whole ranking; P@10 the share of relevant items among the first ten; P@r2 the precision of "
        "everything within Hamming radius 2 (0 for a query that finds nothing there; `empty` is the share of such queries). "
        "Caption queries use one caption of the item other than the joined caption its codes were made from, where it has one. "
        "Baselines use the same frozen encoders' features: LSH and ITQ over one modality's features, and CCA-LSH / CCA-ITQ "
        "in the common space of a CCA fitted on the training pairs. `float (exact)` is exact search over the model's "
        "own float embeddings, the ceiling of the re-rank; `re-rank` is Lin et al.'s coarse-to-fine search (the best "
        "100 by Hamming distance re-ranked by the embedding).",
        "",
        f"Of the relevant pairs of different items, {summary.get('identical_caption_share', 0):.1%} carry the identical caption: "
        "those are easy for the tasks over captions and fused codes (a picture+caption code finds another picture with "
        "the same caption), so the picture-only tasks are the harder test.",
        "",
        "| task | queries | method | MAP | P@10 | P@r2 | empty |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in tasks:
        first = True
        for m in results:
            r = results[m].get(t)
            if r is None:
                continue
            label = f"{t} ({TASK_NAMES.get(t, t)})" if first else ""
            queries = f"{r['queries']} / {r['database']}" if first else ""
            lines.append(f"| {label} | {queries} | {m} | {fmt(r['map'])} | {fmt(r['p@10'])} | {fmt(r['p@r2'])} | {fmt(r['r2_empty'])} |")
            first = False
        d = results["deep-hash"][t]
        if "dense_map" in d:
            lines.append(f"| | | float (exact) | {fmt(d['dense_map'])} | {fmt(d['dense_p@10'])} | | |")
            lines.append(f"| | | deep-hash + re-rank | {fmt(d['hierarchical_map'])} | {fmt(d['hierarchical_p@10'])} | | |")
    lines += [""] + [f"![{p}]({p})" for p in plots] + [
        "",
        "## Use it",
        f"Copy this directory to `$ES_PATH_CONF/deep-hash/models/{model['name']}/` on every node and use "
        f"`\"model\": \"{model['name']}\"` in the `deep_hash` processor and the `hamming` query (README, \"Your own collection\"). "
        "`golden.json` holds test inputs with the codes this run gave them; "
        "`mvn test -Dtest=GoldenVectorsTests -Dtests.model.dir=<this directory>` checks that the Java runtime gives the same.",
        "",
        "## Reproduce",
        "```",
        command,
        "```",
        "",
    ]
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(lines))
