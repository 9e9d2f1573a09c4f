"""Unit tests of export.py's shared picture trunk (a few seconds; they need model/setup.sh's package, and
are skipped without it):
  cd model && /usr/bin/python3 -m unittest tests.test_export
The ONNX side, the trunk and its heads in ONNX Runtime against PyTorch's codes, is GoldenVectorsTests over
the quick export (scripts/test.sh).
"""
import os
import sys
import unittest

import torch
import torch.nn.functional as F

MODEL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, MODEL)

import backbones  # noqa: E402
import deephash as dh  # noqa: E402
import export  # noqa: E402

# The shipped configuration's picture side (model/run.sh), at 64 px to keep the tests quick.
SHIPPED = {"layer": ["block_12_expand_relu", "block_13_expand_relu", "block_14_expand_relu"], "size": 64, "cnn": False,
           "dropout": 0.0, "finetune": "block_12_add", "fused_frozen": True}


def model(**changes):
    torch.manual_seed(3)
    m = dh.DeepHash(0, 16, 5, ("image", "text", "fused"), "minilm", {**SHIPPED, **changes}, "latents").eval()
    # As after training: the fine-tuned layers differ from the frozen copy's, the standardisations have statistics.
    with torch.no_grad():
        for name, p in m.image.pretrained.graph.named_parameters():
            if name.split(".")[1] in m.image.pretrained.layers_after("block_12_add"):
                p.add_(0.05 * torch.randn_like(p))
        for norm in (m.image.norm, m.image.frozen_norm):
            norm.running_mean.normal_()
            norm.running_var.uniform_(0.5, 2)
    return m


@unittest.skipUnless(os.path.isdir(backbones.MODELS), "model/setup.sh has not installed nsfwjs")
class TrunkTests(unittest.TestCase):
    @torch.no_grad()
    def test_trunk_and_heads_give_the_towers_answers(self):
        m = model()
        self.assertTrue(export.shared_trunk(m))
        x = torch.randn(3, 3, 64, 64)
        text = F.normalize(torch.randn(3, 384), dim=1)
        trunk = export.Trunk(m)
        frozen, cut = trunk.backbone.cached(x)
        rows = trunk(x)
        self.assertEqual(tuple(rows.shape), (3, frozen.shape[1] + cut[0].numel()))
        for kind, expected in (("image", m.encode_image(x)), ("fused", m.encode_fused(x, text))):
            head = export.TrunkHead(m, kind, frozen.shape[1], tuple(cut.shape[1:]))
            got = head(rows) if kind == "image" else head(rows, text)
            for g, e in zip(got, expected):
                torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6, msg=kind)
        # The fused head reads the frozen copy after the cut, not the tuned layers the image head reads.
        self.assertFalse(torch.allclose(m.image.frozen.pooled_after("block_12_add", frozen, cut),
                                        m.image.pretrained.pooled_from(frozen, cut)))

    def test_no_trunk_where_the_towers_read_different_layers(self):
        self.assertFalse(export.shared_trunk(model(fused_size=96)), "the frozen copy reads another size")
        m = model()
        with torch.no_grad():
            m.image.frozen.graph.mods["block_5_expand"].weight.add_(1e-3)
        self.assertFalse(export.shared_trunk(m), "the two copies differ before the cut")
        m = model()
        with torch.no_grad():
            m.image.frozen.graph.mods["block_14_expand"].weight.add_(1e-3)
        self.assertTrue(export.shared_trunk(m), "after the cut the copies may differ")
        plain = dh.DeepHash(0, 16, 5, ("image", "text", "fused"), "minilm", {**SHIPPED, "fused_frozen": False}, "latents")
        self.assertFalse(export.shared_trunk(plain), "no frozen copy: the fused tower reads the image tower's features")


if __name__ == "__main__":
    unittest.main()
