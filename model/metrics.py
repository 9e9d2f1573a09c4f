"""Retrieval metrics over Hamming rankings: MAP over all, P@10, precision within radius 2, the
precision-recall curve of radius search, and Lin et al.'s coarse-to-fine re-rank. Relevance is given
by labels: one label per item (an int or string array: relevant = the same label) or several (a bool
matrix [N, L]: relevant = at least one label in common)."""
import numpy as np
POOL = 100


def hamming(a, b):
    """a: bool [Q, k], b: bool [D, k] -> int distances [Q, D]."""
    a = a.astype(np.int32)
    b = b.astype(np.int32)
    return a.shape[1] - (a @ b.T + (1 - a) @ (1 - b).T)


def rank(distances, seed=0):
    """Indices sorted by distance, ties in a fixed random order."""
    jitter = np.random.default_rng(seed).random(distances.shape[1])
    return np.lexsort((np.broadcast_to(jitter, distances.shape), distances), axis=1)


def ranking_metrics(order, relevant):
    """order: [Q, D] database indices best first; relevant: bool [Q, D]. MAP over all and P@10."""
    hits = np.take_along_axis(relevant, order, axis=1)
    cum = np.cumsum(hits, axis=1)
    positions = np.arange(1, hits.shape[1] + 1)
    n_rel = hits.sum(1)
    ap = np.where(n_rel > 0, (hits * cum / positions).sum(1) / np.maximum(n_rel, 1), 0.0)
    return {"map": float(ap[n_rel > 0].mean()), "p@10": float(hits[:, :10].mean())}


def relevance(query_labels, db_labels):
    """bool [Q, D]: one label per item (1-D arrays), the same label; several (bool [N, L]), one in common."""
    if query_labels.ndim == 2:
        return (query_labels.astype(np.float32) @ db_labels.astype(np.float32).T) > 0
    return query_labels[:, None] == db_labels[None, :]


def compare(query_bits, db_bits, query_labels, db_labels, exclude_self):
    """Hamming distances and relevance of every (query, database item) pair; a query searching its own
    set is pushed to the end of its ranking and is not relevant to itself."""
    d = hamming(query_bits, db_bits)
    relevant = relevance(query_labels, db_labels)
    if exclude_self:
        np.fill_diagonal(d, 10 ** 6)
        np.fill_diagonal(relevant, False)
    return d, relevant


def task(query_bits, db_bits, query_labels, db_labels, exclude_self=False, query_emb=None, db_emb=None):
    d, relevant = compare(query_bits, db_bits, query_labels, db_labels, exclude_self)
    order = rank(d)
    if exclude_self:
        order = order[:, :-1]
    result = ranking_metrics(order, relevant)
    within = d <= 2
    retrieved = within.sum(1)
    result["p@r2"] = float(np.where(retrieved > 0, (within & relevant).sum(1) / np.maximum(retrieved, 1), 0.0).mean())
    result["r2_empty"] = float((retrieved == 0).mean())
    if query_emb is not None:
        # Lin et al.'s coarse-to-fine search: the best POOL by Hamming distance, re-ranked by Euclidean distance.
        pool = order[:, :POOL]
        euclid = np.linalg.norm(query_emb[:, None, :] - db_emb[pool], axis=2)
        reranked = np.take_along_axis(pool, np.argsort(euclid, axis=1, kind="stable"), axis=1)
        fine = ranking_metrics(np.concatenate([reranked, order[:, POOL:]], axis=1), relevant)
        result["hierarchical_map"], result["hierarchical_p@10"] = fine["map"], fine["p@10"]
        dense = np.linalg.norm(query_emb[:, None, :] - db_emb[None, :, :], axis=2)
        if exclude_self:
            np.fill_diagonal(dense, np.inf)
        dense_order = np.argsort(dense, axis=1, kind="stable")
        if exclude_self:
            dense_order = dense_order[:, :-1]
        exact = ranking_metrics(dense_order, relevant)
        result["dense_map"], result["dense_p@10"] = exact["map"], exact["p@10"]
    return result


def pr_curve(query_bits, db_bits, query_labels, db_labels, exclude_self=False):
    """Precision and recall of 'all within radius r' for r = 0..k, pooled over queries."""
    d, relevant = compare(query_bits, db_bits, query_labels, db_labels, exclude_self)
    precision, recall = [], []
    for r in range(query_bits.shape[1] + 1):
        within = d <= r
        n = within.sum()
        precision.append(float((within & relevant).sum() / n) if n else 1.0)
        recall.append(float((within & relevant).sum() / relevant.sum()))
    return {"precision": precision, "recall": recall}


# (query kind, database kind) of every task; baselines have no text->text (no text-only hashing of theirs).
TASKS = [("image", "image"), ("text", "image"), ("image", "text"), ("fused", "fused"), ("text", "fused"), ("image", "fused"), ("text", "text")]


BASELINE_TASKS = TASKS[:-1]


def task_table(bits, split, tasks, emb=None):
    """{"q->d": metrics} for the tasks whose two kinds have codes; with embeddings, the re-rank and dense figures too."""
    out = {}
    for q, d in tasks:
        if q in bits and d in bits:
            out[f"{q}->{d}"] = task(bits[q], bits[d], split.labels(q), split.labels(d), exclude_self=q == d,
                                    query_emb=emb[q] if emb else None, db_emb=emb[d] if emb else None)
    return out


def code_bits(codes):
    """{kind: bool codes} from {kind: (activations, embeddings)}: a bit is 1 at 0.5 or above."""
    return {k: p >= 0.5 for k, (p, _) in codes.items()}
