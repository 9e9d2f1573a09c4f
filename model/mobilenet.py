"""Pretrained MobileNetV2 features from the npm package nsfwjs (MIT), up to `out_relu` (1280 channels):
the shipped model's image backbone (the pooled outputs of three of its layers; see model/run.sh and the
model card). The conversion itself, and nsfwjs's other backbones, live in backbones.py; this module keeps
the names the rest of the code imports.

  /usr/bin/python3 model/mobilenet.py   converts and checks the conversion
"""
import functools

import torch

import backbones

PACKAGE = backbones.BACKBONES["mobilenet_v2"].folder
LAST = backbones.BACKBONES["mobilenet_v2"].last
INPUT_SIZE = backbones.BACKBONES["mobilenet_v2"].size

read_package = functools.partial(backbones.read_package, "mobilenet_v2")
convert = functools.partial(backbones.convert, backbone="mobilenet_v2")


class MobileNetFeatures(backbones.BackboneFeatures):
    """BackboneFeatures of nsfwjs's MobileNetV2 (the default backbone): `layer` defaults to `out_relu`,
    `size` to 128."""

    def __init__(self, layer=LAST, size=INPUT_SIZE, finetune=None, backbone="mobilenet_v2"):
        super().__init__(layer, size, finetune, backbone)


def main():
    torch.set_num_threads(2)
    backbones.check("mobilenet_v2", program="mobilenet")


if __name__ == "__main__":
    main()
