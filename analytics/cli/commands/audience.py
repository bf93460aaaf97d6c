"""``reelytics audience --item ID --k N``: the users most likely to engage with one item (a target list)."""

from __future__ import annotations

from analytics.access import require
from analytics.cli.commands.recommend import (
    add_model_args,
    model_from_args,
    positive_int,
)
from analytics.cli.main import Output, filters_from_args
from analytics.export import csv_text


def register(sub) -> None:
    p = sub.add_parser("audience")
    p.add_argument("--item", required=True, help="item id (course or video)")
    p.add_argument("--k", type=positive_int, default=100, help="how many users (default 100)")
    p.add_argument("--include-engaged", action="store_true", help="also list users who already interacted with the item")
    p.add_argument("--csv", action="store_true", help="print the list as CSV (rank,user,score,decile,expected_conversion)")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args, ctx) -> Output:
    from analytics.recsys.audiences import item_audience

    store = ctx.store  # the DuckDB store (refused on Spark before any training)
    model = model_from_args(args, ctx)
    result = item_audience(store, model, args.item, args.k, exclude_engaged=not args.include_engaged,
                           filters=filters_from_args(args, ctx))
    payload = {**result.to_dict(), "model": model.fingerprint, "device": model.device}
    if args.csv:
        require(None, "export")  # the local operator's role (REELYTICS_ROLE)
        return Output(payload, raw=csv_text(result.to_frame(), float_format="%.6g"))
    outcome = "buy it" if result.outcome == "purchase" else "engage with it"
    lines = [
        f"audience for {result.item} {result.title or ''}: {result.size:,} of {result.pool:,} candidate users",
        f"  expected to {outcome}: {result.expected_conversions:.1f} ({result.expected_rate:.1%} of the list; "
        f"{result.base_rate:.1%} of all {result.model_users:,} users already did)",
    ]
    if result.status == "nobody_left":
        lines.append("  every user in the model already interacted with this item (use --include-engaged)")
    if result.users:
        lines.append(f"{'Rank':>5} {'User':<16} {'Score':>8}  {'Decile':>6}  {'Expected conversion':>19}")
    for m in result.users:
        lines.append(f"{m.rank:>4}. {m.user:<16} {m.score:8.4f}  {m.decile:>6}  {m.expected_conversion:>19.1%}")
    return Output(payload, "\n".join(lines))
