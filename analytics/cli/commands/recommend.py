"""``reelytics train``, ``recommend`` and ``evaluate``: the ALS recommender from the command line.

Also holds the model options shared by every command that needs a model (``similar``,
``audience``): the same options and defaults give the same saved model, which is then reused.
"""

from __future__ import annotations

import argparse
import sys

from analytics.access import require
from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.cli.progress_bar import StderrProgress
from analytics.errors import BadInput
from analytics.export import csv_text
from analytics.progress import no_progress


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Model options; factors, regularization, alpha and weighting are tuned unless given (or --no-tune)."""
    g = p.add_argument_group("model (factors, regularization, alpha and weighting are tuned unless given)")
    g.add_argument("--factors", type=positive_int, default=None, help="latent factors (fixed; --no-tune default 64)")
    g.add_argument("--iterations", type=positive_int, default=15, help="ALS iterations (default 15)")
    g.add_argument("--regularization", type=float, default=None, help="L2 regularization (fixed; --no-tune default 0.05)")
    g.add_argument("--alpha", type=float, default=None, help="confidence scaling: c = 1 + alpha * weight (fixed; --no-tune default 2)")
    g.add_argument("--weighting", choices=("none", "bm25", "tfidf"), default=None, help="re-weight the matrix (fixed; --no-tune default none)")
    g.add_argument("--no-tune", action="store_true", help="do not search the parameters; use the given values or the defaults")
    g.add_argument("--tune-budget", type=positive_float, default=None, metavar="SECONDS",
                   help="time budget of the parameter search (default 60; a saved search for the same data is reused)")
    g.add_argument("--gpu", choices=("auto", "on", "off"), default="auto", help="train on the GPU: auto (if CUDA), on, off")
    g.add_argument("--model", default="als", metavar="als|spark-als",
                   help="als (default): implicit ALS in this process (on Spark: the matrix aggregated there, then "
                        "trained here); spark-als: Spark ML ALS trained on Spark (--engine spark; no search)")
    g.add_argument("--half-life", type=float, default=None, metavar="DAYS", help="time decay half-life in days (default: none)")
    g.add_argument("--weight", action="append", default=[], metavar="TYPE=W", help="event type weight, e.g. purchase=10 (repeatable)")
    g.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    add_filter_args(p)


def params_from_args(args):
    from analytics.recsys.recommend import AlsParams

    weights = {}
    for spec in args.weight:
        name, sep, value = spec.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise BadInput(f"--weight expects TYPE=NUMBER, got {spec!r}", code="bad_weights", value=spec) from None
        if not sep:
            raise BadInput(f"--weight expects TYPE=NUMBER, got {spec!r}", code="bad_weights", value=spec)
    given = {name: getattr(args, name) for name in ("factors", "regularization", "alpha", "weighting") if getattr(args, name) is not None}
    return AlsParams(iterations=args.iterations, seed=args.seed, weights=weights or None, half_life_days=args.half_life,
                     gpu=args.gpu, **given)


def tune_from_args(args):
    """The search settings (``None`` with ``--no-tune`` or ``--model spark-als``): the values given on
    the command line stay fixed."""
    from analytics.recsys.tuning import TuneSettings

    if args.no_tune or args.model == "spark-als":
        return None
    fixed = {name for name in ("factors", "regularization", "alpha", "weighting") if getattr(args, name) is not None}
    return TuneSettings(budget_seconds=args.tune_budget, fixed=frozenset(fixed))


def filters_or_none(args, ctx):
    filters = filters_from_args(args, ctx)
    d = filters.describe()
    restricted = any(d[k] for k in ("from", "to", "channel", "campaign", "category"))
    return filters if restricted else None


def model_from_args(args, ctx, force: bool = False, always_progress: bool = False):
    """The model for these options: on DuckDB reused when saved, else trained and saved; on Spark
    trained from the events there (``--model``: :mod:`analytics.recsys.scale_out`), not saved."""
    from analytics.recsys.scale_out import check_model_kind, train_on_source

    kind = check_model_kind(args.model)
    progress = _progress("train", always=always_progress)
    filters = filters_or_none(args, ctx)
    if ctx.settings.engine == "spark":
        return train_on_source(ctx.source, params_from_args(args), kind, filters, progress, tune_from_args(args))
    if kind != "als":
        raise BadInput(f"--model {args.model} trains on Spark: add --engine spark", code="not_spark", value=args.model)
    from analytics.recsys.models import get_model

    return get_model(ctx.store, params_from_args(args), progress=progress, filters=filters, force=force,
                     tune=tune_from_args(args))


def register(sub) -> None:
    p = sub.add_parser("train")
    add_model_args(p)
    p.add_argument("--force", action="store_true", help="retrain even if a saved model matches")
    p.set_defaults(func=run_train)

    p = sub.add_parser("recommend")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="user id")
    who.add_argument("--all", action="store_true", help="every user: CSV user,rank,item,score on stdout")
    p.add_argument("--k", type=positive_int, default=10, help="how many items (default 10)")
    p.add_argument("--include-seen", action="store_true", help="also recommend items the user already interacted with")
    p.add_argument("--only-purchasable", action="store_true", help="only sold items (courses, e-books, priced items)")
    p.add_argument("--in-category", default=None, help="only items of this catalog category")
    add_model_args(p)
    p.set_defaults(func=run_recommend)

    p = sub.add_parser("evaluate")
    p.add_argument("--k", type=positive_int, default=10, help="cut-off for the ranking metrics (default 10)")
    p.add_argument("--split", choices=("auto", "random", "last_k", "days"), default="auto",
                   help="protocol: random per-user holdout, each user's last items, the last days, or auto (default: "
                        "the time split when it leaves enough test users, else random)")
    p.add_argument("--fraction", type=float, default=0.25, help="share of each user's items held out with --split random (default 0.25)")
    p.add_argument("--holdout-days", type=float, default=None, help="days held out with --split days (default: the period with the latest 20%% of events)")
    p.add_argument("--last-k", type=positive_int, default=1, help="items held out per user with --split last_k")
    p.add_argument("--min-test-users", type=positive_int, default=200, help="the time split refuses with fewer test users (default 200)")
    p.add_argument("--max-users", type=positive_int, default=10_000, help="score at most this many test users (sampled)")
    add_model_args(p)
    p.set_defaults(func=run_evaluate)


def _progress(label: str, always: bool = False):
    return StderrProgress(label) if always or sys.stderr.isatty() else no_progress


def tuning_lines(tuning) -> list[str]:
    """How the parameters were chosen, in words (``tuning`` is the dict saved with the model)."""
    if not tuning:
        return ["  parameters as given (no search)"]
    if tuning["status"] != "ok":
        return ["  no search: no user has two items to validate on; parameters as given"]
    fixed = f"; kept as given: {', '.join(tuning['fixed'])}" if tuning["fixed"] else ""
    return [
        f"  chosen by a search: validation NDCG@{tuning['k']} {tuning['validation_ndcg']:.4f} "
        f"(given values {tuning['given_ndcg']:.4f}); {len(tuning['trials'])} trials in {tuning['seconds']:.1f} s, "
        f"stopped by the {'time budget' if tuning['stopped'] == 'budget' else 'trial limit'} "
        f"({tuning['budget_seconds']:g} s); validation: {tuning['validation']}, {tuning['validation_users']:,} users{fixed}",
    ]


def run_train(args, ctx) -> Output:
    model = model_from_args(args, ctx, force=args.force, always_progress=True)
    s = model.summary()
    p = model.params
    text = (
        f"ALS model {s['fingerprint']} on {s['device'].upper()}"
        + (f" ({s['device_note']})" if s["device_note"] else "")
        + f"\n  {s['users']:,} users x {s['items']:,} items, {s['interactions']:,} interactions"
        + f"\n  factors={p.factors} iterations={p.iterations} regularization={p.regularization:.4g} alpha={p.alpha:.4g} weighting={p.weighting}"
        + "\n" + "\n".join(tuning_lines(model.tuning))
        + ("\n  reused the saved model" if s["loaded_from_disk"] else f"\n  trained in {s['train_seconds']:.2f} s")
    )
    return Output(s, text)


def because_words(rec) -> str:
    """Why an item is recommended, in words: the distinct history items that pull it up."""
    names = rec.reason_names()
    if not names:
        return "liked by users with similar histories"
    return "because this user engaged with " + ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]


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
        lines.append(f"{n:>3}. {r.item:<16} {r.score:8.4f}  {r.title or ''}  — {because_words(r)}")
    return Output(payload, "\n".join(lines))


REFUSALS = {
    "no_training_interactions": "no interactions in the training part; use a shorter held-out period or more data",
    "too_small": "at least two users and two items are needed to evaluate ({users} users, {items} items)",
    "no_test_users": "no user has a held-out item to find; use a longer held-out period, another --split or more data",
    "too_few_test_users": "the time split leaves only {test_users} test users (at least {minimum} needed for averages "
                          "that mean something); use --split random or last_k, or a longer --holdout-days",
}
SKIPS = {
    "too_little_catalog_text": "content: skipped, fewer than half the items have a title, tags or a category",
    "too_many_items": "ease: skipped, {items:,} items need more than {memory_mb:,} MB for the item x item matrices "
                      "(at most {max_items:,} items)",
}
CHOICES = {
    "time_split_has_enough_users": "auto chose the time split: {time_test_users:,} test users",
    "time_split_too_few_users": "auto chose the random split: the time split would leave {time_test_users:,} test users "
                                "(needs {minimum:,} and 10% of {training_users:,} training users)",
}


def run_evaluate(args, ctx) -> Output:
    from analytics.recsys.evaluation import METRICS, SplitSettings, evaluate

    settings = SplitSettings(args.split, args.holdout_days, args.last_k, fraction=args.fraction,
                             min_test_users=args.min_test_users)
    result = evaluate(
        ctx.store, k=args.k, split=settings, params=params_from_args(args), filters=filters_or_none(args, ctx),
        tune=tune_from_args(args), max_users=args.max_users, progress=_progress("evaluate"),
    )
    payload = result.to_dict()
    if result.status != "ok":
        return Output(payload, f"cannot evaluate: {REFUSALS[result.reason].format(**result.details)}")
    split = result.split
    what = {"random": f"random {split.get('fraction', 0):.0%} of each user's items",
            "last_k": f"each user's last {split.get('last_k')} item(s)",
            "days": f"the last {split.get('holdout_days')} days (from {split.get('cutoff')})"}[split["mode"]]
    text = [f"protocol: {split['mode']} — {what}; {split.get('test_users'):,} test users"]
    if "chosen" in split:
        text.append("  " + CHOICES[split["chosen"]["why"]].format(**split["chosen"]))
    p = result.params
    text.append(f"ALS factors={p.factors} regularization={p.regularization:.4g} alpha={p.alpha:.4g} weighting={p.weighting}"
                + (" (tuned on a validation split of the training part)" if result.tuning and result.tuning.status == "ok" else ""))
    from analytics.cli.text_output import header
    from dashboard.i18n import value

    names = {m.model: value("model", m.model, "en") for m in result.models}
    width = max(12, *(len(n) + 2 for n in names.values()))
    head = f"{'Model':<{width}}" + "".join(f"{header(m).replace('@K', f'@{args.k}'):>14}" for m in METRICS) + f"{'NDCG 95% CI':>20}"
    rows = []
    for m in result.models:
        low, high = m.interval("ndcg_at_k")
        rows.append(f"{names[m.model]:<{width}}" + "".join(f"{m.get(x):>14.4f}" for x in METRICS) + f"{f'{low:.4f}–{high:.4f}':>20}")
    text += [head, *rows]
    text += ["  " + SKIPS[v["reason"]].format(**v) for v in result.skipped.values()]
    if result.ease_lambda is not None:
        text.append(f"  ease: lambda {result.ease_lambda:g} (chosen on a validation split of the training part)")
    win = result.winner()
    if win is not None:
        verdict = "wins clearly" if win.verdict == "better" else "is ahead, but not clearly"
        text.append(f"{value('model', win.model, 'en')} {verdict} on NDCG@{args.k}: {win.difference:+.4f} over "
                    f"{value('model', win.other, 'en')} "
                    f"(95% CI {win.ci_low:+.4f} to {win.ci_high:+.4f}, paired over users; normal approximation)")
    return Output(payload, "\n".join(text))
