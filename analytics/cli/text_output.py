"""The CLI's human (non-JSON) output: an aligned table, its numbers written by :mod:`dashboard.numbers`.

``--json`` output does not pass through here: it keeps the raw values. Every command's text output
writes its numbers with :mod:`dashboard.numbers` (the dashboard writes single values with the same
functions), so a rate always reads ``51.9%``, a count ``12,345`` and a missing value ``–``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING

from analytics.lazy import LazyModule
from dashboard.numbers import Kind, kpi_kind, write

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: command modules import this one to parse options, not to print
    pd = LazyModule("pandas")


def table(frame: pd.DataFrame, kinds: Mapping[str, Kind] | None = None) -> str:
    """``frame`` as aligned text columns under their words (:func:`header`): numbers right-aligned
    and written by their kind (given, or the KPI registry's unit), text left-aligned; ``(no rows)``
    when empty."""
    if frame.empty:
        return "(no rows)"
    kinds = dict(kinds or {})
    columns = []
    for name in frame.columns:
        kind = kinds.get(str(name)) or kpi_kind(str(name))
        if kind == "text" and pd.api.types.is_integer_dtype(frame[name]):
            kind = "count"
        cells = [write(kind, v) for v in frame[name]]
        head = header(str(name))
        width = max(shown_width(head), *(shown_width(c) for c in cells))
        right = kind != "text"
        columns.append([pad(c, width, right) for c in (head, *cells)])
    return "\n".join("  ".join(row).rstrip() for row in zip(*columns))


def shown_width(text: str) -> int:
    """The columns ``text`` takes in a terminal: a Chinese character (wide or full-width) takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (:func:`shown_width`), right-aligned or left."""
    fill = " " * max(0, width - shown_width(text))
    return fill + text if right else text + fill


def header(name: str) -> str:
    """The words of the library's column ``name`` (``active_users`` -> ``Active users``), as the
    dashboard heads it (:func:`dashboard.i18n.column_label`), in English."""
    from dashboard.i18n import column_label

    return column_label(name, "en")


NO_EVENTS = "no events yet: load data with `reelytics ingest FILE` or `reelytics sample`"
#: What the text says when the previous period is not covered by the data in full
#: (:func:`analytics.query.facets.comparison_coverage`).
COMPARISON_NOTES = {
    "none": "no earlier data to compare with: the data starts on {first}, so no change is shown",
    "after": "the compared period holds none of the data ({first} .. {last}), so no change is shown",
    "partial": "the previous period starts on {prev}, but the data starts on {first}: changes compare with fewer days",
}
#: Where a period stands (:data:`analytics.query.facets.PeriodNote`).
POSITION_NOTES = {
    "outside_data": "the data covers {first} .. {last}: this period holds none of it",
    "not_begun": "the period has not begun yet",
    "includes_today": "the period includes today, which has not ended: its figures will still change",
}


def period_line(period, default: bool) -> str:
    """``period FROM .. TO``, saying when it is the default (the latest complete days)."""
    return f"period {period.date_from} .. {period.date_to}" + (" (the latest complete days)" if default else "")


def period_notes_lines(period, facets) -> list[str]:
    """One ``note:`` line for each :func:`~analytics.query.facets.period_notes` of ``period``."""
    from analytics.query.facets import local_today, period_notes

    notes = period_notes(period.date_from, period.date_to, facets, local_today(period.timezone))
    return [f"  note: {POSITION_NOTES[n].format(first=facets.first_day, last=facets.last_day)}" for n in notes]


def comparison_line(coverage: str, facets, previous) -> list[str]:
    """The ``note:`` line for a previous period the data does not cover in full (none when it does)."""
    if coverage not in COMPARISON_NOTES:
        return []
    if coverage == "none" and facets.last_day is not None and previous.date_from > facets.last_day:
        coverage = "after"
    return ["  note: " + COMPARISON_NOTES[coverage].format(first=facets.first_day, last=facets.last_day,
                                                           prev=previous.date_from)]
