"""Exports a trained run to ONNX (image, text and fused entry points), with model.json, the vocabulary
and golden inputs with their expected outputs, into model/export/.

  /usr/bin/python3 model/export.py --run fused-64
"""
import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

import deephash as dh
import emojiset
import inputs
from emojiset import load_data
from javabridge import (MINILM_ARTIFACT, MINILM_INT8_TEXT_ENCODER, MINILM_INT8_TOKENIZER_BLOCK, MINILM_MAX_TOKENS, MINILM_MODEL,
                        MINILM_TOKENIZER, MiniLm, MiniLmInt8)
from quantize_trunk import IMAGE_BLOCK, calibration_pictures, quantize_trunk, trunk_cached, trunk_rows
from runs import load_run

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
ROOT = os.path.dirname(HERE)
# Golden inputs whose activation is this close to the threshold are skipped: float differences
# between runtimes must never be able to flip a bit of a golden code.
MARGIN = 1e-3


TRUNK_FILE = "image-trunk.onnx"


class Trunk(nn.Module):
    """The part of the picture backbone that the image tower and the fused tower's frozen copy share: the
    layers up to the image tower's fine-tuning cut, which neither trains. Its one output row a picture is
    the pooled features of the feature layers before the cut, then the cut layer's output flattened; the
    plugin runs it once a picture as the model's `image_encoder` and feeds the row to both heads, so that a
    document hashed to its image and fused codes runs the trunk once, not twice."""

    def __init__(self, model):
        super().__init__()
        self.backbone = model.image.pretrained

    def forward(self, image):
        return self.row(*self.backbone.cached(image))

    @staticmethod
    def row(frozen, cut):
        """A picture's row from `BackboneFeatures.cached`'s answer: the pooled features, then the cut flattened."""
        return torch.cat([frozen, cut.flatten(1)], dim=1)


class TrunkHead(nn.Module):
    """An image or fused entry point over the trunk's rows: the layers after the cut (fine-tuned for the
    image tower, the frozen copy's own for the fused one), then the tower as in `dh.EntryPoint`."""

    def __init__(self, model, kind, frozen_width, cut_shape):
        super().__init__()
        self.model, self.kind = model, kind
        self.frozen_width, self.cut_shape = frozen_width, cut_shape

    def forward(self, features, text=None):
        frozen = features[:, :self.frozen_width]
        cut = features[:, self.frozen_width:].reshape(-1, *self.cut_shape)
        tower = self.model.image
        if self.kind == "image":
            # ImageTower.forward without the small CNN, whose absence a trunk requires.
            return self.model.head(self.model.image_proj(tower.norm(tower.pretrained.pooled_from(frozen, cut))))
        fi = tower.frozen_features(None, tower.frozen.pooled_after(tower.pretrained.finetune, frozen, cut))
        return self.model.head(self.model.fused_latent(fi, self.model.text(text)))


def shared_trunk(model):
    """Whether the image and fused towers read the same frozen layers up to the fine-tuning cut: the
    backbone alone (no small CNN), fine-tuned after a cut, with a frozen copy for the fused tower at the
    same size, whose weights up to the cut equal the tuned copy's (neither trains them)."""
    tower = getattr(model, "image", None)
    if tower is None or tower.features is not None or tower.pretrained is None or tower.frozen is None:
        return False
    tuned, frozen = tower.pretrained, tower.frozen
    if not tuned.finetune or tuned.size != frozen.size or tuned.backbone != frozen.backbone:
        return False
    after = tuned.layers_after(tuned.finetune)
    mine, theirs = tuned.graph.state_dict(), frozen.graph.state_dict()
    # The state's keys read "mods.<layer>.<tensor>".
    return all(torch.equal(v, theirs[k]) for k, v in mine.items() if k.split(".")[1] not in after)


def text_example(model):
    if model.text_encoder == "lstm":
        return torch.ones(2, inputs.MAX_TOKENS, dtype=torch.long), "tokens"
    return F.normalize(torch.ones(2, 384), dim=1), "sentence_embedding"


def onnx_export(module, arguments, path, names, outputs):
    torch.onnx.export(
        module, arguments, path, input_names=names, output_names=outputs, opset_version=OPSET,
        dynamic_axes={n: {0: "batch"} for n in names + outputs},
    )
    onnx.checker.check_model(onnx.load(path))


def export_entry(model, kind, path):
    entry = dh.EntryPoint(model, kind).eval()
    image = torch.zeros(2, 3, inputs.IMAGE_SIZE, inputs.IMAGE_SIZE)
    text, text_name = text_example(model)
    arguments = {"image": (image,), "text": (text,), "fused": (image, text)}[kind]
    names = {"image": ["image"], "text": [text_name], "fused": ["image", text_name]}[kind]
    onnx_export(entry, arguments, path, names, ["probs", "embedding"])
    return names


def export_with_trunk(model, out):
    """The trunk and the image and fused heads over its rows; returns the image_encoder block and the
    image and fused entry points."""
    trunk = Trunk(model).eval()
    image = torch.zeros(2, 3, inputs.IMAGE_SIZE, inputs.IMAGE_SIZE)
    with torch.no_grad():
        frozen, cut = trunk.backbone.cached(image)
    onnx_export(trunk, (image,), os.path.join(out, TRUNK_FILE), ["image"], ["features"])
    rows = Trunk.row(frozen, cut)
    text, text_name = text_example(model)
    entry_points = {}
    for kind in ("image", "fused"):
        head = TrunkHead(model, kind, frozen.shape[1], tuple(cut.shape[1:])).eval()
        names = ["image_features"] + ([text_name] if kind == "fused" else [])
        onnx_export(head, (rows,) if kind == "image" else (rows, text), os.path.join(out, f"{kind}.onnx"), names,
                    ["probs", "embedding"])
        entry_points[kind] = {"file": f"{kind}.onnx", "inputs": names}
    encoder = {"file": TRUNK_FILE, "input": "image", "output": "features", "dimensions": int(rows.shape[1])}
    return encoder, entry_points


@torch.no_grad()
def golden(model, vocab, minilm, images, records, table, count=20, margin=MARGIN, picture_rows=None):
    """About `count` test-split inputs (pictures of every style, captions in several languages, odd
    text) with their tokens, codes, activations and embeddings from PyTorch; `minilm` is the frozen
    sentence encoder the text tower reads (MiniLm or MiniLmInt8), None for an LSTM tower. `picture_rows`:
    for an export whose trunk PyTorch cannot run (an int8 one), a function from RGBA pictures to the trunk's
    rows as the node computes them; the picture entry points' answers are then PyTorch's heads over those
    rows, and each picture case records them as `image_features`."""
    rng = random.Random(1)
    test = [i for i, r in enumerate(records) if table[r["emoji"]]["split"] == "test"]
    rng.shuffle(test)
    texts = ["", "a cat, face, and THE moon!!", "zzzunknownword qqq", "grinning-face_with  sweat",
             "Ünïcödé café ☕ 2024", " ".join(["face"] * 40)]
    cases = []
    for i in test:
        e = table[records[i]["emoji"]]
        language = rng.choice(["en", "en"] + sorted(e["captions"]))
        kind = ["image", "text", "fused"][len(cases) % 3]
        cases.append({"name": f"{records[i]['style']} {e['hexcode']} {e['label']}", "entry": kind,
                      "rgba": images[i], "text": emojiset.caption(e, language=language)})
    cases = [{"name": f"text {t!r}", "entry": "text", "text": t} for t in texts] + cases

    if minilm:
        embedded = minilm.embed([c["text"] for c in cases])
    # Every entry point gets its share of the golden cases, however many candidates sit too close to
    # the threshold (an untrained quick model has many).
    quota = {"image": count // 4, "fused": count // 4}
    quota["text"] = count - quota["image"] - quota["fused"]
    out = []
    for n, case in enumerate(cases):
        if quota[case["entry"]] == 0:
            continue
        item = {"name": case["name"], "entry": case["entry"]}
        x = inputs.preprocess_images(case["rgba"][None]) if "rgba" in case and case["entry"] != "text" else None
        if case["entry"] == "image":
            text = None
        elif minilm:
            text = embedded[n:n + 1]
        else:
            text = vocab.encode_all([case["text"]])
        rows = None
        if case["entry"] == "text":
            probs, embedding = model.encode_text(text)
        elif picture_rows is not None:
            rows = picture_rows(case["rgba"][None])
            cached, frozen_cached = trunk_cached(model, rows)
            if case["entry"] == "image":
                probs, embedding = model.head(model.image_proj(model.image(x, cached)))
            else:
                fi = model.fused_image_features(x, None, frozen_cached)
                probs, embedding = model.head(model.fused_latent(fi, model.text(text)))
        elif case["entry"] == "image":
            probs, embedding = model.encode_image(x)
        else:
            probs, embedding = model.encode_fused(x, text)
        probs, embedding = probs[0].numpy(), embedding[0].numpy()
        if np.abs(probs - 0.5).min() < margin:
            continue
        if x is not None:
            item["image_png_base64"] = inputs.png_base64(case["rgba"])
        if rows is not None:
            item["image_features"] = [float(v) for v in rows[0]]
        if text is not None:
            item["text"] = case["text"]
            if minilm:
                item["tokens"] = minilm.tokenizer.encode(case["text"], MINILM_MAX_TOKENS)
                item["sentence_embedding"] = [float(v) for v in text[0]]
            else:
                item["tokens"] = text[0].tolist()
        item["code"] = inputs.to_hex(inputs.pack(probs[None] >= 0.5)[0])
        item["probs"] = [float(v) for v in probs]
        item["embedding"] = [float(v) for v in embedding]
        out.append(item)
        quota[case["entry"]] -= 1
    return out


def model_name(name):
    """A name the plugin takes for a model directory (ModelRegistry's rule)."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name):
        raise argparse.ArgumentTypeError(f"[{name}] is not a model name: lower-case letters, digits, '_' and '-', "
                                         "starting with a letter or digit, at most 64 characters")
    return name


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="fused-64")
    parser.add_argument("--out", default=os.path.join(HERE, "export"))
    parser.add_argument("--name", default="default", type=model_name,
                        help="the model's name in model.json: the directory name it is bundled or installed under")
    parser.add_argument("--data", default=os.path.join(HERE, "work/data"))
    parser.add_argument("--margin", type=float, default=MARGIN,
                        help="skip golden inputs with an activation this close to 0.5 (a barely trained quick model needs less)")
    parser.add_argument("--no-trunk", action="store_true",
                        help="each picture entry point holds its whole backbone, even where the image and fused towers "
                             "share the layers up to the fine-tuning cut (by default those are exported once, as the "
                             "model's image_encoder, " + TRUNK_FILE + ")")
    parser.add_argument("--int8-trunk", action="store_true",
                        help="quantize the shared picture trunk to int8 (quantize_trunk.py; calibrated on training "
                             "pictures), and write golden.json from the heads' answers over the int8 trunk's rows as "
                             "ONNX Runtime computes them. Implied for a run trained with train.py --int8-trunk 1; for "
                             "another (heads trained on the float trunk) the version gets `-int8trunk`")
    args = parser.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)

    model, vocab, config = load_run(args.run)
    encoder, entry_points = None, {}
    trunk = shared_trunk(model) and not args.no_trunk
    picture_rows = None
    int8 = args.int8_trunk or model.int8_trunk  # a run trained over the int8 trunk ships it
    if trunk:
        encoder, entry_points = export_with_trunk(model, args.out)
        if int8:
            done = quantize_trunk(os.path.join(args.out, TRUNK_FILE), IMAGE_BLOCK, calibration_pictures(args.data))
            print(f"export {args.run}: trunk quantized: {done}", file=sys.stderr)
            picture_rows = lambda rgba: trunk_rows(None, rgba, os.path.join(args.out, TRUNK_FILE), IMAGE_BLOCK, encoder)
    elif int8:
        raise SystemExit(f"export: --int8-trunk needs a shared trunk, which run {args.run} has not (or --no-trunk was given)")
    elif os.path.exists(os.path.join(args.out, TRUNK_FILE)):
        os.remove(os.path.join(args.out, TRUNK_FILE))
    for kind in ("image", "text", "fused"):
        file = f"{kind}.onnx"
        if kind not in entry_points:
            entry_points[kind] = {"file": file, "inputs": export_entry(model, kind, os.path.join(args.out, file))}
    entry_points = {kind: entry_points[kind] for kind in ("image", "text", "fused")}
    if vocab:
        with open(os.path.join(args.out, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(vocab.tokens) + "\n")
    elif os.path.exists(os.path.join(args.out, "vocab.txt")):
        os.remove(os.path.join(args.out, "vocab.txt"))

    images, records, table, _ = load_data(args.data)
    minilm = None
    for file in (MINILM_INT8_TEXT_ENCODER["file"], MINILM_INT8_TOKENIZER_BLOCK["file"]):
        if os.path.exists(os.path.join(args.out, file)):
            os.remove(os.path.join(args.out, file))
    with tempfile.TemporaryDirectory() as work:
        if model.text_encoder == "minilm":
            minilm = MiniLm()
        elif model.text_encoder == "minilm-int8":
            # The int8 graph and its tokenizer.json go into the model directory; Features runs them from a copy.
            minilm = MiniLmInt8(work)
            for path in minilm.files:
                shutil.copy(path, args.out)
        cases = golden(model, vocab, minilm, images, records, table, margin=args.margin, picture_rows=picture_rows)
    with open(os.path.join(args.out, "golden.json"), "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]\n")

    files = ([encoder["file"]] if encoder else []) + [e["file"] for e in entry_points.values()] + (["vocab.txt"] if vocab else [])
    if model.text_encoder == "minilm-int8":
        text_encoder, tokenizer = dict(MINILM_INT8_TEXT_ENCODER), dict(MINILM_INT8_TOKENIZER_BLOCK)
        files += [text_encoder["file"], tokenizer["file"]]
    elif minilm:
        text_encoder = {"type": "minilm", "artifact": MINILM_ARTIFACT, "model_resource": MINILM_MODEL,
                        "model_sha256": minilm.model_sha256, "dimensions": 384, "pooling": "mean", "normalize": True}
        tokenizer = {"type": "wordpiece", "resource": MINILM_TOKENIZER, "max_tokens": MINILM_MAX_TOKENS}
    else:
        text_encoder = {"type": "lstm"}
        tokenizer = {"type": "word", "max_tokens": inputs.MAX_TOKENS, "pad_id": inputs.PAD, "unk_id": inputs.UNK, "vocab_file": "vocab.txt"}
    spec = {
        "name": args.name,
        "version": config["args"]["name"] + ("-int8trunk" if int8 and not model.int8_trunk else ""),
        "bits": config["bits"],
        "threshold": 0.5,
        "embedding_dim": dh.LATENT,
        "image": {"size": inputs.IMAGE_SIZE, "mean": inputs.MEAN, "std": inputs.STD},
        **({"image_encoder": encoder} if encoder else {}),
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "entry_points": entry_points,
        "outputs": {"probs": "probs", "embedding": "embedding"},
        "sha256": {file: inputs.sha256(os.path.join(args.out, file)) for file in files},
    }
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")
    sizes = {file: os.path.getsize(os.path.join(args.out, file)) for file in files}
    print(f"export {args.run}: {len(cases)} golden cases; " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
