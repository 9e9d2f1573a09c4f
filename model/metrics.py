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


FAR = 10 ** 6  # the distance given to pairs left out of a ranking: after every real one, outside every radius


def left_out(query_groups, db_groups, exclude_self, shape):
    """bool [Q, D]: the pairs left out of the ranking: the query itself (a query searching its own set)
    and, with groups (one id per item, such as the emoji a picture shows), every item of the query's own
    group. A left-out item is pushed to the end of the ranking and is not relevant, so it moves no
    figure: MAP, P@10 and the radius figures are those of the ranking without it."""
    out = np.zeros(shape, dtype=bool)
    if exclude_self:
        np.fill_diagonal(out, True)
    if query_groups is not None:
        out |= np.asarray(query_groups)[:, None] == np.asarray(db_groups)[None, :]
    return out


def compare(query_bits, db_bits, query_labels, db_labels, exclude_self, query_groups=None, db_groups=None):
    """Hamming distances and relevance of every (query, database item) pair, with the pairs `left_out`
    at distance FAR and not relevant; also that mask."""
    d = hamming(query_bits, db_bits)
    relevant = relevance(query_labels, db_labels)
    out = left_out(query_groups, db_groups, exclude_self, d.shape)
    d[out] = FAR
    relevant[out] = False
    return d, relevant, out


def squared_distances(a, b):
    """[Q, D] squared Euclidean distances of two float matrices, without a [Q, D, dim] intermediate."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0.0)


def task(query_bits, db_bits, query_labels, db_labels, exclude_self=False, query_emb=None, db_emb=None,
         query_groups=None, db_groups=None):
    """MAP, P@10, P@r2 and the share of queries with nothing within radius 2 of one retrieval task; with
    embeddings, Lin et al.'s re-rank and exact dense search too. With groups (one id per query and per
    database item), items of a query's own group are left out of its ranking (`left_out`)."""
    d, relevant, out = compare(query_bits, db_bits, query_labels, db_labels, exclude_self, query_groups, db_groups)
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
        # The pool comes from the Hamming order, left-out items last: a pool that reaches them re-ranks
        # them among the rest, so they keep the Euclidean distance of infinity there too.
        dense = squared_distances(query_emb, db_emb)
        dense[out] = np.inf
        pool = order[:, :POOL]
        reranked = np.take_along_axis(pool, np.argsort(np.take_along_axis(dense, pool, axis=1), axis=1, kind="stable"), axis=1)
        fine = ranking_metrics(np.concatenate([reranked, order[:, POOL:]], axis=1), relevant)
        result["hierarchical_map"], result["hierarchical_p@10"] = fine["map"], fine["p@10"]
        dense_order = np.argsort(dense, axis=1, kind="stable")
        if exclude_self:
            dense_order = dense_order[:, :-1]
        exact = ranking_metrics(dense_order, relevant)
        result["dense_map"], result["dense_p@10"] = exact["map"], exact["p@10"]
    return result


def pr_curve(query_bits, db_bits, query_labels, db_labels, exclude_self=False):
    """Precision and recall of 'all within radius r' for r = 0..k, pooled over queries."""
    d, relevant, _ = compare(query_bits, db_bits, query_labels, db_labels, exclude_self)
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


def task_table(bits, split, tasks, emb=None, other_groups=False):
    """{"q->d": metrics} for the tasks whose two kinds have codes; with embeddings, the re-rank and dense
    figures too. With `other_groups`, the items of a query's own group (`split.groups(kind)`, such as
    the same emoji in another style, or its caption) are left out of its ranking."""
    out = {}
    for q, d in tasks:
        if q in bits and d in bits:
            out[f"{q}->{d}"] = task(bits[q], bits[d], split.labels(q), split.labels(d), exclude_self=q == d,
                                    query_emb=emb[q] if emb else None, db_emb=emb[d] if emb else None,
                                    query_groups=split.groups(q) if other_groups else None,
                                    db_groups=split.groups(d) if other_groups else None)
    return out


def code_bits(codes):
    """{kind: bool codes} from {kind: (activations, embeddings)}: a bit is 1 at 0.5 or above."""
    return {k: p >= 0.5 for k, (p, _) in codes.items()}
