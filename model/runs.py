"""Trained runs on disk (work/runs/<name>/: model.pt, config.json, vocab.txt), the cache of the
frozen backbone's features (MobileNetV2 or another of backbones.py's) that training and evaluation
share, encoding a split with a run, and the validation score that chooses a run's epoch and the
shipped run."""
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import deephash as dh
import inputs
from metrics import TASKS, code_bits, task_table

HERE = os.path.dirname(os.path.abspath(__file__))


def load_run(name):
    run_dir = os.path.join(HERE, "work/runs", name)
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    vocab = None
    if config["text_encoder"] == "lstm":
        with open(os.path.join(run_dir, "vocab.txt")) as f:
            vocab = inputs.Vocabulary(f.read().split("\n")[:-1])
    model = dh.DeepHash(config["vocab_size"], config["bits"], len(config["subgroups"]), tuple(config["modalities"]),
                        config["text_encoder"], config.get("pretrained_image", False), config.get("fusion", "features"))
    model.load_state_dict(torch.load(os.path.join(run_dir, "model.pt")))
    model.eval()
    # Trained over the int8 picture trunk (train.py --int8-trunk): its picture features come from that trunk.
    model.int8_trunk = bool(config["args"].get("int8_trunk"))
    return model, vocab, config


def run_names_by_validation(names):
    """The runs, best validation score first (the score `train.py` chose the run's epoch by)."""
    def score(name):
        with open(os.path.join(HERE, "work/runs", name, "config.json")) as f:
            return json.load(f)["selection"]["score"]

    return sorted(names, key=score, reverse=True)


def cached_pictures(table, records):
    """The pictures whose backbone features are cached: the training and validation splits' (training
    reads the first, chooses its epoch on the second). Never the test split's."""
    return [i for i, r in enumerate(records) if table[r["emoji"]]["split"] in ("train", "val")]


# The tasks a run's epoch, and the shipped run, are chosen by: the targets' four.
SELECTION_TASKS = ["fused->fused", "image->image", "text->image", "image->text"]


def selection_score(tasks):
    """The mean MAP of the SELECTION_TASKS a run has (any task it has, for a single-modality run)."""
    chosen = [t for t in SELECTION_TASKS if t in tasks] or list(tasks)
    return float(np.mean([tasks[t]["map"] for t in chosen])), chosen


@torch.no_grad()
def encode(model, split, batch=256, cached=None, frozen_cached=None):
    """{kind: (activations, embeddings)} of the split's pictures (image, and fused with their English
    caption) and of its emoji's English captions (text). `cached` / `frozen_cached`: the backbone
    features of the split's pictures (`pretrained_cache`'s first view, in the split's order), so the
    backbone need not run (training's validation, each epoch)."""
    was_training = model.training
    model.eval()
    out = {}
    x = inputs.preprocess_images(split.images)
    full = split.captions.rows()
    picture_tokens = split.captions.inputs[[full[e] for e in split.picture_emoji]]
    chunks = {"image": [], "fused": []}
    for s in range(0, len(x), batch):
        if cached is not None:
            piece = tuple(c[s:s + batch] for c in cached) if isinstance(cached, tuple) else cached[s:s + batch]
            both = model.encode_all(x[s:s + batch], picture_tokens[s:s + batch], piece,
                                    None if frozen_cached is None else frozen_cached[s:s + batch])
            for kind in chunks:
                if kind in both:
                    chunks[kind].append(both[kind])
            continue
        if "image" in model.modalities:
            chunks["image"].append(model.encode_image(x[s:s + batch]))
        if "fused" in model.modalities:
            chunks["fused"].append(model.encode_fused(x[s:s + batch], picture_tokens[s:s + batch]))
    for kind, parts in chunks.items():
        if parts:
            out[kind] = tuple(torch.cat(p).numpy() for p in zip(*parts))
    if "text" in model.modalities:
        out["text"] = tuple(t.numpy() for t in model.encode_text(split.text_inputs()[1]))
    model.train(was_training)
    return out


def first_view(cache, pictures):
    """`pretrained_cache`'s first view (the picture itself) of some pictures, in their order: a tensor, or
    with finetune a tuple of them; None stays None."""
    if cache is None:
        return None
    return tuple(c[pictures, 0] for c in cache) if isinstance(cache, tuple) else cache[pictures, 0]


def cached_features(model, split, data_dir):
    """(cached, frozen_cached) for `encode`: the run's backbone features of a training or validation
    split's pictures from `pretrained_cache` (the cache train.py filled), or (None, None) for a run
    without a pretrained backbone or a split that is not cached."""
    image = getattr(model, "image", None)
    backbone = getattr(image, "pretrained", None)
    if backbone is None or split.name not in ("train", "val"):
        return None, None
    pictures = cached_pictures(split.table, split.records)
    cache_dir = os.path.join(data_dir, "cache")
    if getattr(model, "int8_trunk", False):
        from quantize_trunk import int8_trunk_cache
        cached, frozen_cached = int8_trunk_cache(model, split.images_of, pictures, cache_dir, 2, data_dir)
        return first_view(cached, split.pictures), first_view(frozen_cached, split.pictures)
    cached = first_view(pretrained_cache(backbone, split.images_of, pictures, cache_dir), split.pictures)
    frozen = getattr(image, "frozen", None)
    frozen_cached = None
    if frozen is not None and "fused" in model.modalities:
        frozen_cached = first_view(pretrained_cache(frozen, split.images_of, pictures, cache_dir), split.pictures)
    return cached, frozen_cached


def validation_tasks(model, split, cached=None, frozen_cached=None):
    """MAP of every task on a split, hash codes only (what an epoch is chosen by)."""
    codes = encode(model, split, cached=cached, frozen_cached=frozen_cached)
    return {t: {"map": v["map"]} for t, v in task_table(code_bits(codes), split, TASKS).items()}


def distort(x, rng):
    """One random view of each normalised picture: a crop of 60 to 100% of its area (aspect 0.8 to
    1.25) scaled back to full size, a mirror image half the time, and the ink made up to 20% lighter or
    darker and up to 30% more or less saturated (white stays white). For the cached extra views."""
    mean = torch.tensor(inputs.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(inputs.STD).view(1, 3, 1, 1)
    x = x * std + mean  # back to [0, 1]
    n, _, h, w = x.shape
    out = torch.empty_like(x)
    for i in range(n):
        area, aspect = rng.uniform(0.6, 1.0), np.exp(rng.uniform(np.log(0.8), np.log(1.25)))
        ch = min(h, max(8, int(round(h * np.sqrt(area / aspect)))))
        cw = min(w, max(8, int(round(w * np.sqrt(area * aspect)))))
        top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        view = F.interpolate(x[i:i + 1, :, top:top + ch, left:left + cw], size=(h, w), mode="bilinear", align_corners=False)[0]
        if rng.random() < 0.5:
            view = view.flip(2)
        grey = view.mean(0, keepdim=True)
        view = grey + (view - grey) * rng.uniform(0.7, 1.3)
        view = 1 - (1 - view) * rng.uniform(0.8, 1.2)
        out[i] = view.clamp(0, 1)
    return (out - mean) / std


@torch.no_grad()
def pretrained_cache(backbone, images, pictures, cache_dir, views=2, batch=256):
    """The frozen backbone's features of each training picture, of its mirror image and of
    `views - 2` random distortions of it (`distort`, fixed seed), computed once: the backbone never
    changes, so it need not run again every epoch (it costs 5x the rest). Kept in `cache_dir` under a
    name made of the backbone's options, the views and the pictures' bytes, so the other runs of
    model/run.sh reuse it."""
    key = hashlib.sha256(json.dumps([backbone.size, backbone.graph.outputs]).encode())
    if backbone.backbone != "mobilenet_v2":
        # Keyed by the backbone, so that two backbones' features never share a file; MobileNetV2's key is
        # left as it was before there were several, so that its caches stay valid.
        key.update(f"backbone={backbone.backbone}".encode())
    if views > 2:
        key.update(f"views={views},distort=1".encode())
    if backbone.finetune:
        key.update(f"finetune={backbone.finetune}".encode())
    key.update(np.ascontiguousarray(images[pictures]).tobytes())
    prefix = "mobilenet" if backbone.backbone == "mobilenet_v2" else backbone.backbone
    path = os.path.join(cache_dir, f"{prefix}-{key.hexdigest()[:16]}.pt")
    if os.path.exists(path):
        return torch.load(path)
    started = time.time()
    rng = np.random.default_rng(20151107)
    # With finetune, each view is (the frozen layers' pooled features, the cut layer's output).
    compute = backbone.cached if backbone.finetune else backbone
    if backbone.finetune:
        # Training runs the backbone from the cut, export and evaluation run it whole: they must agree.
        x = inputs.preprocess_images(images[pictures[:64]])
        gap = float((backbone.pooled_from(*backbone.cached(x)) - backbone(x)).abs().max())
        if gap > 1e-4:
            raise AssertionError(f"the backbone from {backbone.finetune} differs from the whole backbone by {gap}")
    features = None
    for s in range(0, len(pictures), batch):
        rows = pictures[s:s + batch]
        x = inputs.preprocess_images(images[rows])
        for v in range(views):
            view = x if v == 0 else x.flip(3) if v == 1 else distort(x, rng)
            out = compute(view)
            out = out if isinstance(out, tuple) else (out,)
            if features is None:
                features = tuple(torch.zeros((len(images), views) + o.shape[1:]) for o in out)
            for f, o in zip(features, out):
                f[rows, v] = o
    features = features if backbone.finetune else features[0]
    print(f"pretrained features of {len(pictures)} pictures in {views} views: {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    os.makedirs(cache_dir, exist_ok=True)
    torch.save(features, path + ".tmp")
    os.replace(path + ".tmp", path)
    return features
