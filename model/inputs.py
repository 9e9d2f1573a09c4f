"""What the Java runtime must reproduce, in one place: picture preprocessing, the LSTM tower's word
tokenisation and vocabulary, the code's bit order (model/README.md, "Export") and model.json's file
checksums. The plugin's ImagePreprocessor, WordTokenizer and HashCode are tested against what these
functions give (golden vectors)."""
import base64
import hashlib
import io

import numpy as np
import torch
from PIL import Image

IMAGE_SIZE = 64
MEAN = [0.5, 0.5, 0.5]
STD = [0.5, 0.5, 0.5]
MAX_TOKENS = 32
PAD, UNK = 0, 1


def preprocess_images(rgba):
    """uint8 RGBA [N, H, W, 4] -> float32 [N, 3, H, W]: alpha over white in float, then normalised."""
    rgba = torch.as_tensor(rgba)
    colour = rgba[..., :3].float()
    alpha = rgba[..., 3:].float()
    composited = (colour * alpha + 255.0 * (255.0 - alpha)) / 255.0
    x = composited.permute(0, 3, 1, 2) / 255.0
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def words(text):
    """Lower-case, then the maximal runs of letters or digits."""
    out, current = [], []
    for ch in text.lower():
        if ch.isalnum():
            current.append(ch)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


class Vocabulary:
    def __init__(self, tokens):
        self.tokens = tokens
        self.ids = {t: i for i, t in enumerate(tokens)}

    @staticmethod
    def build(texts, min_count=1):
        counts = {}
        for text in texts:
            for w in words(text):
                counts[w] = counts.get(w, 0) + 1
        kept = sorted(w for w, n in counts.items() if n >= min_count)
        return Vocabulary(["[PAD]", "[UNK]"] + kept)

    def encode(self, text):
        ids = [self.ids.get(w, UNK) for w in words(text)][:MAX_TOKENS]
        return ids + [PAD] * (MAX_TOKENS - len(ids))

    def encode_all(self, texts):
        return torch.tensor([self.encode(t) for t in texts], dtype=torch.long)


def pack(bits):
    """bool [N, k] -> uint8 [N, k/8], bit i is bit 7 - i % 8 of byte i / 8 (HashCode's order)."""
    return np.packbits(np.asarray(bits, dtype=bool), axis=1, bitorder="big")


def to_hex(packed_row):
    return bytes(packed_row).hex()


def png_base64(rgba):
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def sha256(path):
    """A file's SHA-256 as model.json records it (lower-case hex)."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
