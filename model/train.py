"""Trains one deep-hash model on the emoji training split and saves it under work/runs/<name>/.

After every epoch the codes are measured on the validation emoji (never the test split), and the
epoch with the best mean MAP over the targets' four tasks is the one saved (`--select val`).

  /usr/bin/python3 model/train.py --bits 64 --name fused-64
  /usr/bin/python3 model/train.py --bits 64 --modalities image --name image-64   (Lin et al. baseline)
"""
import argparse
import copy
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import deephash as dh
from backbones import BACKBONES
import inputs
from baselines import itq
from emojiset import Captions, Split, load_data
from runs import cached_pictures, first_view, pretrained_cache, selection_score, validation_tasks

HERE = os.path.dirname(os.path.abspath(__file__))


def augment(x):
    """Random shifts of up to 4 pixels (padding with white) and horizontal flips; returns the flips too."""
    n = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4), value=1.0)
    dx, dy = np.random.randint(0, 9, size=(2, n))
    out = torch.stack([padded[i, :, dy[i]:dy[i] + x.shape[2], dx[i]:dx[i] + x.shape[3]] for i in range(n)])
    flip = torch.rand(n) < 0.5
    out[flip] = out[flip].flip(3)
    return out, flip


def semantic_centres(captions, table, subgroups, bits):
    """Hash centres whose first half are dh.hash_centres at half the width and whose second half are ITQ
    codes of each subgroup's mean training caption embedding: two subgroups are as far apart as the
    first half makes them, and nearer when their captions are. With the 98 emoji subgroups the first half
    is Hadamard rows (equidistant) only at 128 bits (2 x 64 >= 98); at 16, 32 and 64 bits there are
    too few rows and it is random codes with a fixed seed (about half the bits apart on average)."""
    half = bits // 2
    first = dh.hash_centres(len(subgroups), half)
    rows = captions.rows("en", "full")
    means = np.zeros((len(subgroups), captions.inputs.shape[1]))
    counts = np.zeros(len(subgroups))
    for e, r in rows.items():
        if table[e]["split"] == "train":
            c = subgroups.index(table[e]["subgroup"])
            means[c] += captions.inputs[r].numpy()
            counts[c] += 1
    means /= np.maximum(counts, 1)[:, None]
    second = torch.tensor(itq(means, bits - half)(means)).float()
    return torch.cat([first, second], 1)


def layer_option(names, spec):
    """A --pretrained-layer style option as the model's options hold it: one layer name, or a list of them
    side by side (comma-separated); empty, the backbone's last feature layer."""
    layers = (names or spec.last).split(",")
    return layers[0] if len(layers) == 1 else layers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--modalities", default="image,text,fused")
    parser.add_argument("--text-encoder", choices=["lstm", "minilm", "minilm-int8"], default="minilm",
                        help="LSTM over word embeddings (the seed's), a head over the frozen MiniLM sentence encoder, or "
                             "over its int8-quantized twin (langchain4j's; a cheaper caption encoder, exported as the model's own)")
    parser.add_argument("--name", required=True)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--pairwise", type=float, default=1.0, help="weight of the DCMH pairwise term")
    parser.add_argument("--triplet", type=float, default=1.0, help="weight of the triplet term")
    parser.add_argument("--pretrained-image", type=int, default=0, help="1: frozen MobileNetV2 features beside the CNN")
    parser.add_argument("--pretrained-backbone", choices=list(BACKBONES), default="mobilenet_v2",
                        help="with --pretrained-image 1: which of nsfwjs's networks (backbones.py)")
    parser.add_argument("--pretrained-layer", default="",
                        help="with --pretrained-image 1: the backbone's layer whose pooled output is used (a Keras layer name; "
                             "default out_relu for MobileNetV2, mixed10 for InceptionV3), or several, comma-separated, side by side")
    parser.add_argument("--pretrained-size", type=int, default=0,
                        help="with --pretrained-image 1: the side the 64 px pictures are upsampled to for the backbone "
                             "(default 128 for MobileNetV2, 299 for InceptionV3, 224 for mobilenet_v2_mid)")
    parser.add_argument("--pretrained-finetune", default="",
                        help="with --pretrained-image 1: a MobileNetV2 layer name (such as block_12_add); the layers "
                             "after it train, at --pretrained-lr-scale times the learning rate")
    parser.add_argument("--pretrained-fused-frozen", type=int, default=0,
                        help="with --pretrained-finetune: 1 gives the fused tower a wholly frozen copy of the backbone "
                             "and its own projection of it, so that only the image tower's backbone is tuned")
    parser.add_argument("--pretrained-lr-scale", type=float, default=0.1,
                        help="with --pretrained-finetune: the backbone's learning rate as a share of --lr")
    parser.add_argument("--pretrained-cnn", type=int, default=1,
                        help="with --pretrained-image 1: 0 drops the small CNN, leaving MobileNetV2 alone")
    parser.add_argument("--pretrained-dropout", type=float, default=0.0,
                        help="with --pretrained-image 1: dropout on the MobileNetV2 features while training")
    parser.add_argument("--pretrained-fused-views", type=int, default=0,
                        help="with --pretrained-fused-frozen 1: cached views of the fused tower's frozen copy, drawn "
                             "on their own (default: --pretrained-views, drawn with the image tower's)")
    parser.add_argument("--pretrained-fused-size", type=int, default=0,
                        help="with --pretrained-fused-frozen 1: the side the fused tower's frozen copy reads the "
                             "pictures at (default: --pretrained-size, the fine-tuned tower's)")
    parser.add_argument("--pretrained-fused-backbone", choices=list(BACKBONES), default=None,
                        help="with --pretrained-fused-frozen 1: another backbone for the fused tower's frozen copy "
                             "(default: --pretrained-backbone)")
    parser.add_argument("--pretrained-fused-layer", default="",
                        help="with --pretrained-fused-backbone: its feature layers, comma-separated (default: its last)")
    parser.add_argument("--int8-trunk", type=int, default=0,
                        help="1: the frozen picture trunk shared by the image and fused towers (the layers up to "
                             "--pretrained-finetune) runs quantized to int8 (quantize_trunk.py) in ONNX Runtime, as "
                             "the node will run it, and the heads train on its features")
    parser.add_argument("--pretrained-views", type=int, default=2,
                        help="with --pretrained-image 1: cached backbone views per picture: the picture, its mirror, "
                             "and the rest random crops/colour changes (train.distort); each step draws one")
    parser.add_argument("--fusion", choices=["features", "latents"], default="features",
                        help="what the fused tower projects: both backbones' features, or the image and text towers' latents")
    parser.add_argument("--centres", type=float, default=0.0, help="weight of the hash-centre (CSQ) term")
    parser.add_argument("--centres-kind", choices=["hadamard", "semantic"], default="hadamard",
                        help="hadamard: dh.hash_centres (Hadamard rows where 2k covers the subgroups, else random codes); "
                             "semantic: half the bits from it, half from ITQ over each subgroup's mean training "
                             "caption embedding, so related subgroups get nearer centres")
    parser.add_argument("--ste", type=float, default=0.0,
                        help="weight of the pairwise and triplet terms over the binarised codes (straight-through gradient)")
    parser.add_argument("--alignment", type=float, default=0.0, help="weight of the image/caption contrastive alignment")
    parser.add_argument("--quantization", type=float, default=0.1)
    parser.add_argument("--balance", type=float, default=0.1)
    parser.add_argument("--other-languages", type=float, default=0.15, help="share of captions drawn in another language")
    parser.add_argument("--select", choices=["val", "last"], default="val",
                        help="val: save the epoch with the best validation score; last: the last epoch")
    parser.add_argument("--quick", action="store_true", help="a few batches, for CI")
    parser.add_argument("--data", default=os.path.join(HERE, "work/data"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    rng = random.Random(args.seed)

    images, records, table, subgroups = load_data(args.data)
    label_of = {s: i for i, s in enumerate(subgroups)}
    train = [i for i, r in enumerate(records) if table[r["emoji"]]["split"] == "train"]
    train_emoji = sorted({records[i]["emoji"] for i in train})
    captions = Captions(args.data, table, args.text_encoder)
    vocab_size = len(captions.vocab.tokens) if captions.vocab else 0
    modalities = tuple(args.modalities.split(","))
    pretrained_image = False
    if args.pretrained_image:
        spec = BACKBONES[args.pretrained_backbone]
        pretrained_image = {"layer": layer_option(args.pretrained_layer, spec), "size": args.pretrained_size or spec.size,
                            "cnn": bool(args.pretrained_cnn), "dropout": args.pretrained_dropout}
        if args.pretrained_backbone != "mobilenet_v2":  # older runs' configs, all MobileNetV2, have no "backbone"
            pretrained_image["backbone"] = args.pretrained_backbone
        if args.pretrained_finetune:
            pretrained_image["finetune"] = args.pretrained_finetune
            if args.pretrained_fused_frozen:
                pretrained_image["fused_frozen"] = True
                if args.pretrained_fused_size:
                    pretrained_image["fused_size"] = args.pretrained_fused_size
                if args.pretrained_fused_backbone and args.pretrained_fused_backbone != args.pretrained_backbone:
                    pretrained_image["fused_backbone"] = args.pretrained_fused_backbone
                    pretrained_image["fused_layer"] = layer_option(args.pretrained_fused_layer, BACKBONES[args.pretrained_fused_backbone])
    model = dh.DeepHash(vocab_size, args.bits, len(subgroups), modalities, args.text_encoder, pretrained_image, args.fusion)
    steps_per_epoch = (len(train) + args.batch - 1) // args.batch
    epochs = 1 if args.quick else args.epochs
    total_steps = 3 if args.quick else epochs * steps_per_epoch
    backbone = getattr(getattr(model, "image", None), "pretrained", None)
    backbone_params = {id(p) for p in backbone.parameters()} if backbone is not None else set()
    groups = [([p for p in model.parameters() if p.requires_grad and id(p) not in backbone_params], args.lr),
              ([p for p in model.parameters() if p.requires_grad and id(p) in backbone_params], args.lr * args.pretrained_lr_scale)]
    groups = [(params, lr) for params, lr in groups if params]
    optimizer = torch.optim.AdamW([{"params": params, "lr": lr} for params, lr in groups], lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[lr for _, lr in groups], total_steps=total_steps, pct_start=0.15)
    margin = args.bits / 8.0
    centres = (semantic_centres(captions, table, subgroups, args.bits) if args.centres_kind == "semantic"
               else dh.hash_centres(len(subgroups), args.bits))

    print(f"train {args.name}: {len(train)} pictures of {len(train_emoji)} emoji, {len(subgroups)} subgroups, "
          f"text encoder {args.text_encoder} (vocabulary {vocab_size}), {args.bits} bits, {modalities}", file=sys.stderr, flush=True)
    started = time.time()
    cached = cached_pictures(table, records)
    frozen = getattr(getattr(model, "image", None), "frozen", None)
    fused_views = args.pretrained_fused_views or args.pretrained_views
    if args.int8_trunk:
        from export import shared_trunk
        from quantize_trunk import int8_trunk_cache
        if not shared_trunk(model) or fused_views != args.pretrained_views:
            raise SystemExit("train: --int8-trunk needs a trunk shared by the image and fused towers (--pretrained-finetune "
                             "with --pretrained-fused-frozen 1, one backbone and size) and the same views for both")
        cache, frozen_cache = int8_trunk_cache(model, images, cached, os.path.join(args.data, "cache"),
                                               args.pretrained_views, args.data)
    else:
        cache = (pretrained_cache(backbone, images, cached, os.path.join(args.data, "cache"), args.pretrained_views)
                 if backbone is not None else None)
        frozen_cache = (pretrained_cache(frozen, images, cached, os.path.join(args.data, "cache"), fused_views)
                        if frozen is not None and "fused" in modalities else None)
    val = Split(images, records, table, "val", captions)
    val_cached, val_frozen = first_view(cache, val.pictures), first_view(frozen_cache, val.pictures)
    best = {"score": -1.0}
    curve = []
    step = 0
    for epoch in range(epochs):
        model.train()
        rng.shuffle(train)
        totals = {}
        for start in range(0, len(train), args.batch):
            if step >= total_steps:
                break
            batch = train[start:start + args.batch]
            if len(batch) < 8:
                continue
            x, flip = augment(inputs.preprocess_images(images[batch]))
            if cache is None:
                cached = None
            else:
                view = (torch.tensor([rng.randrange(args.pretrained_views) for _ in batch]) if args.pretrained_views > 2
                        else flip.long())
                cached = tuple(c[batch, view] for c in cache) if isinstance(cache, tuple) else cache[batch, view]
            if frozen_cache is None:
                frozen_cached = None
            elif fused_views == args.pretrained_views:
                frozen_cached = frozen_cache[batch, view]
            else:  # the fused tower's views drawn on their own
                frozen_view = (torch.tensor([rng.randrange(fused_views) for _ in batch]) if fused_views > 2
                               else flip.long())
                frozen_cached = frozen_cache[batch, frozen_view]
            emoji = [table[records[i]["emoji"]] for i in batch]
            rows = [captions.sample(records[i]["emoji"], rng, args.other_languages) for i in batch]
            tokens = captions.inputs[rows]
            y = torch.tensor([label_of[e["subgroup"]] for e in emoji])
            out = model.encode_all(x, tokens, cached, frozen_cached)

            terms = {}
            terms["classification"] = sum(F.cross_entropy(model.classify(p * 2 - 1), y) for p, _ in out.values())
            same = (y.unsqueeze(1) == y.unsqueeze(0)).float()
            probs = {m: p for m, (p, _) in out.items()}
            pairs = [(a, b) for a in probs for b in probs if a < b] or [(m, m) for m in probs]
            labels = y.repeat(len(probs))

            def similarity(codes):
                """The pairwise term over every pair of modalities and the triplet term over all codes."""
                pairwise = sum(dh.pairwise_loss(codes[a], codes[b], same) for a, b in pairs) / len(pairs)
                everything = torch.cat(list(codes.values()))
                return pairwise, dh.triplet_loss(everything, everything, labels, labels, margin) / args.bits

            pairwise, triplet = similarity(probs)
            terms["pairwise"] = args.pairwise * pairwise
            terms["triplet"] = args.triplet * triplet
            if args.centres:
                terms["centres"] = args.centres * sum(dh.centre_loss(p, centres[y]) for p in probs.values())
            if args.alignment and "image" in out and "text" in out:
                ids = torch.tensor([records[i]["emoji"] for i in batch])
                same_emoji = (ids.unsqueeze(1) == ids.unsqueeze(0)).float()
                terms["alignment"] = args.alignment * dh.alignment_loss(out["image"][1], out["text"][1], same_emoji)
            if args.ste:
                terms["ste"] = args.ste * sum(similarity({m: p + ((p >= 0.5).float() - p).detach() for m, p in probs.items()}))
            terms["quantization"] = args.quantization * sum(dh.quantization_loss(p) for p in probs.values())
            terms["balance"] = args.balance * sum(dh.balance_loss(p) for p in probs.values())
            loss = sum(terms.values())

            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            for k, v in terms.items():
                totals[k] = totals.get(k, 0.0) + float(v)
        n = max(1, steps_per_epoch)
        score, chosen = selection_score(validation_tasks(model, val, val_cached, val_frozen))
        curve.append(round(score, 4))
        if args.select == "last" or score > best["score"]:
            best = {"score": score, "epoch": epoch + 1, "state": copy.deepcopy(model.state_dict())}
        print(f"epoch {epoch + 1}/{epochs} ({time.time() - started:.0f} s): "
              + ", ".join(f"{k} {v / n:.3f}" for k, v in totals.items()) + f"; validation {score:.3f}",
              file=sys.stderr, flush=True)
    model.load_state_dict(best["state"])
    print(f"train {args.name}: epoch {best['epoch']} kept (validation {best['score']:.3f}, mean MAP of {', '.join(chosen)} "
          f"on {len(val.emoji)} validation emoji)", file=sys.stderr, flush=True)

    out_dir = os.path.join(HERE, "work/runs", args.name)
    os.makedirs(out_dir, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(out_dir, "model.pt"))
    if captions.vocab:
        with open(os.path.join(out_dir, "vocab.txt"), "w") as f:
            f.write("\n".join(captions.vocab.tokens) + "\n")
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump({"bits": args.bits, "modalities": list(modalities), "subgroups": subgroups,
                   "text_encoder": args.text_encoder, "pretrained_image": pretrained_image, "fusion": args.fusion, "vocab_size": vocab_size, "seconds": round(time.time() - started),
                   "selection": {"split": "val", "rule": args.select, "tasks": chosen, "epoch": best["epoch"],
                                 "score": round(best["score"], 4), "curve": curve},
                   "args": vars(args)}, f, indent=2)
    print(f"train {args.name}: done in {time.time() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
