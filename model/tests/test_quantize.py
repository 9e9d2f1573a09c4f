"""Unit tests of quantize_trunk.py, the int8 picture trunk (half a minute; they need model/setup.sh's package
and the plugin's classes with their classpath, `mvn compile dependency:build-classpath`, as model/run.sh makes
them, since ONNX graphs run in ONNX Runtime in Java here; skipped without them):
  cd model && /usr/bin/python3 -m unittest tests.test_quantize
"""
import os
import sys
import tempfile
import unittest
from unittest import mock

import numpy as np
import onnx
import torch
from onnx import numpy_helper

MODEL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, MODEL)

import backbones  # noqa: E402
import export  # noqa: E402
import quantize_trunk as qt  # noqa: E402
from tests.test_export import model  # noqa: E402

CLASSPATH = os.path.join(os.path.dirname(MODEL), "target/classpath.txt")


def pictures(n, seed):
    """RGBA pictures with some structure: soft blobs of colour on white, as emoji are."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64]
    out = np.full((n, 64, 64, 4), 255, np.uint8)
    for p in range(n):
        for _ in range(3):
            cy, cx, r = rng.uniform(10, 54), rng.uniform(10, 54), rng.uniform(6, 20)
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
            out[p, inside, :3] = rng.integers(0, 256, 3)
    return out


@unittest.skipUnless(os.path.isdir(backbones.MODELS) and os.path.exists(CLASSPATH),
                     "model/setup.sh has not installed nsfwjs, or the plugin's classpath is missing")
class QuantizeTrunkTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.TemporaryDirectory()
        cls.model = model()
        cls.float_file = os.path.join(cls.work.name, "float.onnx")
        export.onnx_export(export.Trunk(cls.model).eval(), (torch.zeros(2, 3, 64, 64),), cls.float_file, ["image"], ["features"])
        cls.encoder = qt.trunk_shapes(cls.model)[2]
        cls.block = dict(qt.IMAGE_BLOCK)
        cls.test_pictures = pictures(24, 1)
        cls.float_rows = qt.trunk_rows(None, cls.test_pictures, cls.float_file, cls.block, cls.encoder)

    @classmethod
    def tearDownClass(cls):
        cls.work.cleanup()

    def rows(self, graph):
        path = os.path.join(self.work.name, "graph.onnx")
        onnx.save(graph, path)
        return qt.trunk_rows(None, self.test_pictures, path, self.block, self.encoder)

    def test_folding_the_pads_keeps_the_arithmetic(self):
        graph = onnx.load(self.float_file)
        pads = sum(n.op_type == "Pad" for n in graph.graph.node)
        self.assertGreater(pads, 0, "the converted MobileNetV2 pads before its stride-2 convolutions")
        self.assertEqual(qt.fold_pads(graph), pads)
        self.assertFalse(any(n.op_type == "Pad" for n in graph.graph.node))
        np.testing.assert_allclose(self.rows(graph), self.float_rows, rtol=1e-4, atol=1e-4)

    def test_the_int8_trunk_is_integer_after_the_first_block_and_stays_near_the_float_one(self):
        path = os.path.join(self.work.name, "int8.onnx")
        onnx.save(onnx.load(self.float_file), path)
        qt.quantize_trunk(path, self.block, pictures(64, 2))
        graph = onnx.load(path)
        inits = {i.name: numpy_helper.to_array(i) for i in graph.graph.initializer}
        producers = {o: n for n in graph.graph.node for o in n.output}
        convs = [n for n in graph.graph.node if n.op_type == "Conv"]
        for k, conv in enumerate(convs):
            reads = [producers.get(i) for i in conv.input]
            dequantized = [r is not None and r.op_type == "DequantizeLinear" for r in reads]
            if k < qt.FLOAT_CONVS:
                self.assertFalse(dequantized[0], f"{conv.name}: the stem and first block read float")
                continue
            self.assertTrue(all(dequantized), f"{conv.name}: input, weights and bias through DequantizeLinear")
            weights, bias = inits[reads[1].input[0]], inits[reads[2].input[0]]
            self.assertEqual(weights.dtype, np.int8)
            self.assertGreaterEqual(weights.min(), -qt.WEIGHT_LEVELS - 1)
            self.assertLessEqual(weights.max(), qt.WEIGHT_LEVELS)
            self.assertEqual(bias.dtype, np.int32)
        rows = qt.trunk_rows(None, self.test_pictures, path, self.block, self.encoder)
        cos = (rows * self.float_rows).sum(1) / (np.linalg.norm(rows, axis=1) * np.linalg.norm(self.float_rows, axis=1))
        self.assertGreater(cos.min(), 0.9, "the int8 trunk's rows point where the float ones do")
        self.assertFalse(np.allclose(rows, self.float_rows, atol=1e-4), "the trunk is quantized, not copied")

    def test_a_built_int8_trunk_is_kept_and_found_by_its_graph_and_calibration(self):
        data = os.path.join(self.work.name, "data")
        files = [os.path.join(self.work.name, f"kept-{k}.onnx") for k in range(4)]
        with mock.patch.object(qt, "calibration_pictures", lambda _: pictures(32, 2)):
            first = qt.int8_trunk(self.model, files[0], data)
            again = qt.int8_trunk(self.model, files[1], data)
        with mock.patch.object(qt, "calibration_pictures", lambda _: pictures(32, 3)):
            other_pictures = qt.int8_trunk(self.model, files[2], data)
        other_model = model()
        with torch.no_grad():
            for p in export.Trunk(other_model).parameters():
                p.mul_(1.01)
        with mock.patch.object(qt, "calibration_pictures", lambda _: pictures(32, 2)):
            other_weights = qt.int8_trunk(other_model, files[3], data)
        self.assertNotIn("kept", first)
        self.assertIn("kept from an earlier call", again)
        self.assertNotIn("kept", other_pictures, "other calibration pictures calibrate again")
        self.assertNotIn("kept", other_weights, "another trunk is quantized on its own")
        with open(files[0], "rb") as a, open(files[1], "rb") as b:
            self.assertEqual(a.read(), b.read(), "the kept graph is the one built")
        with open(files[0], "rb") as a, open(files[2], "rb") as b:
            self.assertNotEqual(a.read(), b.read())
        self.assertEqual(len([f for f in os.listdir(os.path.join(data, "cache")) if f.endswith(".onnx")]), 3)

    def test_activation_parameters_cover_zero_and_the_range(self):
        for low, high in ((0.0, 6.0), (-3.0, 5.0), (0.5, 2.0), (-2.0, -1.0), (0.0, 0.0)):
            scale, zero = qt.activation_params(low, high)
            self.assertGreater(scale, 0)
            lo, hi = (0 - int(zero)) * scale, (255 - int(zero)) * scale
            self.assertLessEqual(lo, min(0.0, low) + scale)
            self.assertGreaterEqual(hi, max(0.0, high) - scale)


if __name__ == "__main__":
    unittest.main()
