"""Trains, evaluates and exports a hashing model for your own collection of pictures and captions.

  model/collection.sh --collection my-photos/items.jsonl --name products --out models/products
  model/collection.sh --es http://localhost:9200 --index photos --image-field image --caption-field caption --name photos

Reads the collection (collection.py), splits it by group, computes the frozen encoders' features
with the plugin's own Java code (encoders.py), trains the hashing head choosing the epoch on the
validation split only (heads.py), reads the test split once for the model card (MAP, P@10 and
precision within radius 2 of every task, against LSH and ITQ over the same encoders' features), and
writes a model directory a node loads from $ES_PATH_CONF/deep-hash/models/<name>/.
"""
import argparse
import base64
import json
import os
import random
import sys
import time
import warnings

import numpy as np
import onnx
import torch

import collection as coll
import deephash as dh
import encoders
import heads
import inputs
import metrics
import modelcard
from baselines import cca, itq, lsh

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
# Golden inputs whose activation is this close to the threshold are skipped (export.py's reason).
MARGIN = 1e-3


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = p.add_argument_group("the collection (one of)")
    source.add_argument("--collection", help="a JSONL file, one item a line (see collection.py)")
    source.add_argument("--es", help="an Elasticsearch URL, with --index and the field options")
    source.add_argument("--index")
    source.add_argument("--image-field", help="with --es: the field holding the picture (base64, or a path)")
    source.add_argument("--caption-field", help="with --es: the caption field (a string or a list of strings)")
    source.add_argument("--labels-field", help="with --es: the labels field, if any")
    source.add_argument("--group-field", help="with --es: a grouping key (items of one group stay in one split)")
    source.add_argument("--key", action="append", default=[], metavar="ROLE=NAME",
                        help="with --collection: the JSONL key of a role (image, caption, labels, group, id), e.g. --key caption=title")
    p.add_argument("--labels", choices=["auto", "none"], default="auto",
                   help="auto: train with the labels when the collection has them; none: ignore them (pairs only)")
    p.add_argument("--name", required=True, help="the model's name in pipelines and queries")
    p.add_argument("--version", help="the model's version (default: the name and the time)")
    p.add_argument("--out", help="the model directory to write (default model/work/models/<name>)")
    p.add_argument("--work", help="where features are cached (default model/work/collections/<name>)")
    p.add_argument("--bits", type=int, default=64)
    p.add_argument("--image-encoder", default="mobilenet",
                   help="mobilenet (nsfwjs's MobileNetV2, exported here) or the path of your own ONNX picture encoder")
    p.add_argument("--image-size", type=int, default=128, help="the side the picture is scaled to for the encoder, 64 to 224")
    p.add_argument("--image-mean", default="0,0,0", help="with your own encoder: per-channel mean of its input (RGB in 0..1)")
    p.add_argument("--image-std", default="1,1,1", help="with your own encoder: per-channel std of its input")
    p.add_argument("--image-encoder-input", help="with your own encoder: the ONNX input name, if it has several")
    p.add_argument("--image-encoder-output", help="with your own encoder: the ONNX output name, if it has several")
    p.add_argument("--text-encoder", default="minilm",
                   help="minilm (bundled with the plugin) or the path of a BERT-style sentence-embedding ONNX graph, with --tokenizer")
    p.add_argument("--tokenizer", help="with --text-encoder FILE: its HuggingFace tokenizer.json (uncased WordPiece)")
    p.add_argument("--text-pooling", choices=["mean", "cls"], default="mean", help="with --text-encoder FILE: how it pools tokens")
    p.add_argument("--text-max-tokens", type=int, default=128, help="with --text-encoder FILE: captions are cut to this many tokens")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--contrastive", type=float, default=1.0,
                   help="weight of the contrastive term between an item's views (picture, captions, both) in the latent space")
    p.add_argument("--code-contrastive", default="1", metavar="W[,W...]",
                   help="weight of the same term over the relaxed codes; several, comma-separated, are each trained and the "
                        "best on the validation split kept")
    p.add_argument("--quantization", default="0.5", metavar="W[,W...]", help="weight of the quantization term; several as above")
    p.add_argument("--balance", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--limit", type=int, help="read at most this many items")
    p.add_argument("--quick", action="store_true", help="300 items and 3 epochs: checks the whole path (CI)")
    args = p.parse_args(argv)
    if bool(args.collection) == bool(args.es):
        p.error("give exactly one of --collection and --es")
    if args.es and not args.index:
        p.error("--es needs --index")
    if not 64 <= args.image_size <= 224:
        p.error(f"--image-size must be from 64 to 224 but was {args.image_size}")
    if args.bits % 8 or not 8 <= args.bits <= 256:
        p.error(f"--bits must be a multiple of 8 from 8 to 256 but was {args.bits}")
    if args.quick:
        args.limit = args.limit or 300
        args.epochs = min(args.epochs, 3)
    args.out = args.out or os.path.join(HERE, "work/models", args.name)
    args.work = args.work or os.path.join(HERE, "work/collections", args.name)
    args.version = args.version or f"{args.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return args


def floats(text):
    try:
        return [float(v) for v in str(text).split(",")]
    except ValueError:
        sys.exit(f"train_collection: expected a number or comma-separated numbers but got [{text}]")


def read(args):
    if args.collection:
        keys = dict(k.split("=", 1) for k in args.key)
        return coll.read_jsonl(args.collection, keys, args.limit)
    return coll.read_index(args.es, args.index, args.image_field, args.caption_field, args.labels_field, args.group_field,
                           args.work, args.limit)


def features(args, items, summary):
    """(encoder blocks, picture features [P, D], caption pool embeddings [T, E], per-item
    picture row or -1, per-item caption pool rows). Items whose picture the Java side could not decode
    keep only their caption."""
    spec = {}
    if "image" in summary["modalities"]:
        mean = [float(v) for v in args.image_mean.split(",")]
        std = [float(v) for v in args.image_std.split(",")]
        spec["image"], spec["image_encoder"] = encoders.image_encoder(args.image_encoder, args.image_size, mean, std, args.out,
                                                                      args.image_encoder_input, args.image_encoder_output)
    if "text" in summary["modalities"]:
        spec["text_encoder"], spec["tokenizer"] = encoders.text_encoder(args.text_encoder, args.out, args.tokenizer, args.text_pooling,
                                                                        True, args.text_max_tokens)
    cache = os.path.join(args.work, "features")
    image_rows, picture_features = [-1] * len(items), None
    if "image" in spec:
        paths = [i.image for i in items if i.image]
        print(f"train_collection: picture features of {len(paths)} pictures (Java, ONNX Runtime)", file=sys.stderr, flush=True)
        picture_features = encoders.cached_features(spec, "image", paths, args.out, cache)
        failed = np.isnan(picture_features).any(1)
        row = 0
        for n, item in enumerate(items):
            if item.image:
                image_rows[n] = -1 if failed[row] else row
                row += 1
        if failed.any():
            print(f"train_collection: {int(failed.sum())} pictures could not be decoded; their items keep only their caption",
                  file=sys.stderr)
        summary["undecodable_pictures"] = int(failed.sum())
    text_rows, caption_features = [[] for _ in items], None
    if "text_encoder" in spec:
        pool, index = [], {}
        for n, item in enumerate(items):
            for t in item.texts():
                text_rows[n].append(index.setdefault(t, len(pool)))
                if len(pool) < len(index):
                    pool.append(t)
        print(f"train_collection: caption embeddings of {len(pool)} distinct texts (Java, {args.text_encoder})", file=sys.stderr, flush=True)
        caption_features = encoders.cached_features(spec, "text", pool, args.out, cache)
    return spec, picture_features, caption_features, image_rows, text_rows


def subset(items, positions, image_rows, text_rows, pictures, captions, labels):
    return heads.Data([items[n] for n in positions], [image_rows[n] for n in positions], [text_rows[n] for n in positions],
                      pictures, captions, labels)


def code_sets(head, data):
    """{kind: (probs, embeddings, item indices)} plus the caption queries."""
    codes = heads.encode_split(head, data)
    if data.text_features is not None and "text" in head.modalities:
        keep, rows = heads.text_queries(data)
        with torch.no_grad():
            p, e = head.encode_text(torch.from_numpy(data.text_features[rows]))
        codes["query_text"] = (p.numpy(), e.numpy(), keep)
    return codes


def identical_caption_share(data, labelled):
    """The share of the test split's relevant pairs (of different items) whose joined captions are
    identical: such pairs are easy for every task over captions or fused codes, and the card says how many."""
    rel = relevance_for(data, labelled)(np.arange(len(data.items)))
    pairs = metrics.relevance(rel, rel)
    np.fill_diagonal(pairs, False)
    captions = np.array([item.caption or "" for item in data.items], dtype=object)
    same = (captions[:, None] == captions[None, :]) & (captions[:, None] != "")
    total = int(pairs.sum())
    return float((pairs & same).sum() / total) if total else 0.0


def relevance_for(data, labelled):
    return (lambda idx: data.labels[idx]) if labelled else (lambda idx: data.groups[idx])


def baseline_codes(train_data, data, bits):
    """{baseline: {kind: (bool codes, None, item indices)}}: LSH and ITQ over the encoders' features of
    one modality (pictures standardised with the training statistics), and CCA-ITQ / CCA-LSH in the
    common space of a CCA fitted on the training pictures and their captions (a picture with its
    caption as the mean of the two projections)."""
    out = {}

    def rows_of(d, kind):
        keep = [n for n in range(len(d.items)) if (d.image_rows[n] >= 0 if kind != "text" else True) and (d.text_rows[n] if kind != "image" else True)]
        fi = d.image_features[[d.image_rows[n] for n in keep]] if kind != "text" and d.image_features is not None else None
        ft = d.text_features[[d.text_rows[n][0] for n in keep]] if kind != "image" and d.text_features is not None else None
        return np.array(keep), fi, ft

    stats = None
    if data.image_features is not None:
        _, fi, _ = rows_of(train_data, "image")
        stats = (fi.mean(0), fi.std(0) + 1e-6)
    norm = (lambda x: (x - stats[0]) / stats[1]) if stats else None
    query_keep, query_rows = heads.text_queries(data) if data.text_features is not None else (None, None)
    for method, fit in (("lsh", lsh), ("itq", itq)):
        if data.image_features is not None:
            _, fi, _ = rows_of(train_data, "image")
            if bits <= fi.shape[1]:
                h = fit(norm(fi), bits)
                keep, x, _ = rows_of(data, "image")
                out.setdefault(f"{method} (picture features)", {})["image"] = (h(norm(x)), None, keep)
        if data.text_features is not None:
            _, _, ft = rows_of(train_data, "text")
            if bits <= ft.shape[1]:
                h = fit(ft, bits)
                keep, _, x = rows_of(data, "text")
                out.setdefault(f"{method} (caption features)", {})["text"] = (h(x), None, keep)
                out[f"{method} (caption features)"]["query_text"] = (h(data.text_features[query_rows]), None, query_keep)
    if data.image_features is not None and data.text_features is not None:
        _, fi, ft = rows_of(train_data, "fused")
        if len(fi) > bits and bits <= min(fi.shape[1], ft.shape[1]):
            to_common_image, to_common_text = cca(norm(fi), ft, bits)
            fitted_on = np.concatenate([to_common_image(norm(fi)), to_common_text(ft)])
            for method, fit in (("lsh", lsh), ("itq", itq)):
                h = fit(fitted_on, bits)
                sets = {}
                keep, x, _ = rows_of(data, "image")
                sets["image"] = (h(to_common_image(norm(x))), None, keep)
                keep, _, y = rows_of(data, "text")
                sets["text"] = (h(to_common_text(y)), None, keep)
                keep, x, y = rows_of(data, "fused")
                sets["fused"] = (h((to_common_image(norm(x)) + to_common_text(y)) / 2), None, keep)
                sets["query_text"] = (h(to_common_text(data.text_features[query_rows])), None, query_keep)
                out[f"cca-{method}"] = sets
    return out


def export(head, spec, args, test, summary):
    """ONNX entry points over features, model.json and golden.json into args.out."""
    entry_points = {}
    dim_i = spec["image_encoder"]["dimensions"] if "image_encoder" in spec else 0
    dim_t = spec["text_encoder"]["dimensions"] if "text_encoder" in spec else 0
    examples = {"image": torch.rand(2, dim_i), "text": torch.nn.functional.normalize(torch.ones(2, dim_t), dim=1)}
    names = {"image": ["image_features"], "text": ["sentence_embedding"], "fused": ["image_features", "sentence_embedding"]}
    for kind in head.modalities:
        file = f"{kind}.onnx"
        arguments = tuple(examples[n.split("_")[0] if n != "sentence_embedding" else "text"] for n in names[kind])
        path = os.path.join(args.out, file)
        torch.onnx.export(dh.EntryPoint(head, kind).eval(), arguments, path, input_names=names[kind],
                          output_names=["probs", "embedding"], opset_version=OPSET,
                          dynamic_axes={**{n: {0: "batch"} for n in names[kind]}, "probs": {0: "batch"}, "embedding": {0: "batch"}})
        onnx.checker.check_model(onnx.load(path))
        entry_points[kind] = {"file": file, "inputs": names[kind]}
    # A barely trained quick model has many activations near 0.5: a smaller margin (runtimes differ by about 1e-7).
    golden = golden_cases(head, test, spec, args.out, 1e-5 if args.quick else MARGIN)
    if not golden:
        sys.exit("train_collection: no test item gives activations far enough from 0.5 for golden vectors; train longer")
    with open(os.path.join(args.out, "golden.json"), "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in golden) + "\n]\n")
    files = [e["file"] for e in entry_points.values()] + encoders.encoder_files(spec)
    model = {"name": args.name, "version": args.version, "bits": args.bits, "threshold": 0.5, "embedding_dim": head.embedding_dim}
    model.update({k: spec[k] for k in ("image", "image_encoder", "text_encoder", "tokenizer") if k in spec})
    model["entry_points"] = entry_points
    model["outputs"] = {"probs": "probs", "embedding": "embedding"}
    model["sha256"] = {f: inputs.sha256(os.path.join(args.out, f)) for f in files}
    model["collection"] = {k: summary[k] for k in ("items", "splits", "modalities", "groups", "labelled_items")}
    model["collection"]["labels"] = len(summary["labels"])
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(model, f, indent=2)
        f.write("\n")
    return model, golden


@torch.no_grad()
def golden_cases(head, data, spec, model_dir, margin, count=12):
    """Test items with their inputs (the picture's bytes, the caption) and what PyTorch gives for them
    from the Java-computed features: the node must give the same through its whole chain."""
    rng = random.Random(1)
    order = list(range(len(data.items)))
    rng.shuffle(order)
    tokenizer, max_tokens = encoders.tokenizer(spec, model_dir) if "text_encoder" in spec else (None, 0)
    quota = {m: max(1, count // len(head.modalities)) for m in head.modalities}
    out = []
    for n in order:
        item = data.items[n]
        for kind in head.modalities:
            if quota[kind] == 0:
                continue
            has_image, has_text = data.image_rows[n] >= 0, bool(data.text_rows[n])
            if (kind != "text" and not has_image) or (kind != "image" and not has_text):
                continue
            fi = torch.from_numpy(data.image_features[[data.image_rows[n]]]) if kind != "text" else None
            ft = torch.from_numpy(data.text_features[[data.text_rows[n][0]]]) if kind != "image" else None
            p, e = head.encode(kind, fi, ft)
            p, e = p[0].numpy(), e[0].numpy()
            if np.abs(p - 0.5).min() < margin:
                continue
            case = {"name": f"{kind} {item.id}", "entry": kind}
            if fi is not None:
                with open(item.image, "rb") as f:
                    case["image_png_base64"] = base64.b64encode(f.read()).decode("ascii")
                case["image_features"] = [float(v) for v in fi[0]]
            if ft is not None:
                case["text"] = item.caption
                case["tokens"] = tokenizer.encode(item.caption, max_tokens)
                case["sentence_embedding"] = [float(v) for v in ft[0]]
            case["code"] = inputs.to_hex(inputs.pack(p[None] >= 0.5)[0])
            case["probs"] = [float(v) for v in p]
            case["embedding"] = [float(v) for v in e]
            out.append(case)
            quota[kind] -= 1
        if not any(quota.values()):
            break
    return out


def main(argv=None):
    args = parse_args(argv)
    # torch.onnx's and numpy's notes on graph details that do not change the exported numbers.
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    torch.set_flush_denormal(True)
    started = time.time()
    os.makedirs(args.out, exist_ok=True)
    try:
        items = read(args)
        summary = coll.prepare(items, use_labels=args.labels == "auto")
    except coll.CollectionError as e:
        sys.exit(f"train_collection: {e}")
    labelled = bool(summary["labels"])
    print(f"train_collection: {summary['items']} items in {summary['groups']} groups, splits {summary['splits']}, "
          f"modalities {summary['modalities']}, " + (f"{len(summary['labels'])} labels on {summary['labelled_items']} items"
                                                      if labelled else "no labels"),
          file=sys.stderr, flush=True)

    spec, pictures, captions, image_rows, text_rows = features(args, items, summary)
    by_split = {s: [n for n, i in enumerate(items) if i.split == s] for s in ("train", "val", "test")}
    data = {s: subset(items, p, image_rows, text_rows, pictures, captions, summary["labels"]) for s, p in by_split.items()}
    if labelled:
        # Items without a label cannot be relevant to anything: evaluated without them.
        evaluation = {s: subset(items, [n for n in p if items[n].labels], image_rows, text_rows, pictures, captions, summary["labels"])
                      for s, p in by_split.items() if s != "train"}
    else:
        evaluation = {s: data[s] for s in ("val", "test")}

    modalities = summary["modalities"]
    train_pictures = pictures[[r for r in (image_rows[n] for n in by_split["train"]) if r >= 0]] if pictures is not None else None

    def validate(model):
        tasks = heads.evaluate_codes(code_sets(model, evaluation["val"]), evaluation["val"],
                                     relevance_for(evaluation["val"], labelled), with_dense=False)
        score = float(np.mean([t["map"] for t in tasks.values()])) if tasks else 0.0
        return score, {k: round(v["map"], 4) for k, v in tasks.items()}

    if not labelled and len(modalities) == 1:
        kind = modalities[0]
        features_of_train = train_pictures if kind == "image" else captions[[text_rows[n][0] for n in by_split["train"] if text_rows[n]]]
        head = heads.ItqHead(kind, features_of_train, args.bits)
        score, per_task = validate(head)
        log, best_epoch = [{"epoch": 0, "val_score": score, "val": per_task}], 0
        print(f"train_collection: one modality and no labels: the head is ITQ over the {kind} features "
              f"(validation mean MAP {score:.4f})", file=sys.stderr)
    else:
        # Every variant asked for is trained; the one with the best validation score is kept (the test split is
        # read once, for the kept one).
        variants = [{"code_contrastive": c, "quantization": q} for c in floats(args.code_contrastive) for q in floats(args.quantization)]
        best = None
        for n, variant in enumerate(variants, 1):
            if len(variants) > 1:
                print(f"train_collection: variant {n}/{len(variants)}: {variant}", file=sys.stderr, flush=True)
            torch.manual_seed(args.seed)
            candidate = heads.Head(args.bits, modalities, train_pictures, captions.shape[1] if captions is not None else 0,
                                   len(summary["labels"]))
            log_n, epoch_n = heads.train(candidate, data["train"], argparse.Namespace(**{**vars(args), **variant}), validate)
            variant["val_score"], variant["epoch"] = log_n[epoch_n - 1]["val_score"], epoch_n
            if best is None or variant["val_score"] > best[0]["val_score"]:
                best = (variant, candidate, log_n, epoch_n)
        chosen, head, log, best_epoch = best
        summary["variants"], summary["chosen_variant"] = variants, {k: chosen[k] for k in ("code_contrastive", "quantization")}

    # The test split, read once.
    test = evaluation["test"]
    summary["identical_caption_share"] = identical_caption_share(test, labelled)
    relevance_of = relevance_for(test, labelled)
    results = {"deep-hash": heads.evaluate_codes(code_sets(head, test), test, relevance_of)}
    for name, sets in baseline_codes(data["train"], test, args.bits).items():
        results[name] = heads.evaluate_codes(sets, test, relevance_of, with_dense=False)
    model, golden = export(head, spec, args, data["test"], summary)
    record = {"args": {k: v for k, v in vars(args).items()}, "summary": summary, "head": "itq" if isinstance(head, heads.ItqHead) else "trained",
              "best_epoch": best_epoch, "epochs": log,
              "test": results, "golden_cases": len(golden), "seconds": round(time.time() - started)}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(record, f, indent=1)
    modelcard.write(args.out, model, record, " ".join(["model/collection.sh"] + (argv if argv is not None else sys.argv[1:])))
    print(f"train_collection: wrote {args.out} (model.json, {', '.join(e['file'] for e in model['entry_points'].values())}, "
          f"golden.json, README.md) in {time.time() - started:.0f} s; test MAP: "
          + ", ".join(f"{t} {v['map']:.3f}" for t, v in results["deep-hash"].items()), file=sys.stderr)


if __name__ == "__main__":
    main()
