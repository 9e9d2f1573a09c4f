"""The trainable hashing head over frozen encoders' features, for a user's collection.

  picture features (image encoder) -> standardise -> projection -> latent ─┐
  caption embedding (MiniLM)       ->                projection -> latent ─┼─> sigmoid hash layer (k bits, 0.5)
  both latents                     ->                projection -> latent ─┘        └─> label classifier (when labelled)

The same shape as the emoji model (deephash.DeepHash): Lin et al.'s latent sigmoid layer binarised at
0.5, one hash layer shared by the three towers so that picture, caption and fused codes live in one
Hamming space (DCMH). The losses depend on what the collection gives:
  with labels (one or many per item; relevant = shares a label): DCMH's pairwise likelihood between
    every two towers over label similarity, a multi-label classifier on the codes (Lin et al.);
  without labels: the pair is the unit (DCMH with S = same group, similar and dissimilar pairs
    weighted equally);
  both: a symmetric contrastive term between every two views of an item (its picture, two of its
    captions, both fused) in the latent space and over the relaxed codes;
  always: quantization (activations near 0 or 1) and bit balance.
A collection with one modality trains that tower alone; one modality without labels has nothing to
say which items belong together, and gets ITQ over the encoder's features as its head (ItqHead).
"""
import copy
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import deephash as dh
from baselines import fit_itq
from metrics import relevance, task

LATENT = dh.LATENT


class Standardise(nn.Module):
    """(x - mean) / std with the training features' statistics, stored in the graph."""

    def __init__(self, features):
        super().__init__()
        x = torch.as_tensor(features, dtype=torch.float32)
        self.register_buffer("mean", x.mean(0))
        self.register_buffer("std", x.std(0) + 1e-6)

    def forward(self, x):
        return (x - self.mean) / self.std


class Head(nn.Module):
    def __init__(self, bits, modalities, image_features=None, text_dim=0, labels=0):
        super().__init__()
        self.bits, self.modalities = bits, tuple(modalities)
        if "image" in modalities or "fused" in modalities:
            self.image_norm = Standardise(image_features)
            self.image_proj = dh.projection(self.image_norm.mean.shape[0])
        if "text" in modalities or "fused" in modalities:
            self.text_proj = dh.projection(text_dim)
        if "fused" in modalities:
            self.fuse = dh.projection(2 * LATENT)
        self.hash = nn.Linear(LATENT, bits)
        self.classify = nn.Linear(bits, labels) if labels else None
        self.embedding_dim = LATENT

    def out(self, latent):
        return torch.sigmoid(self.hash(latent)), F.normalize(latent, dim=1)

    def image_latent(self, fi):
        return self.image_proj(self.image_norm(fi))

    def encode_image(self, fi):
        return self.out(self.image_latent(fi))

    def encode_text(self, ft):
        return self.out(self.text_proj(ft))

    def encode_fused(self, fi, ft):
        return self.out(self.fuse(torch.cat([self.image_latent(fi), self.text_proj(ft)], dim=1)))

    def encode(self, kind, fi=None, ft=None):
        return {"image": lambda: self.encode_image(fi), "text": lambda: self.encode_text(ft),
                "fused": lambda: self.encode_fused(fi, ft)}[kind]()


class Data:
    """The features of one split: per item its picture's features (or None), its texts' embeddings
    (rows of the caption pool) and its labels (multi-hot) and group."""

    def __init__(self, items, image_rows, text_rows, image_features, text_features, label_names):
        self.items = items
        self.image_rows = image_rows      # item -> row of image_features or -1
        self.text_rows = text_rows        # item -> list of rows of text_features (the joined caption first)
        self.image_features, self.text_features = image_features, text_features
        index = {name: i for i, name in enumerate(label_names)}
        self.labels = np.zeros((len(items), len(label_names)), dtype=bool)
        for n, item in enumerate(items):
            for l in item.labels:
                if l in index:
                    self.labels[n, index[l]] = True
        groups = {}
        self.groups = np.array([groups.setdefault(item.group, len(groups)) for item in items])


def balanced_pairwise_loss(a, b, similar):
    """DCMH's pairwise likelihood (deephash.pairwise_loss) with the similar and the dissimilar pairs
    weighted equally. Without labels a batch holds one similar pair a row against hundreds of
    dissimilar ones, and the plain mean is least when every picture's code is the opposite of every
    caption's: the codes collapse. Equal weights keep the few positives in play."""
    k = a.shape[1]
    theta = (2 * a - 1) @ (2 * b - 1).t() * (8.0 / k)
    nll = F.softplus(theta) - similar * theta
    positives, negatives = similar.sum().clamp(min=1), (1 - similar).sum().clamp(min=1)
    return 0.5 * ((nll * similar).sum() / positives + (nll * (1 - similar)).sum() / negatives)


def _batch_indices(n, batch, rng):
    order = rng.permutation(n)
    return [order[s:s + batch] for s in range(0, n, batch) if len(order[s:s + batch]) >= 4]


def training_items(data, modalities):
    """The items a step can use: those with every input the trained towers need (a picture for image
    and fused, a caption for text and fused)."""
    need_image = "image" in modalities or "fused" in modalities
    need_text = "text" in modalities or "fused" in modalities
    return np.array([n for n in range(len(data.items))
                     if (not need_image or data.image_rows[n] >= 0) and (not need_text or data.text_rows[n])])


def train(head, train_data, args, evaluate_val):
    """Trains the head; keeps the epoch with the best validation score (mean MAP over the validation
    tasks, `evaluate_val(head)`), never looking at the test split. Returns (epochs log, best epoch)."""
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    labelled = train_data.labels.shape[1] > 0
    usable = training_items(train_data, head.modalities)
    if len(usable) < 8:
        raise SystemExit(f"train_collection: only {len(usable)} training items have the inputs the towers need")
    fi_all = torch.from_numpy(train_data.image_features) if train_data.image_features is not None else None
    ft_all = torch.from_numpy(train_data.text_features) if train_data.text_features is not None else None
    y_all = torch.from_numpy(train_data.labels.astype(np.float32))
    g_all = torch.from_numpy(train_data.groups)
    optimizer = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * math.ceil(len(usable) / args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=max(steps, 1), pct_start=0.1)
    log, best, best_state = [], None, None
    started = time.time()
    for epoch in range(1, args.epochs + 1):
        head.train()
        totals = {}
        for positions in _batch_indices(len(usable), args.batch, rng):
            rows = usable[positions]
            fi = ft = None
            if fi_all is not None and ("image" in head.modalities or "fused" in head.modalities):
                fi = fi_all[[train_data.image_rows[n] for n in rows]]
            if ft_all is not None and ("text" in head.modalities or "fused" in head.modalities):
                # One of the item's texts at random: the joined caption or one caption alone.
                ft = ft_all[[train_data.text_rows[n][rng.integers(len(train_data.text_rows[n]))] for n in rows]]
            out = {m: head.encode(m, fi, ft) for m in head.modalities}
            probs = {m: p for m, (p, _) in out.items()}
            y, g = y_all[rows], g_all[rows]
            same_group = (g[:, None] == g[None, :]).float()
            pairs = [(a, b) for a in probs for b in probs if a < b] or [(m, m) for m in probs]
            terms = {}
            if labelled:
                similar = ((y @ y.t()) > 0).float()
                has = y.sum(1) > 0
                mask = (has[:, None] & has[None, :]).float()
                # Items without labels take part as their own group only.
                similar = similar * mask + same_group * (1 - mask)
                terms["pairwise"] = sum(balanced_pairwise_loss(probs[a], probs[b], similar) for a, b in pairs) / len(pairs)
                if has.any():
                    terms["classification"] = sum(F.binary_cross_entropy_with_logits(head.classify(p[has] * 2 - 1), y[has])
                                                  for p in probs.values()) / len(probs)
            else:
                terms["pairwise"] = sum(balanced_pairwise_loss(probs[a], probs[b], same_group) for a, b in pairs) / len(pairs)
            # Each item seen as several views (its picture, a caption, a second caption, both): every two views of
            # one item (or group) pulled together against the rest of the batch, in the latent space and, with
            # --code-contrastive, over the relaxed codes.
            views = dict(out)
            if "text" in head.modalities and ft is not None:
                views["text2"] = head.encode_text(ft_all[[train_data.text_rows[n][rng.integers(len(train_data.text_rows[n]))] for n in rows]])
            names = list(views)
            view_pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
            if view_pairs and args.contrastive:
                terms["contrastive"] = args.contrastive * sum(
                    dh.alignment_loss(views[a][1], views[b][1], same_group) for a, b in view_pairs) / len(view_pairs)
            if view_pairs and args.code_contrastive:
                codes = {m: F.normalize(2 * p - 1, dim=1) for m, (p, _) in views.items()}
                terms["code_contrastive"] = args.code_contrastive * sum(
                    dh.alignment_loss(codes[a], codes[b], same_group, temperature=0.2) for a, b in view_pairs) / len(view_pairs)
            terms["quantization"] = args.quantization * sum(dh.quantization_loss(p) for p in probs.values())
            terms["balance"] = args.balance * sum(dh.balance_loss(p) for p in probs.values())
            loss = sum(terms.values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            for k, v in terms.items():
                totals[k] = totals.get(k, 0.0) + float(v)
        head.eval()
        score, per_task = evaluate_val(head)
        log.append({"epoch": epoch, "val_score": score, "val": per_task, **{k: round(v, 4) for k, v in totals.items()}})
        if best is None or score > best[1]:
            best, best_state = (epoch, score), copy.deepcopy(head.state_dict())
        elapsed = time.time() - started
        left = elapsed / epoch * (args.epochs - epoch)
        print(f"train: epoch {epoch}/{args.epochs}, validation mean MAP {score:.4f} (best {best[1]:.4f} at epoch {best[0]}); "
              f"{elapsed:.0f} s, about {left:.0f} s left", file=sys.stderr, flush=True)
    head.load_state_dict(best_state)
    head.eval()
    return log, best[0]


@torch.no_grad()
def encode_split(head, data):
    """{kind: (probs, embeddings, item indices)} for every tower: pictures for image, the joined
    caption for text, both for fused."""
    out = {}
    has_image = np.array([r >= 0 for r in data.image_rows])
    has_text = np.array([bool(r) for r in data.text_rows])
    for kind in head.modalities:
        keep = np.nonzero({"image": has_image, "text": has_text, "fused": has_image & has_text}[kind])[0]
        fi = torch.from_numpy(data.image_features[[data.image_rows[n] for n in keep]]) if kind != "text" else None
        ft = torch.from_numpy(data.text_features[[data.text_rows[n][0] for n in keep]]) if kind != "image" else None
        p, e = head.encode(kind, fi, ft)
        out[kind] = (p.numpy(), e.numpy(), keep)
    return out


def text_queries(data):
    """The caption query of each item with a caption: a single caption other than the joined one the
    fused and text codes were made from, where the item has one (a user types a few words, not the
    whole list), else the joined caption. Returns (item indices, rows of text_features)."""
    keep = [n for n, rows in enumerate(data.text_rows) if rows]
    return np.array(keep), [data.text_rows[n][1] if len(data.text_rows[n]) > 1 else data.text_rows[n][0] for n in keep]


TASKS = [("image", "image"), ("text", "image"), ("image", "text"), ("fused", "fused"), ("text", "fused"), ("image", "fused"), ("text", "text")]


def evaluate_codes(codes, data, relevance_of, tasks=TASKS, with_dense=True):
    """Every task the codes allow: {"q->d": metrics}. `codes`: {kind: (bits or probs, embeddings or
    None, item indices)}, plus "query_text" for the caption queries; `relevance_of(indices)`: what
    metrics.task compares (labels or groups). Queries never retrieve themselves (same kind)."""
    out = {}
    for q, d in tasks:
        qk = "query_text" if q == "text" and "query_text" in codes else q
        if qk not in codes or d not in codes:
            continue
        qb, qe, qi = codes[qk]
        db, de, di = codes[d]
        same = qk == d  # a set searched against itself: a query never retrieves itself
        labels_q, labels_d = relevance_of(qi), relevance_of(di)
        r = relevance(labels_q, labels_d)
        if same:
            np.fill_diagonal(r, False)
        # Queries with nothing relevant in the database have no average precision: left out.
        keep = r.any(1) if not same else np.ones(len(qi), dtype=bool)
        if not r.any():
            continue
        dense = with_dense and qe is not None and de is not None
        result = task(_bits(qb)[keep], _bits(db), labels_q[keep], labels_d, exclude_self=same,
                      query_emb=qe[keep] if dense else None, db_emb=de if dense else None)
        result["queries"], result["database"] = int(r.any(1).sum()), int(len(di))
        out[f"{q}->{d}"] = result
    return out


def _bits(codes):
    """Bool codes from activations (a bit is 1 at 0.5 or above) or bool codes as they are."""
    codes = np.asarray(codes)
    return codes if codes.dtype == bool else codes >= 0.5


class ItqHead(nn.Module):
    """The head of a collection with one modality and no labels, where nothing says which items belong
    together: Gong & Lazebnik's ITQ over the standardised features of the training items (PCA to `bits`
    dimensions, then the rotation that best fits the binary corners), as one linear layer; a bit is 1
    where the projection is at least 0 (sigmoid of it at least 0.5, Lin et al.'s threshold), and the
    embedding is the PCA projection to up to 256 dimensions, L2-normalised, for the re-rank."""

    def __init__(self, kind, train_features, bits, iterations=50, seed=0):
        super().__init__()
        self.modalities, self.bits = (kind,), bits
        x = np.asarray(train_features, dtype=np.float64)
        mean, std = x.mean(0), x.std(0) + 1e-6
        _, directions, rotation = fit_itq((x - mean) / std, bits, iterations, seed)
        projection = directions[:, :bits] @ rotation
        # Scaled so that an average bit's activation is well away from 0.5 (the code is the sign either way).
        scale = 4.0 / max(float(np.abs((x - mean) / std @ projection).mean()), 1e-6)
        self.embedding_dim = min(LATENT, directions.shape[1])
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        self.register_buffer("hash_weight", torch.tensor(projection * scale, dtype=torch.float32))
        self.register_buffer("embed_weight", torch.tensor(directions[:, :self.embedding_dim], dtype=torch.float32))

    def _out(self, x):
        z = (x - self.mean) / self.std
        return torch.sigmoid(z @ self.hash_weight), F.normalize(z @ self.embed_weight, dim=1)

    def encode_image(self, fi):
        return self._out(fi)

    def encode_text(self, ft):
        return self._out(ft)

    def encode(self, kind, fi=None, ft=None):
        return self._out(fi if kind == "image" else ft)
