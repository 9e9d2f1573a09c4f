"""Pretrained image backbones from the npm package nsfwjs (MIT), rebuilt in PyTorch and used frozen:

  mobilenet_v2      MobileNetV2, a TensorFlow.js layers model (Keras topology); the shipped model's backbone
  inception_v3      InceptionV3, a layers model (6 weight shards, 21.8M weights)
  mobilenet_v2_mid  MobileNetV2 at 1.4x width, a TensorFlow.js graph model (a GraphDef node list with the
                    batch norms folded into the convolutions)

The weights are uint8-quantized, in JS-wrapped files that Node reads (model/setup.sh installs the package,
without TensorFlow.js, which is not needed to read it). Each conversion is checked by running nsfwjs's own
classifier, read from the same file, on emoji: it must call them drawings or neutral.

  /usr/bin/python3 model/backbones.py --backbone inception_v3   converts and checks one backbone
"""
import argparse
import base64
import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "node_modules/nsfwjs/dist/models")


@dataclass(frozen=True)
class Backbone:
    """One of nsfwjs's models. nsfwjs feeds each of them v/255 (0..1, no mean or deviation; the graph model
    rescales to -1..1 inside its graph), resized to `nsfwjs_size` (nsfwjs/dist/cjs/core.js and models/)."""
    name: str
    title: str
    kind: str  # "layers" (Keras topology) or "graph" (GraphDef node list)
    nsfwjs_size: int
    last: str  # the default feature layer: the last one before nsfwjs's pooling and classifier
    size: int  # the default side the 64 px pictures are upsampled to for features

    @property
    def folder(self):
        return os.path.join(MODELS, self.name)


BACKBONES = {b.name: b for b in [
    # The 64 px pictures are upsampled in the graph: MobileNetV2 was trained at 224.
    Backbone("mobilenet_v2", "MobileNetV2", "layers", 224, "out_relu", 128),
    Backbone("inception_v3", "InceptionV3", "layers", 299, "mixed10", 299),
    Backbone("mobilenet_v2_mid", "MobileNetV2 (1.4x)", "graph", 224, "Conv_1/Relu6", 224),
]}
DEFAULT = "mobilenet_v2"


def backbone_spec(name):
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}: expected one of {', '.join(BACKBONES)}")
    return BACKBONES[name]


def read_package(backbone=DEFAULT):
    """(the model file's JSON, {weight name: float32 array}) from the package's JS-wrapped files, via Node."""
    spec = backbone_spec(backbone)
    if not os.path.isdir(spec.folder):
        sys.exit(f"backbones: {spec.folder} is missing: run model/setup.sh")
    script = ("const d=process.argv[1]; const m=require(d + '/model.min.js');"
              "const w=m.weightsManifest.map(g => g.paths.map(p => require(d + '/' + p + '.min.js')));"
              "process.stdout.write(JSON.stringify({model: m, weights: w}));")
    out = json.loads(subprocess.run(["node", "-e", script, spec.folder], check=True, capture_output=True).stdout)
    weights = {}
    for group, shards in zip(out["model"]["weightsManifest"], out["weights"]):
        raw = b"".join(base64.b64decode(s) for s in shards)  # a group's weights run on across its shards
        offset = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"]))
            q = w.get("quantization")
            if q:
                dtype = {"uint8": np.uint8, "uint16": np.uint16}[q["dtype"]]
                size = n * np.dtype(dtype).itemsize
                values = np.frombuffer(raw, dtype, n, offset).astype(np.float32) * q["scale"] + q["min"]
            else:
                assert w["dtype"] == "float32", w
                size = n * 4
                values = np.frombuffer(raw, np.float32, n, offset).copy()
            weights[w["name"]] = values.reshape(w["shape"])
            offset += size
        assert offset == len(raw), (backbone, offset, len(raw))
    return out["model"], weights


def same_pads(size, kernel, stride):
    """TensorFlow's 'same' padding on one axis, (before, after): the extra pixel goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def tf_pads(x, kernel, stride):
    (top, bottom), (left, right) = (same_pads(x.shape[2], kernel[0], stride[0]),
                                    same_pads(x.shape[3], kernel[1], stride[1]))
    return left, right, top, bottom


ACTIVATIONS = {"linear": lambda x: x, "relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid,
               "tanh": torch.tanh, "softmax": lambda x: torch.softmax(x, dim=1)}


def activation(name, where):
    if name not in ACTIVATIONS:
        raise ValueError(f"{where}: unexpected activation {name!r}")
    return ACTIVATIONS[name]


class Conv(nn.Conv2d):
    """A Keras or TensorFlow 2-D (or depthwise) convolution, NCHW, with TensorFlow's padding: 'same' with
    stride 1 and odd kernels pads evenly, as PyTorch can; otherwise the pads depend on the input's size.
    A plain Conv2d underneath, so that its weights keep the names that saved models use."""

    def __init__(self, kernel, bias, stride, padding, depthwise, act="linear"):
        kh, kw, cin, cout = kernel.shape  # TensorFlow's layout; a depthwise kernel's last axis is the multiplier
        even = padding == "valid" or (tuple(stride) == (1, 1) and kh % 2 == 1 and kw % 2 == 1)
        super().__init__(cin, cin * cout if depthwise else cout, (kh, kw), stride=stride, groups=cin if depthwise else 1,
                         bias=bias is not None, padding=(kh // 2, kw // 2) if padding == "same" and even else 0)
        weight = torch.from_numpy(kernel)
        self.weight.data = (weight.reshape(kh, kw, 1, cin * cout) if depthwise else weight).permute(3, 2, 0, 1).contiguous()
        if bias is not None:
            self.bias.data = torch.from_numpy(bias)
        self.dynamic = padding == "same" and not even
        self.act = act

    def forward(self, x):
        if self.dynamic:
            x = F.pad(x, tf_pads(x, self.kernel_size, self.stride))
        return ACTIVATIONS[self.act](super().forward(x))


def pool(x, kind, kernel, stride, padding):
    """TensorFlow's max or average pooling; with 'same', the padding takes no part (average: not counted)."""
    if padding == "valid":
        return (F.max_pool2d if kind == "max" else F.avg_pool2d)(x, kernel, stride)
    pads = tf_pads(x, kernel, stride)
    if kind == "max":
        return F.max_pool2d(F.pad(x, pads, value=float("-inf")), kernel, stride)
    ones = F.pad(torch.ones_like(x[:1, :1]), pads)
    return F.avg_pool2d(F.pad(x, pads), kernel, stride) / F.avg_pool2d(ones, kernel, stride)


class LayerGraph(nn.Module):
    """A network as a list of steps (name, kind, inputs) in topological order, up to `last`. Its output is
    `last`'s, or with `outputs` (step names), the list of those steps' outputs. `mods` holds the steps
    with weights, under their names; `order` lists every step."""

    def __init__(self, last, outputs):
        super().__init__()
        self.last = last
        self.outputs = outputs
        self.order = []  # (name, kind, inputs)
        self.mods = nn.ModuleDict()

    def step(self, name, kind, args):
        raise NotImplementedError

    def forward(self, x, start=None, given=None, outputs=None):
        """With `start` (a step name), x is that step's output and only the steps after it run;
        `given` holds the outputs asked for that come before it. `outputs`: other steps to answer
        than the graph's own."""
        values = dict(given or {})
        order = self.order
        if start is not None:
            values[start] = x
            order = order[[name for name, _, _ in order].index(start) + 1:]
        outputs = outputs or self.outputs
        keep = set(outputs or [self.last])
        last_use = {i: at for at, (_, _, inputs) in enumerate(order) for i in inputs}
        for at, (name, kind, inputs) in enumerate(order):
            values[name] = x if not inputs else self.step(name, kind, [values[i] for i in inputs])
            for i in inputs:
                if last_use[i] == at and i not in keep:
                    values.pop(i, None)  # InceptionV3 at 299 px would otherwise hold gigabytes of activations
        return [values[o] for o in outputs] if outputs else values[self.last]


class KerasGraph(LayerGraph):
    """A TensorFlow.js layers model: the Keras layers up to `last`, in the file's (topological) order."""

    def __init__(self, layers, weights, last, outputs=None):
        super().__init__(last, outputs)
        self.configs = {}
        for layer in layers:
            name, kind, cfg = layer["name"], layer["class_name"], layer["config"]
            inputs = [n[0] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            where = f"Keras layer {name} ({kind})"
            if cfg.get("data_format", "channels_last") != "channels_last":
                raise ValueError(f"{where}: expected channels_last, not {cfg['data_format']}")
            if kind in ("Conv2D", "DepthwiseConv2D"):
                if tuple(cfg.get("dilation_rate", (1, 1))) != (1, 1):
                    raise ValueError(f"{where}: dilated convolutions are not converted")
                depthwise = kind == "DepthwiseConv2D"
                kernel = weights[name + ("/depthwise_kernel" if depthwise else "/kernel")]
                activation(cfg["activation"], where)
                self.mods[name] = Conv(kernel, weights[name + "/bias"] if cfg["use_bias"] else None,
                                       tuple(cfg["strides"]), cfg["padding"], depthwise, cfg["activation"])
            elif kind == "BatchNormalization":
                if cfg["axis"] not in (3, -1):
                    raise ValueError(f"{where}: expected the channel axis, not {cfg['axis']}")
                mean = weights[name + "/moving_mean"]
                bn = nn.BatchNorm2d(mean.shape[0], eps=cfg["epsilon"], affine=True)
                # scale=False (InceptionV3) leaves gamma at 1, center=False beta at 0: the file then has no such weight.
                bn.weight.data = torch.from_numpy(weights[name + "/gamma"]) if cfg.get("scale", True) else torch.ones(mean.shape)
                bn.bias.data = torch.from_numpy(weights[name + "/beta"]) if cfg.get("center", True) else torch.zeros(mean.shape)
                bn.running_mean.data = torch.from_numpy(mean)
                bn.running_var.data = torch.from_numpy(weights[name + "/moving_variance"])
                self.mods[name] = bn
            elif kind == "Dense":
                kernel = weights[name + "/kernel"]
                dense = nn.Linear(kernel.shape[0], kernel.shape[1], bias=cfg["use_bias"])
                dense.weight.data = torch.from_numpy(kernel).t().contiguous()
                if cfg["use_bias"]:
                    dense.bias.data = torch.from_numpy(weights[name + "/bias"])
                self.mods[name] = dense
                activation(cfg["activation"], where)
            elif kind == "ReLU":
                if cfg.get("negative_slope", 0) or cfg.get("threshold", 0):
                    raise ValueError(f"{where}: a leaky or thresholded ReLU is not converted")
            elif kind == "Activation":
                activation(cfg["activation"], where)
            elif kind == "Concatenate":
                if cfg["axis"] not in (3, -1):
                    raise ValueError(f"{where}: expected the channel axis, not {cfg['axis']}")
            elif kind not in ("InputLayer", "ZeroPadding2D", "Add", "MaxPooling2D", "AveragePooling2D",
                              "GlobalAveragePooling2D", "Flatten", "Dropout"):
                raise ValueError(f"unexpected layer {name} of type {kind} before {last}")
            self.configs[name] = cfg
            self.order.append((name, kind, inputs))
            if name == last:
                break

    def step(self, name, kind, args):
        cfg = self.configs[name]
        x = args[0]
        if kind == "ZeroPadding2D":
            (top, bottom), (left, right) = cfg["padding"]
            return F.pad(x, (left, right, top, bottom))
        if kind == "ReLU":
            return F.relu(x) if cfg.get("max_value") is None else x.clamp(0, cfg["max_value"])
        if kind == "Activation":
            return ACTIVATIONS[cfg["activation"]](x)
        if kind == "Add":
            return sum(args[1:], x)
        if kind == "Concatenate":
            return torch.cat(args, dim=1)
        if kind in ("MaxPooling2D", "AveragePooling2D"):
            return pool(x, "max" if kind == "MaxPooling2D" else "avg", tuple(cfg["pool_size"]),
                        tuple(cfg["strides"] or cfg["pool_size"]), cfg["padding"])
        if kind == "GlobalAveragePooling2D":
            return x.mean(dim=(2, 3))
        if kind == "Flatten":
            return (x.permute(0, 2, 3, 1) if x.dim() == 4 else x).flatten(1)  # Keras flattens channels last
        if kind == "Dropout":
            return x
        if kind == "Dense":
            return ACTIVATIONS[cfg["activation"]](self.mods[name](x))
        return self.mods[name](x)


def short_name(node):
    """A graph model's node name without TensorFlow Hub's wrapping: 'expanded_conv_13/expand/Relu6'."""
    return re.sub(r"^.*/predict/(MobilenetV2/)?|^StatefulPartitionedCall/sequential/", "", node)


def attr(node, key):
    a = node.get("attr", {}).get(key, {})
    if "list" in a:
        values = a["list"].get("i") or a["list"].get("s") or []
        return [int(v) if "i" in a["list"] else base64.b64decode(v).decode() for v in values]
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    return a.get("b", a)  # a flag, or the attribute as it is ({}, false, when the node has none)


def topological(nodes):
    """A GraphDef's nodes, each after its inputs (the converter writes them in no promised order)."""
    by_name = {n["name"]: n for n in nodes}
    done, ordered = set(), []

    def visit(name):
        stack = [(name, False)]
        while stack:
            current, expanded = stack.pop()
            if current in done:
                continue
            if expanded:
                done.add(current)
                ordered.append(by_name[current])
                continue
            stack.append((current, True))
            stack.extend((i.split(":")[0].lstrip("^"), False) for i in by_name[current].get("input", [])
                         if i.split(":")[0].lstrip("^") not in done)

    for node in nodes:
        visit(node["name"])
    return ordered


class TFGraph(LayerGraph):
    """A TensorFlow.js graph model: its node list (batch norms already folded into the convolutions'
    biases by the converter) up to `last`, under short_name()'s names."""

    def __init__(self, nodes, weights, last, outputs=None):
        super().__init__(last, outputs)
        consts = {n["name"]: weights[n["name"]] for n in nodes if n["op"] == "Const"}
        self.scalars = {}
        self.nodes = {}
        for node in topological(nodes):
            name, op = short_name(node["name"]), node["op"]
            where = f"graph node {name} ({op})"
            if op == "Const":
                continue
            inputs = [short_name(i.split(":")[0]) for i in node.get("input", []) if i.split(":")[0] not in consts]
            params = [consts[i.split(":")[0]] for i in node.get("input", []) if i.split(":")[0] in consts]
            if op in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
                fused = attr(node, "fused_ops")
                if fused not in (["BiasAdd"], ["BiasAdd", "Relu"], ["BiasAdd", "Relu6"]) or attr(node, "data_format") != "NHWC":
                    raise ValueError(f"{where}: unexpected fused ops {fused} or layout")
                strides = attr(node, "strides")
                if attr(node, "padding") not in ("SAME", "VALID") or strides[0] != 1 or strides[3] != 1:
                    raise ValueError(f"{where}: unexpected padding {attr(node, 'padding')} or strides {strides}")
                if any(d != 1 for d in attr(node, "dilations") or [1]):
                    raise ValueError(f"{where}: dilated convolutions are not converted")
                self.mods[name] = Conv(params[0], params[1], tuple(strides[1:3]), attr(node, "padding").lower(),
                                       op == "FusedDepthwiseConv2dNative", fused[-1].lower() if len(fused) > 1 else "linear")
            elif op == "_FusedMatMul":
                if attr(node, "fused_ops") != ["BiasAdd"] or attr(node, "transpose_a") or attr(node, "transpose_b"):
                    raise ValueError(f"{where}: unexpected fused ops or transposition")
                dense = nn.Linear(*params[0].shape)
                dense.weight.data = torch.from_numpy(params[0]).t().contiguous()
                dense.bias.data = torch.from_numpy(params[1])
                self.mods[name] = dense
            elif op in ("Mul", "Sub"):
                if len(params) != 1 or params[0].size != 1:
                    raise ValueError(f"{where}: only a tensor and a scalar constant are converted")
                self.scalars[name] = float(params[0].reshape(()))
            elif op == "AvgPool":
                if attr(node, "strides")[0] != 1 or attr(node, "ksize")[0] != 1:
                    raise ValueError(f"{where}: unexpected pooling over the batch")
            elif op not in ("Placeholder", "AddV2", "Add", "Relu6", "Relu", "Squeeze", "Softmax", "Identity"):
                raise ValueError(f"unexpected node {name} of type {op} before {last}")
            if name in self.nodes:
                raise ValueError(f"two graph nodes are named {name!r} once shortened: {node['name']}")
            self.order.append((name, op, inputs))
            self.nodes[name] = node
            if name == last:
                break

    def step(self, name, op, args):
        x = args[0]
        if op == "Mul":
            return x * self.scalars[name]
        if op == "Sub":
            return x - self.scalars[name]
        if op in ("AddV2", "Add"):
            return sum(args[1:], x)
        if op == "Relu6":
            return F.relu6(x)
        if op == "Relu":
            return F.relu(x)
        if op == "AvgPool":
            node = self.nodes[name]
            return pool(x, "avg", tuple(attr(node, "ksize")[1:3]), tuple(attr(node, "strides")[1:3]),
                        attr(node, "padding").lower())
        if op == "Squeeze":
            return x.flatten(1)
        if op == "Softmax":
            return torch.softmax(x, dim=1)
        if op == "Identity":
            return x
        return self.mods[name](x)


def layer_names(package, backbone=DEFAULT):
    """The backbone's layer (or node) names in topological order."""
    model = package[0]
    if backbone_spec(backbone).kind == "layers":
        return [layer["name"] for layer in model["modelTopology"]["model_config"]["config"]["layers"]]
    return [short_name(n["name"]) for n in model["modelTopology"]["node"] if n["op"] != "Const"]


def classifier_output(package, backbone=DEFAULT):
    """The name of nsfwjs's output layer: its five class probabilities."""
    model = package[0]
    if backbone_spec(backbone).kind == "layers":
        return model["modelTopology"]["model_config"]["config"]["output_layers"][0][0]
    return layer_names(package, backbone)[-1]


def convert(package=None, last=None, outputs=None, backbone=DEFAULT):
    """The graph up to `last` (default: the backbone's last feature layer), from `package` (read_package()'s
    answer) or read now; with `outputs` (layer names), up to the latest of them, answering the list of
    their outputs."""
    spec = backbone_spec(backbone)
    package = package or read_package(backbone)
    model, weights = package
    last = last or spec.last
    if outputs:
        order = layer_names(package, backbone)
        missing = [n for n in outputs if n not in order]
        if missing:
            raise ValueError(f"no {spec.title} layer named {missing}; the layers are named like {order[len(order) // 2]!r}")
        last = max(outputs, key=order.index)
    if spec.kind == "layers":
        graph = KerasGraph(model["modelTopology"]["model_config"]["config"]["layers"], weights, last, outputs)
    else:
        graph = TFGraph(model["modelTopology"]["node"], weights, last, outputs)
    if graph.order[-1][0] != last:
        raise ValueError(f"no {spec.title} layer named {last!r}")
    return graph.eval()


class BackboneFeatures(nn.Module):
    """Frozen features of a normalised 64 px batch upsampled to `size` (default: the backbone's), global
    average pooled: [N, C] at `layer` (a layer name; default the backbone's last feature layer, such as
    MobileNetV2's `out_relu`, 1280 channels), or the pooled outputs of several layers side by side (`layer`,
    a list of names). `finetune`: a layer name; the layers after it train (their batch norms keep their
    statistics), those up to it stay frozen, so that a training step can start from that layer's cached
    output (`cached` and `pooled_from`)."""

    def __init__(self, layer=None, size=None, finetune=None, backbone=DEFAULT):
        super().__init__()
        spec = backbone_spec(backbone)
        self.backbone = backbone
        self.size = size or spec.size
        layer = layer or spec.last
        self.graph = convert(outputs=[layer] if isinstance(layer, str) else list(layer), backbone=backbone)
        with torch.no_grad():
            self.widths = {o: int(v.shape[1]) for o, v in
                           zip(self.graph.outputs, self.pooled(torch.zeros(1, 3, self.size, self.size)))}
        self.out_dim = sum(self.widths.values())
        for p in self.graph.parameters():
            p.requires_grad = False
        self.graph.eval()
        self.finetune = finetune
        if finetune is not None:
            names = [name for name, _, _ in self.graph.order]
            if finetune not in names:
                raise ValueError(f"no {spec.title} layer named {finetune!r} before {self.graph.last}")
            # The outputs up to the cut are cached; those after it are recomputed from the cut each step.
            self.frozen_outputs = self.outputs_up_to(finetune)
            if len(self.frozen_outputs) == len(self.graph.outputs):
                raise ValueError(f"every feature layer comes before {finetune!r}: nothing would train")
            after = self.layers_after(finetune)
            for name, module in self.graph.mods.items():
                if name in after:
                    for p in module.parameters():
                        p.requires_grad = True

    def layers_after(self, cut):
        """The names of the graph's layers after the layer `cut`."""
        names = [name for name, _, _ in self.graph.order]
        return set(names[names.index(cut) + 1:])

    def outputs_up_to(self, cut):
        """The feature layers computed by the time the layer `cut` has run."""
        after = self.layers_after(cut)
        return [o for o in self.graph.outputs if o not in after]

    def train(self, mode=True):
        super().train(mode)
        self.graph.eval()  # frozen: batch norm keeps its ImageNet statistics
        return self

    def upsample(self, x):
        # Our normalisation is (v/255 - 0.5)/0.5; nsfwjs feeds each of its models v/255.
        return F.interpolate(x * 0.5 + 0.5, size=(self.size, self.size), mode="bilinear", align_corners=False)

    def pooled(self, x):
        """Each named layer's output for a normalised batch, global average pooled: a list of [N, C]."""
        return [o.mean(dim=(2, 3)) for o in self.graph(self.upsample(x))]

    @torch.no_grad()
    def cached(self, x):
        """With `finetune`: what a training step starts from, (the frozen outputs' pooled features side
        by side [N, F], the cut layer's output [N, C, H, W])."""
        values = self.graph(self.upsample(x), outputs=self.frozen_outputs + [self.finetune])
        frozen = [v.mean(dim=(2, 3)) for v in values[:-1]]
        return torch.cat(frozen, dim=1) if frozen else torch.zeros(len(x), 0), values[-1]

    def pooled_from(self, frozen, cut):
        """`forward`'s features from `cached`'s answer; the layers after the cut run with gradients."""
        return self.pooled_after(self.finetune, frozen, cut)

    def pooled_after(self, at, frozen, cut):
        """`forward`'s features from the output `cut` of the layer `at` and the pooled features of the
        layers up to it side by side (`frozen`, [N, F]): the layers after `at` run."""
        before = self.outputs_up_to(at)
        values = self.graph(cut, start=at, given={o: None for o in before})
        frozen_parts = iter(torch.split(frozen, [self.widths[o] for o in before], dim=1))
        return torch.cat([next(frozen_parts) if o in before else v.mean(dim=(2, 3))
                          for o, v in zip(self.graph.outputs, values)], dim=1)

    def forward(self, x):
        return torch.cat(self.pooled(x), dim=1)


def classifier(package=None, backbone=DEFAULT):
    """nsfwjs's whole network (drawing, hentai, neutral, porn, sexy) on [N, 3, S, S] in 0..1 at nsfwjs's size S."""
    package = package or read_package(backbone)
    return convert(package, last=classifier_output(package, backbone), backbone=backbone)


def emoji_check(backbone=DEFAULT, count=12, package=None):
    """(nsfwjs's mean probability of drawing or neutral on `count` emoji spread over the data set, the
    mean probability of each class, the number of weights): the conversion is right if the first is high."""
    import inputs

    spec = backbone_spec(backbone)
    package = package or read_package(backbone)
    net = classifier(package, backbone)
    images = np.load(os.path.join(HERE, "work/data/images.npy"), mmap_mode="r")[::500][:count]
    x = F.interpolate(inputs.preprocess_images(np.array(images)) * 0.5 + 0.5,
                      size=(spec.nsfwjs_size, spec.nsfwjs_size), mode="bilinear", align_corners=False)
    with torch.no_grad():
        p = net(x)
    return float((p[:, 0] + p[:, 2]).mean()), p.mean(0).numpy(), sum(q.numel() for q in net.parameters())


def check(backbone=DEFAULT, program="backbones"):
    """Converts, then checks the conversion on emoji: nsfwjs must call them drawings or neutral."""
    share, per_class, count = emoji_check(backbone)
    print(f"{program}: {backbone}: {count} weights; emoji called drawing or neutral with mean probability "
          f"{share:.3f}; per class {[round(float(v), 3) for v in per_class]}", file=sys.stderr)
    if share < 0.8:
        sys.exit(f"{program}: the converted {backbone} does not behave like nsfwjs; not using it")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", choices=list(BACKBONES), default=DEFAULT)
    args = parser.parse_args()
    torch.set_num_threads(2)
    check(args.backbone)


if __name__ == "__main__":
    main()
