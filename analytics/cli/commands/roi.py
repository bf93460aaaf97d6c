"""``reelytics roi``: spend per campaign / channel joined to purchasers, revenue, CAC and ROAS."""

from __future__ import annotations

from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.cli.text_output import table
from analytics.metrics.kpis import NOTE_NO_SPEND
from analytics.metrics.roi import LEVELS, compute_roi
from dashboard.numbers import money


def register(sub) -> None:
    p = sub.add_parser(
        "roi",
        description="Groups without uploaded spend are reported as 'no spend uploaded', never as zero spend.",
    )
    add_filter_args(p)
    p.add_argument("--level", default="campaign", choices=list(LEVELS), help="group by campaign, channel or both")
    p.set_defaults(func=run)


def _groups(keys, level: str) -> str:
    """Groups in words: a missing campaign or channel is the traffic without one."""
    columns = LEVELS[level]

    def one(key) -> str:
        if all(v is None for v in key):
            return f"traffic without a {' or '.join(columns)}"
        return " / ".join(f"no {c}" if v is None else str(v) for c, v in zip(columns, key))

    return "; ".join(one(k) for k in keys)


def run(args, ctx) -> Output:
    report = compute_roi(ctx.source, filters_from_args(args, ctx), args.level)
    payload = report.to_dict()
    if report.status == "no_data":
        return Output(payload, "no events match these filters: nothing to join spend to")
    return Output(payload, lambda: _text(report))


def _text(report) -> str:
    totals = report.totals
    lines = [f"ROI by {report.level}, ranked by ROAS"]
    lines.append(table(report.table, {"rank": "count"}))
    lines.append(f"totals: spend {money(totals['spend'])}, net revenue {money(totals['revenue'])}, "
                 f"new buyers {totals['new_buyers'] or 0:,}, CAC {money(totals['cac'])}")
    if totals["roas"] is not None:
        lines.append(f"ROAS {totals['roas']:.2f}x = all net revenue / all spend")
    if totals["roas_with_spend"] is not None:
        lines.append(f"paid ROAS {totals['roas_with_spend']:.2f}x = net revenue of the groups with spend "
                     f"({money(totals['revenue_with_spend'])}) / all spend; the other "
                     f"{money(totals['revenue_without_spend'])} came from groups without spend")
    if report.status == "no_spend":
        lines.append("no spend uploaded for this period" if NOTE_NO_SPEND in report.notes
                     else "spend has no category: with --category, spend, CAC and ROAS are not available")
    elif report.missing_spend:
        lines.append(f"no spend uploaded for {_groups(report.missing_spend, report.level)}: "
                     "CAC and ROAS are not available there (not zero) and those rows are not ranked")
    if report.spend_without_events:
        lines.append(f"spend without any events in the period: {_groups(report.spend_without_events, report.level)}")
    return "\n".join(lines)
