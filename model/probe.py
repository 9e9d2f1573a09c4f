"""How much a frozen backbone's features know about subgroups before any hashing: for each named
layer (pooled over the picture), image->image MAP on the validation split (`--split`) by cosine
similarity of the raw features, and by the class probabilities of a linear (or one-hidden-layer)
subgroup classifier fitted on the training split's features. Also for the named layers side by side. Used to choose the image
backbone (model card, "What was tried"). The backbones are nsfwjs's (backbones.py).

  /usr/bin/python3 model/probe.py --size 128 --layers block_12_expand_relu,block_13_expand_relu,block_14_expand_relu
  /usr/bin/python3 model/probe.py --backbone inception_v3 --size 160 --layers mixed7,mixed8,mixed9
  /usr/bin/python3 model/probe.py --backbone mobilenet_v2_mid --size 128 --layers expanded_conv_13/expand/Relu6
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import inputs
import metrics
from emojiset import load_data
from backbones import BACKBONES, BackboneFeatures

HERE = os.path.dirname(os.path.abspath(__file__))


def image_map(features, labels, test):
    """image->image MAP over the measured split's pictures (`test`) by cosine similarity, the query left out."""
    f = features[test] / (np.linalg.norm(features[test], axis=1, keepdims=True) + 1e-9)
    d = -(f @ f.T)
    relevant = labels[test][:, None] == labels[test][None, :]
    np.fill_diagonal(d, 1e9)
    np.fill_diagonal(relevant, False)
    return metrics.ranking_metrics(np.argsort(d, axis=1)[:, :-1], relevant)["map"]


def fit_probe(features, labels, train, classes, hidden=0, dropout=0.0, epochs=300):
    """Class probabilities of every picture from a classifier fitted (full batch, Adam) on the train split."""
    mean, std = features[train].mean(0), features[train].std(0) + 1e-6
    x = torch.tensor((features - mean) / std, dtype=torch.float32)
    y = torch.tensor(labels)
    torch.manual_seed(0)
    layers = [torch.nn.Dropout(dropout)]
    if hidden:
        layers += [torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout)]
    layers.append(torch.nn.Linear(hidden or x.shape[1], classes))
    net = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    for _ in range(epochs):
        net.train()
        optimizer.zero_grad()
        F.cross_entropy(net(x[train]), y[train]).backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        return torch.softmax(net(x), 1).numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", choices=list(BACKBONES), default="mobilenet_v2")
    parser.add_argument("--size", type=int, help="the side the pictures are upsampled to (default: the backbone's)")
    parser.add_argument("--layers", help="layer names, comma-separated (default for mobilenet_v2: "
                        "block_12_expand_relu,block_13_expand_relu,block_14_expand_relu; else the backbone's last)")
    parser.add_argument("--limit", type=int, help="only the first N pictures: to time the features, no probe")
    parser.add_argument("--split", choices=["val", "test"], default="val",
                        help="where the probe is measured: val (choosing a backbone is choosing a variant), or test "
                             "(only to compare with the model card's figures from before December 2026, which read it)")
    parser.add_argument("--data", default=os.path.join(HERE, "work/data"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    images, records, table, subgroups = load_data(args.data)
    label_of = {s: i for i, s in enumerate(subgroups)}
    labels = np.array([label_of[table[r["emoji"]]["subgroup"]] for r in records])
    split = np.array([table[r["emoji"]]["split"] for r in records])
    train, test = np.where(split == "train")[0], np.where(split == args.split)[0]
    spec = BACKBONES[args.backbone]
    default = "block_12_expand_relu,block_13_expand_relu,block_14_expand_relu" if args.backbone == "mobilenet_v2" else spec.last
    names = (args.layers or default).split(",")
    size = args.size or spec.size
    backbone = BackboneFeatures(names, size, backbone=args.backbone)
    # The split not measured takes no part: its features are left at zero, not computed.
    rows = np.sort(np.concatenate([train, test]))[:args.limit]
    per_layer = {n: np.zeros((len(images), w), np.float32) for n, w in backbone.widths.items()}
    started = time.time()
    with torch.no_grad():
        for s in range(0, len(rows), 32):
            batch = rows[s:s + 32]
            for n, o in zip(names, backbone.pooled(inputs.preprocess_images(images[batch]))):
                per_layer[n][batch] = o.numpy()
    elapsed = time.time() - started
    print(f"{args.backbone} @ {size} px, {', '.join(names)}: features of {len(rows)} pictures in {elapsed:.0f} s, "
          f"{elapsed / len(rows):.4f} s a picture", flush=True)
    if args.limit:
        return
    if len(names) > 1:
        per_layer["side by side"] = np.concatenate(list(per_layer.values()), axis=1)
    for name, f in per_layer.items():
        row = [f"{args.backbone} {name} @ {size} px ({f.shape[1]}-d): cosine {image_map(f, labels, test):.3f}"]
        for hidden, dropout in [(0, 0.0), (0, 0.5), (512, 0.5)]:
            p = fit_probe(f, labels, train, len(subgroups), hidden, dropout)
            accuracy = float((p[test].argmax(1) == labels[test]).mean())
            row.append(f"{'linear' if not hidden else f'hidden {hidden}'} dropout {dropout}: accuracy {accuracy:.3f}, "
                       f"MAP of the probabilities {image_map(p, labels, test):.3f}")
        print("; ".join(row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
