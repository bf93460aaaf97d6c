"""``reelytics kpis``: every KPI of the period with the previous period, or one row per group with ``--by``."""

from __future__ import annotations

from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.cli.text_output import (
    NO_EVENTS,
    comparison_line,
    header,
    period_line,
    period_notes_lines,
    table,
)
from analytics.errors import BadInput
from analytics.metrics.kpis import (
    DIMENSIONS,
    KPI_BY_NAME,
    NOTE_COURSE_STILL_LEARNING,
    NOTE_NOT_RECORDED,
    breakdown,
    check_dimension,
    kpi_report,
    kpis_counting,
    resolve_period,
)
from analytics.query.facets import (
    DEFAULT_PERIOD_DAYS,
    comparison_coverage,
    load_facets,
    local_today,
    period_notes,
    with_default_period,
)
from dashboard.numbers import MISSING, kpi_kind, signed_pct, write


def register(sub) -> None:
    p = sub.add_parser(
        "kpis",
        description=f"KPIs are defined in docs/metrics.md. Without --from and --to: the latest {DEFAULT_PERIOD_DAYS} "
        f"complete local days against the {DEFAULT_PERIOD_DAYS} before (fewer when the data is shorter); "
        "--all for the data's whole span.",
    )
    add_filter_args(p)
    p.add_argument("--all", action="store_true", help="the data's whole span instead of the latest complete days")
    p.add_argument("--by", default=None, metavar="COL",
                   help=f"one row per value of COL: {', '.join(DIMENSIONS)} or props.KEY")
    p.add_argument("--sort", default="views", metavar="KPI", help="order rows by this KPI, descending (with --by)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="keep the first N rows (with --by)")
    p.add_argument("--series", action="store_true", help="include the daily series of every KPI")
    p.set_defaults(func=run)




def run(args, ctx) -> Output:
    """The KPI cards of the period against the previous one, or with ``--by`` only the breakdown:
    each output computes only what it shows (no daily series without ``--series``; no cards, D1
    retention or course completion with ``--by``)."""
    filters = filters_from_args(args, ctx)
    if args.all and (filters.date_from or filters.date_to):
        raise BadInput("--all is the data's whole span: leave out --from and --to", code="bad_period")
    if args.by is not None:
        check_dimension(args.by)
    if args.sort not in KPI_BY_NAME:
        raise BadInput(f"--sort: unknown KPI {args.sort!r}; use one of {', '.join(KPI_BY_NAME)}", code="bad_kpi")
    facets = load_facets(ctx.source, filters.timezone, options=False)
    default = None
    if not args.all:
        filters, default = with_default_period(filters, facets, local_today(filters.timezone))
    if args.by is not None:
        return _breakdown(args, ctx, filters, default is not None, facets)
    report = kpi_report(ctx.source, filters, series=args.series)
    payload = report.to_dict()
    payload["default_period"] = default is not None
    if args.series:
        payload["series"] = report.series_frame()
    if report.status != "ok":
        payload["comparison"] = None
        return Output(payload, NO_EVENTS)
    period, prev = report.filters, report.previous_filters
    coverage = comparison_coverage(period.date_from, period.date_to, facets.first_day)
    payload["comparison"] = coverage
    lines = [period_line(period, default is not None) + f", compared with {prev.date_from} .. {prev.date_to}"]
    lines += comparison_line(coverage, facets, prev)
    notes = period_notes(period.date_from, period.date_to, facets, local_today(period.timezone))
    lines += period_notes_lines(period, facets)
    if report.incomplete_days and "outside_data" not in notes:
        days = ", ".join(str(d) for d in report.incomplete_days)
        lines.append(f"  note: the data does not cover these days in full (their counts are partial): {days}")
    for card in report.cards():
        change = "" if card.change is None else f"  {signed_pct(card.change)}"
        kind = kpi_kind(card.kpi.name)
        # a previous period the data does not reach has no figures: "–", not a zero that reads as measured
        previous = MISSING if coverage == "none" else write(kind, card.previous)
        lines.append(f"  {header(card.kpi.name):<26} {write(kind, card.value):>16}  prev {previous:>12}{change}")
    lines += _note_lines(report.notes)
    return Output(payload, "\n".join(lines))


#: The KPI report's notes (:mod:`analytics.metrics.kpis`), in words.
_NOTES = {
    "no_spend": "no spend uploaded for this period: spend, CAC and ROAS are not available (not zero); "
    "load it with `reelytics ingest FILE --kind spend`",
    "spend_not_by_category": "spend has no category: with a category filter, spend, CAC and ROAS are not available",
    "spend_not_split": "spend is split only by channel and campaign: this breakdown leaves spend, CAC and ROAS empty",
    "external_failed": "{kpi} could not be computed; `reelytics {command}` shows the details",
    NOTE_NOT_RECORDED: "not measured (–, not 0), because the data holds none of what they count: {groups}",
    NOTE_COURSE_STILL_LEARNING: "course completion: {recent:,} of the period's {buyers:,} course buyers bought less than "
    "the time most completers took before the data ends; some are still learning, so the rate may still rise "
    "(`reelytics completion --courses`)",
}
_NOTE_COMMANDS = {"course_completion": "completion --courses"}


def _unrecorded_text(kinds: list[str]) -> str:
    """The KPIs without a value because the data records none of ``kinds``, each with what it counts
    (the Overview's words for a kind): ``... Follow rate (follows); ...``."""
    from dashboard.i18n import t

    groups = (f"{', '.join(header(k) for k in kpis_counting(kind))} ({t(f'ov.recorded.{kind}', 'en')})" for kind in kinds)
    return _NOTES[NOTE_NOT_RECORDED].format(groups="; ".join(groups))


def _note_lines(notes) -> list[str]:
    """The notes in words, one line each; those on what the data does not record in one line, last."""
    unrecorded = [n.split(":", 1)[1] for n in notes if n.startswith(f"{NOTE_NOT_RECORDED}:")]
    lines = [f"  note: {_note_text(note)}" for note in notes if not note.startswith(f"{NOTE_NOT_RECORDED}:")]
    return lines + ([f"  note: {_unrecorded_text(unrecorded)}"] if unrecorded else [])


def _note_text(note: str) -> str:
    code, _, rest = note.partition(":")
    if code == "external_failed":
        return _NOTES[code].format(kpi=rest, command=_NOTE_COMMANDS.get(rest, "retention"))
    if code == NOTE_NOT_RECORDED:
        return _unrecorded_text([rest])
    if code == NOTE_COURSE_STILL_LEARNING:
        recent, _, buyers = rest.partition(":")
        return _NOTES[code].format(recent=int(recent), buyers=int(buyers))
    return _NOTES.get(code, note)


def _breakdown(args, ctx, filters, default: bool, facets) -> Output:
    """``kpis --by COL``: one row per group, every registry KPI (no period cards)."""
    period = resolve_period(ctx.source, filters)
    if period is None:
        return Output({"status": "no_data", "by": args.by, "filters": filters.describe(), "rows": [], "notes": [],
                       "default_period": default}, NO_EVENTS)
    result = breakdown(ctx.source, period, args.by, sort=args.sort, limit=args.limit)
    payload = {**result.to_dict(), "default_period": default}

    def text() -> str:
        notes = _note_lines(result.notes)
        return "\n".join([period_line(period, default), *period_notes_lines(period, facets), *notes, "", table(result.table)])

    return Output(payload, text)
