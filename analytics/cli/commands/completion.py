"""``reelytics completion``: video hook/completion/hold and retention curves, or course completion."""

from __future__ import annotations

from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.metrics.completion import retention_curve, video_completion
from analytics.metrics.courses import SPLITS, course_completion
from dashboard.numbers import count, is_missing, number, pct


def register(sub) -> None:
    p = sub.add_parser(
        "completion",
    )
    p.add_argument("--video", metavar="ID", help="also print this video's retention curve against its creator's typical curve")
    p.add_argument("--creator", metavar="NAME", help="only videos of this creator")
    p.add_argument("--min-views", type=int, default=5, help="usable views a video needs to be ranked (default 5)")
    p.add_argument("--step", type=int, default=5, help="percent step of the retention curve (divides 100; default 5)")
    p.add_argument("--top", type=int, default=10, help="videos listed per ranking in the text output (default 10)")
    p.add_argument("--courses", action="store_true", help="course completion: purchase -> lesson 1 -> ... -> last lesson")
    p.add_argument("--course", metavar="ID", help="with --courses: only this course")
    p.add_argument("--by", choices=SPLITS, default="channel", help="with --courses: split buyers by the acquiring video, channel or variant")
    p.add_argument("--count-starts", action="store_true", help="with --courses: lesson_start also counts as reaching a lesson")
    add_filter_args(p)
    p.set_defaults(func=run)


def run(args, ctx) -> Output:
    from dashboard.i18n import t

    filters = filters_from_args(args, ctx)
    if args.courses:
        return _courses(args, ctx, filters)
    result = video_completion(ctx.source, filters, creator=args.creator, min_views=args.min_views)
    payload = result.to_dict()
    s = result.summary
    lines = [
        f"views {s.views:,}  usable {s.usable_views:,}  without duration {s.views_without_duration:,}  "
        f"without watch time {s.views_without_watch_time:,}  capped {s.capped_views:,}",
        f"hook rate {pct(s.hook_rate)}  completion rate {pct(s.completion_rate)}  "
        f"avg percent watched {pct(s.avg_percent_watched)}",
    ]
    if result.status != "ok":  # worded as on the Videos page
        lines.append(t({"no_views": "videos.no_views", "no_usable_views": "videos.no_usable"}[result.status], "en"))
    for by in ("hook", "hold"):
        ranked = result.ranked(by, args.top)
        if len(ranked):
            lines.append(f"top by {by} (>= {result.min_views} usable views):")
            lines += [
                f"  {r.item_id:<16} hook {pct(r.hook_rate):>6}  completion {pct(r.completion_rate):>6}  "
                f"avg watched {pct(r.avg_percent_watched):>6}  views {r.usable_views:,}"
                for r in ranked.itertuples()
            ]
    if args.video:
        curve = retention_curve(ctx.source, args.video, filters, step=args.step)
        payload["curve"] = curve.to_dict()
        lines.append(
            f"retention of {curve.item_id} ({curve.length_bucket or 'unknown length'}, {curve.usable_views:,} usable views, "
            f"typical of {curve.peer_videos} peer videos):"
        )
        if curve.status != "ok":
            lines.append("  " + t(_CURVE_STATUS[curve.status], "en"))
        lines += [
            f"  {int(r.percent):>3}%  {pct(r.share):>6}  typical {pct(r.typical_share):>6}"
            for r in curve.curve.itertuples()
        ]
    return Output(payload, "\n".join(lines))


_CURVE_STATUS = {"no_usable_views": "videos.no_curve", "no_peers": "videos.curve_no_peers", "no_creator": "videos.curve_no_creator"}
_COURSE_STATUS = {
    "no_courses": "no course found: add catalog items of kind course (`reelytics ingest FILE --kind items`) "
    "or lesson events",
    "no_buyers": "no course purchase matches these filters",
}


def _courses(args, ctx, filters) -> Output:
    from dashboard.i18n import t

    result = course_completion(ctx.source, filters, by=args.by, course=args.course, count_starts=args.count_starts)
    lines = [_COURSE_STATUS[result.status]] if result.status in _COURSE_STATUS else []
    for c in result.courses.itertuples():
        lines.append(
            f"{c.course_id} ({c.lessons} lessons from {c.lessons_source}): buyers {c.buyers:,}  started {pct(c.start_rate)}  "
            f"completed {pct(c.completion_rate)}"
        )
        if not is_missing(c.recent_buyers) and c.recent_buyers > 0:
            lines.append(f"  note: {t('courses.still_learning', 'en', recent=count(c.recent_buyers), buyers=count(c.buyers), days=number(c.days_to_complete, 0))}")
        funnel = result.funnel[result.funnel.course_id == c.course_id]
        lines += [
            f"  {'purchase' if r.step == 0 else f'lesson {r.step}':<10} {r.learners:>8,}  {pct(r.conversion_from_first):>6}"
            for r in funnel.itertuples()
        ]
    split = result.split
    if len(split):
        lines.append(f"by acquiring {result.by}:")
        lines += [
            f"  {r.course_id:<12} {('(no promoting view)' if not r.acquired else (r.group or '(none)')):<20} "
            f"buyers {r.buyers:>6,}  completed {pct(r.completion_rate)}"
            for r in split.itertuples()
        ]
    return Output(result.to_dict(), "\n".join(lines))
