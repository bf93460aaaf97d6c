"""``reelytics roi``: spend per campaign / channel joined to purchasers, revenue, CAC and ROAS."""

from __future__ import annotations

from analytics.cli import Output, add_filter_args, filters_from_args, to_jsonable
from analytics.roi import LEVELS, compute_roi
from analytics.text_output import kpi_kind, table, write


def register(sub) -> None:
    p = sub.add_parser(
        "roi",
        help="spend, purchasers, revenue, CAC, ROAS and revenue per 1,000 views per campaign or channel",
        description="Groups without uploaded spend are reported as 'no spend uploaded', never as zero spend.",
    )
    add_filter_args(p)
    p.add_argument("--level", default="campaign", choices=list(LEVELS), help="group by campaign, channel or both")
    p.set_defaults(func=run)


def run(args, ctx) -> Output:
    report = compute_roi(ctx.store, filters_from_args(args, ctx), args.level)
    payload = to_jsonable(report.to_dict())
    lines = [f"ROI by {report.level} ({report.status})"]
    lines.append(table(report.table, {"rank": "count"}))
    totals = ", ".join(f"{k}={write('multiple' if k == 'roas_with_spend' else kpi_kind(k), v)}" for k, v in report.totals.items())
    lines.append(f"totals: {totals}")
    if report.missing_spend:
        lines.append("no spend uploaded for: " + "; ".join(" / ".join(str(v) for v in k) for k in report.missing_spend))
    return Output(payload, "\n".join(lines))
