"""Writes pictures of one split as Elasticsearch documents (NDJSON, one JSON object a line).

Each document is what a user would index: the picture as a base64 PNG (64 x 64 RGBA, exactly the
pixels the model was evaluated on), its caption as an array (the emoji's name, then its keywords, as
the training caption joins them), and the labels used for relevance (subgroup, group) with the
picture's source style. The quick start indexes a sample of the test split through the `deep_hash`
pipeline; the benchmarks index the whole test split and compute MAP through a real node.

    /usr/bin/python3 model/documents.py --data model/work/data --split test --out docs.ndjson [--limit 400]
"""
import argparse
import base64
import io
import json
import os
import random

import numpy as np
from PIL import Image


def documents(data, split, limit=None, seed=20151107):
    with open(os.path.join(data, "emoji.json")) as f:
        table = json.load(f)
    with open(os.path.join(data, "images.json")) as f:
        records = json.load(f)
    images = np.load(os.path.join(data, "images.npy"), mmap_mode="r")
    picked = [i for i, r in enumerate(records) if table[r["emoji"]]["split"] == split]
    if limit is not None and limit < len(picked):
        picked = sorted(random.Random(seed).sample(picked, limit))
    for i in picked:
        r = records[i]
        e = table[r["emoji"]]
        png = io.BytesIO()
        Image.fromarray(np.asarray(images[i]), "RGBA").save(png, "PNG", optimize=True)
        yield {
            "picture": i,
            "emoji": r["emoji"],
            "hexcode": e["hexcode"],
            "style": r["style"],
            "label": e["label"],
            "caption": [e["label"]] + [t for t in e["tags"] if t != e["label"]],
            "subgroup": e["subgroup"],
            "group": e["group"],
            "image": base64.b64encode(png.getvalue()).decode("ascii"),
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "work/data"))
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--limit", type=int, default=None, help="a random sample of this many pictures (fixed seed)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    n = 0
    with open(args.out, "w") as out:
        for doc in documents(args.data, args.split, args.limit):
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
            n += 1
    print(f"{n} documents of the {args.split} split in {args.out}")


if __name__ == "__main__":
    main()
