"""A seeded, repeatable fuzzer for the plugin's inputs, against a real node (issue 24, part 3).

It generates pictures, captions, codes and request bodies, good, odd and hostile, and sends each one alone
through every path that takes it: the deep_hash processor (a bulk request of one document through a
pipeline), POST _deep_hash/models/default/_hash, and a hamming query (by image, text or code). Each case has
an expectation:
  - valid   (unusual but valid pictures: CMYK, 16-bit, palette, grey, alpha, EXIF-rotated, animated GIFs with
             thousands of frames, polyglots, a 4096x4096 bomb; captions with NUL, controls, right-to-left text,
             emoji, lone surrogates): it must hash, and the processor's code must equal _hash's; where the
             picture has a plain equivalent (the same pixels as an 8-bit RGBA PNG, EXIF orientation applied),
             both must give the same code as that equivalent;
  - invalid (random bytes, truncated files, huge or zero declared sizes, 100k-character captions, blank
             captions, bad base64, every wrong type, bad codes, deeply nested or oversized JSON): a 4xx whose
             reason names the field;
  - either  (bit-flipped files): a code or a 4xx.
Never a 5xx or a lost connection. After each hashing input that was refused, _deep_hash/stats' error
counters must have grown by exactly one, of the kind the message implies; after each success, not at all.
At the end the node must still be the same process, answer, and have as many threads as before (within a
few) and a resident memory within --rss-slack MB of where it started.

    python3 fuzz.py URL [--seed S] [--cases N] [--pid PID]

Exits 0 when every case met its expectation; prints one line per failed case (with its name, to rerun:
the same seed gives the same cases).
"""

import argparse
import base64
import io
import json
import os
import random
import re
import struct
import sys
import time
import zlib

from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cluster"))
from cluster import HttpError, request  # noqa: E402

INDEX = "deep-hash-fuzz"
PIPELINE = "deep-hash-fuzz"
BITS = 64


# ----------------------------------------------------------------------------------------------- pictures

def picture(rand, w, h, mode="RGB"):
    """A picture with structure (gradients, blocks, noise), so that different pictures hash differently."""
    img = Image.new("RGB", (w, h))
    px = img.load()
    a, b, c = rand.randrange(256), rand.randrange(256), rand.randrange(256)
    for y in range(h):
        for x in range(w):
            px[x, y] = ((a + 3 * x) % 256, (b + 5 * y) % 256, (c + ((x // 7) ^ (y // 5)) * 17 + rand.randrange(8)) % 256)
    return img if mode == "RGB" else img.convert(mode)


def encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def plain_png(img):
    """The plain equivalent: the same pixels as an 8-bit RGBA PNG."""
    return encode(img.convert("RGBA"), "PNG")


def decoded_png(data):
    """A file as Pillow decodes it (pixels as stored, no orientation applied), as a PNG."""
    img = Image.open(io.BytesIO(data))
    img.load()
    return plain_png(img.convert("RGB") if img.mode == "CMYK" else img)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(w, h):
    """A PNG whose header declares w x h (CRC right), with a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + png_chunk(b"IEND", b"")


def gif_declaring(screen, frame):
    """A GIF whose logical screen and first frame declare the sizes given (the frame's pixels: one byte of LZW)."""
    return (b"GIF89a" + struct.pack("<HH", *screen) + b"\x00\x00\x00" + b"\x2c\x00\x00\x00\x00" + struct.pack("<HH", *frame)
            + b"\x00\x02\x02\x44\x01\x00\x3b")


def bmp_declaring(w, h):
    header = b"BM" + struct.pack("<IHHI", 54 + 4, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 4, 2835, 2835, 0, 0)
    return header + info + b"\x00" * 4


def jpeg_declaring(rand, w, h):
    """A real JPEG with its SOF0 frame size patched to w x h."""
    data = bytearray(encode(picture(rand, 16, 16), "JPEG"))
    i = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, i + 5, h, w)
    return bytes(data)


def with_exif_orientation(img, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(img, "JPEG", exif=exif.tobytes(), quality=95)


TRANSPOSE = {2: [Image.FLIP_LEFT_RIGHT], 3: [Image.ROTATE_180], 4: [Image.FLIP_TOP_BOTTOM],
             5: [Image.TRANSPOSE], 6: [Image.ROTATE_270], 7: [Image.TRANSVERSE], 8: [Image.ROTATE_90]}


def image_cases(rand):
    """(name, expectation, bytes or str (already base64), plain-equivalent PNG bytes or None, exact)."""
    cases = []
    for i in range(12):
        w, h = rand.randrange(1, 160), rand.randrange(1, 160)
        img = picture(rand, w, h)
        cases.append(("png-rgb-%dx%d" % (w, h), "valid", encode(img, "PNG"), plain_png(img), True))
        rgba = img.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize((w, h)))
        cases.append(("png-alpha-%d" % i, "valid", encode(rgba, "PNG"), encode(rgba, "PNG"), True))
        grey = img.convert("L")
        cases.append(("png-grey-%d" % i, "valid", encode(grey, "PNG"), plain_png(grey), True))
        pal = img.convert("P", palette=Image.ADAPTIVE, colors=rand.choice([2, 16, 256]))
        cases.append(("png-palette-%d" % i, "valid", encode(pal, "PNG"), plain_png(pal), True))
        cases.append(("png-1bit-%d" % i, "valid", encode(img.convert("1"), "PNG"), plain_png(img.convert("1")), True))
        # 16-bit grey: its 8-bit equivalent is each sample's high byte.
        hi = grey.point(lambda v: v)
        sixteen = Image.frombytes("I;16", (w, h), bytes(b for v in hi.getdata() for b in (v * 257 & 0xFF, v * 257 >> 8)))
        cases.append(("png-16bit-grey-%d" % i, "valid", encode(sixteen, "PNG"), plain_png(hi), True))
        for name, data in (("jpeg-rgb", encode(img, "JPEG", quality=90)), ("jpeg-grey", encode(grey, "JPEG")),
                           ("jpeg-progressive", encode(img, "JPEG", progressive=True)),
                           ("jpeg-cmyk", encode(img.convert("CMYK"), "JPEG", quality=95))):
            cases.append(("%s-%d" % (name, i), "valid", data, decoded_png(data), False))
        o = rand.choice(sorted(TRANSPOSE))
        data = with_exif_orientation(img, o)
        turned = Image.open(io.BytesIO(data))
        turned.load()
        for t in TRANSPOSE[o]:
            turned = turned.transpose(t)
        cases.append(("jpeg-exif-orientation-%d-%d" % (o, i), "valid", data, plain_png(turned), False))
        cases.append(("gif-%d" % i, "valid", encode(pal, "GIF"), plain_png(pal), True))
        cases.append(("bmp-rgb-%d" % i, "valid", encode(img, "BMP"), plain_png(img), True))
        cases.append(("bmp-palette-%d" % i, "valid", encode(pal, "BMP"), plain_png(pal), True))
        cases.append(("webp-lossless-%d" % i, "valid", encode(rgba, "WEBP", lossless=True), encode(rgba, "PNG"), True))
        cases.append(("webp-lossy-%d" % i, "valid", encode(img, "WEBP", quality=80), None, False))
    for n in (2, 500, 3000):
        frames = [picture(rand, 12, 12).convert("P", palette=Image.ADAPTIVE, colors=16) for _ in range(min(n, 50))]
        frames = (frames * (n // len(frames) + 1))[:n]
        data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=10, loop=0)
        cases.append(("gif-animated-%d-frames" % n, "valid", data, plain_png(frames[0]), True))
    anim = [picture(rand, 20, 20) for _ in range(3)]
    cases.append(("webp-animated", "either", encode(anim[0], "WEBP", save_all=True, append_images=anim[1:]), None, False))
    # Polyglots: a valid picture with a ZIP, a script or HTML after its end.
    img = picture(rand, 40, 30)
    for tail in (b"PK\x03\x04" + os.urandom(0) + bytes(rand.randrange(256) for _ in range(300)), b"<script>alert(1)</script>",
                 b"<html><body>hello</body></html>" * 20):
        cases.append(("polyglot-png-%d" % len(tail), "valid", encode(img, "PNG") + tail, plain_png(img), True))
        cases.append(("polyglot-gif-%d" % len(tail), "valid", encode(img.convert("P"), "GIF") + tail, plain_png(img.convert("P")), True))
    # A decompression bomb at the pixel limit (4096 x 4096, a few KB): must hash, not exhaust the node.
    bomb = Image.new("RGB", (4096, 4096), (200, 30, 30))
    cases.append(("png-bomb-4096x4096", "valid", encode(bomb, "PNG"), None, False))
    # Huge or zero declared sizes.
    for w, h in ((100000, 100000), (16385, 1), (5000, 5000), (0, 0), (0, 10), (1, 0), (2**31 - 1, 2**31 - 1)):
        cases.append(("png-declares-%dx%d" % (w, h), "invalid", png_declaring(w, h), None, False))
    for w, h in ((65535, 65535), (0, 0), (65535, 1)):
        # A GIF's logical screen is only a canvas: a huge or empty one around a 1x1 frame is that frame.
        cases.append(("gif-screen-%dx%d-frame-1x1" % (w, h), "either", gif_declaring((w, h), (1, 1)), None, False))
        cases.append(("gif-frame-%dx%d" % (w, h), "invalid", gif_declaring((1, 1), (w, h)), None, False))
        cases.append(("jpeg-declares-%dx%d" % (w, h), "invalid", jpeg_declaring(rand, w, h), None, False))
    for w, h in ((100000, 100000), (0, 0), (-5000, -5000), (20000, 1)):
        cases.append(("bmp-declares-%dx%d" % (w, h), "invalid", bmp_declaring(w, h), None, False))
    # Random bytes, and random bytes behind a real signature.
    for n in (1, 2, 8, 64, 1000, 20000):
        cases.append(("random-%d-bytes" % n, "invalid", bytes(rand.randrange(256) for _ in range(n)), None, False))
    for sig in (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"RIFF\x00\x00\x00\x00WEBPVP8 "):
        cases.append(("signature-then-random-%s" % sig[:4].hex(), "invalid", sig + bytes(rand.randrange(256) for _ in range(500)), None, False))
    # Truncated and bit-flipped files of every format.
    sources = [(n, d) for n, e, d, _, _ in cases if e == "valid" and not n.startswith(("polyglot", "gif-animated", "png-bomb"))]
    for k in range(100):
        name, data = rand.choice(sources)
        cut = rand.randrange(1, max(2, int(len(data) * 0.9)))
        cases.append(("truncated-%s-at-%d-of-%d" % (name, cut, len(data)), "invalid", data[:cut], None, False))
    for k in range(120):
        name, data = rand.choice(sources)
        flipped = bytearray(data)
        for _ in range(rand.randrange(1, 9)):
            p = rand.randrange(len(flipped))
            flipped[p] ^= 1 << rand.randrange(8)
        cases.append(("bitflip-%s-%d" % (name, k), "either", bytes(flipped), None, False))
    # Not base64 at all, or base64 of nothing.
    for s in ("", "   ", "not base64 at all!", "iVBORw0KGgo*not", "=" * 8, "aGVsbG8"):
        cases.append(("bad-base64-%r" % s[:12], "invalid", s, None, False))
    return cases


# ----------------------------------------------------------------------------------------------- captions

def caption_cases(rand):
    """(name, expectation, value)."""
    cases = [
        ("caption-nul", "valid", "a red\u0000apple"),
        ("caption-controls", "valid", "tab\there\nnew\rline\u0007bell\u001b[31m"),
        ("caption-rtl-arabic", "valid", "\u0642\u0637\u0629 \u0633\u0648\u062f\u0627\u0621"),
        ("caption-rtl-hebrew-mixed", "valid", "\u05d7\u05ea\u05d5\u05dc black cat \u202e reversed"),
        ("caption-emoji", "valid", "\U0001F408\u200d\u2b1b black cat \U0001F431\U0001F3FD"),
        ("caption-combining", "valid", "Z\u0351\u0357a\u0306\u0311l\u0334g\u0353o"),
        ("caption-lone-high-surrogate", "valid", "cat \ud800 dog"),
        ("caption-lone-low-surrogate", "valid", "\udc00"),
        ("caption-zero-width", "valid", "\u200b\u200c\u200dcat\ufeff"),
        ("caption-9999-chars", "valid", "cat " * 2499 + "cat"),
        ("caption-array", "valid", ["a black cat", "\u732b"]),
        ("caption-100k-chars", "invalid", "x" * 100000),
        ("caption-10001-chars", "invalid", "y" * 10001),
        ("caption-empty", "invalid", ""),
        ("caption-blank", "invalid", " \t\n "),
        ("caption-empty-array", "invalid", []),
    ]
    for i in range(20):
        n = rand.randrange(1, 200)
        cases.append(("caption-random-unicode-%d" % i, "valid",
                      "".join(chr(rand.choice([rand.randrange(0x20, 0x7f), rand.randrange(0xa0, 0xd7ff), rand.randrange(0xe000, 0xfffd),
                                               rand.randrange(0x10000, 0x10ffff)])) for _ in range(n))))
    return cases


WRONG_TYPES = [("number", 42), ("float", 1.5), ("true", True), ("object", {"a": 1}), ("nested-array", [["a"]]),
               ("array-of-numbers", [1, 2]), ("array-of-objects", [{"x": "y"}]), ("mixed-array", ["a", 1])]


def code_cases(rand):
    good = "%016x" % rand.getrandbits(64)
    return [
        ("code-valid-hex", "valid", good), ("code-valid-bits", "valid", [rand.randrange(2) for _ in range(64)]),
        ("code-upper-hex", "valid", good.upper()),
        ("code-short", "invalid", good[:15]), ("code-long", "invalid", good + "00"), ("code-not-hex", "invalid", "zz" + good[2:]),
        ("code-empty", "invalid", ""), ("code-bits-63", "invalid", [0] * 63), ("code-bits-2s", "invalid", [2] * 64),
        ("code-number", "invalid", 12345), ("code-object", "invalid", {"a": 1}), ("code-true", "invalid", True),
        ("code-nul", "invalid", "\u0000" * 16), ("code-emoji", "invalid", "\U0001F431" * 8),
    ]


def option_cases():
    """The query's options beside a valid code: (name, expected, option, value)."""
    return [
        ("k-1", "valid", "k", 1), ("k-10000", "valid", "k", 10000), ("k-string", "valid", "k", "10"),
        ("k-0", "invalid", "k", 0), ("k-negative", "invalid", "k", -1), ("k-10001", "invalid", "k", 10001),
        ("k-fraction", "invalid", "k", 1.5), ("k-word", "invalid", "k", "ten"), ("k-true", "invalid", "k", True),
        ("k-object", "invalid", "k", {"a": 1}), ("k-huge", "invalid", "k", 2 ** 40),
        ("strategy-auto", "valid", "strategy", "auto"), ("strategy-scan", "valid", "strategy", "scan"),
        ("strategy-index", "valid", "strategy", "index"), ("strategy-upper", "invalid", "strategy", "INDEX"),
        ("strategy-unknown", "invalid", "strategy", "fast"), ("strategy-empty", "invalid", "strategy", ""),
        ("strategy-number", "invalid", "strategy", 1), ("strategy-array", "invalid", "strategy", ["index"]),
        ("max-distance-0", "valid", "max_distance", 0), ("max-distance-64", "valid", "max_distance", 64),
        ("max-distance-65", "invalid", "max_distance", 65), ("max-distance-negative", "invalid", "max_distance", -1),
    ]


# ----------------------------------------------------------------------------------------------- the run

class Fuzz:
    def __init__(self, url):
        self.url = url
        self.failures = []
        self.counts = {}
        self.outcomes = {}
        self.distances = {}
        self.plain_codes = {}   # case name -> the code of its plain equivalent
        self.doc = 0

    def fail(self, name, path, what):
        self.failures.append("%s via %s: %s" % (name, path, what))

    def count(self, path, outcome):
        self.counts[(path, outcome)] = self.counts.get((path, outcome), 0) + 1

    def stats(self):
        r = request(self.url, "GET", "/_deep_hash/stats")
        node = next(iter(r.json()["nodes"].values()))
        return dict(node.get("errors", {}))

    def send(self, name, path, method, target, body, ndjson=False):
        try:
            r = request(self.url, method, target, body, timeout=120, ndjson=ndjson)
        except HttpError as e:
            self.fail(name, path, "no answer: %s" % e)
            return None
        if r.status >= 500:
            self.fail(name, path, "server error %r" % r)
            return None
        return r

    def judge(self, name, path, expectation, status, reason, before, names_field):
        """Checks a result against the case's expectation and the stats' error counters."""
        after = self.stats()
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before) if after.get(k, 0) != before.get(k, 0)}
        ok = status == 200
        self.count(path, "hashed" if ok else "refused")
        self.outcomes[(name, path)] = (status, tuple(sorted(delta)))
        if expectation == "valid" and not ok:
            self.fail(name, path, "a valid input was refused: %s" % reason)
        if expectation == "invalid" and ok:
            self.fail(name, path, "an invalid input was hashed")
        if not ok:
            if not (400 <= status < 500):
                self.fail(name, path, "status %d" % status)
            if names_field and names_field not in (reason or ""):
                self.fail(name, path, "the error does not name %s: %s" % (names_field, reason))
            if sum(delta.values()) != 1:
                self.fail(name, path, "refused, but the stats' errors moved by %s" % delta)
        elif delta:
            self.fail(name, path, "hashed, but the stats' errors moved by %s" % delta)
        return delta

    def processor(self, name, expectation, field, value):
        before = self.stats()
        self.doc += 1
        body = json.dumps({"index": {"_index": INDEX, "_id": str(self.doc)}}) + "\n" + json.dumps({field: value}) + "\n"
        r = self.send(name, "processor", "POST", "/_bulk?refresh=false", body, ndjson=True)
        if r is None:
            return None
        if r.status != 200:
            self.judge(name, "processor", expectation, r.status, r.body[:500].decode("utf-8", "replace"), before, "[" + field + "]")
            return None
        item = r.json()["items"][0]["index"]
        status = item["status"]
        reason = json.dumps(item.get("error", {}))[:600]
        self.judge(name, "processor", expectation, 200 if status in (200, 201) else status, reason, before, "[" + field + "]")
        if status in (200, 201):
            got = request(self.url, "GET", "/%s/_doc/%d" % (INDEX, self.doc)).json()["_source"]
            return got.get("image_hash" if field == "image" else "text_hash")
        return None

    def hash_api(self, name, expectation, key, value):
        before = self.stats()
        r = self.send(name, "_hash", "POST", "/_deep_hash/models/default/_hash", {key: value})
        if r is None:
            return None
        self.judge(name, "_hash", expectation, r.status, r.body[:600].decode("utf-8", "replace"), before, "[_hash] [" + key + "]")
        return r.json().get("code") if r.status == 200 else None

    def every_path(self, name, expectation, field, key, value):
        """One picture (field "image", key "image") or caption (field "caption", key "text") through the processor,
        _hash and a query on image_hash; the processor's code must be _hash's. Returns _hash's code, or None."""
        got = self.processor(name, expectation, field, value)
        code = self.hash_api(name, expectation, key, value)
        self.query(name, expectation, "image_hash", key, value)
        if got is not None and code is not None and got != code:
            self.fail(name, "processor", "code %s differs from _hash's %s" % (got, code))
        return code

    def option(self, name, expectation, key, value, code):
        """A query by a valid code with one option: a valid one answers 200, an invalid one a 4xx naming it."""
        r = self.send(name, "query", "POST", "/%s/_search" % INDEX, {"size": 1, "query": {"hamming": {"field": "hash", "code": code, key: value}}})
        if r is None:
            return
        reason = r.body[:600].decode("utf-8", "replace")
        self.count("query", "hashed" if r.status == 200 else "refused")
        if expectation == "valid" and r.status != 200:
            self.fail(name, "query", "a valid [%s] was refused: %s" % (key, reason))
        named = "[%s]" % key in reason or "%s doesn't support" % key in reason   # ours, or Elasticsearch's parser's
        if expectation == "invalid" and (not 400 <= r.status < 500 or not named):
            self.fail(name, "query", "status %d for an invalid [%s], or the reason does not name it: %s" % (r.status, key, reason))

    def query(self, name, expectation, field, key, value, counted=True):
        before = self.stats()
        r = self.send(name, "query", "POST", "/%s/_search" % INDEX, {"size": 1, "query": {"hamming": {"field": field, key: value}}})
        if r is None:
            return
        reason = r.body[:600].decode("utf-8", "replace")
        if counted:
            self.judge(name, "query", expectation, r.status, reason, before, "[" + key + "]")
        else:
            # Codes are checked when the query is parsed, before any hashing: nothing to count.
            self.count("query", "hashed" if r.status == 200 else "refused")
            if expectation == "valid" and r.status != 200:
                self.fail(name, "query", "a valid code was refused: %s" % reason)
            if expectation == "invalid" and r.status == 200:
                self.fail(name, "query", "an invalid code was accepted")
            if r.status != 200 and (not 400 <= r.status < 500 or "[code]" not in reason):
                self.fail(name, "query", "status %d without naming [code]: %s" % (r.status, reason))


def setup(url):
    request(url, "DELETE", "/" + INDEX)
    r = request(url, "PUT", "/_ingest/pipeline/" + PIPELINE, {"processors": [{"deep_hash": {
        "image_field": "image", "text_field": "caption", "target_field": "hash",
        "image_target_field": "image_hash", "text_target_field": "text_hash", "remove_image": True}}]})
    assert r.status == 200, r
    # The plugin's format, with multi-index tables on the fused codes, so that the query options below reach them.
    fields = {f: {"type": "binary_hash", "bits": BITS} for f in ("hash", "image_hash", "text_hash")}
    fields["hash"]["index_options"] = {"type": "multi_index"}
    r = request(url, "PUT", "/" + INDEX, {"settings": {"number_of_shards": 1, "number_of_replicas": 0, "index.default_pipeline": PIPELINE,
                                                       "index.deep_hash.codec": True},
                                          "mappings": {"properties": fields}})
    assert r.status == 200, r


def node_facts(url, pid):
    r = request(url, "GET", "/_nodes/_local/stats/jvm,process").json()
    node = next(iter(r["nodes"].values()))
    rss = None
    if pid:
        with open("/proc/%d/status" % pid) as f:
            rss = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
    return {"threads": node["jvm"]["threads"]["count"], "heap_used": node["jvm"]["mem"]["heap_used_in_bytes"], "rss": rss}


def run_cases(fz, url, images, captions, codes):
    """Sends every case through every path; returns the number of requests and each case's outcome per path."""
    n = 0
    outcomes = {}
    fz.outcomes = outcomes
    for name, expectation, data, plain, exact in images:
        value = data if isinstance(data, str) else base64.b64encode(data).decode("ascii")
        code = fz.every_path(name, expectation, "image", "image", value)
        n += 3
        if plain is not None and code is not None:
            if name not in fz.plain_codes:   # the same in both passes
                fz.plain_codes[name] = request(url, "POST", "/_deep_hash/models/default/_hash",
                                               {"image": base64.b64encode(plain).decode()}).json()["code"]
            want = fz.plain_codes[name]
            d = bin(int(code, 16) ^ int(want, 16)).count("1")
            family = re.sub(r"(-\d+(x\d+)?)+$", "", name)
            fz.distances[family] = max(fz.distances.get(family, 0), d)
            if (exact and d) or d > 4:
                fz.fail(name, "_hash", "code %s is %d bits from its plain equivalent's %s" % (code, d, want))
    for name, expectation, value in captions:
        fz.every_path(name, expectation, "caption", "text", value)
        n += 3
    for what, value in WRONG_TYPES:
        fz.processor("wrong-type-image-" + what, "invalid", "image", value)
        fz.processor("wrong-type-caption-" + what, "invalid", "caption", value)
        fz.hash_api("wrong-type-image-" + what, "invalid", "image", value)
        fz.hash_api("wrong-type-text-" + what, "invalid", "text", value)
        fz.query("wrong-type-image-" + what, "invalid", "image_hash", "image", value)
        fz.query("wrong-type-text-" + what, "invalid", "image_hash", "text", value)
        n += 6
    for name, expectation, value in codes:
        fz.query(name, expectation, "hash", "code", value, counted=False)
        n += 1
    for name, expectation, key, value in option_cases():
        fz.option(name, expectation, key, value, codes[0][2])
        n += 1
    # JSON that is not what anyone should send: deeply nested, and over the HTTP content limit.
    nested = "[" * 5000 + "]" * 5000
    for path, method, target, body in (("processor", "POST", "/%s/_doc" % INDEX, '{"caption": %s}' % nested),
                                        ("_hash", "POST", "/_deep_hash/models/default/_hash", '{"text": %s}' % nested),
                                        ("query", "POST", "/%s/_search" % INDEX, '{"query": {"hamming": {"field": "hash", "text": %s}}}' % nested)):
        r = fz.send("json-nested-5000", path, method, target, body)
        n += 1
        if r is not None and not 400 <= r.status < 500:
            fz.fail("json-nested-5000", path, "expected a 4xx: %r" % r)
    big = '{"image": "%s"}' % ("A" * (101 * 1024 * 1024))
    r = fz.send("json-over-100mb", "_hash", "POST", "/_deep_hash/models/default/_hash", big)
    n += 1
    if r is not None and r.status != 413:
        fz.fail("json-over-100mb", "_hash", "expected 413: %r" % r)
    del big
    return n, outcomes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--pid", type=int, default=None, help="the node's process id, for its resident memory")
    ap.add_argument("--rss-slack", type=int, default=256, help="MB the resident memory may grow (default 256)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    rand = random.Random(seed)
    print("[fuzz] seed %d (rerun with --seed %d)" % (seed, seed), flush=True)
    url = args.url
    pid = args.pid
    if pid is None:
        pid = next(iter(request(url, "GET", "/_nodes/_local/process").json()["nodes"].values()))["process"]["id"]
        if not os.path.exists("/proc/%d" % pid):
            pid = None
    setup(url)
    fz = Fuzz(url)
    # Warm up (the model loads on first use), then the node's figures to compare with at the end.
    request(url, "POST", "/_deep_hash/models/default/_hash", {"text": "warm up", "image": base64.b64encode(encode(picture(rand, 8, 8), "PNG")).decode()})
    images, captions, codes = image_cases(rand), caption_cases(rand), code_cases(rand)
    t0 = time.time()
    # Two passes over the same cases: the first brings every pool thread and buffer into being; from its end
    # to the second's, threads and resident memory must stay put, and every case must end as it did.
    n, first = run_cases(fz, url, images, captions, codes)
    time.sleep(2)
    start = node_facts(url, pid)
    fz.counts.clear()
    n2, second = run_cases(fz, url, images, captions, codes)
    n += n2
    changed = [k for k in first if first[k] != second.get(k)]
    if changed:
        fz.failures.append("%d cases ended differently the second time: %s" % (len(changed), changed[:5]))
    time.sleep(2)
    end = node_facts(url, pid)
    alive = request(url, "GET", "/_cluster/health").status == 200
    same = pid is None or os.path.exists("/proc/%d" % pid)
    if not (alive and same):
        fz.failures.append("the node did not survive (answers: %s, same process: %s)" % (alive, same))
    if end["threads"] > start["threads"] + 4:
        fz.failures.append("threads grew from %d to %d" % (start["threads"], end["threads"]))
    if start["rss"] and end["rss"] and end["rss"] > start["rss"] + args.rss_slack * 2**20:
        fz.failures.append("resident memory grew from %d to %d MB" % (start["rss"] >> 20, end["rss"] >> 20))
    print("[fuzz] %d requests in %.0f s; outcomes %s" % (n, time.time() - t0, json.dumps({"%s %s" % k: v for k, v in sorted(fz.counts.items())})))
    print("[fuzz] node: threads %d -> %d, resident memory %s -> %s MB, same process %s" % (
        start["threads"], end["threads"], start["rss"] and start["rss"] >> 20, end["rss"] and end["rss"] >> 20, same))
    request(url, "DELETE", "/" + INDEX)
    request(url, "DELETE", "/_ingest/pipeline/" + PIPELINE)
    print("[fuzz] largest distance to the plain equivalent, by kind: %s" % json.dumps(
        dict(sorted(fz.distances.items()))))
    fz.failures = list(dict.fromkeys(fz.failures))   # each pass reports the same failures
    for f in fz.failures:
        print("[fuzz] FAILED: " + f[:700])
    print("[fuzz] %s (seed %d)" % ("%d failures" % len(fz.failures) if fz.failures else "passed", seed))
    return 1 if fz.failures else 0


if __name__ == "__main__":
    sys.exit(main())
