"""Unit tests of the emoji model's measuring protocol: the twins, leaving a query's own emoji out of its
ranking, and the distances the re-rank uses, each against a brute-force oracle:
  /usr/bin/python3 -m unittest discover -s model/tests
"""
import os
import sys
import unittest
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import emojiset  # noqa: E402
import metrics  # noqa: E402


def average_precision(ranking, relevant):
    """AP of one ranking (database indices best first) by its definition."""
    hits, total = 0, 0.0
    for position, item in enumerate(ranking, 1):
        if relevant[item]:
            hits += 1
            total += hits / position
    return total / hits if hits else None


def hamming_ranking(query, database, keep):
    """The database items `keep` ordered by Hamming distance to the query, ties in metrics.rank's order
    (a fixed random jitter per database item)."""
    d = (query != database[keep]).sum(1)
    jitter = np.random.default_rng(0).random(len(database))[keep]
    return keep[np.lexsort((jitter, d))]


class TwinTests(unittest.TestCase):
    def test_twins_are_the_same_label_without_the_person_words(self):
        table = [
            {"label": "woman technologist", "split": "train"},
            {"label": "man technologist", "split": "test"},  # twin of a training emoji
            {"label": "technologist", "split": "test"},  # twin: the person form
            {"label": "man: red hair", "split": "train"},
            {"label": "woman: red hair", "split": "test"},  # twin
            {"label": "family: man, girl", "split": "train"},
            {"label": "family: woman, girl", "split": "test"},  # twin
            {"label": "grinning face", "split": "train"},
            {"label": "grinning face", "split": "test"},  # the same label, but no person in it: not a twin
            {"label": "man dancing", "split": "val"},
            {"label": "woman dancing", "split": "test"},  # its twin is in validation, not training
            {"label": "superhero", "split": "test"},  # nobody like it in training
        ]
        self.assertEqual(emojiset.twins(table), {1, 2, 4, 6})
        self.assertEqual(emojiset.twins(table, "test", of="val"), {10})
        self.assertEqual(emojiset.twin_key("Man: Red Hair"), "red hair")


class LeftOutTests(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(3)
        self.queries = rng.random((40, 16)) < 0.5
        self.database = rng.random((120, 16)) < 0.5
        self.query_labels = rng.integers(0, 5, 40)
        self.db_labels = rng.integers(0, 5, 120)
        self.query_groups = np.arange(40)
        self.db_groups = rng.integers(40, 80, 120)
        # The first 40 database items are the queries' easy positives: a near copy (one bit flipped) with
        # the query's label, in its group (as the same emoji in another style is).
        self.database[:40] = self.queries
        self.database[np.arange(40), rng.integers(0, 16, 40)] ^= True
        self.db_labels[:40] = self.query_labels
        self.db_groups[:40] = self.query_groups

    def test_map_with_the_own_group_left_out_is_that_of_the_ranking_without_it(self):
        got = metrics.task(self.queries, self.database, self.query_labels, self.db_labels,
                           query_groups=self.query_groups, db_groups=self.db_groups)
        aps, p10 = [], []
        for q in range(len(self.queries)):
            ranking = hamming_ranking(self.queries[q], self.database, np.where(self.db_groups != self.query_groups[q])[0])
            relevant = self.db_labels == self.query_labels[q]
            ap = average_precision(ranking, relevant)
            if ap is not None:
                aps.append(ap)
            p10.append(relevant[ranking[:10]].mean())
        self.assertAlmostEqual(got["map"], float(np.mean(aps)), places=10)
        self.assertAlmostEqual(got["p@10"], float(np.mean(p10)), places=10)
        # The oracle tells the protocols apart: with the own group ranked, MAP is another figure.
        plain = metrics.task(self.queries, self.database, self.query_labels, self.db_labels)
        self.assertGreater(abs(plain["map"] - float(np.mean(aps))), 1e-3)

    def test_left_out_items_are_never_within_the_radius(self):
        database = np.repeat(self.queries[:1], 5, axis=0)  # five copies of the first query
        got = metrics.task(self.queries[:1], database, self.query_labels[:1], np.repeat(self.query_labels[:1], 5),
                           query_groups=np.array([7]), db_groups=np.array([7, 7, 7, 8, 8]))
        self.assertEqual(got["p@r2"], 1.0)  # the two copies of another group, both relevant
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # no relevant item left: MAP is undefined
            got = metrics.task(self.queries[:1], database[:3], self.query_labels[:1], np.repeat(self.query_labels[:1], 3),
                               query_groups=np.array([7]), db_groups=np.array([7, 7, 7]))
        self.assertEqual(got["r2_empty"], 1.0)

    def test_a_query_searching_its_own_set_is_left_out_as_before(self):
        labels = self.db_labels
        got = metrics.task(self.database, self.database, labels, labels, exclude_self=True)
        aps = []
        for q in range(len(self.database)):
            keep = np.array([i for i in range(len(self.database)) if i != q])
            ap = average_precision(hamming_ranking(self.database[q], self.database, keep), labels == labels[q])
            if ap is not None:
                aps.append(ap)
        self.assertAlmostEqual(got["map"], float(np.mean(aps)), places=10)

    def test_dense_search_leaves_the_own_group_out_too(self):
        rng = np.random.default_rng(4)
        query_emb, db_emb = rng.normal(size=(40, 8)), rng.normal(size=(120, 8))
        got = metrics.task(self.queries, self.database, self.query_labels, self.db_labels, query_emb=query_emb,
                           db_emb=db_emb, query_groups=self.query_groups, db_groups=self.db_groups)
        aps = []
        for q in range(len(self.queries)):
            keep = np.where(self.db_groups != self.query_groups[q])[0]
            ranking = keep[np.argsort(np.linalg.norm(db_emb[keep] - query_emb[q], axis=1), kind="stable")]
            ap = average_precision(ranking, self.db_labels == self.query_labels[q])
            if ap is not None:
                aps.append(ap)
        self.assertAlmostEqual(got["dense_map"], float(np.mean(aps)), places=10)

    def test_squared_distances(self):
        rng = np.random.default_rng(5)
        a, b = rng.normal(size=(7, 5)), rng.normal(size=(9, 5))
        oracle = ((a[:, None, :] - b[None, :, :]) ** 2).sum(2)
        np.testing.assert_allclose(metrics.squared_distances(a, b), oracle, atol=1e-10)


if __name__ == "__main__":
    unittest.main()
