"""The emoji data set: the sources and their licences, the emoji table with captions in six
languages, the split by emoji, the caption pool, and the loaders that train, evaluate and export
read it with. data.py builds it; nothing here builds pictures anew."""
import json
import os
import random
import re

import numpy as np
import torch

import inputs

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = os.path.join(HERE, "node_modules")
SIZE = 64
SEED = 20151107  # fixed: the split must not move between runs
OTHER_LANGUAGES = ["de", "fr", "es", "ja", "zh"]

SOURCES = {
    "google": {
        "package": "emoji-datasource-google",
        "licence": "Apache-2.0 (Noto Emoji images, per the package README); package code MIT",
    },
    "twitter": {
        "package": "emoji-datasource-twitter",
        "licence": "CC-BY-4.0 (Twemoji graphics, per the package README); package code MIT",
    },
    "openmoji": {
        "package": "openmoji",
        "licence": "CC-BY-SA-4.0 (package.json and LICENSE.txt)",
    },
    "fluent": {
        "package": "@iconify-json/fluent-emoji-flat",
        "licence": "MIT (info.json: Microsoft Fluent UI Emoji)",
    },
}


def caption(emoji, rng=None, language="en"):
    """The caption of an emoji: its name and keywords. With rng, a random augmentation of it."""
    if language == "en":
        label, tags = emoji["label"], list(emoji["tags"])
    else:
        label, tags = emoji["captions"][language]["label"], list(emoji["captions"][language]["tags"])
    if rng is None:
        return ", ".join([label] + [t for t in tags if t != label])
    choice = rng.random()
    rng.shuffle(tags)
    if choice < 0.25:
        return label
    if choice < 0.4 and tags:
        return " ".join(tags[: rng.randint(1, len(tags))])
    return ", ".join([label] + tags[: rng.randint(0, len(tags))])


def package_version(package):
    with open(os.path.join(NODE, package, "package.json")) as f:
        return json.load(f)["version"]


def key(hexcode):
    """Matching key across packages: upper-case code points without variation selectors."""
    return "-".join(p for p in hexcode.upper().split("-") if p != "FE0F")


def slug(label):
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def emoji_table():
    with open(os.path.join(NODE, "emojibase-data/en/data.json")) as f:
        english = json.load(f)
    with open(os.path.join(NODE, "emojibase-data/meta/groups.json")) as f:
        groups = json.load(f)
    others = {}
    for language in OTHER_LANGUAGES:
        with open(os.path.join(NODE, "emojibase-data", language, "data.json")) as f:
            others[language] = {key(e["hexcode"]): e for e in json.load(f)}
    table = []
    for e in english:
        if "group" not in e or groups["groups"][str(e["group"])] == "component":
            continue
        k = key(e["hexcode"])
        table.append({
            "hexcode": e["hexcode"],
            "key": k,
            "label": e["label"],
            "tags": e.get("tags", []),
            "group": groups["groups"][str(e["group"])],
            "subgroup": groups["subgroups"][str(e["subgroup"])],
            "captions": {
                language: {"label": others[language][k]["label"], "tags": others[language][k].get("tags", [])}
                for language in OTHER_LANGUAGES if k in others[language]
            },
        })
    return table


def caption_pool(table, augmentations=6):
    """A fixed set of captions per emoji, the same for every text encoder (a frozen encoder embeds them
    once): the full English caption, the name alone, random cuts of the keywords, and the full caption
    and the name in each other language."""
    rng = random.Random(SEED)
    pool = []
    for i, e in enumerate(table):
        pool.append({"emoji": i, "language": "en", "kind": "full", "text": caption(e)})
        pool.append({"emoji": i, "language": "en", "kind": "name", "text": e["label"]})
        for _ in range(augmentations):
            pool.append({"emoji": i, "language": "en", "kind": "augmented", "text": caption(e, rng)})
        for language, c in sorted(e["captions"].items()):
            pool.append({"emoji": i, "language": language, "kind": "full", "text": caption(e, language=language)})
            pool.append({"emoji": i, "language": language, "kind": "name", "text": c["label"]})
    return pool


def split(table):
    """About 70/10/20 by emoji, stratified by subgroup so every subgroup has test emoji where it can."""
    rng = random.Random(SEED)
    by_subgroup = {}
    for i, e in enumerate(table):
        by_subgroup.setdefault(e["subgroup"], []).append(i)
    for subgroup in sorted(by_subgroup):
        members = by_subgroup[subgroup]
        rng.shuffle(members)
        n = len(members)
        n_test = round(n * 0.2)
        n_val = round(n * 0.1)
        for rank, i in enumerate(members):
            table[i]["split"] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"


# Words that name who an emoji shows rather than what it shows: "man technologist", "woman technologist"
# and "technologist" are one emoji drawn three ways (twins), with nearly the same picture and caption.
PERSON_WORDS = {"man", "woman", "person", "men", "women", "people", "boy", "girl"}


def twin_key(label):
    """The label without its PERSON_WORDS, lower-case words only ("man: red hair" -> "red hair")."""
    return " ".join(w for w in re.findall(r"[a-z0-9]+", label.lower()) if w not in PERSON_WORDS)


def twins(table, split="test", of="train"):
    """The emoji of `split` that have a twin in `of`: an emoji whose label is the same once PERSON_WORDS
    are left out, where one of the two labels has such a word ("man technologist" in test, "woman
    technologist" or "technologist" in training). A model that has learnt the twin has all but seen
    the held-out emoji."""
    def personal(label):
        return twin_key(label) != " ".join(re.findall(r"[a-z0-9]+", label.lower()))

    seen = {}
    for e in table:
        if e["split"] == of:
            seen.setdefault(twin_key(e["label"]), []).append(e["label"])
    return {i for i, e in enumerate(table) if e["split"] == split and twin_key(e["label"]) in seen
            and (personal(e["label"]) or any(personal(other) for other in seen[twin_key(e["label"])]))}


def load_data(data_dir):
    images = np.load(os.path.join(data_dir, "images.npy"))
    with open(os.path.join(data_dir, "images.json")) as f:
        records = json.load(f)
    with open(os.path.join(data_dir, "emoji.json")) as f:
        table = json.load(f)
    subgroups = sorted({e["subgroup"] for e in table})
    return images, records, table, subgroups


def int8_captions(data_dir, texts):
    """captions-minilm-int8.f32 in data_dir: every caption through the int8 MiniLM as the node runs it
    (javabridge.MiniLmInt8), written once for the captions.jsonl it was computed from."""
    import hashlib
    import javabridge

    path = os.path.join(data_dir, "captions-minilm-int8.f32")
    with open(os.path.join(data_dir, "captions.jsonl"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stamp = path + ".sha256"
    if not os.path.exists(path) or not os.path.exists(stamp) or open(stamp).read().strip() != digest:
        rows = javabridge.MiniLmInt8(os.path.join(data_dir, "minilm-int8")).embed(texts).numpy()
        rows.astype("<f4").tofile(path)
        with open(stamp, "w") as f:
            f.write(digest + "\n")
    return path


class Captions:
    """The caption pool (data.py) and each caption's text-tower input: LSTM token ids over a vocabulary
    built from training emoji only, or the frozen MiniLM embedding the Java encoder wrote (text_encoder
    "minilm"; "minilm-int8": the same through langchain4j's int8 twin, one caption at a time, computed
    here at first use)."""

    def __init__(self, data_dir, table, text_encoder, vocab=None):
        with open(os.path.join(data_dir, "captions.jsonl"), encoding="utf-8") as f:
            self.texts = [json.loads(line) for line in f]
        with open(os.path.join(data_dir, "captions.json")) as f:
            self.meta = json.load(f)
        self.by_emoji = {}
        for row, m in enumerate(self.meta):
            self.by_emoji.setdefault(m["emoji"], {}).setdefault(m["language"] == "en", []).append(row)
        if text_encoder == "lstm":
            if vocab is None:
                vocab = inputs.Vocabulary.build(t for t, m in zip(self.texts, self.meta) if table[m["emoji"]]["split"] == "train")
            self.vocab = vocab
            self.inputs = vocab.encode_all(self.texts)
        else:
            path = os.path.join(data_dir, "captions-minilm.f32")
            if text_encoder == "minilm-int8":
                path = int8_captions(data_dir, self.texts)
            self.vocab = None
            self.inputs = torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(len(self.texts), 384).copy())

    def sample(self, emoji, rng, other_languages):
        rows = self.by_emoji[emoji]
        english = other_languages == 0 or False not in rows or rng.random() >= other_languages
        return rng.choice(rows[True] if english else rows[False])

    def rows(self, language="en", kind="full"):
        """{emoji: row} of one language and kind."""
        return {m["emoji"]: r for r, m in enumerate(self.meta) if m["language"] == language and m["kind"] == kind}


class Split:
    """The pictures and emoji of one split, and the text-tower inputs of their captions."""

    def __init__(self, images, records, table, split, captions, leave_out=()):
        """leave_out: emoji (indices into the table) left out of the split, as queries and as items."""
        leave_out = set(leave_out)
        self.name, self.records, self.images_of = split, records, images
        self.pictures = [i for i, r in enumerate(records) if table[r["emoji"]]["split"] == split and r["emoji"] not in leave_out]
        self.emoji = np.array(sorted({records[i]["emoji"] for i in self.pictures}), dtype=int)
        self.picture_emoji = np.array([records[i]["emoji"] for i in self.pictures])
        self.picture_labels = np.array([table[records[i]["emoji"]]["subgroup"] for i in self.pictures])
        self.emoji_labels = np.array([table[e]["subgroup"] for e in self.emoji])
        self.images = images[self.pictures]
        self.table = table
        self.captions = captions

    def labels(self, kind):
        """Subgroup of every database or query item of one kind: pictures for image and fused, emoji for text."""
        return self.emoji_labels if kind == "text" else self.picture_labels

    def groups(self, kind):
        """The emoji of every database or query item of one kind: one picture of an emoji is in its group
        with the emoji's other pictures and its caption."""
        return self.emoji if kind == "text" else self.picture_emoji

    def text_inputs(self, language="en"):
        """(emoji that have a full caption in the language, the text-tower inputs of those captions)."""
        rows = self.captions.rows(language)
        keep = [e for e in self.emoji if e in rows]
        return keep, self.captions.inputs[[rows[e] for e in keep]]
