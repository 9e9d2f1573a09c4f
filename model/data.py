"""Builds the emoji dataset: 64x64 RGB pictures in four styles, CLDR captions, subgroup labels.

Images come from four npm packages (Google Noto and Twitter PNGs from emoji-datasource, OpenMoji and
Microsoft Fluent Emoji Flat SVGs rendered with CairoSVG), captions and labels from emojibase-data.
Skin-tone variants are left out (they repeat their base emoji's caption and picture). The split is by
emoji, never by picture, with a fixed seed, so no test emoji is seen in training.

Writes work/data/: images.npy (uint8 RGBA, N x 64 x 64 x 4), images.json (per
picture: emoji index, style), emoji.json (per emoji: hexcode, label, tags, group, subgroup, split,
captions in other languages), and model/manifest.json (sources, versions, licences, counts), which
is committed, and captions.jsonl / captions.json: the caption pool (one JSON string a line, and per
line its emoji, language and kind).
"""
import argparse
import io
import json
import os
import random
import sys
import time

import numpy as np
from PIL import Image

from emojiset import (OTHER_LANGUAGES, SEED, SIZE, SOURCES, caption_pool, emoji_table, key, package_version, slug,
                      split)

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = os.path.join(HERE, "node_modules")


def to_rgba(image):
    """64x64 RGBA; compositing over white happens in the model's preprocessing (in float, as at ingest)."""
    image = image.convert("RGBA")
    if image.size != (SIZE, SIZE):
        image = image.resize((SIZE, SIZE), Image.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def render_svg(svg_text):
    import cairosvg

    png = cairosvg.svg2png(bytestring=svg_text.encode("utf-8"), output_width=SIZE, output_height=SIZE)
    return to_rgba(Image.open(io.BytesIO(png)))


def source_images(table, quick):
    """Yields (emoji index, style, 64x64 RGBA array) for every picture found."""
    by_key = {e["key"]: i for i, e in enumerate(table)}
    by_slug = {slug(e["label"]): i for i, e in enumerate(table)}
    wanted = set(range(len(table)))
    if quick:
        wanted = set(random.Random(SEED).sample(sorted(wanted), 300))

    for style in ("google", "twitter"):
        package = SOURCES[style]["package"]
        with open(os.path.join(NODE, package, "emoji.json")) as f:
            entries = json.load(f)
        for entry in entries:
            i = by_key.get(key(entry["unified"]))
            path = os.path.join(NODE, package, "img", style, "64", entry["image"])
            if i in wanted and entry.get("has_img_" + style) and os.path.exists(path):
                yield i, style, to_rgba(Image.open(path))

    svg_dir = os.path.join(NODE, "openmoji/color/svg")
    for name in sorted(os.listdir(svg_dir)):
        i = by_key.get(key(name[:-4]))
        if i in wanted:
            with open(os.path.join(svg_dir, name)) as f:
                yield i, "openmoji", render_svg(f.read())

    with open(os.path.join(NODE, "@iconify-json/fluent-emoji-flat/icons.json")) as f:
        icons = json.load(f)
    width, height = icons.get("width", 16), icons.get("height", 16)
    for name, icon in sorted(icons["icons"].items()):
        i = by_slug.get(name)
        if i in wanted:
            w, h = icon.get("width", width), icon.get("height", height)
            svg = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}">{icon["body"]}</svg>'
            yield i, "fluent", render_svg(svg)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "work/data"))
    parser.add_argument("--quick", action="store_true", help="300 emoji only, for CI")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    table = emoji_table()
    split(table)
    images, records = [], []
    started = time.time()
    for n, (i, style, pixels) in enumerate(source_images(table, args.quick), 1):
        images.append(pixels)
        records.append({"emoji": i, "style": style})
        if n % 1000 == 0:
            print(f"data: {n} pictures ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)

    # Keep only emoji that have at least one picture; renumber.
    used = sorted({r["emoji"] for r in records})
    renumber = {old: new for new, old in enumerate(used)}
    table = [table[i] for i in used]
    for r in records:
        r["emoji"] = renumber[r["emoji"]]

    captions = caption_pool(table)
    with open(os.path.join(args.out, "captions.jsonl"), "w", encoding="utf-8") as f:
        for c in captions:
            f.write(json.dumps(c["text"], ensure_ascii=False) + "\n")
    with open(os.path.join(args.out, "captions.json"), "w") as f:
        json.dump([{k: v for k, v in c.items() if k != "text"} for c in captions], f)

    np.save(os.path.join(args.out, "images.npy"), np.stack(images))
    with open(os.path.join(args.out, "images.json"), "w") as f:
        json.dump(records, f)
    with open(os.path.join(args.out, "emoji.json"), "w") as f:
        json.dump(table, f, ensure_ascii=False)

    counts = {}
    for r in records:
        counts.setdefault(r["style"], 0)
        counts[r["style"]] += 1
    splits = {}
    for e in table:
        splits[e["split"]] = splits.get(e["split"], 0) + 1
    manifest = {
        "seed": SEED,
        "image_size": SIZE,
        "emoji": len(table),
        "pictures": len(records),
        "subgroups": len({e["subgroup"] for e in table}),
        "groups": len({e["group"] for e in table}),
        "emoji_per_split": splits,
        "pictures_per_style": counts,
        "sources": {
            style: dict(SOURCES[style], version=package_version(SOURCES[style]["package"]))
            for style in SOURCES
        },
        "captions": {
            "package": "emojibase-data",
            "version": package_version("emojibase-data"),
            "licence": "MIT",
            "languages": ["en"] + OTHER_LANGUAGES,
        },
        "left_out": "skin-tone variants, the component group, Apple and Facebook styles",
    }
    if not args.quick:
        with open(os.path.join(HERE, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
    print(json.dumps({k: manifest[k] for k in ("emoji", "pictures", "emoji_per_split", "pictures_per_style")}))


if __name__ == "__main__":
    main()
