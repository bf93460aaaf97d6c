"""``reelytics similar --item ID --k N``: items most similar to one item (content-based for cold items).

Also holds the model options shared with ``audience`` (a subset of ``train``'s: the defaults give
the same model as ``train`` and ``recommend`` with their defaults, so a saved model is reused).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402

from analytics.cli import Output, add_filter_args, filters_from_args  # noqa: E402
from analytics.progress import StderrProgress, no_progress  # noqa: E402


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--factors", type=positive_int, default=64, help="latent factors (default 64)")
    g.add_argument("--iterations", type=positive_int, default=15, help="ALS iterations (default 15)")
    g.add_argument("--regularization", type=float, default=0.05, help="L2 regularization (default 0.05)")
    g.add_argument("--alpha", type=float, default=2.0, help="confidence scaling (default 2)")
    g.add_argument("--gpu", choices=("auto", "on", "off"), default="auto", help="train on the GPU: auto (if CUDA), on, off")
    g.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    add_filter_args(p)


def model_from_args(args, ctx):
    """The ALS model for these options (reused when saved, else trained with progress on a terminal)."""
    from analytics.recommend import AlsParams, get_model

    params = AlsParams(factors=args.factors, iterations=args.iterations, regularization=args.regularization,
                       alpha=args.alpha, seed=args.seed, gpu=args.gpu)
    filters = filters_from_args(args, ctx)
    d = filters.describe()
    restricted = any(d[k] for k in ("from", "to", "channel", "campaign", "category"))
    progress = StderrProgress("train") if sys.stderr.isatty() else no_progress
    return get_model(ctx.store, params, progress=progress, filters=filters if restricted else None)


def register(sub) -> None:
    p = sub.add_parser("similar", help="items most similar to one item (ALS factors; TF-IDF content for cold items)")
    p.add_argument("--item", required=True, help="item id")
    p.add_argument("--k", type=positive_int, default=10, help="how many items (default 10)")
    p.add_argument("--min-interactions", type=positive_int, default=5,
                   help="items with fewer users get content-based neighbours (default 5)")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args, ctx) -> Output:
    from analytics.content import build_content_index
    from analytics.similarity import similar_items

    model = model_from_args(args, ctx)
    result = similar_items(model, build_content_index(ctx.store), args.item, args.k, args.min_interactions)
    payload = {**result.to_dict(), "model": model.fingerprint, "device": model.device}
    how = ("ALS item factors, cosine" if result.source == "als"
           else f"content (title, tags, category): only {result.interactions} user(s) interacted with it")
    lines = [f"items similar to {result.item} {result.title or ''} — {how}"]
    if result.status == "no_catalog":
        lines.append("  no catalog text (title, tags, category) to compare with")
    elif result.status == "no_neighbours":
        lines.append("  no catalog item shares a word, tag or category with it")
    for n, e in enumerate(result.items, 1):
        lines.append(f"{n:>3}. {e.item:<16} {e.score:7.4f}  [{e.source}]  {e.title or ''}")
    return Output(payload, "\n".join(lines))
