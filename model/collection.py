"""A user's collection of pictures and captions, read, checked and split, ready for training a
hashing head over frozen encoders (train_collection.py).

Two sources give the same items:
  a folder with a JSONL file, one item a line:
    {"image": "photos/0001.jpg", "caption": "red running shoe" | ["red running shoe", "sneaker"],
     "labels": ["shoes", "sport"] | "shoes", "group": "sku-1234"}
  every key but one of image/caption optional: pictures are paths relative to the JSONL file's folder
  (PNG, JPEG, GIF or BMP: what the plugin's ingest decodes); captions a string or a list of strings,
  which the ingest processor joins with ", " as the model is trained to expect; labels zero, one or
  many per item (relevant = shares a label); group: items of one group (near duplicates, variants of
  one product) always land in the same split; split (train, val or test): a split the collection
  already has, kept as it is. Keys can be renamed (`keys`).
  or an Elasticsearch index, read with a point-in-time search (`read_index`): pictures as base64 in a
  field (written to files) or paths, captions and labels from other fields.

The split is by group, from a hash of the group key: adding items later never moves an old item to
another split, and near-identical items never straddle two splits.
"""
import base64
import binascii
import hashlib
import json
import os
import sys
import urllib.request

DEFAULT_KEYS = {"image": "image", "caption": "caption", "labels": "labels", "group": "group", "id": "id", "split": "split"}
SPLITS = {"test": 0.2, "val": 0.1}


class CollectionError(Exception):
    """A collection that cannot be trained on; the message says what to fix."""


class Item:
    __slots__ = ("id", "image", "captions", "labels", "group", "split", "given_split")

    def __init__(self, id, image, captions, labels, group, given_split=None):
        self.id, self.image, self.captions, self.labels, self.group = id, image, captions, labels, group
        self.given_split = given_split  # a split the collection names itself (train, val or test), kept as is
        self.split = None

    @property
    def caption(self):
        """The caption as the ingest processor hashes it: the strings joined with ", "."""
        return ", ".join(self.captions) if self.captions else None

    def texts(self):
        """Every text the item offers for training: the joined caption, then each caption alone."""
        out = [self.caption] if self.captions else []
        return out + [c for c in self.captions if c not in out]


def split_of(group, salt="deep-hash"):
    """test, val or train, from the group key's hash: stable whatever else the collection holds."""
    h = int.from_bytes(hashlib.sha256(f"{salt}:{group}".encode("utf-8")).digest()[:8], "big") / 2 ** 64
    if h < SPLITS["test"]:
        return "test"
    return "val" if h < SPLITS["test"] + SPLITS["val"] else "train"


def _strings(value, what, where):
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise CollectionError(f"{where}: [{what}] must be a string or a list of strings but was {json.dumps(value)[:80]}")
    return [str(v).strip() for v in value if str(v).strip()]


def read_jsonl(path, keys=None, limit=None):
    """The items of a JSONL collection. Pictures that do not exist are reported and their items kept
    only if they have a caption; a line that is not a JSON object is an error naming the line."""
    keys = {**DEFAULT_KEYS, **(keys or {})}
    base = os.path.dirname(os.path.abspath(path))
    items, missing = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise CollectionError(f"{path}, line {n}: not JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise CollectionError(f"{path}, line {n}: expected a JSON object but got {type(row).__name__}")
            image = row.get(keys["image"])
            if image is not None:
                if not isinstance(image, str):
                    raise CollectionError(f"{path}, line {n}: [{keys['image']}] must be a path but was {json.dumps(image)[:80]}")
                image = os.path.normpath(os.path.join(base, image))
                if not os.path.isfile(image):
                    missing.append((n, image))
                    image = None
            captions = _strings(row.get(keys["caption"]), keys["caption"], f"{path}, line {n}")
            if image is None and not captions:
                continue
            labels = _strings(row.get(keys["labels"]), keys["labels"], f"{path}, line {n}")
            id = str(row.get(keys["id"], n))
            group = row.get(keys["group"])
            given = row.get(keys["split"])
            if given is not None and given not in ("train", "val", "test"):
                raise CollectionError(f"{path}, line {n}: [{keys['split']}] must be train, val or test but was {json.dumps(given)[:80]}")
            items.append(Item(id, image, captions, labels, str(group) if group is not None else f"{id}", given))
            if limit and len(items) >= limit:
                break
    for n, image in missing[:5]:
        print(f"collection: line {n}: no picture at {image}", file=sys.stderr)
    if len(missing) > 5:
        print(f"collection: ... and {len(missing) - 5} more lines whose picture is missing", file=sys.stderr)
    return items


def read_index(url, index, image_field=None, caption_field=None, labels_field=None, group_field=None, work_dir=".",
               limit=None, page=500):
    """The items of an Elasticsearch index, read with a point-in-time search in _doc order: pictures
    from `image_field` (base64, written under work_dir/pictures/, or a path), captions, labels and
    the group from the other fields. Only the named fields are fetched."""
    url = url.rstrip("/")

    def call(method, path, body=None):
        request = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            raise CollectionError(f"{method} {path} answered {e.code}: {e.read().decode(errors='replace')[:300]}") from None
        except urllib.error.URLError as e:
            raise CollectionError(f"cannot reach Elasticsearch at {url}: {e.reason}") from None

    fields = [f for f in (image_field, caption_field, labels_field, group_field) if f]
    if not fields:
        raise CollectionError("name at least an image field or a caption field to read from the index")
    pictures = os.path.join(work_dir, "pictures")
    os.makedirs(pictures, exist_ok=True)
    pit = call("POST", f"/{index}/_pit?keep_alive=2m")["id"]
    items, after, bad = [], None, 0
    try:
        while True:
            body = {"size": page, "pit": {"id": pit, "keep_alive": "2m"}, "sort": ["_shard_doc"], "_source": fields}
            if after:
                body["search_after"] = after
            hits = call("POST", "/_search", body)["hits"]["hits"]
            if not hits:
                break
            for hit in hits:
                source = hit.get("_source", {})
                image = _field(source, image_field)
                if isinstance(image, str) and image:
                    path = image if os.path.isfile(image) else None
                    if path is None:
                        try:
                            data = base64.b64decode(image, validate=True)
                            path = os.path.join(pictures, hashlib.sha256(data).hexdigest()[:32])
                            if not os.path.exists(path):
                                with open(path, "wb") as out:
                                    out.write(data)
                        except (binascii.Error, ValueError):
                            bad += 1
                    image = path
                else:
                    image = None
                where = f"document [{hit['_id']}] of index [{index}]"
                captions = _strings(_field(source, caption_field), caption_field, where)
                if image is None and not captions:
                    continue
                labels = _strings(_field(source, labels_field), labels_field, where)
                group = _field(source, group_field)
                items.append(Item(hit["_id"], image, captions, labels, str(group) if group is not None else hit["_id"]))
                if limit and len(items) >= limit:
                    return items
            after = hits[-1]["sort"]
            print(f"collection: {len(items)} documents read from [{index}]", file=sys.stderr, flush=True)
    finally:
        call("DELETE", "/_pit", {"id": pit})
        if bad:
            print(f"collection: {bad} documents of [{index}] had a [{image_field}] that is neither a file nor base64", file=sys.stderr)
    return items


def _field(source, path):
    """A value from _source by dotted path, or None."""
    if not path:
        return None
    value = source
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def prepare(items, use_labels=True, salt="deep-hash"):
    """Splits the items by group and says what the collection allows: its modalities, whether it has
    labels (and which), and how many items each split holds. Raises CollectionError when too little
    is there to train and evaluate on."""
    if not items:
        raise CollectionError("the collection has no item with a picture or a caption")
    for item in items:
        item.split = item.given_split or split_of(item.group, salt)
    has_image = sum(1 for i in items if i.image) > 0
    has_text = sum(1 for i in items if i.captions) > 0
    labelled = [i for i in items if i.labels]
    label_names = sorted({l for i in items for l in i.labels}) if use_labels and labelled else []
    counts = {s: sum(1 for i in items if i.split == s) for s in ("train", "val", "test")}
    for split, n in counts.items():
        if n < 2:
            raise CollectionError(f"the {split} split has {n} item(s): a collection needs more groups "
                                  f"(the split is by group, {SPLITS['test']:.0%} test and {SPLITS['val']:.0%} validation)")
    modalities = []
    if has_image:
        modalities.append("image")
    if has_text:
        modalities.append("text")
    if has_image and has_text:
        if sum(1 for i in items if i.image and i.captions) < len(items) / 2:
            print("collection: fewer than half of the items have both a picture and a caption", file=sys.stderr)
        modalities.append("fused")
    return {"items": len(items), "splits": counts, "modalities": modalities, "labels": label_names,
            "labelled_items": len(labelled) if label_names else 0, "groups": len({i.group for i in items})}
