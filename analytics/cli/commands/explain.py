"""``reelytics explain``: why a KPI changed between two periods (see docs/explain.md)."""

from __future__ import annotations

import dataclasses

from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.errors import BadInput
from analytics.metrics.explain import explain
from analytics.metrics.kpis import DIMENSIONS, KPI_BY_NAME
from analytics.query.filters import parse_date


def register(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="why a KPI changed: contributions per channel, campaign, creator ... (rate and mix for ratios)",
        description="Compares --from..--to with --vs-from..--vs-to (default: the period of equal length "
        "just before). Open dates mean the data's whole span.",
    )
    p.add_argument("--kpi", required=True, metavar="KPI", help=f"one of {', '.join(KPI_BY_NAME)}")
    add_filter_args(p)
    p.add_argument("--vs-from", dest="vs_from", metavar="YYYY-MM-DD", help="first day of the period compared with")
    p.add_argument("--vs-to", dest="vs_to", metavar="YYYY-MM-DD", help="last day of the period compared with")
    p.add_argument("--by", action="append", default=[], metavar="DIM",
                   help=f"dimension to split (repeatable; default all: {', '.join(DIMENSIONS)}; or props.KEY)")
    p.set_defaults(func=run)


def run(args, ctx) -> Output:
    current = filters_from_args(args, ctx)
    if bool(args.vs_from) != bool(args.vs_to):
        raise BadInput("--vs-from and --vs-to go together: give both or neither", code="bad_period")
    previous = None
    if args.vs_from:
        previous = dataclasses.replace(
            current, date_from=parse_date(args.vs_from, "--vs-from"), date_to=parse_date(args.vs_to, "--vs-to")
        )
    result = explain(ctx.source, args.kpi, current, previous, args.by or None)
    p, q = result.current_period, result.previous_period
    from dashboard.change_text import contributor_text, headline

    lines = [headline(result, "en"), f"  {p.date_from} .. {p.date_to} against {q.date_from} .. {q.date_to}"]
    for c in result.contributors:
        lines.append(f"  {contributor_text(result.kpi, c, 'en')}")
    for d in result.dimensions:
        if d.note:
            lines.append(f"  note: {d.dimension}: {d.note}")
    return Output(result.to_dict(), "\n".join(lines))
