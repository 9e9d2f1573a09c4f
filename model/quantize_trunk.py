"""Static int8 quantization of an export's picture trunk (`image-trunk.onnx`, MobileNetV2 up to the cut
shared by the image and fused heads), written in ONNX's QDQ form, which ONNX Runtime's CPU provider
fuses into integer kernels (QLinearConv, QLinearAdd) when it loads the graph (issue 23: a cheaper
picture pass).

  /usr/bin/python3 model/quantize_trunk.py --export model/export-fast --out /tmp/export-fast-int8

The output directory is a copy of the export with the trunk replaced and model.json's version suffixed
`-int8trunk`; the heads are unchanged, so codes move only as far as the trunk's features do.

How the trunk is quantized:
- The zero padding that the TensorFlow.js conversion writes as a Pad before each stride-2 convolution is
  folded into the convolution's own pads (the same arithmetic; a Pad between Q and DQ would not fuse).
- Activations: every tensor that a convolution reads, and the inputs and outputs of the residual adds, as
  uint8 with one scale and zero point each (except what the stem and the first block read: quantizing the
  stem's output took the cut layer's relative error from 0.03 to 0.20 on validation pictures, against 0.25
  for the whole trunk; leaving the stem and first block float, 0.11, at no measured cost in speed), from the smallest and largest value over calibration pictures
  of the training split. Those are measured by ONNX Runtime in Java (`org.deephash.model.Features`, as a
  node decodes and runs pictures), over a copy of the trunk whose output is each tensor's per-picture
  minimum and maximum (Debian has no Python ONNX Runtime).
- Weights: int8 per output channel, symmetric, in 7 bits (-64..63): on x86 CPUs without VNNI, ONNX
  Runtime multiplies uint8 by int8 with 16-bit intermediate sums that saturate at full 8-bit weights
  (its own quantization tool's `reduce_range`). Biases: int32 at the input scale times the weight scale.
- The trunk's outputs (the pooled `block_12_expand_relu` and `block_12_add`) stay float: their readers
  get the dequantized tensors.
"""
import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
from PIL import Image

import inputs
import javabridge
from emojiset import load_data

HERE = os.path.dirname(os.path.abspath(__file__))
TRUNK_FILE = "image-trunk.onnx"
WEIGHT_LEVELS = 63  # 7-bit symmetric weights (see the module's doc)
# The stem and the first block (MobileNetV2's first three convolutions) read float inputs (see the module's doc).
FLOAT_CONVS = 3


def constant_values(model, names):
    """The values of tensors computed from constants only (the Pad amounts: Debian's onnx 1.12 has no
    reference evaluator, so the few shape operators they use are evaluated here with numpy)."""
    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    ops = {
        "Constant": lambda n, x: numpy_helper.to_array(attribute(n, "value")),
        "ConstantOfShape": lambda n, x: np.full(x[0].astype(np.int64), numpy_helper.to_array(attribute(n, "value"))[0]),
        "Concat": lambda n, x: np.concatenate(x, axis=attribute(n, "axis")),
        "Reshape": lambda n, x: x[0].reshape(x[1].astype(np.int64)),
        "Transpose": lambda n, x: np.transpose(x[0], attribute(n, "perm")),
        "Cast": lambda n, x: x[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[attribute(n, "to")]),
        "Slice": lambda n, x: slice_(x),
    }
    for n in model.graph.node:
        if n.op_type in ops and all(i in values for i in n.input if i):
            values[n.output[0]] = ops[n.op_type](n, [values[i] for i in n.input if i])
    missing = [name for name in names if name not in values]
    if missing:
        raise RuntimeError(f"not computed from constants alone: {missing}")
    return {name: values[name] for name in names}


def attribute(node, name):
    return helper.get_attribute_value(next(a for a in node.attribute if a.name == name))


def slice_(x):
    data, starts, ends = x[0], x[1], x[2]
    axes = x[3] if len(x) > 3 else range(len(starts))
    steps = x[4] if len(x) > 4 else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for a, b, e, st in zip(axes, starts, ends, steps):
        index[int(a)] = slice(int(b), int(max(min(e, 2**62), -2**62)), int(st))
    return data[tuple(index)]


def fold_pads(model):
    """Folds each zero Pad whose only reader is a Conv into that Conv's pads; returns how many."""
    g = model.graph
    readers = consumers(g)
    pads = [n for n in g.node if n.op_type == "Pad"]
    values = constant_values(model, [n.input[1] for n in pads])
    folded = 0
    for pad in pads:
        mode = next((a.s.decode() for a in pad.attribute if a.name == "mode"), "constant")
        users = readers.get(pad.output[0], [])
        amounts = [int(v) for v in values[pad.input[1]]]
        if (mode != "constant" or (len(pad.input) > 2 and pad.input[2]) or len(users) != 1
                or users[0].op_type != "Conv" or len(amounts) != 8 or any(amounts[i] for i in (0, 1, 4, 5))):
            continue
        conv = users[0]
        attr = {a.name: a for a in conv.attribute}
        if "auto_pad" in attr and attr["auto_pad"].s not in (b"", b"NOTSET"):
            continue
        old = list(attr["pads"].ints) if "pads" in attr else [0, 0, 0, 0]
        new = [old[0] + amounts[2], old[1] + amounts[3], old[2] + amounts[6], old[3] + amounts[7]]
        if "pads" in attr:
            del attr["pads"].ints[:]
            attr["pads"].ints.extend(new)
        else:
            conv.attribute.append(helper.make_attribute("pads", new))
        conv.input[0] = pad.input[0]
        g.node.remove(pad)
        folded += 1
    prune(model)
    return folded


def consumers(g):
    out = {}
    for n in g.node:
        for i in n.input:
            out.setdefault(i, []).append(n)
    return out


def prune(model):
    """Drops nodes whose outputs nothing reads (the folded Pads' amount computations)."""
    g = model.graph
    while True:
        read = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        dead = [n for n in g.node if not any(o in read for o in n.output)]
        if not dead:
            return
        for n in dead:
            g.node.remove(n)


def quantized_tensors(model):
    """The activations to quantize, in graph order: what each Conv after the first FLOAT_CONVS reads, and
    the residual Adds' inputs and outputs (an Add of a constant, the input's normalisation, is not one)."""
    g = model.graph
    constants = {i.name for i in g.initializer} | {o for n in g.node if n.op_type == "Constant" for o in n.output}
    names, convs = [], 0
    for n in g.node:
        if n.op_type == "Conv":
            convs += 1
            if convs > FLOAT_CONVS:
                names.append(n.input[0])
        elif n.op_type == "Add" and not any(i in constants for i in n.input):
            names.extend(list(n.input) + [n.output[0]])
    return list(dict.fromkeys(names))


def calibration_model(model, names):
    """A copy of the trunk whose one output, `calibration`, is [N, 2K]: each tensor's per-picture minimum,
    then each one's maximum."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    del g.output[:]
    columns = []
    for kind in ("Min", "Max"):
        for k, name in enumerate(names):
            reduced = f"calib/{kind}/{k}"
            g.node.append(helper.make_node(f"Reduce{kind}", [name], [reduced], axes=[1, 2, 3], keepdims=1))
            g.node.append(helper.make_node("Flatten", [reduced], [reduced + "/flat"], axis=1))
            columns.append(reduced + "/flat")
    g.node.append(helper.make_node("Concat", columns, ["calibration"], axis=1))
    g.output.append(helper.make_tensor_value_info("calibration", TensorProto.FLOAT, ["batch", 2 * len(names)]))
    prune(m)
    return m


def java_rows(image_block, onnx_file, output, dimensions, pictures, work):
    """[N, dimensions] float32: the graph `onnx_file` (its input `image`, its output `output`) over RGBA pictures,
    run as a node runs a model's image_encoder: each picture written as a PNG, decoded and preprocessed by the
    plugin (`image_block`: model.json's `image`), then ONNX Runtime, through org.deephash.model.Features."""
    spec = {"image": image_block,
            "image_encoder": {"file": os.path.abspath(onnx_file), "input": "image", "output": output, "dimensions": dimensions}}
    paths = []
    for i, rgba in enumerate(pictures):
        path = os.path.join(work, f"picture-{i}.png")
        Image.fromarray(np.asarray(rgba), "RGBA").save(path, "PNG")
        paths.append(path)
    rows = javabridge.features(spec, "image", paths, os.path.join(work, "rows.f32"), work)
    if np.isnan(rows).any():
        raise RuntimeError("a picture could not be read (see the Java lines above)")
    return rows


def trunk_rows(export, pictures, trunk_file=None, image_block=None, encoder=None):
    """The trunk rows of RGBA pictures as a node computes them: an export's (model.json's image_encoder), or
    the graph `trunk_file` with model.json's `image_block` and `encoder` blocks given."""
    if export is not None:
        with open(os.path.join(export, "model.json")) as f:
            config = json.load(f)
        image_block, encoder = config["image"], config["image_encoder"]
        trunk_file = os.path.join(export, encoder["file"])
    with tempfile.TemporaryDirectory() as work:
        return java_rows(image_block, trunk_file, encoder["output"], encoder["dimensions"], pictures, work)


def trunk_shapes(model):
    """(width of the pooled layers before the cut, the cut's output shape [C, H, W], the image_encoder block's
    output and dimensions) of `model`'s shared trunk."""
    import torch

    with torch.no_grad():
        frozen, cut = model.image.pretrained.cached(torch.zeros(1, 3, inputs.IMAGE_SIZE, inputs.IMAGE_SIZE))
    width, shape = frozen.shape[1], tuple(cut.shape[1:])
    return width, shape, {"output": "features", "dimensions": width + int(np.prod(shape))}


def trunk_cached(model, rows):
    """(cached, frozen_cached) for `runs.encode` from a trunk's rows ([N, D] as `trunk_rows` gives them), so
    that a run's codes are computed over those features (an int8 trunk's) instead of PyTorch's backbone: the
    pooled layers before the fine-tuning cut and the cut's output for the image tower, and the frozen copy's
    features, its layers after the cut run from that output, for the fused tower (as export.TrunkHead does)."""
    import torch

    tower = model.image
    width, shape, encoder = trunk_shapes(model)
    with torch.no_grad():
        rows = torch.from_numpy(np.ascontiguousarray(rows))
        if rows.shape[1] != encoder["dimensions"]:
            raise ValueError(f"the trunk's rows have {rows.shape[1]} values, the run's trunk {encoder['dimensions']}")
        cached = (rows[:, :width], rows[:, width:].reshape(-1, *shape))
        frozen_cached = tower.frozen.pooled_after(tower.pretrained.finetune, *cached) if tower.frozen is not None else None
    return cached, frozen_cached


IMAGE_BLOCK = {"size": inputs.IMAGE_SIZE, "mean": inputs.MEAN, "std": inputs.STD}


def int8_trunk(model, out_file, data):
    """Writes `model`'s shared picture trunk (export.Trunk: frozen layers only, the same for every run of a
    configuration) to `out_file` as ONNX, quantized to int8 and calibrated on `data`'s training pictures, as
    export.py --int8-trunk does; returns quantize_trunk's line. The quantized graph is kept in `data`'s cache,
    keyed by the float graph, the calibration pictures and this module's code, so that a second call (every
    evaluation and cache lookup makes one) skips the calibration through Java. The plugin's Java side (how
    `Features` decodes and scales a picture) is not in the key: after changing it, delete `int8-trunk-*` there."""
    import hashlib
    import torch
    from export import Trunk, onnx_export

    trunk = Trunk(model).eval()
    onnx_export(trunk, (torch.zeros(2, 3, inputs.IMAGE_SIZE, inputs.IMAGE_SIZE),), out_file, ["image"], ["features"])
    pictures = calibration_pictures(data)
    key = hashlib.sha256()
    for part in (out_file, os.path.abspath(__file__)):
        with open(part, "rb") as f:
            key.update(f.read())
    key.update(np.ascontiguousarray(pictures).tobytes())
    cache_dir = os.path.join(data, "cache")
    kept = os.path.join(cache_dir, f"int8-trunk-graph-{key.hexdigest()[:16]}")
    if os.path.exists(kept + ".onnx") and os.path.exists(kept + ".txt"):
        shutil.copyfile(kept + ".onnx", out_file)
        with open(kept + ".txt") as f:
            return f.read().strip() + " (kept from an earlier call)"
    done = quantize_trunk(out_file, IMAGE_BLOCK, pictures)
    os.makedirs(cache_dir, exist_ok=True)
    shutil.copyfile(out_file, kept + ".onnx.tmp")
    os.replace(kept + ".onnx.tmp", kept + ".onnx")
    with open(kept + ".txt", "w") as f:
        f.write(done + "\n")
    return done


def int8_trunk_rows(model, pictures, data):
    """The rows of RGBA `pictures` through `model`'s int8 trunk (`int8_trunk`), as a node computes them."""
    with tempfile.TemporaryDirectory() as work:
        trunk_file = os.path.join(work, TRUNK_FILE)
        int8_trunk(model, trunk_file, data)
        return trunk_rows(None, pictures, trunk_file, IMAGE_BLOCK, trunk_shapes(model)[2])


def int8_trunk_cache(model, images, pictures, cache_dir, views, data):
    """train.py's feature caches (as runs.pretrained_cache gives them) from the int8 trunk run by ONNX Runtime
    in Java, as a node runs it: (cached, frozen_cached), each [len(images), views, ...], filled for
    `pictures`: the image tower's (pooled layers before the cut, the cut's output) and the fused tower's
    frozen copy's features, its layers after the cut run in PyTorch from that output. Views: the picture,
    then its mirror image. Kept in `cache_dir`, keyed by the int8 graph and the pictures."""
    import hashlib
    import torch

    if views not in (1, 2):
        raise ValueError("an int8 trunk's cache holds the picture and its mirror image: --pretrained-views 1 or 2")
    os.makedirs(cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        trunk_file = os.path.join(work, TRUNK_FILE)
        done = int8_trunk(model, trunk_file, data)
        with open(trunk_file, "rb") as f:
            key = hashlib.sha256(f.read())
        key.update(f"views={views}".encode())
        key.update(np.ascontiguousarray(images[pictures]).tobytes())
        path = os.path.join(cache_dir, f"int8-trunk-{key.hexdigest()[:16]}.pt")
        if os.path.exists(path):
            return torch.load(path)
        print(f"int8 trunk: {done}; its rows of {len(pictures)} pictures x {views} views, through Java", file=sys.stderr, flush=True)
        started = time.time()
        width, shape, encoder = trunk_shapes(model)
        cached = (torch.zeros((len(images), views, width)), torch.zeros((len(images), views) + shape))
        frozen = model.image.frozen
        frozen_cached = torch.zeros((len(images), views, frozen.out_dim)) if frozen is not None else None
        for v in range(views):
            rgba = images[pictures] if v == 0 else np.ascontiguousarray(images[pictures][:, :, ::-1])
            rows = trunk_rows(None, rgba, trunk_file, IMAGE_BLOCK, encoder)
            for s in range(0, len(pictures), 512):
                part, at = trunk_cached(model, rows[s:s + 512]), pictures[s:s + 512]
                cached[0][at, v], cached[1][at, v] = part[0]
                if frozen_cached is not None:
                    frozen_cached[at, v] = part[1]
    torch.save((cached, frozen_cached), path)
    print(f"int8 trunk: cache written in {time.time() - started:.0f} s ({path})", file=sys.stderr, flush=True)
    return cached, frozen_cached


def calibrate(model, names, image_block, pictures, work):
    """[K, 2] (low, high) of each tensor over the calibration pictures, run by ONNX Runtime in Java."""
    calib_file = os.path.join(work, "calibration.onnx")
    onnx.save(calibration_model(model, names), calib_file)
    rows = java_rows(image_block, calib_file, "calibration", 2 * len(names), pictures, work)
    k = len(names)
    return np.stack([rows[:, :k].min(0), rows[:, k:].max(0)], axis=1)


def activation_params(low, high):
    """uint8 scale and zero point covering [low, high] and 0."""
    low, high = min(0.0, float(low)), max(0.0, float(high))
    scale = (high - low) / 255.0 or 1.0
    zero = int(round(-low / scale))
    return np.float32(scale), np.uint8(min(255, max(0, zero)))


def quantize(model, names, ranges):
    """The QDQ trunk: a QuantizeLinear on each named activation, a DequantizeLinear per reader, and each
    Conv's weights and bias stored as int8 and int32 behind DequantizeLinear."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    readers = consumers(g)
    scales = {}
    original = {}  # a DequantizeLinear's output -> the activation it restores
    new_nodes = []
    for k, name in enumerate(names):
        scale, zero = activation_params(*ranges[k])
        scales[name] = scale
        s, z = f"{name}/scale", f"{name}/zero"
        g.initializer.extend([numpy_helper.from_array(np.array(scale, np.float32), s),
                              numpy_helper.from_array(np.array(zero, np.uint8), z)])
        quantized = f"{name}/q"
        new_nodes.append((name, helper.make_node("QuantizeLinear", [name, s, z], [quantized])))
        for r, reader in enumerate(readers.get(name, [])):
            dq = f"{name}/dq{r}"
            original[dq] = name
            new_nodes.append((name, helper.make_node("DequantizeLinear", [quantized, s, z], [dq])))
            for i, inp in enumerate(reader.input):
                if inp == name:
                    reader.input[i] = dq
    for conv in [n for n in g.node if n.op_type == "Conv"]:
        if conv.input[0] not in original:
            continue  # its input stays float: so do its weights
        source = original[conv.input[0]]
        w = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float32)
        w_scale = np.abs(w.reshape(w.shape[0], -1)).max(1) / WEIGHT_LEVELS
        has_bias = len(conv.input) > 2 and conv.input[2]
        if has_bias:
            # A channel of near-zero weights would put its bias beyond int32 at input scale x weight scale.
            b = numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64)
            w_scale = np.maximum(w_scale, np.abs(b) / (float(scales[source]) * 2.0**30))
        w_scale[w_scale == 0] = 1.0
        w_q = np.clip(np.round(w / w_scale.reshape(-1, 1, 1, 1)), -WEIGHT_LEVELS - 1, WEIGHT_LEVELS).astype(np.int8)
        new_nodes.append((None, per_channel(g, conv, 1, w_q, w_scale.astype(np.float32))))
        if has_bias:
            b_scale = (float(scales[source]) * w_scale).astype(np.float32)
            new_nodes.append((None, per_channel(g, conv, 2, np.round(b / b_scale).astype(np.int32), b_scale)))
    # Topological order: each new node right after its input's producer (weights' nodes first).
    order = [node for key, node in new_nodes if key is None]
    after = {}
    for key, node in new_nodes:
        if key is not None:
            after.setdefault(key, []).append(node)
    nodes = list(order)
    for name in [i.name for i in g.input]:
        nodes.extend(after.pop(name, []))
    for n in g.node:
        nodes.append(n)
        for o in n.output:
            nodes.extend(after.pop(o, []))
    if after:
        raise RuntimeError(f"no producer for {sorted(after)}")
    del g.node[:]
    g.node.extend(nodes)
    used = {i for n in g.node for i in n.input}
    for init in list(g.initializer):
        if init.name not in used:
            g.initializer.remove(init)
    onnx.checker.check_model(model)
    return model


def per_channel(g, node, index, values, scale):
    """Stores input `index` of `node` (a Conv's weights or bias) as the integer `values` with one `scale` per
    output channel (zero points 0), and makes the node read them through the DequantizeLinear returned."""
    name = node.input[index]
    g.initializer.extend([numpy_helper.from_array(values, name + "/q"), numpy_helper.from_array(scale, name + "/scale"),
                          numpy_helper.from_array(np.zeros(len(scale), values.dtype), name + "/zero")])
    node.input[index] = name + "/dq"
    return helper.make_node("DequantizeLinear", [name + "/q", name + "/scale", name + "/zero"], [name + "/dq"], axis=0)


def calibration_pictures(data, count=512, seed=0):
    """`count` RGBA pictures of the training split, drawn with a fixed seed."""
    images, records, table, _ = load_data(data)
    train = [i for i, r in enumerate(records) if table[r["emoji"]]["split"] == "train"]
    return images[sorted(random.Random(seed).sample(train, min(count, len(train))))]


def quantize_trunk(trunk_file, image_block, pictures):
    """Quantizes the trunk graph `trunk_file` in place, calibrated on RGBA `pictures`; returns a line saying what
    was done."""
    model = onnx.load(trunk_file)
    folded = fold_pads(model)
    names = quantized_tensors(model)
    with tempfile.TemporaryDirectory() as work:
        ranges = calibrate(model, names, image_block, pictures, work)
    quantize(model, names, ranges)
    onnx.save(model, trunk_file)
    return (f"{folded} pads folded, {len(names)} activations quantized over {len(pictures)} calibration pictures, "
            f"{sum(n.op_type == 'Conv' for n in model.graph.node)} convolutions")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", default=os.path.join(HERE, "export-fast"), help="the export whose trunk is quantized")
    parser.add_argument("--out", required=True, help="where the copy of the export with the int8 trunk goes")
    parser.add_argument("--data", default=os.path.join(HERE, "work/data"))
    parser.add_argument("--calibration", type=int, default=512, help="training-split pictures the ranges are measured on")
    args = parser.parse_args()
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    shutil.copytree(args.export, args.out)
    with open(os.path.join(args.out, "model.json")) as f:
        config = json.load(f)
    trunk = os.path.join(args.out, config["image_encoder"]["file"])
    done = quantize_trunk(trunk, config["image"], calibration_pictures(args.data, args.calibration))
    config["version"] = config["version"] + "-int8trunk"
    config["sha256"][config["image_encoder"]["file"]] = inputs.sha256(trunk)
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"quantize_trunk: {done}; wrote {args.out} (its golden.json is the float trunk's: "
          "model/export.py --int8-trunk writes a quantized export with its own)")


if __name__ == "__main__":
    sys.exit(main())
