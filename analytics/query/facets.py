"""Values the filters can take: the data's date span and each filter field's values; the default period.

The default period (:func:`default_period`) answers "how are we doing lately, against before?": the
latest :data:`DEFAULT_PERIOD_DAYS` complete local days, compared with as many days just before (or
the longest period the data allows to compare). A day is *complete* when it has ended in the
configured zone and is not after the data's last day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from analytics.config import parse_timezone
from analytics.query.filters import FIELDS, Filters
from analytics.query.localtime import complete_days, to_local_day
from analytics.store.storage import Source

#: Length of the default period in days (and of the period it is compared with).
DEFAULT_PERIOD_DAYS = 28

#: How much of the previous period the data covers: all of it, part of it (the data starts inside
#: it), or none (the data starts after it ends, so there is nothing to compare with).
Comparison = Literal["full", "partial", "none"]


@dataclass(frozen=True)
class Facets:
    """The data's first and last local day, and the values each declared filter field can take
    (``options[field.name]``; also readable as an attribute, such as ``facets.channels``)."""

    first_day: dt.date | None
    last_day: dt.date | None
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: The first and last event time (naive UTC), or ``(None, None)`` when not known.
    span: tuple = (None, None)

    def __getattr__(self, name: str) -> tuple[str, ...]:
        if name in {f.name for f in FIELDS}:
            return tuple(self.options.get(name, ()))
        raise AttributeError(name)


def load_facets(source: Source, timezone: str, *, options: bool = True) -> Facets:
    """Distinct values of every declared filter field and the local first and last day with events;
    with ``options=False`` only the two days (the values take a scan of their own per field)."""
    # Only the two extremes are converted to local time: converting every event is a full scan of work.
    lo, hi = source.span()
    first, last = (None if t is None else to_local_day(t, timezone) for t in (lo, hi))
    values_of = {}
    for f in FIELDS if options else ():
        table = source.table("items" if f.item_column else "events")
        column = f.item_column or f.column
        values = table.filter(table[column].notnull()).select(column).distinct().order_by(column)
        values_of[f.name] = tuple(str(v) for v in source.execute(values)[column].tolist())
    return Facets(first, last, values_of, (lo, hi))


@dataclass(frozen=True)
class Period:
    """A closed range of local days and how well the data covers the period of equal length before it."""

    date_from: dt.date
    date_to: dt.date  # inclusive
    comparison: Comparison

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def previous_from(self) -> dt.date:
        return self.date_from - dt.timedelta(days=self.days)

    @property
    def previous_to(self) -> dt.date:
        return self.date_from - dt.timedelta(days=1)


def comparison_coverage(date_from: dt.date, date_to: dt.date, first_day: dt.date) -> Comparison:
    """How much of the period of equal length before ``date_from .. date_to`` lies on or after ``first_day``."""
    length = (date_to - date_from).days + 1
    return coverage(date_from - dt.timedelta(days=length), date_from - dt.timedelta(days=1), first_day)


def coverage(date_from: dt.date, date_to: dt.date, first_day: dt.date, last_day: dt.date | None = None) -> Comparison:
    """How much of ``date_from .. date_to`` the data's days (``first_day`` .. ``last_day``) cover."""
    if date_to < first_day or (last_day is not None and date_from > last_day):
        return "none"
    return "partial" if date_from < first_day else "full"


#: Where a period stands against the data and the clock: it holds none of the data's days, it has
#: not begun yet, or it includes today (which has not ended: its figures will still change).
PeriodNote = Literal["outside_data", "not_begun", "includes_today"]


def period_notes(date_from: dt.date, date_to: dt.date, facets: Facets, today: dt.date) -> tuple[PeriodNote, ...]:
    """What a reader of ``date_from .. date_to`` must know about where it stands (:data:`PeriodNote`)."""
    notes: list[PeriodNote] = []
    if facets.first_day is not None and coverage(date_from, date_to, facets.first_day, facets.last_day) == "none":
        notes.append("outside_data")
    if date_from > today:
        notes.append("not_begun")
    elif date_to >= today:
        notes.append("includes_today")
    return tuple(notes)


def local_today(timezone: str, now: dt.datetime | None = None) -> dt.date:
    """Today's date in ``timezone`` (``now``: an aware datetime, for tests; default the clock)."""
    zone = parse_timezone(timezone)
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(zone).date()


def default_period(
    first_day: dt.date, last_day: dt.date, today: dt.date, days: int = DEFAULT_PERIOD_DAYS, *, last_covered: bool = True
) -> Period:
    """The latest ``days`` complete local days compared with the ``days`` before, or the longest
    period the data allows to compare in full.

    The last complete day is the earlier of the data's last day (the day before it when the data
    ends inside it: ``last_covered`` false) and yesterday (``today`` is the local date in the
    configured zone). With ``n`` complete days of data the period is the last
    ``days`` of them when ``n >= 2 * days``, else the last ``n // 2`` (so that the previous period
    is covered too); a single complete day has nothing before it (``comparison == "none"``). When no
    day has ended yet (every event is from today) the period is the data's span, today included.
    """
    if days < 1:
        raise ValueError("a default period needs at least one day")
    end = min(last_day if last_covered else last_day - dt.timedelta(days=1), today - dt.timedelta(days=1))
    if end < first_day:
        return Period(first_day, last_day, "none")
    available = (end - first_day).days + 1
    length = days if available >= 2 * days else max(available // 2, 1)
    start = end - dt.timedelta(days=length - 1)
    return Period(start, end, comparison_coverage(start, end, first_day))


def with_default_period(filters: Filters, facets: Facets, today: dt.date) -> tuple[Filters, Period | None]:
    """``filters`` closed to :func:`default_period` when both its dates are open, with that period.

    Returns ``filters`` unchanged and ``None`` when a date is set or the store has no events.
    """
    if filters.date_from or filters.date_to or facets.first_day is None or facets.last_day is None:
        return filters, None
    covered = facets.span[1] is None or complete_days((facets.last_day,), facets.span, filters.timezone)[0]
    period = default_period(facets.first_day, facets.last_day, today, last_covered=covered)
    return dataclasses.replace(filters, date_from=period.date_from, date_to=period.date_to), period
