"""Unit tests of the collection path's library modules (run by model/public-collections/run.sh --quick):
  /usr/bin/python3 -m unittest discover -s model/tests
"""
import json
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import baselines  # noqa: E402
import collection as coll  # noqa: E402
import heads  # noqa: E402
import metrics  # noqa: E402


def write_collection(folder, rows, pictures=()):
    for name in pictures:
        with open(os.path.join(folder, name), "wb") as f:
            f.write(b"not read here")
    path = os.path.join(folder, "items.jsonl")
    with open(path, "w") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


class SplitTests(unittest.TestCase):
    def test_a_group_never_straddles_two_splits_and_the_split_does_not_move(self):
        rng = np.random.default_rng(1)
        items = [coll.Item(str(n), None, [f"caption {n}"], [], f"g{rng.integers(300)}") for n in range(3000)]
        coll.prepare(items)
        by_group = {}
        for item in items:
            by_group.setdefault(item.group, set()).add(item.split)
        self.assertTrue(all(len(s) == 1 for s in by_group.values()))
        # The same groups among other items land where they did.
        again = [coll.Item("x", None, ["c"], [], item.group) for item in items[:100]]
        coll.prepare(again + [coll.Item("y", None, ["c"], [], f"other{n}") for n in range(50)])
        self.assertEqual([i.split for i in items[:100]], [i.split for i in again])

    def test_shares_are_about_70_10_20(self):
        counts = {"train": 0, "val": 0, "test": 0}
        for n in range(20000):
            counts[coll.split_of(f"group {n}")] += 1
        self.assertAlmostEqual(counts["test"] / 20000, 0.2, delta=0.015)
        self.assertAlmostEqual(counts["val"] / 20000, 0.1, delta=0.015)

    def test_a_given_split_is_kept(self):
        with tempfile.TemporaryDirectory() as d:
            items = coll.read_jsonl(write_collection(d, [{"caption": f"c{n}", "split": ["train", "val", "test"][n % 3]} for n in range(30)]))
            coll.prepare(items)
            self.assertEqual([["train", "val", "test"][n % 3] for n in range(30)], [i.split for i in items])
            with self.assertRaisesRegex(coll.CollectionError, r"line 1: \[split\] must be train, val or test but was \"dev\""):
                coll.read_jsonl(write_collection(d, [{"caption": "c", "split": "dev"}]))

    def test_too_few_groups_say_what_to_do(self):
        items = [coll.Item(str(n), None, ["c"], [], "one group") for n in range(50)]
        with self.assertRaisesRegex(coll.CollectionError, "split has 0 item"):
            coll.prepare(items)


class ReadTests(unittest.TestCase):
    def test_reads_captions_labels_groups_and_paths(self):
        with tempfile.TemporaryDirectory() as d:
            path = write_collection(d, [
                {"image": "a.png", "caption": ["red shoe", "sneaker"], "labels": "shoes", "group": "sku-1"},
                {"image": "b.png", "caption": "bag", "labels": ["bags", "leather"]},
                {"caption": "only a caption", "id": "c"},
                "",
            ], pictures=["a.png", "b.png"])
            items = coll.read_jsonl(path)
        self.assertEqual(3, len(items))
        self.assertEqual("red shoe, sneaker", items[0].caption)
        self.assertEqual(["red shoe, sneaker", "red shoe", "sneaker"], items[0].texts())
        self.assertEqual(["shoes"], items[0].labels)
        self.assertEqual("sku-1", items[0].group)
        self.assertEqual(os.path.join(d, "b.png"), items[1].image)
        self.assertEqual(["bags", "leather"], items[1].labels)
        self.assertIsNone(items[2].image)
        self.assertEqual("c", items[2].group)  # no group: the item is its own

    def test_renamed_keys(self):
        with tempfile.TemporaryDirectory() as d:
            path = write_collection(d, [{"title": "x", "tags": ["t"]}])
            items = coll.read_jsonl(path, {"caption": "title", "labels": "tags"})
        self.assertEqual(["x"], items[0].captions)
        self.assertEqual(["t"], items[0].labels)

    def test_a_missing_picture_keeps_the_caption_or_drops_the_item(self):
        with tempfile.TemporaryDirectory() as d:
            path = write_collection(d, [{"image": "gone.png", "caption": "kept"}, {"image": "gone.png"}])
            items = coll.read_jsonl(path)
        self.assertEqual(1, len(items))
        self.assertIsNone(items[0].image)

    def test_errors_name_the_line_and_the_value(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(coll.CollectionError, "line 2: not JSON"):
                coll.read_jsonl(write_collection(d, [{"caption": "a"}, "{broken"]))
            with self.assertRaisesRegex(coll.CollectionError, r"line 1: \[caption\] must be a string or a list of strings but was \{"):
                coll.read_jsonl(write_collection(d, [{"caption": {"en": "a"}}]))
            with self.assertRaisesRegex(coll.CollectionError, "line 1: expected a JSON object but got list"):
                coll.read_jsonl(write_collection(d, ["[1, 2]"]))


class MetricsTests(unittest.TestCase):
    def test_relevance_with_one_label_or_several(self):
        self.assertEqual([[True, False], [False, True]], metrics.relevance(np.array([1, 2]), np.array([1, 2])).tolist())
        q = np.array([[1, 0, 1], [0, 1, 0]], dtype=bool)
        d = np.array([[0, 0, 1], [1, 0, 0], [0, 0, 0]], dtype=bool)
        self.assertEqual([[True, True, False], [False, False, False]], metrics.relevance(q, d).tolist())

    def test_map_against_a_hand_computed_ranking(self):
        # Codes at distances 0, 1, 2 from the query; relevant: the first and the third -> AP = (1/1 + 2/3) / 2.
        query = np.array([[0, 0, 0, 0]], dtype=bool)
        db = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]], dtype=bool)
        result = metrics.task(query, db, np.array([[1, 0]], dtype=bool), np.array([[1, 0], [0, 1], [1, 1]], dtype=bool))
        self.assertAlmostEqual((1 + 2 / 3) / 2, result["map"])
        self.assertAlmostEqual(1.0, result["p@r2"] * 3 / 2)  # two of three within radius 2 are relevant


class ItqHeadTests(unittest.TestCase):
    def test_the_itq_head_gives_the_codes_of_baselines_itq(self):
        rng = np.random.default_rng(3)
        train = rng.standard_normal((400, 40)) * rng.uniform(0.5, 3, 40) + rng.standard_normal(40)
        test = rng.standard_normal((50, 40)) * 2
        head = heads.ItqHead("image", train, 16)
        probs, embedding = head.encode_image(torch.tensor(test, dtype=torch.float32))
        mean, std = train.mean(0), train.std(0) + 1e-6
        expected = baselines.itq((train - mean) / std, 16)((test - mean) / std)
        self.assertEqual(expected.tolist(), (probs.numpy() >= 0.5).tolist())
        self.assertEqual((50, 40), tuple(embedding.shape))  # fewer features than 256: all of them
        self.assertTrue(np.allclose(np.linalg.norm(embedding.numpy(), axis=1), 1, atol=1e-5))


if __name__ == "__main__":
    unittest.main()
