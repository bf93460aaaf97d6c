"""``reelytics retention``: cohort retention table (users, watch time or revenue per member)."""

from __future__ import annotations

from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.cli.text_output import NO_EVENTS
from analytics.metrics.retention import (
    COHORTS,
    MEASURES,
    MODES,
    PERIODS,
    RetentionResult,
    compute_retention,
)
from dashboard.numbers import number, pct


def register(sub) -> None:
    p = sub.add_parser(
        "retention",
        description="Cohort x period table in local days or ISO weeks; incomplete cells are shown as '-' (null in JSON).",
    )
    add_filter_args(p)
    p.add_argument("--cohort", choices=COHORTS, default="first_seen", help="what starts a cohort (default first_seen)")
    p.add_argument("--period", choices=PERIODS, default="day", help="cohort and period length (default day)")
    p.add_argument("--mode", choices=MODES, default="on", help="returned on period k, or on or after it (users only)")
    p.add_argument("--measure", choices=MEASURES, default="users", help="users (rate), watch_seconds or revenue per member")
    p.add_argument("--periods", type=int, default=8, help="number of periods, period 0 included (default 8)")
    p.add_argument("--cumulative", action="store_true", help="print sums over periods 0..k (watch_seconds, revenue)")
    p.add_argument("--relative", action="store_true", help="print each cohort relative to its period 0")
    p.add_argument("--day", type=int, action="append", default=[], metavar="N",
                   help="also print Dn retention for day N (repeatable, e.g. --day 1 --day 7 --day 30)")
    p.set_defaults(func=run)


def render(result: RetentionResult, day_n: dict[int, float | None], *, cumulative: bool = False, relative: bool = False) -> str:
    lines = []
    for n, v in day_n.items():
        lines.append(f"D{n} retention: {pct(v)}")
    if result.status == "no_data":
        lines.append(NO_EVENTS)
        return "\n".join(lines)
    if result.status != "ok":
        lines.append("no user starts a cohort in the selected range: widen the dates, or use --cohort first_seen "
                     "when there are no purchases")
        return "\n".join(lines)
    cumulative = cumulative and not result.is_rate
    unit = {"users": "share of cohort", "watch_seconds": "watch seconds per member", "revenue": "net revenue per member"}[result.measure]
    if cumulative:
        unit = f"cumulative {unit}"
    if relative:
        unit = f"{unit}, relative to period 0"
    grid = result.relative(cumulative) if relative else (result.cumulative if cumulative else result.values)
    as_rate = result.is_rate or relative
    mode = {"on": "active on period k", "on_or_after": "active on period k or later"}[result.mode]
    cohort = {"first_seen": "first-seen", "first_purchase": "first-purchase"}[result.cohort]
    lines.append(f"{cohort} cohorts by {result.period}, {mode}, {unit} (times in {result.timezone}; data end {result.data_end})")
    show = pct if as_rate else (lambda v: number(v, 2))
    width = 8 if as_rate else 11
    head = f"{'cohort':<12}{'size':>8}" + "".join(f"{result.period[0] + str(k):>{width}}" for k in range(result.periods))
    lines.append(head)
    for i, start in enumerate(result.cohorts):
        cells = "".join(f"{show(v):>{width}}" for v in grid[i])
        lines.append(f"{start.isoformat():<12}{result.sizes[i]:>8}{cells}")
    if not relative:
        lines.append(f"{'all':<12}{result.users:>8}" + "".join(f"{show(v):>{width}}" for v in result.curve(cumulative)))
    return "\n".join(lines)


def run(args, ctx) -> Output:
    from analytics.metrics.retention import day_n_retention

    filters = filters_from_args(args, ctx)
    result = compute_retention(
        ctx.source,
        filters,
        cohort=args.cohort,
        period=args.period,
        mode=args.mode,
        measure=args.measure,
        periods=args.periods,
    )
    day_n = {n: day_n_retention(ctx.source, filters, n) for n in args.day}
    payload = {**result.to_dict(), "filters": filters.describe()}
    if day_n:
        payload["day_n"] = {f"d{n}": v for n, v in day_n.items()}
    return Output(payload, render(result, day_n, cumulative=args.cumulative, relative=args.relative))
