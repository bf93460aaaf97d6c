"""``reelytics funnel``: conversion through ordered steps (see docs/funnels.md)."""

from __future__ import annotations

from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.metrics.funnels import (
    BREAKDOWNS,
    COUNTS,
    HOLD_COLUMNS,
    MIN_SEGMENT_SIZE,
    MODES,
    PERIODS,
    STATUSES,
    TOUCHES,
    FunnelSpec,
    parse_duration,
    parse_step_windows,
    parse_steps,
)
from dashboard.numbers import pct


def register(sub) -> None:
    p = sub.add_parser("funnel")
    p.add_argument(
        "--steps",
        required=True,
        help='event types in order, each optionally with conditions: "view[watch_ratio>=0.5],click,purchase"',
    )
    p.add_argument("--window", default="7d", help="conversion window from the first step (30m, 1h, 7d, 2w; default 7d)")
    p.add_argument("--step-windows", default=None, help="per-step windows after each step, e.g. 1h,7d ('-' for none)")
    p.add_argument("--mode", choices=MODES, default="sequential", help="order mode (default sequential)")
    p.add_argument("--hold", choices=HOLD_COLUMNS, default=None, help="keep this column the same through all steps")
    p.add_argument("--count", choices=COUNTS, default="users", help="unique users or totals (re-entry)")
    p.add_argument("--by", choices=BREAKDOWNS, default=None, help="break down by this column")
    p.add_argument("--touch", choices=TOUCHES, default="first", help="attribution of --by: first or last touch")
    p.add_argument("--period", choices=PERIODS, default="day", help="conversion over time by entry day or week")
    p.add_argument("--min-segment", type=int, default=MIN_SEGMENT_SIZE, help="smallest segment tested for significance")
    p.add_argument("--list", dest="list_status", choices=STATUSES, default=None, help="print these users as CSV")
    p.add_argument("--at-step", type=int, default=None, help="with --list: only those stopped at (converted: reached) this step")
    add_filter_args(p)
    p.set_defaults(func=run)


def spec_from_args(args) -> FunnelSpec:
    steps = parse_steps(args.steps)
    return FunnelSpec(
        steps=steps,
        window_seconds=parse_duration(args.window, "--window"),
        step_windows=parse_step_windows(args.step_windows, len(steps)),
        mode=args.mode,
        hold=args.hold,
        count=args.count,
        breakdown=args.by,
        touch=args.touch,
        period=args.period,
        min_segment=args.min_segment,
    )


def run(args, ctx) -> Output:
    from analytics.metrics.funnels import compute_funnel

    spec = spec_from_args(args)
    filters = filters_from_args(args, ctx)
    result = compute_funnel(ctx.source, spec, filters)
    if args.list_status:
        from analytics.export import to_csv_bytes

        users = result.users(args.list_status, args.at_step)
        title = f"funnel {args.list_status} " + " > ".join(spec.labels)
        return Output(None, raw=to_csv_bytes(users, filters.describe(), title=title).decode("utf-8-sig"))
    return Output(result, lambda: _text(args, spec, result))


def _text(args, spec: FunnelSpec, result) -> str:
    unit = "users" if spec.count == "users" else "entries"
    lines = [f"funnel ({spec.mode}, window {args.window}, {unit}):"]
    for s in result.steps:
        lines.append(
            f"  {s.step}. {s.label:<28} {s.count:>10,}  from previous {pct(s.conversion_from_previous):>7}"
            f"  from first {pct(s.conversion_from_first):>7} ({s.count:,} of {s.base_from_first:,})"
            f"  in progress {s.in_progress:,}"
        )
    lines.append(f"  converted {result.converted:,} of {result.entrants - result.in_progress:,} who could finish "
                 f"({pct(result.conversion_rate)}); {result.in_progress:,} still in progress, left out of the rates")
    open_periods = [p["period_start"] for p in result.over_time_rows if not p["complete"]]
    if open_periods:
        lines.append(f"  conversion over time: entry {spec.period}s from {min(open_periods)} on are "
                     "incomplete (window still open at the end of the data) and get no rate")
    if result.median_seconds_to_convert is not None:
        lines.append(
            f"  time to convert: median {result.median_seconds_to_convert / 3600:.2f} h, "
            f"p90 {result.p90_seconds_to_convert / 3600:.2f} h"
        )
    for seg in result.segments:
        sig = "n/a (too small)" if seg.p_value is None else f"p={seg.p_value:.3g}{' *' if seg.significant else ''}"
        lines.append(f"  {args.by}={seg.segment}: {seg.converted:,}/{seg.entrants:,} {pct(seg.conversion_rate)} {sig}")
    return "\n".join(lines)
