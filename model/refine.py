"""Refines a trained run's hash layer over its fixed latent space and saves the result as a new run.

The layer is moved onto the L2-normalised embedding and started as ITQ's projection of the run's own
training embeddings (Gong & Lazebnik: PCA to k dimensions, then the rotation nearest the binary
corners), which places the bits along the directions the latent space spreads in; it is then trained
with the training losses (train.hashing_terms: classification, pairwise, triplet, straight-through,
quantization, balance) while everything below it stays as trained. The classifier first learns the
new bits alone for --classifier-epochs. The epoch with the best mean MAP on the validation emoji,
the ITQ start (epoch 0) included, is the one saved; the test split is never looked at.

  /usr/bin/python3 model/refine.py --run fused-64-base --name fused-64
"""
import argparse
import copy
import json
import os
import random
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import deephash as dh
import evaluate
import train as training

HERE = os.path.dirname(os.path.abspath(__file__))
# The validation tasks whose mean MAP chooses the epoch (those the run has both kinds of codes for).
VALIDATION_TASKS = [("fused", "fused"), ("image", "image"), ("text", "image"), ("image", "text"), ("text", "fused"), ("text", "text")]


@torch.no_grad()
def training_latents(model, images, train, captions, data_dir, views):
    """The fixed latents the refinement draws its batches from, in evaluation mode: per training
    picture and cached view, the image tower's latent and the fused tower's projection of the picture;
    per caption row, the text tower's projection (the fused latent of a pair is the fusion MLP over the
    two, computed per batch). Returns {"image": [P, V, d], "fused_image": [P, V, d], "text": [R, d]}."""
    out = {}
    if hasattr(model, "image"):
        cache_dir = os.path.join(data_dir, "cache")
        cache = training.pretrained_cache(model.image.pretrained, images, train, cache_dir, views)
        frozen = model.image.frozen
        frozen_cache = training.pretrained_cache(frozen, images, train, cache_dir, views) if frozen is not None else None
        image, fused_image = [], []
        for v in range(views):
            cached = tuple(c[train, v] for c in cache) if isinstance(cache, tuple) else cache[train, v]
            features = model.image(None, cached)
            if "image" in model.modalities:
                image.append(model.image_proj(features))
            if "fused" in model.modalities:
                fused_image.append(model.fused_image_features(None, features, None if frozen_cache is None else frozen_cache[train, v]))
        if image:
            out["image"] = torch.stack(image, 1)
        if fused_image:
            projection = model.fused_image_proj if hasattr(model, "fused_image_proj") else model.image_proj
            out["fused_image"] = torch.stack([projection(f) for f in fused_image], 1)
    if hasattr(model, "text"):
        out["text"] = torch.cat([model.text_latent(captions.inputs[s:s + 1024]) for s in range(0, len(captions.inputs), 1024)])
    return out


@torch.no_grad()
def split_latents(model, split, batch=256):
    """{kind: latents} of a split's pictures (image, fused with the English caption) and English captions."""
    x = dh.preprocess_images(split.images)
    full = split.captions.rows()
    tokens = split.captions.inputs[[full[e] for e in split.picture_emoji]]
    out = {}
    if "image" in model.modalities:
        out["image"] = torch.cat([model.image_latent(x[s:s + batch]) for s in range(0, len(x), batch)])
    if "fused" in model.modalities:
        out["fused"] = torch.cat([model.fused_input_latent(x[s:s + batch], tokens[s:s + batch]) for s in range(0, len(x), batch)])
    if "text" in model.modalities:
        out["text"] = model.text_latent(split.text_inputs()[1])
    return out


@torch.no_grad()
def validation_map(model, split, latents):
    """Mean MAP over the validation tasks, and each task's MAP, of the model's hash layer."""
    bits = {k: model.head(v)[0].numpy() >= 0.5 for k, v in latents.items()}
    tasks = [t for t in VALIDATION_TASKS if t[0] in bits and t[1] in bits]
    table = evaluate.task_table(bits, split, tasks)
    maps = {k: round(v["map"], 4) for k, v in table.items()}
    return float(np.mean(list(maps.values()))), maps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="the trained run (work/runs/<run>), left unchanged")
    parser.add_argument("--name", required=True, help="the refined run written to work/runs/<name>")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--classifier-epochs", type=int, default=2,
                        help="epochs that train the classifier alone on the new bits before the hash layer moves")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--scale", type=float, default=3.0,
                        help="the ITQ start's pre-activations are scaled to this standard deviation over the training set")
    parser.add_argument("--centres", type=float, default=0.0,
                        help="weight of the hash-centre term (off: the run's centres are in the old layer's bit order)")
    parser.add_argument("--quick", action="store_true", help="one epoch of a few batches, for CI")
    parser.add_argument("--data", default=os.path.join(HERE, "work/data"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    started = time.time()

    model, vocab, config = evaluate.load_run(args.run)
    if config.get("hash_input", "latent") != "latent":
        raise SystemExit(f"refine: {args.run} is already refined (its hash layer reads the {config['hash_input']})")
    run_args = config["args"]
    weights = argparse.Namespace(**{k: run_args[k] for k in ("pairwise", "triplet", "ste", "quantization", "balance")},
                                 centres=args.centres)
    views = run_args.get("pretrained_views", 2)
    images, records, table, subgroups = training.load_data(args.data)
    label_of = {s: i for i, s in enumerate(subgroups)}
    captions = training.Captions(args.data, table, config["text_encoder"], vocab)
    splits = {s: evaluate.Split(images, records, table, s, captions) for s in ("train", "val")}
    train = sorted(splits["train"].pictures)
    for p in model.parameters():
        p.requires_grad_(False)

    latents = training_latents(model, images, train, captions, args.data, views)
    val = split_latents(model, splits["val"])
    before, before_tasks = validation_map(model, splits["val"], val)

    # The ITQ start, fitted on the same training embeddings as evaluate.py's ITQ baseline.
    fit = np.concatenate([F.normalize(v, dim=1).numpy() for v in split_latents(model, splits["train"]).values()])
    mean, projection = evaluate.itq_projection(fit, model.bits)
    scale = args.scale / float(((fit - mean) @ projection).std())
    model.hash_input = "embedding"
    model.hash.weight.data = torch.tensor(scale * projection.T, dtype=torch.float32)
    model.hash.bias.data = torch.tensor(-scale * mean @ projection, dtype=torch.float32)
    model.classify.reset_parameters()
    start, start_tasks = validation_map(model, splits["val"], val)
    print(f"refine {args.run} -> {args.name}: validation mean MAP {before:.4f} with the trained layer, "
          f"{start:.4f} at the ITQ start {start_tasks}", file=sys.stderr, flush=True)

    layers = [model.hash, model.classify]
    for layer in layers:
        for p in layer.parameters():
            p.requires_grad_(True)
    epochs = 1 if args.quick else args.epochs
    steps_per_epoch = 3 if args.quick else (len(train) + args.batch - 1) // args.batch
    optimizer = torch.optim.AdamW([p for layer in layers for p in layer.parameters()], lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    history = [{"epoch": 0, "validation_map": round(start, 4), "tasks": start_tasks}]
    best = (start, 0, copy.deepcopy(model.state_dict()))
    emoji_of = np.array([records[i]["emoji"] for i in train])
    labels = torch.tensor([label_of[table[e]["subgroup"]] for e in emoji_of])
    for epoch in range(1, epochs + 1):
        model.hash.requires_grad_(epoch > args.classifier_epochs)
        order = list(range(len(train)))
        rng.shuffle(order)
        totals = {}
        for step, s in enumerate(range(0, len(order), args.batch)):
            if step >= steps_per_epoch:
                break
            batch = order[s:s + args.batch]
            if len(batch) < 8:
                continue
            view = torch.tensor([rng.randrange(views) for _ in batch])
            rows = [captions.sample(emoji_of[i], rng, run_args["other_languages"]) for i in batch] if "text" in latents else None
            x = {}
            if "image" in latents:
                x["image"] = latents["image"][batch, view]
            if "text" in model.modalities:
                x["text"] = latents["text"][rows]
            if "fused" in model.modalities:
                with torch.no_grad():
                    x["fused"] = model.fuse(torch.cat([latents["fused_image"][batch, view], latents["text"][rows]], 1))
            probs = {m: model.head(v)[0] for m, v in x.items()}
            terms = training.hashing_terms(model, probs, labels[batch], weights)
            optimizer.zero_grad()
            sum(terms.values()).backward()
            optimizer.step()
            schedule.step()
            for k, v in terms.items():
                totals[k] = totals.get(k, 0.0) + float(v)
        score, tasks = validation_map(model, splits["val"], val)
        history.append({"epoch": epoch, "validation_map": round(score, 4), "tasks": tasks})
        if score > best[0]:
            best = (score, epoch, copy.deepcopy(model.state_dict()))
        print(f"epoch {epoch}/{epochs} ({time.time() - started:.0f} s): validation mean MAP {score:.4f} {tasks}; "
              + ", ".join(f"{k} {v / steps_per_epoch:.3f}" for k, v in totals.items()), file=sys.stderr, flush=True)

    model.load_state_dict(best[2])
    out_dir = os.path.join(HERE, "work/runs", args.name)
    os.makedirs(out_dir, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(out_dir, "model.pt"))
    if os.path.exists(os.path.join(HERE, "work/runs", args.run, "vocab.txt")):
        shutil.copy(os.path.join(HERE, "work/runs", args.run, "vocab.txt"), out_dir)
    seconds = round(time.time() - started)
    config.update(hash_input="embedding", seconds=config["seconds"] + seconds,
                  refine={"from": args.run, "seconds": seconds, "args": vars(args), "chosen_epoch": best[1],
                          "validation_map_trained_layer": round(before, 4), "validation_tasks_trained_layer": before_tasks,
                          "history": history})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    print(f"refine {args.name}: epoch {best[1]} kept (validation mean MAP {best[0]:.4f}, trained layer {before:.4f}), "
          f"done in {seconds} s", file=sys.stderr)


if __name__ == "__main__":
    main()
