"""Local time in the configured zone, written once and engine-neutral.

Events are stored in naive UTC. A person reads days, weeks and hours in the configured zone, so every
query turns ``event_time`` into local wall-clock time with :func:`local_time`: one ``CASE`` branch per
UTC offset in force over the queried span (daylight-saving changes found by :func:`utc_offsets`), which
every ibis engine runs (DuckDB and Spark alike) without a time-zone database of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

from analytics.config import parse_timezone
from analytics.lazy import LazyModule

ibis = LazyModule("ibis")  # only :func:`local_time` builds expressions; the rest is plain Python


def utc_offsets(timezone: str, start: dt.datetime | None, end: dt.datetime | None) -> list[tuple[dt.datetime | None, int]]:
    """UTC offsets of ``timezone`` in force between ``start`` and ``end`` (naive UTC datetimes).

    Returns ``[(since, offset_seconds), ...]``: the first entry has ``since=None``; each later entry
    starts at the naive UTC instant of a transition (daylight saving changes). Transitions are found
    day by day and pinned to the minute by bisection.
    """
    zone = parse_timezone(timezone)

    def offset(at: dt.datetime) -> int:
        return int(at.replace(tzinfo=dt.UTC).astimezone(zone).utcoffset().total_seconds())

    start = start or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    end = max(end or start, start)
    lo = start - dt.timedelta(days=1)
    out: list[tuple[dt.datetime | None, int]] = [(None, offset(lo))]
    cursor = lo
    last = end + dt.timedelta(days=1)
    while cursor < last:
        nxt = min(cursor + dt.timedelta(days=1), last)
        if offset(nxt) != out[-1][1]:
            a, b = cursor, nxt  # offset(a) is the current one, offset(b) the new one
            while b - a > dt.timedelta(minutes=1):
                mid = a + (b - a) / 2
                if offset(mid) == out[-1][1]:
                    a = mid
                else:
                    b = mid
            b = b.replace(second=0, microsecond=0)
            if offset(b) == out[-1][1]:
                b += dt.timedelta(minutes=1)
            out.append((b, offset(b)))
        cursor = nxt
    return out


def local_time(ts, offsets: list[tuple[dt.datetime | None, int]]):
    """ibis: the naive UTC timestamp ``ts`` as naive local wall-clock time (see :func:`utc_offsets`)."""
    if len(offsets) == 1:
        return ts + ibis.interval(seconds=offsets[0][1])
    branches = [
        (ts < since, ts + ibis.interval(seconds=prev_offset))
        for (since, _), (_, prev_offset) in zip(offsets[1:], offsets[:-1])
    ]
    return ibis.cases(*branches, else_=ts + ibis.interval(seconds=offsets[-1][1]))


def local_day(ts, timezone: str, start: dt.datetime | None, end: dt.datetime | None):
    """ibis date: the local calendar day of naive-UTC ``ts`` in ``timezone`` (for times in [start, end))."""
    return local_time(ts, utc_offsets(timezone, start, end)).date()


def to_local_day(at: dt.datetime, timezone: str) -> dt.date:
    """The local calendar day of one naive-UTC instant."""
    zone = parse_timezone(timezone)
    return at.replace(tzinfo=dt.UTC).astimezone(zone).date()


def whole_hour_offsets(timezone: str, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    """Whether every UTC offset of ``timezone`` between ``start`` and ``end`` is a whole number of hours."""
    return all(offset % 3600 == 0 for _, offset in utc_offsets(timezone, start, end))


#: Events are sparse: data that starts within a day's first hour, or ends within its last, still
#: covers that day (see :func:`complete_days`).
COVERAGE_SLACK: Final[dt.timedelta] = dt.timedelta(hours=1)


def covered_span(span: tuple[Any, Any]) -> tuple[dt.datetime, dt.datetime] | None:
    """The instants the data covers (naive UTC): from its first event (``span[0]``) less
    :data:`COVERAGE_SLACK` to its last (``span[1]``) plus it; ``None`` without events."""
    first, last = span
    if first is None or last is None:
        return None
    return first - COVERAGE_SLACK, last + COVERAGE_SLACK


def complete_days(days: Sequence[dt.date], span: tuple[Any, Any], timezone: str) -> tuple[bool, ...]:
    """Whether the data covers each local day in full: a day is *complete* when the data's first
    event (``span[0]``, naive UTC) is at most :data:`COVERAGE_SLACK` after its local start and the
    last (``span[1]``) at most :data:`COVERAGE_SLACK` before its local end.

    An incomplete day (the data starts or ends inside it, or it has not ended yet) keeps its counts
    but is not a full day: charts mark it and leave it out of rates and alerts.
    """
    covered = covered_span(span)
    if covered is None:
        return tuple(False for _ in days)
    lo, hi = covered
    zone = parse_timezone(timezone)

    def utc(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None)

    return tuple(lo <= utc(d) and utc(d + dt.timedelta(days=1)) <= hi for d in days)
