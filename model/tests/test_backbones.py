"""Unit tests of backbones.py, the conversion of nsfwjs's models (about 20 s; they need model/setup.sh's
package and the emoji data, and are skipped without them):
  cd model && /usr/bin/python3 -m unittest tests.test_backbones
"""
import os
import sys
import unittest

import numpy as np
import torch
import torch.nn.functional as F

MODEL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, MODEL)

import backbones  # noqa: E402
import inputs  # noqa: E402
import mobilenet  # noqa: E402

IMAGES = os.path.join(MODEL, "work/data/images.npy")
# Pooled MobileNetV2 features of pictures[::997][:6] at 128 px and the features' weight names, written by
# mobilenet.py as it was before backbones.py (commit ef9913f): the shipped model depends on both.
GOLDEN = os.path.join(MODEL, "tests/data/mobilenet_v2_features.npz")
HAVE_PACKAGE = os.path.isdir(backbones.MODELS) and os.path.exists(IMAGES)


def pictures(step, count):
    return inputs.preprocess_images(np.array(np.load(IMAGES, mmap_mode="r")[::step][:count]))


class PaddingTests(unittest.TestCase):
    def test_same_pads_give_ceil_of_size_over_stride_outputs_with_the_extra_pixel_after(self):
        rng = np.random.default_rng(3)
        for _ in range(200):
            size, kernel, stride = int(rng.integers(1, 40)), int(rng.integers(1, 8)), int(rng.integers(1, 4))
            before, after = backbones.same_pads(size, kernel, stride)
            self.assertEqual((size + before + after - kernel) // stride + 1, -(-size // stride))
            self.assertIn(after - before, (0, 1))

    def test_same_average_pooling_leaves_the_padding_out_of_the_mean(self):
        rng = np.random.default_rng(4)
        for _ in range(20):
            h, w, k, s = int(rng.integers(3, 12)), int(rng.integers(3, 12)), int(rng.integers(1, 5)), int(rng.integers(1, 3))
            x = torch.tensor(rng.normal(size=(2, 3, h, w)), dtype=torch.float32)
            got = backbones.pool(x, "avg", (k, k), (s, s), "same")
            top, left = backbones.same_pads(h, k, s)[0], backbones.same_pads(w, k, s)[0]
            for i in range(got.shape[2]):
                for j in range(got.shape[3]):
                    r0, c0 = i * s - top, j * s - left
                    window = x[:, :, max(r0, 0):r0 + k, max(c0, 0):c0 + k]
                    torch.testing.assert_close(got[:, :, i, j], window.mean(dim=(2, 3)))
                    torch.testing.assert_close(backbones.pool(x, "max", (k, k), (s, s), "same")[:, :, i, j],
                                               window.amax(dim=(2, 3)))

    def test_strided_same_convolution_matches_zero_padding_then_valid(self):
        torch.manual_seed(5)
        kernel = np.random.default_rng(5).normal(size=(3, 3, 4, 6)).astype(np.float32)
        conv = backbones.Conv(kernel, None, (2, 2), "same", depthwise=False)
        for size in (7, 8):
            x = torch.randn(1, 4, size, size)
            pads = (0, 1, 0, 1) if size % 2 == 0 else (1, 1, 1, 1)
            expected = F.conv2d(F.pad(x, pads), conv.weight, stride=2)
            torch.testing.assert_close(conv(x), expected)


@unittest.skipUnless(HAVE_PACKAGE, "needs model/setup.sh's nsfwjs package and model/work/data")
class MobileNetV2Tests(unittest.TestCase):
    def test_features_and_weight_names_are_those_of_the_code_before_backbones(self):
        torch.set_num_threads(2)
        golden = np.load(GOLDEN)
        layers = [k for k in golden.files if k != "state_dict_keys"]
        features = mobilenet.MobileNetFeatures(layers, 128)
        with torch.no_grad():
            for name, got in zip(layers, features.pooled(pictures(997, 6))):
                np.testing.assert_allclose(got.numpy(), golden[name], rtol=0, atol=1e-5, err_msg=name)
        self.assertEqual(sorted(features.state_dict()), golden["state_dict_keys"].tolist())
        self.assertEqual((features.backbone, features.size, mobilenet.MobileNetFeatures().out_dim), ("mobilenet_v2", 128, 1280))


class NsfwjsBackbone:
    """What every converted nsfwjs network must pass; a subclass names it in `backbone`."""
    backbone = None

    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        cls.package = backbones.read_package(cls.backbone)

    def test_nsfwjs_calls_emoji_drawings_or_neutral(self):
        share, per_class, _ = backbones.emoji_check(self.backbone, package=self.package)
        self.assertGreater(share, 0.9, per_class)


@unittest.skipUnless(HAVE_PACKAGE, "needs model/setup.sh's nsfwjs package and model/work/data")
class InceptionV3Tests(NsfwjsBackbone, unittest.TestCase):
    backbone = "inception_v3"

    def test_layer_shapes_fit_the_topology(self):
        names = ["max_pooling2d_2", "mixed2", "mixed3", "mixed7", "mixed8", "mixed10", "average_pooling2d_10"]
        graph = backbones.convert(self.package, outputs=names, backbone="inception_v3")
        with torch.no_grad():
            shapes = {n: tuple(v.shape[1:]) for n, v in zip(names, graph(torch.rand(1, 3, 299, 299)))}
        self.assertEqual(shapes, {"max_pooling2d_2": (192, 35, 35), "mixed2": (288, 35, 35), "mixed3": (768, 17, 17),
                                  "mixed7": (768, 17, 17), "mixed8": (1280, 8, 8), "mixed10": (2048, 8, 8),
                                  "average_pooling2d_10": (2048, 1, 1)})
        # nsfwjs's head flattens the pooled map into dense_1: its kernel's rows are mixed10's channels.
        self.assertEqual(self.package[1]["dense_1/kernel"].shape[0], 2048)

    def test_batch_norm_statistics_agree_with_the_activations_that_reach_them(self):
        # The emoji check alone is weak (nsfwjs calls noise neutral too): a wrong kernel layout, padding or
        # input range shows as channel means that no longer follow the batch norms' moving means.
        graph = backbones.convert(self.package, last="mixed7", backbone="inception_v3")
        x = F.interpolate(pictures(300, 12) * 0.5 + 0.5, size=(299, 299), mode="bilinear", align_corners=False)
        norms = [(name, inputs[0]) for name, kind, inputs in graph.order if kind == "BatchNormalization"]
        with torch.no_grad():
            values = graph(x, outputs=[source for _, source in norms])
        agreement = [np.corrcoef(v.mean(dim=(0, 2, 3)).numpy(), graph.mods[name].running_mean.numpy())[0, 1]
                     for (name, _), v in zip(norms, values)]
        self.assertGreater(float(np.median(agreement)), 0.8)
        # The first layer's variance as the batch norm saw it: inputs in 0..1, as nsfwjs feeds them.
        first = float(values[0].var(dim=(0, 2, 3)).mean() / graph.mods[norms[0][0]].running_var.mean())
        self.assertLess(abs(np.log(first)), np.log(2.5))

    def test_features_default_to_mixed10(self):
        features = backbones.BackboneFeatures(backbone="inception_v3", size=96)
        self.assertEqual((features.graph.outputs, features.out_dim), (["mixed10"], 2048))


@unittest.skipUnless(HAVE_PACKAGE, "needs model/setup.sh's nsfwjs package and model/work/data")
class MobileNetV2MidTests(NsfwjsBackbone, unittest.TestCase):
    backbone = "mobilenet_v2_mid"

    def test_the_graph_takes_0_to_1_as_nsfwjs_feeds_it_and_has_mobilenet_v2_shapes_at_1_4_width(self):
        names = ["hub_input/Sub", "Conv/Relu6", "expanded_conv_13/expand/Relu6", "Conv_1/Relu6", "Logits/AvgPool"]
        graph = backbones.convert(self.package, outputs=names, backbone="mobilenet_v2_mid")
        x = torch.rand(1, 3, 224, 224)
        with torch.no_grad():
            values = dict(zip(names, graph(x)))
        torch.testing.assert_close(values["hub_input/Sub"], x * 2 - 1)
        self.assertEqual({n: tuple(v.shape[1:]) for n, v in values.items() if n != "hub_input/Sub"},
                         {"Conv/Relu6": (48, 112, 112), "expanded_conv_13/expand/Relu6": (816, 14, 14),
                          "Conv_1/Relu6": (1792, 7, 7), "Logits/AvgPool": (1792, 1, 1)})


if __name__ == "__main__":
    unittest.main()
