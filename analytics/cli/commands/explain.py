"""``reelytics explain``: why a KPI changed between two periods (see docs/explain.md)."""

from __future__ import annotations

import dataclasses

from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.cli.text_output import (
    NO_EVENTS,
    comparison_line,
    period_line,
    period_notes_lines,
)
from analytics.errors import BadInput
from analytics.metrics.explain import explain
from analytics.metrics.kpis import DIMENSIONS, KPI_BY_NAME
from analytics.query.facets import coverage as periods_coverage
from analytics.query.facets import load_facets, local_today, with_default_period
from analytics.query.filters import parse_date


def register(sub) -> None:
    p = sub.add_parser(
        "explain",
        description="Compares --from..--to with --vs-from..--vs-to (default: the period of equal length "
        "just before). Without --from and --to: the latest complete days, as `reelytics kpis` (--all for the "
        "data's whole span).",
    )
    p.add_argument("--all", action="store_true", help="the data's whole span instead of the latest complete days")
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
    if args.all and (current.date_from or current.date_to):
        raise BadInput("--all is the data's whole span: leave out --from and --to", code="bad_period")
    facets = load_facets(ctx.source, current.timezone, options=False)
    default = None
    if not args.all:
        current, default = with_default_period(current, facets, local_today(current.timezone))
    previous = None
    if args.vs_from:
        previous = dataclasses.replace(
            current, date_from=parse_date(args.vs_from, "--vs-from"), date_to=parse_date(args.vs_to, "--vs-to")
        )
    result = explain(ctx.source, args.kpi, current, previous, args.by or None)
    if facets.first_day is None:
        return Output({**result.to_dict(), "default_period": False, "comparison": None}, NO_EVENTS)
    p, q = result.current_period, result.previous_period
    coverage = periods_coverage(q.date_from, q.date_to, facets.first_day, facets.last_day)
    payload = {**result.to_dict(), "default_period": default is not None, "comparison": coverage}
    from dashboard.change_text import contributor_text, headline

    lines = [period_line(p, default is not None) + f", compared with {q.date_from} .. {q.date_to}"]
    lines += comparison_line(coverage, facets, q) + period_notes_lines(p, facets)
    if coverage == "none":  # nothing before to compare with: no change to explain
        return Output(payload, "\n".join(lines))
    lines.append(headline(result, "en"))
    for c in result.contributors:
        lines.append(f"  {contributor_text(result.kpi, c, 'en')}")
    for d in result.dimensions:
        if d.note:
            lines.append(f"  note: {d.dimension}: {d.note}")
    return Output(payload, "\n".join(lines))
