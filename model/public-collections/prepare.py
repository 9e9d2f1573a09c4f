"""Turns a public icon collection from npm into the folder-and-JSONL form any user's collection has
(model/collection.py), so that train_collection.py is proven on collections no one here made.

  /usr/bin/python3 model/public-collections/prepare.py mdi --out model/work/collections/mdi-data
  /usr/bin/python3 model/public-collections/prepare.py fontawesome --out model/work/collections/fa-data [--limit 300]

mdi: Material Design Icons (@mdi/svg, Pictogrammers Free License: icons under Apache-2.0). Caption:
  the icon's name and its aliases; labels: its tags (61 categories such as "Weather", zero to several
  per icon); group: the base icon (an icon's outline and variant forms share one), so variants of one
  icon never straddle two splits.
fontawesome: Font Awesome Free (@fortawesome/fontawesome-free, icons CC-BY-4.0). Caption: the label
  and the search terms; each free style (solid, regular, brands) is one picture; group: the icon; the
  categories are written under "categories", which train_collection.py does not read unless asked.
emoji: the bundled model's own emoji data (model/data.py's work/data), its split kept, for comparing the
  generic path with the bundled model on the same test emoji.
Pictures are rendered from SVG to PNG (black on transparent, the node composes it over white).
"""
import argparse
import io
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = os.path.join(HERE, "node_modules")
SEED = 20261206


def render(svg_text, size):
    import cairosvg
    from PIL import Image

    png = cairosvg.svg2png(bytestring=svg_text.encode("utf-8"), output_width=size, output_height=size)
    # Square canvases of the icon's own aspect ratio would stretch it: cairosvg fits the viewBox into
    # the output, keeping its aspect ratio (preserveAspectRatio's default), so the picture is centred.
    return Image.open(io.BytesIO(png)).convert("RGBA")


def words(name):
    return name.replace("-", " ").replace("_", " ").strip()


def mdi():
    with open(os.path.join(NODE, "@mdi/svg/meta.json")) as f:
        meta = json.load(f)
    for icon in meta:
        if icon.get("deprecated"):
            continue
        with open(os.path.join(NODE, "@mdi/svg/svg", icon["name"] + ".svg")) as f:
            svg = f.read()
        captions = [words(icon["name"])] + [words(a) for a in icon.get("aliases", []) if words(a) != words(icon["name"])]
        yield icon["name"], svg, {"caption": captions, "labels": icon.get("tags", []), "group": icon.get("baseIconId") or icon["id"]}


def fontawesome():
    import yaml

    base = os.path.join(NODE, "@fortawesome/fontawesome-free")
    with open(os.path.join(base, "metadata/icon-families.json")) as f:
        icons = json.load(f)
    with open(os.path.join(base, "metadata/categories.yml")) as f:
        categories = yaml.safe_load(f)
    category_of = {}
    for c in categories.values():
        for name in c.get("icons", []):
            category_of.setdefault(name, []).append(c["label"])
    for name in sorted(icons):
        icon = icons[name]
        terms = [t for t in icon.get("search", {}).get("terms", []) if isinstance(t, str)]
        for style, svg in sorted(icon.get("svgs", {}).get("classic", {}).items()):
            path = os.path.join(base, "svgs", style, name + ".svg")
            if not os.path.exists(path):  # in the metadata but not in the free set
                continue
            captions = [str(icon.get("label") or words(name))] + [t for t in terms if t.lower() != str(icon.get("label", "")).lower()]
            yield f"{name}-{style}", svg["raw"], {"caption": captions, "categories": category_of.get(name, []), "group": name,
                                                  "style": style}


def emoji(data_dir):
    """The bundled model's own emoji data set (model/data.py's output) in the collection form, with its
    split by emoji kept (the `split` key), so that the generic path is measured on the very test emoji
    the bundled model's card uses. Captions: the English name and keywords; label: the subgroup."""
    import numpy as np
    from PIL import Image

    images = np.load(os.path.join(data_dir, "images.npy"))
    with open(os.path.join(data_dir, "images.json")) as f:
        records = json.load(f)
    with open(os.path.join(data_dir, "emoji.json")) as f:
        table = json.load(f)
    for n, r in enumerate(records):
        e = table[r["emoji"]]
        yield (f"{e['hexcode']}-{r['style']}", Image.fromarray(images[n], "RGBA"),
               {"caption": [e["label"]] + [t for t in e["tags"] if t != e["label"]], "labels": [e["subgroup"]],
                "group": e["hexcode"], "split": e["split"], "style": r["style"]})


SOURCES = {"mdi": (mdi, "@mdi/svg", "Pictogrammers Free License (icons Apache-2.0), @mdi/svg/LICENSE"),
           "fontawesome": (fontawesome, "@fortawesome/fontawesome-free", "CC-BY-4.0 icons, @fortawesome/fontawesome-free/LICENSE.txt"),
           "emoji": (emoji, None, "the emoji packages' licences: model/manifest.json")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", choices=sorted(SOURCES))
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--limit", type=int, help="a fixed random sample of this many groups (quick mode)")
    parser.add_argument("--data", default=os.path.join(os.path.dirname(HERE), "work/data"),
                        help="with emoji: model/data.py's output (model/run.sh writes it)")
    args = parser.parse_args()
    read, package, licence = SOURCES[args.source]
    if package and not os.path.isdir(NODE):
        sys.exit(f"prepare: {NODE} is missing: run `npm ci` in {HERE} (model/public-collections/run.sh does)")
    entries = list(read(args.data) if args.source == "emoji" else read())
    if args.limit:
        groups = sorted({e[2]["group"] for e in entries})
        keep = set(random.Random(SEED).sample(groups, min(args.limit, len(groups))))
        entries = [e for e in entries if e[2]["group"] in keep]
    pictures = os.path.join(args.out, "pictures")
    os.makedirs(pictures, exist_ok=True)
    with open(os.path.join(args.out, "items.jsonl"), "w", encoding="utf-8") as out:
        for n, (name, picture, fields) in enumerate(entries, 1):
            path = os.path.join(pictures, name + ".png")
            if not os.path.exists(path):
                # An SVG's text is rendered; the emoji arrive as pictures already.
                (render(picture, args.size) if isinstance(picture, str) else picture).save(path)
            out.write(json.dumps({"id": name, "image": os.path.join("pictures", name + ".png"), **fields}, ensure_ascii=False) + "\n")
            if n % 1000 == 0:
                print(f"prepare {args.source}: {n}/{len(entries)} pictures", file=sys.stderr, flush=True)
    version = None
    if package:
        with open(os.path.join(NODE, package, "package.json")) as f:
            version = json.load(f)["version"]
    with open(os.path.join(args.out, "SOURCE.json"), "w") as f:
        json.dump({"package": package, "version": version, "licence": licence, "items": len(entries), "size": args.size}, f, indent=1)
    print(f"prepare {args.source}: {len(entries)} items from {package or args.data} {version or ''} in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
