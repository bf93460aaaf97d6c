"""Cohort retention: who comes back, and how much they watch and pay when they do.

Definitions (written once here; docs/metrics.md "Retention" repeats them for people):

* **Local day / week.** Event times are stored as naive UTC; a user's day is the calendar day in the
  configured zone (``Filters.timezone``), a week is the ISO week (Monday to Sunday) holding that day.
* **Cohort.** ``first_seen``: the local day (week) of the user's first event of any type;
  ``first_purchase``: of the user's first purchase. "First" looks at all history that matches the
  channel / campaign / category filters; the date filter only chooses which cohorts are shown
  (cohort day in ``[date_from, date_to]``). Returns are followed to the end of the data.
* **Period k** of a cohort is the k-th local day (week) after the cohort's day (week); period 0 is the
  cohort's own day (week).
* **Returned "on" period k**: the user has at least one event (any type, same non-date filters) in
  period k. **"On or after" period k**: in period k or any later period observed.
* **Incomplete cell**: period k ends after the last local day holding data (``data_end``); its value is
  ``None`` and ``incomplete`` is True, never 0.
* **Sums**: watch time (``watch_seconds`` of view events) and net revenue (purchase revenue minus
  refunded amounts) per cohort member in period k, and cumulated over periods 0..k.
* **Dn retention** (:func:`day_n_retention`, the D1/D7/D30 KPI): among users first seen in the period
  whose day n is observable (first day + n <= ``data_end``), the share with an event on local day
  first day + n. ``None`` when no user is eligible.

All queries are ibis expressions (engine-neutral); only small aggregates reach pandas.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import ibis
import pandas as pd

from analytics.config import parse_timezone
from analytics.errors import BadInput
from analytics.filters import Filters, filtered_events

CohortKind = Literal["first_seen", "first_purchase"]
Period = Literal["day", "week"]
Mode = Literal["on", "on_or_after"]
Measure = Literal["users", "watch_seconds", "revenue"]

COHORTS: tuple[str, ...] = ("first_seen", "first_purchase")
PERIODS: tuple[str, ...] = ("day", "week")
MODES: tuple[str, ...] = ("on", "on_or_after")
MEASURES: tuple[str, ...] = ("users", "watch_seconds", "revenue")
MAX_PERIODS = 400


# -- local time, engine-neutral ----------------------------------------------------------------


def utc_offsets(timezone: str, start: dt.datetime | None, end: dt.datetime | None) -> list[tuple[dt.datetime | None, int]]:
    """UTC offsets of ``timezone`` in force between ``start`` and ``end`` (naive UTC datetimes).

    Returns ``[(since, offset_seconds), ...]``: the first entry has ``since=None``; each later entry
    starts at the naive UTC instant of a transition (daylight saving changes). Transitions are found
    day by day and pinned to the minute by bisection.
    """
    zone = parse_timezone(timezone)

    def offset(at: dt.datetime) -> int:
        return int(at.replace(tzinfo=dt.timezone.utc).astimezone(zone).utcoffset().total_seconds())

    start = start or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
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


def event_span(backend) -> tuple[dt.datetime | None, dt.datetime | None]:
    """First and last ``event_time`` (naive UTC) in the whole events table."""
    events = backend.table("events")
    row = events.aggregate(lo=events.event_time.min(), hi=events.event_time.max()).to_pandas().iloc[0]
    lo, hi = row["lo"], row["hi"]
    conv = lambda v: None if v is None or pd.isna(v) else pd.Timestamp(v).to_pydatetime()  # noqa: E731
    return conv(lo), conv(hi)


def _to_local_day(at: dt.datetime, timezone: str) -> dt.date:
    zone = parse_timezone(timezone)
    return at.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()


def _backend(store_or_backend):
    return store_or_backend.ibis() if hasattr(store_or_backend, "ibis") and hasattr(store_or_backend, "query") else store_or_backend


def _all_dates(filters: Filters) -> Filters:
    return replace(filters, date_from=None, date_to=None)


@dataclass(frozen=True)
class _Frame:
    """Events (non-date filters) with ``local_day``, and the data's last local day."""

    events: Any
    data_end: dt.date | None


def _local_events(backend, filters: Filters) -> _Frame:
    lo, hi = event_span(backend)
    if hi is None:
        return _Frame(None, None)
    offsets = utc_offsets(filters.timezone, lo, hi)
    ev = filtered_events(backend, _all_dates(filters))
    ev = ev.mutate(local_day=local_time(ev.event_time, offsets).date())
    return _Frame(ev, _to_local_day(hi, filters.timezone))


def _in_range(day_col, filters: Filters):
    preds = []
    if filters.date_from is not None:
        preds.append(day_col >= filters.date_from)
    if filters.date_to is not None:
        preds.append(day_col <= filters.date_to)
    return preds


# -- Dn retention (KPI) -----------------------------------------------------------------------


def day_n_retention(backend, filters: Filters, n: int) -> float | None:
    """Dn retention of users first seen in the filtered period (the D1/D7/D30 KPI).

    Args:
        backend: an ibis backend (``store.ibis()``) or a :class:`~analytics.storage.Store`.
        filters: date range (chooses the cohort: first-seen local day in ``[date_from, date_to]``),
            channels / campaigns / categories (apply to first-seen and to returns), time zone.
        n: the day offset (``n >= 0``); day 0 is the first-seen day.

    Returns:
        ``returned / eligible`` in [0, 1], where eligible users are those first seen in the period
        with ``first_day + n <= data_end`` (the last local day holding any event) and returned users
        have an event on local day ``first_day + n``; ``None`` when no user is eligible.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise BadInput(f"the retention day must be a whole number >= 0, got {n!r}", code="bad_day", value=n)
    backend = _backend(backend)
    frame = _local_events(backend, filters)
    if frame.events is None:
        return None
    ev = frame.events
    first = ev.group_by("user_id").aggregate(first_day=ev.local_day.min())
    preds = _in_range(first.first_day, filters)
    preds.append(first.first_day <= frame.data_end - dt.timedelta(days=n))
    cohort = first.filter(*preds)
    days = ev.select("user_id", "local_day").distinct()
    joined = cohort.left_join(
        days,
        [cohort.user_id == days.user_id, days.local_day.delta(cohort.first_day, unit="day") == n],
    )
    agg = joined.aggregate(
        eligible=joined.user_id.nunique(),
        returned=joined.user_id_right.nunique(),
    ).to_pandas().iloc[0]
    eligible = int(agg["eligible"])
    if eligible == 0:
        return None
    return float(agg["returned"]) / eligible
