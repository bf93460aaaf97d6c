"""``reelytics kpis``: every KPI of the period with the previous period, or one row per group with ``--by``."""

from __future__ import annotations

from analytics.cli import Output, add_filter_args, filters_from_args, to_jsonable
from analytics.kpis import DIMENSIONS, KPI_BY_NAME, breakdown, check_dimension, kpi_report
from analytics.text_output import kpi_kind, signed_pct, table, write


def register(sub) -> None:
    p = sub.add_parser(
        "kpis",
        help="KPIs of a period with the change against the previous period; --by COL for one row per group",
        description="KPIs are defined in docs/metrics.md. Open dates mean the data's whole span.",
    )
    add_filter_args(p)
    p.add_argument("--by", default=None, metavar="COL",
                   help=f"one row per value of COL: {', '.join(DIMENSIONS)} or props.KEY")
    p.add_argument("--sort", default="views", metavar="KPI", help="order rows by this KPI, descending (with --by)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="keep the first N rows (with --by)")
    p.add_argument("--series", action="store_true", help="include the daily series of every KPI")
    p.set_defaults(func=run)


def run(args, ctx) -> Output:
    filters = filters_from_args(args, ctx)
    if args.by is not None:
        check_dimension(args.by)
    if args.sort not in KPI_BY_NAME:
        from analytics.errors import BadInput

        raise BadInput(f"--sort: unknown KPI {args.sort!r}; use one of {', '.join(KPI_BY_NAME)}", code="bad_kpi")
    report = kpi_report(ctx.store, filters)
    payload = report.to_dict()
    if args.series:
        payload["series"] = report.series_frame()
    lines = [f"period {payload['filters']['from']} .. {payload['filters']['to']}  ({report.status})"]
    for card in report.cards():
        change = "" if card.change is None else f"  {signed_pct(card.change)}"
        kind = kpi_kind(card.kpi.name)
        lines.append(f"  {card.kpi.name:<24} {write(kind, card.value):>16}  prev {write(kind, card.previous):>12}{change}")
    for note in report.notes:
        lines.append(f"  note: {note}")
    if args.by is not None:
        result = breakdown(ctx.store, filters, args.by, sort=args.sort, limit=args.limit)
        payload["by"] = result.by
        payload["rows"] = result.table
        payload["breakdown_notes"] = list(result.notes)
        lines.append("")
        lines.append(table(result.table))
    return Output(to_jsonable(payload), "\n".join(lines))
