"""Writes the test fixture of a model with a frozen picture encoder chained before its heads: tiny
random-weight graphs, so the tests can check the Java chain (picture -> ImagePreprocessor -> encoder ->
head) against PyTorch's numbers without the real, large encoders. Run from the project root:

  /usr/bin/python3 src/test/python/make_encoder_fixture.py

It writes src/test/resources/org/deephash/model/chained/ (model.json, the ONNX graphs, vocab.txt and
golden.json, as model/export writes a model) and, beside it, chained-variants/: graphs that the
tests swap in (the same encoder with its pooling inside the graph, one whose output has the wrong rank,
a fused head over MiniLM's sentence embedding). The output is the same on every run.

The model: pictures 32x32; an encoder of two convolutions whose output is the feature map
`features` [N, 16, 8, 8] (the Java side averages it over H and W); heads over those 16 features and
over the mean word embedding of a small vocabulary, 32 bits, embeddings of 8.
"""
import base64
import hashlib
import io
import json
import os
import re

import numpy as np
import onnx
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OUT = os.path.join(ROOT, "src/test/resources/org/deephash/model/chained")
VARIANTS = os.path.join(ROOT, "src/test/resources/org/deephash/model/chained-variants")
OPSET = 13
SIZE = 32
FEATURES = 16
BITS = 32
EMBEDDING = 8
MAX_TOKENS = 8
MEAN = [0.48, 0.46, 0.41]
STD = [0.27, 0.26, 0.28]
VOCAB = ["[PAD]", "[UNK]", "a", "red", "green", "blue", "circle", "square", "on", "white", "big", "small"]
THRESHOLD = 0.5
# No golden activation may lie this close to the threshold: the Java runtime's float differences
# (about 1e-7 here) must never be able to flip a bit of a golden code.
MARGIN = 1e-3


class Encoder(torch.nn.Module):
    """Two strided convolutions: [N, 3, 32, 32] -> [N, 16, 8, 8], or pooled to [N, 16] in the graph."""

    def __init__(self, pooled=False, flat=False):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.conv2 = torch.nn.Conv2d(8, FEATURES, 3, stride=2, padding=1)
        self.pooled = pooled
        self.flat = flat

    def forward(self, pixels):
        x = self.conv2(torch.relu(self.conv1(pixels)))
        if self.pooled:
            return x.mean(dim=(2, 3))
        if self.flat:
            return x.flatten(2)  # [N, 16, 64]: a rank the Java side must refuse
        return x


class Head(torch.nn.Module):
    """The trainable part: picture features and/or a text vector -> hidden -> probs and embedding."""

    def __init__(self, text_width):
        super().__init__()
        self.image = torch.nn.Linear(FEATURES, 24)
        self.words = torch.nn.Embedding(len(VOCAB), 8, padding_idx=0)
        self.text = torch.nn.Linear(text_width, 24)
        self.bits = torch.nn.Linear(24, BITS)
        self.embedding = torch.nn.Linear(24, EMBEDDING)

    def text_vector(self, tokens):
        mask = (tokens != 0).float().unsqueeze(2)
        return (self.words(tokens) * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def outputs(self, hidden):
        h = torch.tanh(hidden)
        return torch.sigmoid(3 * self.bits(h)), self.embedding(h)


class Entry(torch.nn.Module):
    def __init__(self, head, kind, minilm=False):
        super().__init__()
        self.head, self.kind, self.minilm = head, kind, minilm

    def forward(self, *args):
        if self.kind == "image":
            return self.head.outputs(self.head.image(args[0]))
        text = args[-1] if self.minilm else self.head.text_vector(args[-1])
        hidden = self.head.text(text)
        if self.kind == "fused":
            hidden = hidden + self.head.image(args[0])
        return self.head.outputs(hidden)


def export(module, args, path, inputs, outputs):
    torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, opset_version=OPSET,
                      dynamic_axes={n: {0: "batch"} for n in inputs + outputs})
    onnx.checker.check_model(onnx.load(path))


def pictures():
    """32x32 RGBA pictures: gradients, noise, and transparency (composited over white on both sides)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    out = []
    for i in range(5):
        rgba = np.empty((SIZE, SIZE, 4), dtype=np.uint8)
        rgba[..., 0] = (x * 8 + i * 40) % 256
        rgba[..., 1] = (y * 8 + i * 25) % 256
        rgba[..., 2] = rng.integers(0, 256, (SIZE, SIZE))
        rgba[..., 3] = 255 if i % 2 == 0 else rng.integers(0, 256, (SIZE, SIZE))
        out.append(rgba)
    return out


def png(rgba):
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def preprocess(rgba):
    """ImagePreprocessor's formula for a picture at the model's size, in float32 as there:
    v = (c * a + 255 * (255 - a)) / 255, x = (v / 255 - mean) / std, CHW."""
    f = np.float32
    c = rgba[..., :3].astype(f)
    a = rgba[..., 3:].astype(f)
    v = (c * a + f(255) * (f(255) - a)) / f(255)
    x = (v / f(255) - np.array(MEAN, dtype=f)) / np.array(STD, dtype=f)
    return x.transpose(2, 0, 1).copy()


def tokens(text):
    """WordTokenizer for the ASCII texts used here: lower-case runs of letters and digits, padded."""
    assert text.isascii()
    ids = [VOCAB.index(w) if w in VOCAB else 1 for w in re.findall(r"[a-z0-9]+", text.lower())][:MAX_TOKENS]
    return ids + [0] * (MAX_TOKENS - len(ids))


def code(probs):
    return np.packbits(probs >= np.float32(THRESHOLD)).tobytes().hex()


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def floats(values):
    return [float(v) for v in values]


@torch.no_grad()
def build(seed):
    """The graphs' modules and the golden items for one seed, or None when an activation is too close to the threshold."""
    torch.manual_seed(seed)
    encoder = Encoder().eval()
    head = Head(8).eval()
    minilm_head = Head(384).eval()
    images = pictures()
    pixels = torch.from_numpy(np.stack([preprocess(p) for p in images]))
    features = encoder(pixels).mean(dim=(2, 3))
    texts = ["a red circle", "Big BLUE square on white", "green zebra", "small"]
    ids = torch.tensor([tokens(t) for t in texts])
    items = []
    probs, emb = Entry(head, "image")(features)
    for i in range(len(images)):
        items.append({"name": f"image {i}", "entry": "image", "image_png_base64": base64.b64encode(png(images[i])).decode(),
                      "image_features": floats(features[i]), "code": code(probs[i].numpy()), "probs": floats(probs[i]),
                      "embedding": floats(emb[i])})
    probs, emb = Entry(head, "text")(ids)
    for i, t in enumerate(texts):
        items.append({"name": f"text {t!r}", "entry": "text", "text": t, "tokens": tokens(t), "code": code(probs[i].numpy()),
                      "probs": floats(probs[i]), "embedding": floats(emb[i])})
    pairs = [(0, 0), (1, 1), (3, 2), (4, 3)]
    probs, emb = Entry(head, "fused")(features[[p for p, _ in pairs]], ids[[t for _, t in pairs]])
    for k, (p, t) in enumerate(pairs):
        items.append({"name": f"fused image {p} + {texts[t]!r}", "entry": "fused", "image_png_base64": items[p]["image_png_base64"],
                      "image_features": items[p]["image_features"], "text": texts[t], "tokens": tokens(texts[t]),
                      "code": code(probs[k].numpy()), "probs": floats(probs[k]), "embedding": floats(emb[k])})
    if min(abs(v - THRESHOLD) for item in items for v in item["probs"]) < MARGIN:
        return None
    return encoder, head, minilm_head, items


def main():
    torch.set_num_threads(2)
    seed = 0
    while (built := build(seed)) is None:
        seed += 1
    encoder, head, minilm_head, items = built
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(VARIANTS, exist_ok=True)
    pixels = torch.zeros(2, 3, SIZE, SIZE)
    feats = torch.zeros(2, FEATURES)
    ids = torch.ones(2, MAX_TOKENS, dtype=torch.long)
    export(encoder, (pixels,), os.path.join(OUT, "image-encoder.onnx"), ["pixels"], ["features"])
    export(Entry(head, "image"), (feats,), os.path.join(OUT, "image.onnx"), ["image_features"], ["probs", "embedding"])
    export(Entry(head, "text"), (ids,), os.path.join(OUT, "text.onnx"), ["tokens"], ["probs", "embedding"])
    export(Entry(head, "fused"), (feats, ids), os.path.join(OUT, "fused.onnx"), ["image_features", "tokens"], ["probs", "embedding"])
    with open(os.path.join(OUT, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(VOCAB) + "\n")

    pooled = Encoder(pooled=True).eval()
    pooled.load_state_dict(encoder.state_dict())
    export(pooled, (pixels,), os.path.join(VARIANTS, "image-encoder-pooled.onnx"), ["pixels"], ["features"])
    flat = Encoder(flat=True).eval()
    flat.load_state_dict(encoder.state_dict())
    export(flat, (pixels,), os.path.join(VARIANTS, "image-encoder-rank3.onnx"), ["pixels"], ["features"])
    sentence = torch.nn.functional.normalize(torch.ones(2, 384), dim=1)
    export(Entry(minilm_head, "fused", minilm=True), (feats, sentence), os.path.join(VARIANTS, "fused-minilm.onnx"),
           ["image_features", "sentence_embedding"], ["probs", "embedding"])

    files = ["image-encoder.onnx", "image.onnx", "text.onnx", "fused.onnx", "vocab.txt"]
    config = {
        "name": "chained", "version": f"fixture-seed-{seed}", "bits": BITS, "threshold": THRESHOLD, "embedding_dim": EMBEDDING,
        "image": {"size": SIZE, "mean": MEAN, "std": STD},
        "image_encoder": {"file": "image-encoder.onnx", "input": "pixels", "output": "features", "dimensions": FEATURES},
        "text_encoder": {"type": "lstm"},
        "tokenizer": {"type": "word", "max_tokens": MAX_TOKENS, "pad_id": 0, "unk_id": 1, "vocab_file": "vocab.txt"},
        "entry_points": {
            "image": {"file": "image.onnx", "inputs": ["image_features"]},
            "text": {"file": "text.onnx", "inputs": ["tokens"]},
            "fused": {"file": "fused.onnx", "inputs": ["image_features", "tokens"]},
        },
        "outputs": {"probs": "probs", "embedding": "embedding"},
        "sha256": {f: sha256(os.path.join(OUT, f)) for f in files},
    }
    with open(os.path.join(OUT, "model.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(items, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT} and {VARIANTS} (seed {seed}, {len(items)} golden items)")


if __name__ == "__main__":
    main()
