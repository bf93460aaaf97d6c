"""``reelytics timing``: best time to post (publish weekday x hour, shrunk), audience activity, frequency."""

from __future__ import annotations

from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.errors import BadInput
from analytics.metrics.timing import OUTCOMES, TimingResult, compute_timing
from dashboard.numbers import number, p_text, pct

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def register(sub) -> None:
    p = sub.add_parser(
        "timing",
        description="Outcomes in the first 24 h after publishing, by local publish weekday x hour; empirical-Bayes shrinkage.",
    )
    add_filter_args(p)
    p.add_argument("--outcome", choices=OUTCOMES, default="views", help="outcome to rank by (default views)")
    p.add_argument("--top", type=int, default=5, help="how many best cells to print (default 5)")
    p.set_defaults(func=run)


def _value(value, is_rate: bool) -> str:
    return pct(value) if is_rate else number(value)


def _when(row) -> str:
    return f"{WEEKDAY_NAMES[int(row.weekday)]} {int(row.hour):02d}:00"


def render(result: TimingResult, top: int) -> str:
    if result.status == "no_videos":
        return "no published videos match these filters (items need kind 'video' and published_at)"
    if result.status == "not_covered":
        return (f"{result.unobserved:,} published videos match, but the data does not cover the first 24 hours of any "
                "(published before the data begins, or less than a day before it ends): nothing to rank")
    left_out = ([f"note: {result.unobserved:,} videos left out: the data does not cover their first 24 hours "
                 "(their outcomes are unknown, not zero)"] if result.unobserved else [])
    if result.status == "no_outcomes":
        return "\n".join([f"no video has views in its first 24 hours: nothing to rank by {result.outcome}", *left_out])
    average = _value(result.average, result.is_rate)
    first = result.best(1).iloc[0]
    level = f"{result.credible_level:.0%}"
    if result.verdict == "clear_best":
        verdict = (f"best time to post: {_when(first)} (its {level} interval, {_value(first.ci_low, result.is_rate)} .. "
                   f"{_value(first.ci_high, result.is_rate)}, lies above the average {average})")
    else:
        verdict = (f"no clear best time: no publish time's {level} interval lies above the average {average}; "
                   "the ranking below is within noise")
    lines = [
        verdict,
        f"publish times ranked by {result.outcome} in the first 24 h ({result.video_count:,} videos; times in {result.timezone}; "
        f"{level} credible interval)",
        *left_out,
        f"{'rank':>4}  {'when':<10}{'videos':>7}{'raw':>10}{'shrunk':>10}  interval",
    ]
    show = pct if result.is_rate else number
    for row in result.best(top).itertuples():
        when = _when(row)
        lines.append(
            f"{int(row.rank):>4}  {when:<10}{row.videos:>7}{show(row.raw):>10}{show(row.shrunk):>10}"
            f"  {show(row.ci_low)} .. {show(row.ci_high)}"
        )
    if result.frequency_correlation is not None:
        lines.append(
            f"posting frequency vs {result.outcome} across {len(result.creators)} creators: Spearman rho "
            f"{result.frequency_correlation:+.2f} ({p_text(result.frequency_p_value)})"
        )
    return "\n".join(lines)


def run(args, ctx) -> Output:
    if args.top < 1:
        raise BadInput(f"--top must be at least 1, got {args.top}", code="bad_top", value=args.top)
    filters = filters_from_args(args, ctx)
    result = compute_timing(ctx.source, filters, outcome=args.outcome)
    payload = {**result.to_dict(), "filters": filters.describe()}
    return Output(payload, render(result, args.top))
