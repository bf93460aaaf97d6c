"""``reelytics explain``: why a KPI changed between two periods (see docs/explain.md)."""

from __future__ import annotations

import dataclasses

from analytics.cli import Output, add_filter_args, filters_from_args
from analytics.errors import BadInput
from analytics.explain import Contributor, Explanation, explain
from analytics.metrics.kpis import DIMENSIONS, KPI_BY_NAME, Kpi
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


def amount(kpi: Kpi, value: float, signed: bool = True) -> str:
    """A KPI value or change as people read it: percentage points for ratios' changes."""
    if kpi.unit == "ratio":
        return f"{value * 100:+.2f} pp" if signed else f"{value:.2%}"
    text = f"{value:+,.2f}" if signed else f"{value:,.2f}"
    return text.replace(".00", "") if kpi.unit == "count" else text


def label(kpi: Kpi) -> str:
    """The KPI's name as the glossary and the dashboard give it."""
    from dashboard.i18n import t

    return t(f"kpi.{kpi.name}", "en")


def describe(kpi: Kpi, c: Contributor) -> str:
    """One contributor in words, e.g. "-0.59 pp: channel kuaishou's own CTR (121% of the change)"."""
    share = "" if c.share is None else f" ({c.share:.0%} of the change)"
    where = f"{c.dimension} {c.value}"
    if c.effect == "rate":
        what = f"{where}'s own {label(kpi)}"
    elif c.effect == "mix":
        what = f"a shift of {kpi.denominator} {'toward' if (c.weight_change or 0) > 0 else 'away from'} {where}"
    else:
        what = where
    return f"{amount(kpi, c.contribution)}: {what}{share}"


def sentence(result: Explanation) -> str:
    """The headline, e.g. "Click-through rate fell 0.49 pp (3.35% -> 2.87%)"."""
    kpi = result.kpi
    if result.status == "no_data":
        return f"{label(kpi)} has no value in one of the periods (no events, or a zero denominator)"
    was = f"({amount(kpi, result.previous, False)} -> {amount(kpi, result.current, False)})"
    if result.status == "no_change":
        return f"{label(kpi)} did not change {was}"
    verb = "rose" if result.change > 0 else "fell"
    return f"{label(kpi)} {verb} {amount(kpi, abs(result.change)).lstrip('+')} {was}"


def run(args, ctx) -> Output:
    current = filters_from_args(args, ctx)
    if bool(args.vs_from) != bool(args.vs_to):
        raise BadInput("--vs-from and --vs-to go together: give both or neither", code="bad_period")
    previous = None
    if args.vs_from:
        previous = dataclasses.replace(
            current, date_from=parse_date(args.vs_from, "--vs-from"), date_to=parse_date(args.vs_to, "--vs-to")
        )
    result = explain(ctx.store, args.kpi, current, previous, args.by or None)
    p, q = result.current_period, result.previous_period
    lines = [f"{sentence(result)}", f"  {p.date_from} .. {p.date_to} against {q.date_from} .. {q.date_to}"]
    for c in result.contributors:
        lines.append(f"  {describe(result.kpi, c)}")
    for d in result.dimensions:
        if d.note:
            lines.append(f"  note: {d.dimension}: {d.note}")
    return Output(result.to_dict(), "\n".join(lines))
