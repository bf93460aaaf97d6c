"""``reelytics segments [--k K]``: users clustered into named segments (k chosen by silhouette)."""

from __future__ import annotations

from analytics.access import require
from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.export import csv_text


def register(sub) -> None:
    p = sub.add_parser("segments", help="cluster users into named segments from their behaviour")
    p.add_argument("--k", type=int, default=None, help="number of segments (default: chosen by silhouette in 2..8)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--csv", action="store_true", help="print every user with its segment and features as CSV")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the text and the CSV's segment names (default en)")
    add_filter_args(p)
    p.set_defaults(func=run)


def _payload(result) -> dict:
    """The result's JSON with each segment's ``name`` / ``name_zh`` and ``description`` / ``description_zh``."""
    from dashboard.segment_text import segment_description, segment_names

    doc = result.to_dict()
    names = {lang: segment_names(result, lang) for lang in ("en", "zh")}
    for d, s in zip(doc["segments"], result.segments):
        d.update(
            name=names["en"][s.segment], name_zh=names["zh"][s.segment],
            description=segment_description(s, result.overall, "en"),
            description_zh=segment_description(s, result.overall, "zh"),
        )
    return doc


def run(args, ctx) -> Output:
    from analytics.recsys.segments import segment_users
    from dashboard.i18n import t
    from dashboard.segment_text import named_users, segment_description, segment_names

    result = segment_users(ctx.source, filters_from_args(args, ctx), k=args.k, seed=args.seed)
    payload = _payload(result)
    if args.csv:
        require(None, "export")
        return Output(payload, raw=csv_text(named_users(result, args.lang), float_format="%.6g"))
    if result.status == "not_enough_users":
        return Output(payload, t("seg.not_enough_users", args.lang, n=result.users_total))
    if result.status == "no_variation":
        return Output(payload, t("seg.no_variation", args.lang))
    key = "seg.summary.silhouette" if result.chosen_by == "silhouette" else "seg.summary.given"
    lines = [t(key, args.lang, k=result.k, users=f"{result.users_total:,}", score=result.silhouette)]
    names = segment_names(result, args.lang)
    for s in result.segments:
        lines.append(f"{s.segment}. {names[s.segment]} — {segment_description(s, result.overall, args.lang)}")
    return Output(payload, "\n".join(lines))
