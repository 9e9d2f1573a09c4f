"""Evaluates trained runs on the held-out emoji (test split) and writes model/results/.

The test split is read here only, once per shipped model: epochs, variants and the shipped run are
chosen on the validation emoji (`train.py` each epoch, `--split val` here).

Relevance: same subgroup. Every query ranks the whole database by Hamming distance (ties broken by a
fixed random order, so ties neither help nor hurt); MAP is over the whole ranking ("MAP over all").
Queries never retrieve themselves. Every figure under four protocols: plain ("tasks"); the test
emoji with a man/woman/person twin in training left out ("twin_free", emojiset.twins); the query's
own emoji (its other styles, its caption) left out of its ranking ("other_emoji"); and both
("corrected", the one the targets are read on). Tasks:
  image->image  a picture against the other pictures
  text->image   an emoji's caption (name and keywords) against the pictures
  image->text   a picture against the captions
  fused->fused  picture + caption against the other pictures with their captions
  text->fused, image->fused   single-modality queries against fused codes
Baselines on the same split: random codes; LSH and ITQ over the frozen backbones' features
(MobileNetV2's pooled layers for pictures, MiniLM for captions) in the common space of a CCA fitted on
the training pictures and their captions (Gong & Lazebnik's CCA-ITQ, the classic cross-modal
baseline); LSH and ITQ over each deep-hash model's own 256-d latent features, a harder test of its
hash layer; image-only and text-only deep hashing. Lin et al.'s hierarchical search: the
best 100 by Hamming distance re-ranked by Euclidean distance of the embeddings.

  /usr/bin/python3 model/evaluate.py --runs fused-16,fused-32,fused-64,fused-128 --image-only image-64 ...
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

import inputs
from baselines import cca, itq, lsh
from emojiset import Captions, Split, load_data, twins
from metrics import BASELINE_TASKS, TASKS, code_bits, pr_curve, task, task_table
from runs import cached_features, cached_pictures, encode, load_run, pretrained_cache

HERE = os.path.dirname(os.path.abspath(__file__))


@torch.no_grad()
def backbone_features(options, images, records, test, train, data_dir, batch=256):
    """The frozen backbones' features: {"train": (pictures, their English captions), "test": (pictures,
    their captions, the emoji's captions)}. Pictures through the run's backbone as nsfwjs ships it (the
    backbone, layers and size of a run's `pretrained_image` options, nothing trained; training pictures from train.py's
    cache), captions through MiniLM;
    each picture feature standardised with the training pictures' statistics."""
    from backbones import BackboneFeatures

    backbone = BackboneFeatures(layer=options["layer"], size=options["size"],
                                backbone=options.get("backbone", "mobilenet_v2")).eval()
    cached = pretrained_cache(backbone, images, cached_pictures(train.table, records), os.path.join(data_dir, "cache"))
    train_pictures = cached[train.pictures, 0].numpy()
    x = inputs.preprocess_images(test.images)
    test_pictures = torch.cat([backbone(x[s:s + batch]) for s in range(0, len(x), batch)]).numpy()
    mean, std = train_pictures.mean(0), train_pictures.std(0) + 1e-6
    full = train.captions.rows()
    captions = train.captions.inputs.numpy()
    return {"train": ((train_pictures - mean) / std, captions[[full[e] for e in train.picture_emoji]]),
            "test": ((test_pictures - mean) / std, captions[[full[e] for e in test.picture_emoji]], test.text_inputs()[1].numpy())}


def backbone_baselines(features, test, bits):
    """{"cca-itq-k": tasks, "cca-lsh-k": tasks}: pictures and captions projected into the CCA space of
    the training pairs, a picture with its caption as the mean of the two projections, then ITQ or LSH
    fitted on the training pictures' and captions' projections together."""
    train_pictures, train_captions = features["train"]
    pictures, picture_captions, captions = features["test"]
    project_picture, project_caption = cca(train_pictures, train_captions, bits)
    fitted_on = np.concatenate([project_picture(train_pictures), project_caption(train_captions)])
    test_x = {"image": project_picture(pictures), "text": project_caption(captions),
              "fused": (project_picture(pictures) + project_caption(picture_captions)) / 2}
    out = {}
    for method, fit in [("lsh", lsh), ("itq", itq)]:
        hasher = fit(fitted_on, bits)
        out[f"cca-{method}-{bits}"] = protocol_tables({m: hasher(x) for m, x in test_x.items()}, test, BASELINE_TASKS)
    return out


class Protocol:
    """One way of measuring: which emoji stay in the evaluated split (`twin_free` leaves out those with a
    man/woman/person twin in training, emojiset.twins) and whether items of a query's own emoji (its
    other styles, its caption) are left out of its ranking (`other_emoji`)."""

    def __init__(self, split, twin_free, other_emoji):
        self.other_emoji = other_emoji
        out = twins(split.table, split.name) if twin_free else set()
        self.split = Split(split.images_of, split.records, split.table, split.name, split.captions, leave_out=out)
        self.keep = {kind: ~np.isin(split.groups(kind), list(out)) for kind in ("image", "text", "fused")}

    def table(self, bits, tasks, emb=None):
        """task_table over this protocol's items (bits and emb: the whole split's)."""
        bits = {k: v[self.keep[k]] for k, v in bits.items()}
        emb = {k: v[self.keep[k]] for k, v in emb.items()} if emb else None
        return task_table(bits, self.split, tasks, emb, other_groups=self.other_emoji)


# Beside the plain protocol ("tasks"): the twins left out, the query's own emoji left out, and both
# (the corrected protocol, which the model card's targets are read on).
PROTOCOLS = [("twin_free", True, False), ("other_emoji", False, True), ("corrected", True, True)]


def protocol_tables(bits, split, tasks, emb=None):
    """{"tasks": the plain protocol's task_table, "protocols": {name: task_table}} of one set of codes."""
    return {"tasks": task_table(bits, split, tasks, emb),
            "protocols": {name: Protocol(split, t, o).table(bits, tasks, emb) for name, t, o in PROTOCOLS}}


def report(name, tables):
    """One line of progress: the MAP of every task of a run or baseline, plain and corrected."""
    corrected = tables["protocols"]["corrected"]
    print(f"evaluate {name}: " + ", ".join(f"{t} {v['map']:.3f} ({corrected[t]['map']:.3f} corrected)"
                                           for t, v in tables["tasks"].items()), file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="fused-16,fused-32,fused-64,fused-128")
    parser.add_argument("--seed-runs", default="",
                        help="more runs of one configuration with other seeds: measured like --runs, with their ITQ "
                             "over their own latents, and reported as the spread of that configuration")
    parser.add_argument("--image-only", default="image-64")
    parser.add_argument("--text-only", default="text-64")
    parser.add_argument("--split", choices=["test", "val"], default="test",
                        help="test: the held-out emoji, read once per shipped model; val: the validation emoji, "
                             "which choose epochs, variants and the shipped model")
    parser.add_argument("--no-baselines", action="store_true",
                        help="the runs alone: no LSH or ITQ over their latents, no CCA over the backbone's features "
                             "(a quick comparison of variants on the validation split)")
    parser.add_argument("--trunk", default="",
                        help="an export whose picture trunk (model.json's image_encoder, such as an int8 one: "
                             "quantize_trunk.py) computes the runs' picture features, run by ONNX Runtime in Java as "
                             "a node runs it, instead of PyTorch's float backbone (runs with a shared trunk only; a run "
                             "trained with --int8-trunk is always measured over its int8 trunk)")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--data", default=os.path.join(HERE, "work/data"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    os.makedirs(args.out, exist_ok=True)

    images, records, table, _ = load_data(args.data)
    results = {"split": args.split, "runs": {}, "baselines": {}, **({"trunk": args.trunk} if args.trunk else {})}
    features = None

    def splits(config, vocab):
        captions = Captions(args.data, table, config["text_encoder"], vocab)
        return Split(images, records, table, args.split, captions), Split(images, records, table, "train", captions)

    def latent_baselines(model, train, test_x, k):
        """LSH and ITQ over the run's own latent features (fitted on the training split) and random codes."""
        train_x = np.concatenate([e for _, e in encode(model, train, 256, *cached_features(model, train, args.data)).values()])
        out = {}
        for method, fit in [("lsh", lsh), ("itq", itq)]:
            if k <= train_x.shape[1]:
                hasher = fit(train_x, k)
                out[f"{method}-{k}"] = protocol_tables({m: hasher(x) for m, x in test_x.items()}, test, BASELINE_TASKS)
        rng = np.random.default_rng(k)
        out[f"random-{k}"] = protocol_tables({m: rng.random((len(x), k)) < 0.5 for m, x in test_x.items()}, test, BASELINE_TASKS)
        return out

    seed_runs = [r for r in args.seed_runs.split(",") if r]
    for name in [r for r in args.runs.split(",") if r] + seed_runs:
        model, vocab, config = load_run(name)
        test, train = splits(config, vocab)
        twin_free = Protocol(test, True, False).split
        results["test"] = {"split": args.split, "emoji": len(test.emoji), "pictures": len(test.pictures),
                           "twins": len(twins(table, args.split)),
                           "twin_free": {"emoji": len(twin_free.emoji), "pictures": len(twin_free.pictures)}}
        if args.trunk or model.int8_trunk:
            from quantize_trunk import int8_trunk_rows, trunk_cached, trunk_rows
            rows = trunk_rows(args.trunk, test.images) if args.trunk else int8_trunk_rows(model, test.images, args.data)
            codes = encode(model, test, 256, *trunk_cached(model, rows))
        else:
            codes = encode(model, test)
        bits = code_bits(codes)
        test_x = {k: e for k, (_, e) in codes.items()}
        run = {"bits": config["bits"], "text_encoder": config["text_encoder"], "train_seconds": config["seconds"],
               "seed": config["args"]["seed"], "selection": config.get("selection"),
               **protocol_tables(bits, test, TASKS, test_x)}
        if name in seed_runs:
            run["role"] = "seed"
        if config["bits"] == 64 and name not in seed_runs:
            run["pr"] = {f"{q}->{d}": pr_curve(bits[q], bits[d], test.labels(q), test.labels(d), exclude_self=q == d)
                         for q, d in [("fused", "fused"), ("image", "image"), ("text", "image")]}
            run["multilingual_text->image"] = {}
            for language in ["de", "fr", "es", "ja", "zh"]:
                keep, text = test.text_inputs(language)
                p, _ = model.encode_text(text)
                labels = np.array([table[e]["subgroup"] for e in keep])
                run["multilingual_text->image"][language] = task(p.detach().numpy() >= 0.5, bits["image"], labels, test.picture_labels)["map"]
        results["runs"][name] = run
        report(name, run)

        if config["text_encoder"] == "lstm" or args.no_baselines:
            continue
        k = config["bits"]
        latent = latent_baselines(model, train, test_x, k)
        if name in seed_runs:
            run["itq"] = latent[f"itq-{k}"]
            continue
        results["baselines"].update(latent)
        # Baselines over the frozen backbones' features, which no run changes: once per width.
        options = config.get("pretrained_image")
        if isinstance(options, dict) and not options.get("cnn", True) and f"cca-itq-{k}" not in results["baselines"]:
            if features is None:
                features = backbone_features(options, images, records, test, train, args.data)
            results["baselines"].update(backbone_baselines(features, test, k))
            report(f"cca-itq-{k}", results["baselines"][f"cca-itq-{k}"])

    for role, name in [("image-only", args.image_only), ("text-only", args.text_only)]:
        if name and os.path.exists(os.path.join(HERE, "work/runs", name)):
            model, vocab, config = load_run(name)
            test, _ = splits(config, vocab)
            codes = encode(model, test)
            results["runs"][name] = {"bits": config["bits"], "role": role, "text_encoder": config["text_encoder"],
                                     "train_seconds": config["seconds"], "selection": config.get("selection"),
                                     **protocol_tables(code_bits(codes), test, TASKS, {k: e for k, (_, e) in codes.items()})}
            report(name, results["runs"][name])

    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
