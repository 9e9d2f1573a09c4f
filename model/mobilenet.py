"""Pretrained MobileNetV2 features from the npm package nsfwjs (MIT): its TensorFlow.js layers model
(Keras topology, uint8-quantized weights) rebuilt layer by layer in PyTorch, up to `out_relu` (1280
channels). Used frozen: the shipped model's image backbone (the pooled outputs of three of its layers;
see model/run.sh and the model card).

  /usr/bin/python3 model/mobilenet.py   converts and checks the conversion
"""
import base64
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(HERE, "node_modules/nsfwjs/dist/models/mobilenet_v2")
LAST = "out_relu"
INPUT_SIZE = 128  # the 64 px pictures are upsampled in the graph: MobileNetV2 was trained at 224


def read_package():
    """(Keras topology, {weight name: float32 array}) from the package's JS-wrapped files, via Node.
    model/setup.sh installs the package (without TensorFlow.js, which is not needed to read it)."""
    if not os.path.isdir(PACKAGE):
        sys.exit(f"mobilenet: {PACKAGE} is missing: run model/setup.sh")
    script = ("const m=require(process.argv[1] + '/model.min.js'); const w=require(process.argv[1] + '/group1-shard1of1.min.js');"
              "process.stdout.write(JSON.stringify({model: m, weights: w}));")
    out = json.loads(subprocess.run(["node", "-e", script, PACKAGE], check=True, capture_output=True).stdout)
    raw = np.frombuffer(base64.b64decode(out["weights"]), dtype=np.uint8)
    weights, offset = {}, 0
    for spec in out["model"]["weightsManifest"][0]["weights"]:
        n = int(np.prod(spec["shape"]))
        q = spec["quantization"]
        assert q["dtype"] == "uint8", q
        values = raw[offset:offset + n].astype(np.float32) * q["scale"] + q["min"]
        weights[spec["name"]] = values.reshape(spec["shape"])
        offset += n
    assert offset == len(raw), (offset, len(raw))
    return out["model"]["modelTopology"]["model_config"]["config"]["layers"], weights


class KerasGraph(nn.Module):
    """The Keras layers up to `last` (default `LAST`), evaluated in topological order (the file's order).
    Its output is `last`'s, or with `outputs` (layer names), the list of those layers' outputs."""

    def __init__(self, layers, weights, last=LAST, outputs=None):
        super().__init__()
        self.last = last
        self.outputs = outputs
        self.order = []  # (name, kind, inputs)
        self.mods = nn.ModuleDict()
        self.pads = {}
        for layer in layers:
            name, kind, cfg = layer["name"], layer["class_name"], layer["config"]
            inputs = [n[0] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            if kind == "InputLayer":
                pass
            elif kind == "ZeroPadding2D":
                (top, bottom), (left, right) = cfg["padding"]
                self.pads[name] = (left, right, top, bottom)
            elif kind in ("Conv2D", "DepthwiseConv2D"):
                kernel = torch.from_numpy(weights[name + ("/depthwise_kernel" if kind == "DepthwiseConv2D" else "/kernel")])
                k = cfg["kernel_size"][0]
                if kind == "Conv2D":
                    conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], k, stride=cfg["strides"][0], bias=cfg["use_bias"])
                    conv.weight.data = kernel.permute(3, 2, 0, 1).contiguous()
                else:
                    channels = kernel.shape[2]
                    conv = nn.Conv2d(channels, channels, k, stride=cfg["strides"][0], groups=channels, bias=cfg["use_bias"])
                    conv.weight.data = kernel.permute(2, 3, 0, 1).contiguous()
                if cfg["use_bias"]:
                    conv.bias.data = torch.from_numpy(weights[name + "/bias"])
                if cfg["padding"] == "same":
                    assert cfg["strides"][0] == 1
                    conv.padding = (k // 2, k // 2)
                self.mods[name] = conv
            elif kind == "BatchNormalization":
                bn = nn.BatchNorm2d(weights[name + "/gamma"].shape[0], eps=cfg["epsilon"])
                bn.weight.data = torch.from_numpy(weights[name + "/gamma"])
                bn.bias.data = torch.from_numpy(weights[name + "/beta"])
                bn.running_mean.data = torch.from_numpy(weights[name + "/moving_mean"])
                bn.running_var.data = torch.from_numpy(weights[name + "/moving_variance"])
                self.mods[name] = bn
            elif kind == "ReLU":
                assert cfg["max_value"] == 6
            elif kind == "Add":
                pass
            else:
                raise ValueError(f"unexpected layer {name} of type {kind} before {last}")
            self.order.append((name, kind, inputs))
            if name == last:
                break

    def forward(self, x, start=None, given=None, outputs=None):
        """With `start` (a layer name), x is that layer's output and only the layers after it run;
        `given` holds the outputs asked for that come before it. `outputs`: other layers to answer
        than the graph's own."""
        values = dict(given or {})
        order = self.order
        if start is not None:
            values[start] = x
            order = order[[name for name, _, _ in order].index(start) + 1:]
        for name, kind, inputs in order:
            if kind == "InputLayer":
                values[name] = x
                continue
            args = [values[i] for i in inputs]
            if kind == "ZeroPadding2D":
                values[name] = F.pad(args[0], self.pads[name])
            elif kind == "ReLU":
                values[name] = F.relu6(args[0])
            elif kind == "Add":
                values[name] = args[0] + args[1]
            else:
                values[name] = self.mods[name](args[0])
        outputs = outputs or self.outputs
        return [values[o] for o in outputs] if outputs else values[self.last]


class MobileNetFeatures(nn.Module):
    """Frozen MobileNetV2 features of a normalised 64 px batch upsampled to `size`, global average
    pooled: [N, 1280] at `out_relu`, fewer channels at an earlier layer (`layer`, a Keras layer name
    such as `block_13_expand_relu`), or the pooled outputs of several layers side by side (`layer`, a
    list of names). `finetune`: a layer name; the layers after it train (their batch norms
    keep their statistics), those up to it stay frozen, so that a training step can start from that
    layer's cached output (`cached` and `pooled_from`)."""

    def __init__(self, layer=LAST, size=INPUT_SIZE, finetune=None):
        super().__init__()
        self.size = size
        self.graph = convert(outputs=[layer] if isinstance(layer, str) else list(layer))
        with torch.no_grad():
            self.widths = {o: int(v.shape[1]) for o, v in zip(self.graph.outputs, self.pooled(torch.zeros(1, 3, size, size)))}
        self.out_dim = sum(self.widths.values())
        for p in self.graph.parameters():
            p.requires_grad = False
        self.graph.eval()
        self.finetune = finetune
        if finetune is not None:
            names = [name for name, _, _ in self.graph.order]
            if finetune not in names:
                raise ValueError(f"no MobileNetV2 layer named {finetune!r} before {self.graph.last}")
            after = set(names[names.index(finetune) + 1:])
            # The outputs up to the cut are cached; those after it are recomputed from the cut each step.
            self.frozen_outputs = [o for o in self.graph.outputs if o not in after]
            if len(self.frozen_outputs) == len(self.graph.outputs):
                raise ValueError(f"every feature layer comes before {finetune!r}: nothing would train")
            for name, module in self.graph.mods.items():
                if name in after:
                    for p in module.parameters():
                        p.requires_grad = True

    def train(self, mode=True):
        super().train(mode)
        self.graph.eval()  # frozen: batch norm keeps its ImageNet statistics
        return self

    def upsample(self, x):
        # Our normalisation is (v/255 - 0.5)/0.5; nsfwjs feeds MobileNetV2 v/255.
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
        values = self.graph(cut, start=self.finetune, given={o: None for o in self.frozen_outputs})
        frozen_parts = iter(torch.split(frozen, [self.widths[o] for o in self.frozen_outputs], dim=1))
        return torch.cat([next(frozen_parts) if o in self.frozen_outputs else v.mean(dim=(2, 3))
                          for o, v in zip(self.graph.outputs, values)], dim=1)

    def forward(self, x):
        return torch.cat(self.pooled(x), dim=1)


def convert(package=None, last=LAST, outputs=None):
    """The graph up to `last`, from `package` (read_package()'s answer) or read now; with `outputs`
    (layer names), up to the latest of them, answering the list of their outputs."""
    layers, weights = package or read_package()
    if outputs:
        order = [layer["name"] for layer in layers]
        missing = [n for n in outputs if n not in order]
        if missing:
            raise ValueError(f"no MobileNetV2 layer named {missing}")
        last = max(outputs, key=order.index)
    return KerasGraph(layers, weights, last, outputs).eval()


def classify(graph, weights, x):
    """The package's whole classifier (drawing, hentai, neutral, porn, sexy) on [N, 3, 224, 224] in 0..1."""
    h = graph(x).mean(dim=(2, 3))  # 7x7 average pooling over the 7x7 map, flattened
    for name, last in (("dense_1", False), ("dense_2", False), ("dense_3", True)):
        h = h @ torch.from_numpy(weights[name + "/kernel"]) + torch.from_numpy(weights[name + "/bias"])
        h = torch.softmax(h, dim=1) if last else torch.relu(h)
    return h


def main():
    """Converts, then checks the conversion on emoji: nsfwjs must call them drawings or neutral."""
    package = read_package()
    graph = convert(package)
    weights = package[1]
    images = np.load(os.path.join(HERE, "work/data/images.npy"))[::500][:12]
    import inputs

    x = F.interpolate(inputs.preprocess_images(images) * 0.5 + 0.5, size=(224, 224), mode="bilinear", align_corners=False)
    with torch.no_grad():
        p = classify(graph, weights, x)
    share = float((p[:, 0] + p[:, 2]).mean())
    print(f"mobilenet: {sum(q.numel() for q in graph.parameters())} weights; emoji called drawing or neutral "
          f"with mean probability {share:.3f}; per class {p.mean(0).numpy().round(3).tolist()}", file=sys.stderr)
    if share < 0.8:
        sys.exit("mobilenet: the converted network does not behave like nsfwjs; not using it")


if __name__ == "__main__":
    main()
