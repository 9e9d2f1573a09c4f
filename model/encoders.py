"""The frozen encoders under a collection's hashing head: the picture encoder (an ONNX graph the node
runs before the head, a user's own or the MobileNetV2 of nsfwjs exported here) and the caption
encoder (MiniLM, bundled with the plugin). Their features come from the plugin's Java code
(javabridge.features), so training reads exactly what the node computes, and are cached by content.

A picture encoder is described as in model.json:
  "image": {"size": 128, "mean": [0, 0, 0], "std": [1, 1, 1]}           the picture as the graph wants it
  "image_encoder": {"file": "image-encoder.onnx", "input": "pixels", "output": "features", "dimensions": D}
"""
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import onnx
import torch

import javabridge

MOBILENET_LAYERS = ["block_12_expand_relu", "block_13_expand_relu", "block_14_expand_relu"]
OPSET = 13


class MobileNetEncoder(torch.nn.Module):
    """nsfwjs's MobileNetV2 (ImageNet features) as a picture encoder: pixels in [0, 1] at the model's
    size, the pooled outputs of three layers side by side (the layers the emoji model found best)."""

    def __init__(self, layers=MOBILENET_LAYERS):
        super().__init__()
        from mobilenet import convert

        self.graph = convert(outputs=list(layers))

    def forward(self, pixels):
        return torch.cat([o.mean(dim=(2, 3)) for o in self.graph(pixels)], dim=1)


def export_mobilenet(path, size):
    """Writes the MobileNetV2 encoder as ONNX; returns its image_encoder block."""
    model = MobileNetEncoder().eval()
    with torch.no_grad():
        dims = int(model(torch.zeros(1, 3, size, size)).shape[1])
    torch.onnx.export(model, (torch.zeros(2, 3, size, size),), path, input_names=["pixels"], output_names=["features"],
                      opset_version=OPSET, dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}})
    onnx.checker.check_model(onnx.load(path))
    return {"file": os.path.basename(path), "input": "pixels", "output": "features", "dimensions": dims}


def image_encoder(choice, size, mean, std, out_dir, input_name=None, output_name=None):
    """The picture encoder's blocks for model.json, its file copied or exported into out_dir:
    `choice` "mobilenet" (the default) or the path of a user's ONNX file whose input takes float32
    [N, 3, size, size] and whose output is [N, D] (or [N, D, H, W], averaged by the node)."""
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, "image-encoder.onnx")
    if choice == "mobilenet":
        block = export_mobilenet(target, size)
        image = {"size": size, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
        return image, block
    graph = onnx.load(choice)
    inputs = [i.name for i in graph.graph.input if i.name not in {t.name for t in graph.graph.initializer}]
    outputs = [o.name for o in graph.graph.output]
    input_name = input_name or (inputs[0] if len(inputs) == 1 else None)
    output_name = output_name or (outputs[0] if len(outputs) == 1 else None)
    if input_name not in inputs or output_name not in outputs:
        sys.exit(f"train_collection: {choice} has inputs {inputs} and outputs {outputs}: name the picture input and the "
                 "feature output with --image-encoder-input and --image-encoder-output")
    shutil.copyfile(choice, target)
    dims = graph.graph.output[outputs.index(output_name)].type.tensor_type.shape.dim
    dimensions = dims[1].dim_value if len(dims) >= 2 else 0
    if not dimensions:
        sys.exit(f"train_collection: the output {output_name} of {choice} has no fixed feature dimension (shape {dims})")
    return {"size": size, "mean": list(mean), "std": list(std)}, {"file": "image-encoder.onnx", "input": input_name,
                                                                    "output": output_name, "dimensions": int(dimensions)}


def minilm_blocks():
    """model.json's text_encoder and tokenizer blocks for the bundled MiniLM, as export.py writes them."""
    minilm = javabridge.MiniLm()
    text_encoder = {"type": "minilm", "artifact": javabridge.MINILM_ARTIFACT, "model_resource": javabridge.MINILM_MODEL,
                    "model_sha256": minilm.model_sha256, "dimensions": 384, "pooling": "mean", "normalize": True}
    tokenizer = {"type": "wordpiece", "resource": javabridge.MINILM_TOKENIZER, "max_tokens": javabridge.MINILM_MAX_TOKENS}
    return text_encoder, tokenizer


def text_encoder(choice, out_dir, tokenizer=None, pooling="mean", normalize=True, max_tokens=128):
    """The caption encoder's blocks for model.json: `choice` "minilm" (bundled with the plugin, nothing
    copied) or the path of a BERT-style sentence-embedding ONNX graph (inputs input_ids and
    attention_mask, optionally token_type_ids; output last_hidden_state [N, L, D]) with its uncased
    WordPiece `tokenizer` (a HuggingFace tokenizer.json), both copied into out_dir; `pooling` "mean"
    or "cls" as the encoder was trained (bge: cls; MiniLM and e5: mean)."""
    if choice == "minilm":
        return minilm_blocks()
    if not tokenizer:
        sys.exit("train_collection: --text-encoder FILE needs --tokenizer, the encoder's tokenizer.json")
    graph = onnx.load(choice, load_external_data=False)
    outputs = {o.name: o for o in graph.graph.output}
    hidden = outputs.get("last_hidden_state") or graph.graph.output[0]
    dims = hidden.type.tensor_type.shape.dim
    if len(dims) != 3 or not dims[2].dim_value:
        sys.exit(f"train_collection: {choice}'s output {hidden.name} should be [N, L, D] with a fixed D but is {[d.dim_value or d.dim_param for d in dims]}")
    shutil.copyfile(choice, os.path.join(out_dir, "text-encoder.onnx"))
    shutil.copyfile(tokenizer, os.path.join(out_dir, "tokenizer.json"))
    block = {"type": "onnx", "file": "text-encoder.onnx", "dimensions": int(dims[2].dim_value), "pooling": pooling, "normalize": normalize}
    if quantized_per_batch(graph):
        block["embed_alone"] = True
    return block, {"type": "wordpiece", "file": "tokenizer.json", "max_tokens": max_tokens}


def quantized_per_batch(graph):
    """Whether a graph quantizes its activations with a scale computed from the whole batch (ONNX
    Runtime's dynamic quantization, as in langchain4j's int8 MiniLM): the node then embeds each text alone."""
    return any(node.op_type in ("DynamicQuantizeLinear", "DynamicQuantizeMatMul") for node in graph.graph.node)


def encoder_files(spec):
    """The files of the model directory the encoders need (for model.json's sha256)."""
    files = []
    if "image_encoder" in spec:
        files.append(spec["image_encoder"]["file"])
    if spec.get("text_encoder", {}).get("type") == "onnx":
        files += [spec["text_encoder"]["file"], spec["tokenizer"]["file"]]
    return files


def tokenizer(spec, model_dir):
    """(the WordPiece tokenizer the node uses for the spec's captions, its max_tokens), for golden vectors."""
    from wordpiece import WordPiece

    if spec["text_encoder"]["type"] == "minilm":
        return javabridge.MiniLm().tokenizer, javabridge.MINILM_MAX_TOKENS
    return WordPiece(os.path.join(model_dir, spec["tokenizer"]["file"])), spec["tokenizer"]["max_tokens"]


def cached_features(spec, kind, values, model_dir, cache_dir):
    """javabridge.features, cached under cache_dir by the encoder's bytes, its spec and the inputs
    (and the pictures' sizes and times), so a second training of one collection skips it."""
    key = hashlib.sha256(json.dumps({k: spec.get(k) for k in ("image", "image_encoder", "text_encoder", "tokenizer")}, sort_keys=True).encode())
    key.update(kind.encode())
    for file in encoder_files(spec):
        if (kind == "image") == (file == spec.get("image_encoder", {}).get("file")):
            with open(os.path.join(model_dir, file), "rb") as f:
                key.update(hashlib.sha256(f.read()).digest())
    for v in values:
        key.update(v.encode("utf-8") + b"\0")
        if kind == "image":
            st = os.stat(v)
            key.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, f"{kind}-{key.hexdigest()[:16]}.f32")
    if os.path.exists(path):
        return np.fromfile(path, dtype="<f4").reshape(len(values), -1)
    rows = javabridge.features(spec, kind, values, path + ".tmp", model_dir)
    os.replace(path + ".tmp", path)
    return rows
