"""``reelytics segments [--k K]``: users clustered into named segments (k chosen by silhouette)."""

from __future__ import annotations

from analytics.cli import Output, add_filter_args, filters_from_args
from analytics.export import csv_text


def register(sub) -> None:
    p = sub.add_parser("segments", help="cluster users into named segments from their behaviour")
    p.add_argument("--k", type=int, default=None, help="number of segments (default: chosen by silhouette in 2..8)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--csv", action="store_true", help="print every user with its segment and features as CSV")
    add_filter_args(p)
    p.set_defaults(func=run)


def run(args, ctx) -> Output:
    from analytics.segments import segment_users

    result = segment_users(ctx.store, filters_from_args(args, ctx), k=args.k, seed=args.seed)
    payload = result.to_dict()
    if args.csv:
        return Output(payload, raw=csv_text(result.users, float_format="%.6g"))
    if result.status != "ok":
        reason = {"not_enough_users": f"only {result.users_total} user(s) with activity; at least 10 are needed",
                  "no_variation": "the users' behaviour hardly differs; nothing to split"}[result.status]
        return Output(payload, f"no segments: {reason}")
    how = "chosen by silhouette" if result.chosen_by == "silhouette" else "as asked"
    lines = [f"{result.k} segments of {result.users_total:,} users ({how}; silhouette {result.silhouette:.3f})"]
    for s in result.segments:
        lines.append(f"{s.segment}. {s.name} — {s.description}")
    return Output(payload, "\n".join(lines))
