"""Writes the test fixture of a model with a frozen picture encoder chained before its heads: tiny
random-weight graphs, so the tests can check the Java chain (picture -> ImagePreprocessor -> encoder ->
head) against PyTorch's numbers without the real, large encoders. Run from the project root:

  /usr/bin/python3 src/test/python/make_encoder_fixture.py

It writes src/test/resources/org/deephash/model/chained/ (model.json, the ONNX graphs, vocab.txt and
golden.json, as model/export writes a model) and, beside it, chained-variants/: graphs that the
tests swap in (the same encoder with its pooling inside the graph, one whose output has the wrong rank,
a fused head over MiniLM's sentence embedding). It also writes sentence/, a text model over a frozen
sentence encoder of its own (text_encoder "onnx": a tiny BERT-style graph, input_ids, attention_mask and
token_type_ids to last_hidden_state, with an uncased WordPiece tokenizer.json). The output is the same
on every run.

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


SENTENCE = os.path.join(ROOT, "src/test/resources/org/deephash/model/sentence")
WORDPIECE = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "the", "red", "cat", "on", "mat", "sun", "##s", "##ny", "dog",
             "run", "##ning", ",", "!", "."]
HIDDEN = 8
SENTENCE_TOKENS = 16


class TinyBert(torch.nn.Module):
    """BERT's interface at toy size: token, type and position embeddings, then one masked mixing step (each
    token gets the mean of the real tokens' states, so padding must be masked to keep a text's numbers)."""

    def __init__(self):
        super().__init__()
        self.words = torch.nn.Embedding(len(WORDPIECE), HIDDEN)
        self.types = torch.nn.Embedding(2, HIDDEN)
        self.positions = torch.nn.Embedding(SENTENCE_TOKENS, HIDDEN)
        self.mix = torch.nn.Linear(HIDDEN, HIDDEN)

    def forward(self, input_ids, attention_mask, token_type_ids):
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        h = torch.tanh(self.words(input_ids) + self.types(token_type_ids) + self.positions(positions))
        mask = attention_mask.unsqueeze(2).float()
        context = (h * mask).sum(1, keepdim=True) / mask.sum(1, keepdim=True)
        return 0.1 * h + torch.tanh(8 * self.mix(context - context.mean(2, keepdim=True)))


def wordpiece(text):
    """WordPieceTokenizer for the ASCII texts used here: lower case, split at spaces and punctuation,
    longest match first with ## continuations, [CLS] ... [SEP]."""
    assert text.isascii()
    ids = [WORDPIECE.index("[CLS]")]
    for word in re.findall(r"[a-z0-9]+|[^a-z0-9\s]", text.lower()):
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start and (word[start:end] if start == 0 else "##" + word[start:end]) not in WORDPIECE:
                end -= 1
            if end == start:
                pieces = [WORDPIECE.index("[UNK]")]
                break
            pieces.append(WORDPIECE.index(word[start:end] if start == 0 else "##" + word[start:end]))
            start = end
        ids.extend(pieces)
    return (ids[:SENTENCE_TOKENS - 1] + [WORDPIECE.index("[SEP]")])


def tokenizer_json():
    """A HuggingFace tokenizer.json of BERT's uncased kind over the toy vocabulary."""
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                           "pair": [], "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                                                          "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                  "vocab": {t: i for i, t in enumerate(WORDPIECE)}},
    }


@torch.no_grad()
def sentence_model():
    """sentence/: a text entry point over TinyBert's [CLS] state, L2-normalised, with golden items."""
    seed = 0
    texts = ["The red cat, on the mat!", "suns", "sunny dog running", "a zebra.", "", "RED red red"]
    while True:
        torch.manual_seed(1000 + seed)
        encoder = TinyBert().eval()
        head = torch.nn.Linear(HIDDEN, 24)
        bits, emb = torch.nn.Linear(24, BITS), torch.nn.Linear(24, EMBEDDING)
        items = []
        for t in texts:
            ids = torch.tensor([wordpiece(t)])
            hidden = encoder(ids, torch.ones_like(ids), torch.zeros_like(ids))
            sentence = torch.nn.functional.normalize(hidden[:, 0], dim=1)
            h = torch.tanh(head(sentence))
            probs, embedding = torch.sigmoid(8 * bits(h)), emb(h)
            items.append({"name": f"text {t!r}", "entry": "text", "text": t, "tokens": wordpiece(t), "sentence_embedding": floats(sentence[0]),
                          "code": code(probs[0].numpy()), "probs": floats(probs[0]), "embedding": floats(embedding[0])})
        if min(abs(v - THRESHOLD) for item in items for v in item["probs"]) >= MARGIN:
            break
        seed += 1

    class Text(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head, self.bits, self.emb = head, bits, emb

        def forward(self, sentence_embedding):
            h = torch.tanh(self.head(sentence_embedding))
            return torch.sigmoid(8 * self.bits(h)), self.emb(h)

    os.makedirs(SENTENCE, exist_ok=True)
    ids = torch.tensor([[2, 7, 8, 3, 0], [2, 11, 12, 3, 0]])
    torch.onnx.export(encoder, (ids, torch.ones_like(ids), torch.zeros_like(ids)), os.path.join(SENTENCE, "text-encoder.onnx"),
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                      opset_version=OPSET, dynamic_axes={n: {0: "batch", 1: "tokens"} for n in
                                                         ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]})
    onnx.checker.check_model(onnx.load(os.path.join(SENTENCE, "text-encoder.onnx")))
    export(Text(), (torch.zeros(2, HIDDEN),), os.path.join(SENTENCE, "text.onnx"), ["sentence_embedding"], ["probs", "embedding"])
    with open(os.path.join(SENTENCE, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(), f, indent=1)
        f.write("\n")
    files = ["text-encoder.onnx", "tokenizer.json", "text.onnx"]
    config = {
        "name": "sentence", "version": f"fixture-seed-{seed}", "bits": BITS, "threshold": THRESHOLD, "embedding_dim": EMBEDDING,
        "text_encoder": {"type": "onnx", "file": "text-encoder.onnx", "dimensions": HIDDEN, "pooling": "cls", "normalize": True},
        "tokenizer": {"type": "wordpiece", "file": "tokenizer.json", "max_tokens": SENTENCE_TOKENS},
        "entry_points": {"text": {"file": "text.onnx", "inputs": ["sentence_embedding"]}},
        "outputs": {"probs": "probs", "embedding": "embedding"},
        "sha256": {f: sha256(os.path.join(SENTENCE, f)) for f in files},
    }
    with open(os.path.join(SENTENCE, "model.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(SENTENCE, "golden.json"), "w") as f:
        json.dump(items, f, indent=1)
        f.write("\n")
    print(f"wrote {SENTENCE} (seed {seed}, {len(items)} golden items)")


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
    sentence_model()


if __name__ == "__main__":
    main()
