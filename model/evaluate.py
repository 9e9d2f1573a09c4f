"""Evaluates trained runs on the held-out emoji (test split) and writes model/results/.

Relevance: same subgroup. Every query ranks the whole database by Hamming distance (ties broken by a
fixed random order, so ties neither help nor hurt); MAP is over the whole ranking ("MAP over all").
Queries never retrieve themselves. Tasks:
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

import deephash as dh
from train import Captions, load_data

HERE = os.path.dirname(os.path.abspath(__file__))
POOL = 100


def load_run(name):
    run_dir = os.path.join(HERE, "work/runs", name)
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    vocab = None
    if config["text_encoder"] == "lstm":
        with open(os.path.join(run_dir, "vocab.txt")) as f:
            vocab = dh.Vocabulary(f.read().split("\n")[:-1])
    model = dh.DeepHash(config["vocab_size"], config["bits"], len(config["subgroups"]), tuple(config["modalities"]),
                        config["text_encoder"], config.get("pretrained_image", False), config.get("fusion", "features"))
    model.load_state_dict(torch.load(os.path.join(run_dir, "model.pt")))
    model.eval()
    return model, vocab, config


class Split:
    """The pictures and emoji of one split, and the text-tower inputs of their captions."""

    def __init__(self, images, records, table, split, captions):
        self.pictures = [i for i, r in enumerate(records) if table[r["emoji"]]["split"] == split]
        self.emoji = sorted({records[i]["emoji"] for i in self.pictures})
        self.picture_emoji = np.array([records[i]["emoji"] for i in self.pictures])
        self.picture_labels = np.array([table[records[i]["emoji"]]["subgroup"] for i in self.pictures])
        self.emoji_labels = np.array([table[e]["subgroup"] for e in self.emoji])
        self.images = images[self.pictures]
        self.table = table
        self.captions = captions

    def labels(self, kind):
        """Subgroup of every database or query item of one kind: pictures for image and fused, emoji for text."""
        return self.emoji_labels if kind == "text" else self.picture_labels

    def text_inputs(self, language="en"):
        """(emoji that have a full caption in the language, the text-tower inputs of those captions)."""
        rows = self.captions.rows(language)
        keep = [e for e in self.emoji if e in rows]
        return keep, self.captions.inputs[[rows[e] for e in keep]]


@torch.no_grad()
def encode(model, split, batch=256):
    """Probs and embeddings of the split's pictures (image, fused with their English caption) and captions."""
    out = {}
    x = dh.preprocess_images(split.images)
    full = split.captions.rows()
    picture_tokens = split.captions.inputs[[full[e] for e in split.picture_emoji]]
    chunks = {"image": [], "fused": []}
    for s in range(0, len(x), batch):
        if "image" in model.modalities:
            chunks["image"].append(model.encode_image(x[s:s + batch]))
        if "fused" in model.modalities:
            chunks["fused"].append(model.encode_fused(x[s:s + batch], picture_tokens[s:s + batch]))
    for kind, parts in chunks.items():
        if parts:
            out[kind] = tuple(torch.cat(p).numpy() for p in zip(*parts))
    if "text" in model.modalities:
        out["text"] = tuple(t.numpy() for t in model.encode_text(split.text_inputs()[1]))
    return out


def hamming(a, b):
    """a: bool [Q, k], b: bool [D, k] -> int distances [Q, D]."""
    a = a.astype(np.int32)
    b = b.astype(np.int32)
    return a.shape[1] - (a @ b.T + (1 - a) @ (1 - b).T)


def rank(distances, seed=0):
    """Indices sorted by distance, ties in a fixed random order."""
    jitter = np.random.default_rng(seed).random(distances.shape[1])
    return np.lexsort((np.broadcast_to(jitter, distances.shape), distances), axis=1)


def ranking_metrics(order, relevant):
    """order: [Q, D] database indices best first; relevant: bool [Q, D]. MAP over all and P@10."""
    hits = np.take_along_axis(relevant, order, axis=1)
    cum = np.cumsum(hits, axis=1)
    positions = np.arange(1, hits.shape[1] + 1)
    n_rel = hits.sum(1)
    ap = np.where(n_rel > 0, (hits * cum / positions).sum(1) / np.maximum(n_rel, 1), 0.0)
    return {"map": float(ap[n_rel > 0].mean()), "p@10": float(hits[:, :10].mean())}


def compare(query_bits, db_bits, query_labels, db_labels, exclude_self):
    """Hamming distances and relevance of every (query, database item) pair; a query searching its own
    set is pushed to the end of its ranking and is not relevant to itself."""
    d = hamming(query_bits, db_bits)
    relevant = query_labels[:, None] == db_labels[None, :]
    if exclude_self:
        np.fill_diagonal(d, 10 ** 6)
        np.fill_diagonal(relevant, False)
    return d, relevant


def task(query_bits, db_bits, query_labels, db_labels, exclude_self=False, query_emb=None, db_emb=None):
    d, relevant = compare(query_bits, db_bits, query_labels, db_labels, exclude_self)
    order = rank(d)
    if exclude_self:
        order = order[:, :-1]
    result = ranking_metrics(order, relevant)
    within = d <= 2
    retrieved = within.sum(1)
    result["p@r2"] = float(np.where(retrieved > 0, (within & relevant).sum(1) / np.maximum(retrieved, 1), 0.0).mean())
    result["r2_empty"] = float((retrieved == 0).mean())
    if query_emb is not None:
        # Lin et al.'s coarse-to-fine search: the best POOL by Hamming distance, re-ranked by Euclidean distance.
        pool = order[:, :POOL]
        euclid = np.linalg.norm(query_emb[:, None, :] - db_emb[pool], axis=2)
        reranked = np.take_along_axis(pool, np.argsort(euclid, axis=1, kind="stable"), axis=1)
        fine = ranking_metrics(np.concatenate([reranked, order[:, POOL:]], axis=1), relevant)
        result["hierarchical_map"], result["hierarchical_p@10"] = fine["map"], fine["p@10"]
        dense = np.linalg.norm(query_emb[:, None, :] - db_emb[None, :, :], axis=2)
        if exclude_self:
            np.fill_diagonal(dense, np.inf)
        dense_order = np.argsort(dense, axis=1, kind="stable")
        if exclude_self:
            dense_order = dense_order[:, :-1]
        exact = ranking_metrics(dense_order, relevant)
        result["dense_map"], result["dense_p@10"] = exact["map"], exact["p@10"]
    return result


def pr_curve(query_bits, db_bits, query_labels, db_labels, exclude_self=False):
    """Precision and recall of 'all within radius r' for r = 0..k, pooled over queries."""
    d, relevant = compare(query_bits, db_bits, query_labels, db_labels, exclude_self)
    precision, recall = [], []
    for r in range(query_bits.shape[1] + 1):
        within = d <= r
        n = within.sum()
        precision.append(float((within & relevant).sum() / n) if n else 1.0)
        recall.append(float((within & relevant).sum() / relevant.sum()))
    return {"precision": precision, "recall": recall}


# (query kind, database kind) of every task; baselines have no text->text (no text-only hashing of theirs).
TASKS = [("image", "image"), ("text", "image"), ("image", "text"), ("fused", "fused"), ("text", "fused"), ("image", "fused"), ("text", "text")]
BASELINE_TASKS = TASKS[:-1]


def task_table(bits, split, tasks, emb=None):
    """{"q->d": metrics} for the tasks whose two kinds have codes; with embeddings, the re-rank and dense figures too."""
    out = {}
    for q, d in tasks:
        if q in bits and d in bits:
            out[f"{q}->{d}"] = task(bits[q], bits[d], split.labels(q), split.labels(d), exclude_self=q == d,
                                    query_emb=emb[q] if emb else None, db_emb=emb[d] if emb else None)
    return out


def code_bits(codes):
    """{kind: bool codes} from {kind: (activations, embeddings)}: a bit is 1 at 0.5 or above."""
    return {k: p >= 0.5 for k, (p, _) in codes.items()}


def itq(train_x, bits, iterations=50, seed=0):
    """Gong & Lazebnik's ITQ: PCA to `bits` dimensions, then the rotation that best fits the binary corners."""
    mean = train_x.mean(0)
    centred = train_x - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    pca = vt[:bits].T
    v = centred @ pca
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((bits, bits)))
    for _ in range(iterations):
        b = np.sign(v @ rotation)
        u, _, wt = np.linalg.svd(b.T @ v)
        rotation = (u @ wt).T
    return lambda x: ((x - mean) @ pca @ rotation) >= 0


def lsh(train_x, bits, seed=0):
    mean = train_x.mean(0)
    planes = np.random.default_rng(seed).standard_normal((train_x.shape[1], bits))
    return lambda x: ((x - mean) @ planes) >= 0


def cca(x, y, dims, ridge=1e-3):
    """Hotelling's canonical correlation analysis of the paired rows of x and y, each side's covariance
    regularised by `ridge` times its mean variance: the maps of x and of y onto their first `dims`
    canonical directions, one common space."""
    mean_x, mean_y = x.mean(0), y.mean(0)
    xc, yc = x - mean_x, y - mean_y

    def inverse_sqrt(c):
        values, vectors = np.linalg.eigh(c + ridge * np.trace(c) / len(c) * np.eye(len(c)))
        return (vectors / np.sqrt(values)) @ vectors.T

    wx, wy = inverse_sqrt(xc.T @ xc / len(x)), inverse_sqrt(yc.T @ yc / len(y))
    u, _, vt = np.linalg.svd(wx @ (xc.T @ yc / len(x)) @ wy)
    px, py = wx @ u[:, :dims], wy @ vt[:dims].T
    return (lambda a: (a - mean_x) @ px), (lambda b: (b - mean_y) @ py)


@torch.no_grad()
def backbone_features(options, images, test, train, data_dir, batch=256):
    """The frozen backbones' features: {"train": (pictures, their English captions), "test": (pictures,
    their captions, the emoji's captions)}. Pictures through MobileNetV2 as nsfwjs ships it (the layers
    and size of a run's `pretrained_image` options, nothing trained; training pictures from train.py's
    cache), captions through MiniLM;
    each picture feature standardised with the training pictures' statistics."""
    from mobilenet import MobileNetFeatures
    from train import pretrained_cache

    backbone = MobileNetFeatures(layer=options["layer"], size=options["size"]).eval()
    cached = pretrained_cache(backbone, images, sorted(train.pictures), os.path.join(data_dir, "cache"))
    train_pictures = cached[train.pictures, 0].numpy()
    x = dh.preprocess_images(test.images)
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
        out[f"cca-{method}-{bits}"] = task_table({m: hasher(x) for m, x in test_x.items()}, test, BASELINE_TASKS)
    return out


def report(name, tasks):
    """One line of progress: the MAP of every task of a run or baseline."""
    print(f"evaluate {name}: " + ", ".join(f"{t} {v['map']:.3f}" for t, v in tasks.items()), file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="fused-16,fused-32,fused-64,fused-128")
    parser.add_argument("--image-only", default="image-64")
    parser.add_argument("--text-only", default="text-64")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--data", default=os.path.join(HERE, "work/data"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)

    images, records, table, _ = load_data(args.data)
    results = {"runs": {}, "baselines": {}}
    features = None

    def splits(config, vocab):
        captions = Captions(args.data, table, config["text_encoder"], vocab)
        return Split(images, records, table, "test", captions), Split(images, records, table, "train", captions)

    for name in [r for r in args.runs.split(",") if r]:
        model, vocab, config = load_run(name)
        test, train = splits(config, vocab)
        results["test"] = {"emoji": len(test.emoji), "pictures": len(test.pictures)}
        codes = encode(model, test)
        bits = code_bits(codes)
        test_x = {k: e for k, (_, e) in codes.items()}
        run = {"bits": config["bits"], "text_encoder": config["text_encoder"], "train_seconds": config["seconds"],
               "tasks": task_table(bits, test, TASKS, test_x)}
        if config["bits"] == 64:
            run["pr"] = {f"{q}->{d}": pr_curve(bits[q], bits[d], test.labels(q), test.labels(d), exclude_self=q == d)
                         for q, d in [("fused", "fused"), ("image", "image"), ("text", "image")]}
            run["multilingual_text->image"] = {}
            for language in ["de", "fr", "es", "ja", "zh"]:
                keep, inputs = test.text_inputs(language)
                p, _ = model.encode_text(inputs)
                labels = np.array([table[e]["subgroup"] for e in keep])
                run["multilingual_text->image"][language] = task(p.detach().numpy() >= 0.5, bits["image"], labels, test.picture_labels)["map"]
        results["runs"][name] = run
        report(name, run["tasks"])

        if config["text_encoder"] != "minilm":
            continue
        # Baselines over the same backbone: LSH and ITQ on this run's latent features.
        train_x = np.concatenate([e for _, e in encode(model, train).values()])
        k = config["bits"]
        for method, fit in [("lsh", lsh), ("itq", itq)]:
            if k > train_x.shape[1]:
                continue
            hasher = fit(train_x, k)
            results["baselines"][f"{method}-{k}"] = task_table({m: hasher(x) for m, x in test_x.items()}, test, BASELINE_TASKS)
        rng = np.random.default_rng(k)
        random_bits = {m: rng.random((len(x), k)) < 0.5 for m, x in test_x.items()}
        results["baselines"][f"random-{k}"] = task_table(random_bits, test, BASELINE_TASKS)
        # Baselines over the frozen backbones' features, which no run changes: once per width.
        options = config.get("pretrained_image")
        if isinstance(options, dict) and not options.get("cnn", True) and f"cca-itq-{k}" not in results["baselines"]:
            if features is None:
                features = backbone_features(options, images, test, train, args.data)
            results["baselines"].update(backbone_baselines(features, test, k))
            report(f"cca-itq-{k}", results["baselines"][f"cca-itq-{k}"])

    for role, name in [("image-only", args.image_only), ("text-only", args.text_only)]:
        if name and os.path.exists(os.path.join(HERE, "work/runs", name)):
            model, vocab, config = load_run(name)
            test, _ = splits(config, vocab)
            codes = encode(model, test)
            results["runs"][name] = {"bits": config["bits"], "role": role, "text_encoder": config["text_encoder"], "train_seconds": config["seconds"],
                                     "tasks": task_table(code_bits(codes), test, TASKS, {k: e for k, (_, e) in codes.items()})}
            report(name, results["runs"][name]["tasks"])

    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
