"""``reelytics train``, ``recommend`` and ``evaluate``: the ALS recommender from the command line.

Also holds the model options shared by every command that needs a model (``similar``,
``audience``): the same options and defaults give the same saved model, which is then reused.
"""

from __future__ import annotations

import argparse
import sys

from analytics.access import require
from analytics.cli import Output, add_filter_args, filters_from_args
from analytics.errors import BadInput
from analytics.export import csv_text
from analytics.progress import StderrProgress, no_progress


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
    g.add_argument("--alpha", type=float, default=2.0, help="confidence scaling: c = 1 + alpha * weight (default 2)")
    g.add_argument("--gpu", choices=("auto", "on", "off"), default="auto", help="train on the GPU: auto (if CUDA), on, off")
    g.add_argument("--half-life", type=float, default=None, metavar="DAYS", help="time decay half-life in days (default: none)")
    g.add_argument("--weighting", choices=("none", "bm25", "tfidf"), default="none", help="re-weight the matrix")
    g.add_argument("--weight", action="append", default=[], metavar="TYPE=W", help="event type weight, e.g. purchase=10 (repeatable)")
    g.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    add_filter_args(p)


def params_from_args(args):
    from analytics.recommend import AlsParams

    weights = {}
    for spec in args.weight:
        name, sep, value = spec.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise BadInput(f"--weight expects TYPE=NUMBER, got {spec!r}", code="bad_weights", value=spec) from None
        if not sep:
            raise BadInput(f"--weight expects TYPE=NUMBER, got {spec!r}", code="bad_weights", value=spec)
    return AlsParams(
        factors=args.factors, iterations=args.iterations, regularization=args.regularization, alpha=args.alpha,
        seed=args.seed, weights=weights or None, half_life_days=args.half_life, weighting=args.weighting, gpu=args.gpu,
    )


def filters_or_none(args, ctx):
    filters = filters_from_args(args, ctx)
    d = filters.describe()
    restricted = any(d[k] for k in ("from", "to", "channel", "campaign", "category"))
    return filters if restricted else None


def model_from_args(args, ctx):
    """The ALS model for these options (reused when saved, else trained with progress on a terminal)."""
    from analytics.recommend import get_model

    return get_model(ctx.store, params_from_args(args), progress=_progress("train"), filters=filters_or_none(args, ctx))


def register(sub) -> None:
    p = sub.add_parser("train", help="train (or reuse) the ALS recommender and print a model summary")
    add_model_args(p)
    p.add_argument("--force", action="store_true", help="retrain even if a saved model matches")
    p.set_defaults(func=run_train)

    p = sub.add_parser("recommend", help="top-N items for one user (JSON) or for all users (CSV on stdout)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="user id")
    who.add_argument("--all", action="store_true", help="every user: CSV user,rank,item,score on stdout")
    p.add_argument("--k", type=positive_int, default=10, help="how many items (default 10)")
    p.add_argument("--include-seen", action="store_true", help="also recommend items the user already interacted with")
    p.add_argument("--only-purchasable", action="store_true", help="only sold items (courses, e-books, priced items)")
    p.add_argument("--in-category", default=None, help="only items of this catalog category")
    add_model_args(p)
    p.set_defaults(func=run_recommend)

    p = sub.add_parser("evaluate", help="offline evaluation: ALS against popularity, item-kNN and content baselines")
    p.add_argument("--k", type=positive_int, default=10, help="cut-off for the ranking metrics (default 10)")
    p.add_argument("--split", choices=("days", "last_k"), default="days", help="hold out the last days, or each user's last items")
    p.add_argument("--holdout-days", type=float, default=None, help="days held out (default: the period with the latest 20%% of events)")
    p.add_argument("--last-k", type=positive_int, default=1, help="items held out per user with --split last_k")
    p.add_argument("--search", action="store_true", help="choose factors/regularization/alpha by NDCG@k on a validation split first")
    p.add_argument("--max-users", type=positive_int, default=10_000, help="score at most this many test users (sampled)")
    add_model_args(p)
    p.set_defaults(func=run_evaluate)


def _progress(label: str, always: bool = False):
    return StderrProgress(label) if always or sys.stderr.isatty() else no_progress


def run_train(args, ctx) -> Output:
    from analytics.recommend import get_model

    params = params_from_args(args)
    model = get_model(ctx.store, params, progress=_progress("train", always=True), filters=filters_or_none(args, ctx),
                      force=args.force)
    s = model.summary()
    text = (
        f"ALS model {s['fingerprint']} on {s['device'].upper()}"
        + (f" ({s['device_note']})" if s["device_note"] else "")
        + f"\n  {s['users']:,} users x {s['items']:,} items, {s['interactions']:,} interactions"
        + f"\n  factors={params.factors} iterations={params.iterations} regularization={params.regularization} alpha={params.alpha}"
        + ("\n  reused the saved model" if s["loaded_from_disk"] else f"\n  trained in {s['train_seconds']:.2f} s")
    )
    return Output(s, text)


def run_recommend(args, ctx) -> Output:
    model = model_from_args(args, ctx)
    if args.all:
        table = model.recommend_all(args.k, filter_seen=not args.include_seen)
        require(None, "export")  # the local operator's role (REELYTICS_ROLE)
        return Output({"rows": table.num_rows}, raw=csv_text(table.to_pandas(), float_format="%.6g"))
    user = str(args.user)
    recs = model.recommend(user, args.k, filter_seen=not args.include_seen,
                           only_purchasable=args.only_purchasable, category=args.in_category)
    payload = {
        "user": user,
        "known_user": user in model.user_index,
        "device": model.device,
        "model": model.fingerprint,
        "items": [r.to_dict() for r in recs],
    }
    lines = [f"top {len(recs)} for {user} ({'known' if payload['known_user'] else 'folded in from their events'}; {model.device})"]
    for n, r in enumerate(recs, 1):
        lines.append(f"{n:>3}. {r.item:<16} {r.score:8.4f}  {r.title or ''}  — {r.because_text}")
    return Output(payload, "\n".join(lines))


def run_evaluate(args, ctx) -> Output:
    from analytics.evaluation import METRICS, SplitSettings, evaluate

    params = params_from_args(args)
    result = evaluate(
        ctx.store, k=args.k, split=SplitSettings(args.split, args.holdout_days, args.last_k), params=params,
        filters=filters_or_none(args, ctx), search=args.search, max_users=args.max_users,
        progress=_progress("evaluate"),
    )
    payload = result.to_dict()
    if result.status != "ok":
        return Output(payload, f"not enough data to evaluate: {result.message}")
    head = f"{'model':<11}" + "".join(f"{m.replace('_at_k', '@' + str(args.k)):>14}" for m in METRICS)
    rows = [f"{m.model:<11}" + "".join(f"{m.get(x):>14.4f}" for x in METRICS) for m in result.models]
    text = [f"split: {result.split}", f"{result.split.get('test_users')} test users; ALS factors={result.params.factors} "
            f"regularization={result.params.regularization} alpha={result.params.alpha}", head, *rows]
    if result.search:
        text.append("search (validation NDCG):")
        text += [f"  factors={t.factors:<4} regularization={t.regularization:<6} alpha={t.alpha:<5} ndcg={t.ndcg_at_k:.4f}"
                 for t in result.search.trials]
    return Output(payload, "\n".join(text))
