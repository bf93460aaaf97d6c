"""Computing a funnel: its events from the query layer, the kernels, and the result tables.

The counts, rates and periods are computed with numpy; the one-row-per-user table is built with
Arrow when first read (:class:`FunnelResult`), and pandas is imported only when a caller reads a
table as a DataFrame. Arrow values are made and read through :mod:`analytics.query.arrays`
(pyarrow's own conversions import pandas), so a funnel answered from the persisted funnel order and
written as JSON imports neither pandas nor ibis.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from analytics.columns import from_numpy, to_numpy
from analytics.config import parse_timezone
from analytics.metrics.funnels.kernels import _entries_totals, _unit_levels
from analytics.metrics.funnels.result import (
    FunnelResult,
    SegmentRow,
    StepRow,
    _rate,
    two_proportion_z,
)
from analytics.metrics.funnels.spec import (
    NO_VALUE,
    SIGNIFICANCE_LEVEL,
    STATUSES,
    FunnelSpec,
)
from analytics.query import engine
from analytics.query.filters import Filters
from analytics.query.layer import FunnelEvents, UnitRows
from analytics.query.localtime import utc_offsets

CONVERTED, DROPPED, IN_PROGRESS = (STATUSES.index(s) for s in ("converted", "dropped", "in_progress"))
_DAY_US = 86_400_000_000
_EPOCH = dt.datetime(1970, 1, 1)


# -- the public entry points ----------------------------------------------------------------------
def data_end(source) -> dt.datetime | None:
    """The last event time of the data (naive UTC): windows still open then are "in progress"."""
    return source.span()[1]


def _us(moment: dt.datetime) -> int:
    return int((moment - _EPOCH) / dt.timedelta(microseconds=1))


@dataclass(frozen=True)
class _Entries:
    """One row per user (or entry, with totals), in the order of the rows' units: ``unit`` (a row of
    ``keys``) names its user; :func:`_entry_table` orders them by user and entry time."""

    keys: pa.Table  # the rows' units: user_id[, hold_value]
    unit: np.ndarray  # int64: each entry's unit
    level: np.ndarray  # int64, 1..k
    status: np.ndarray  # int8: index in STATUSES
    entry_t: np.ndarray  # µs since 1970 (UTC)
    reach_t: np.ndarray  # µs since 1970 (UTC) of the furthest step; meaningful where converted
    segment: np.ndarray | None  # breakdown value per row (text)

    def __len__(self) -> int:
        return len(self.level)


def _entries(rows: UnitRows, spec: FunnelSpec, end_of_data: dt.datetime | None) -> _Entries:
    k = len(spec.steps)
    window_us = spec.window_seconds * 1_000_000
    if spec.count == "totals":
        units, level, start_row, reach_row = _entries_totals(rows, spec)
        start_t = rows.t[start_row]
    else:
        lv = _unit_levels(rows, spec)
        units = np.flatnonzero(lv.level > 0)
        level, start_row, reach_row = lv.level[units], lv.start_row[units], lv.reach_row[units]
        start_t = rows.t[start_row]
    reach_t = rows.t[reach_row]
    # In progress: not converted, and the window of its entry (the start of the chain that reached
    # its level first; in totals mode, each entry's own) is still open at the end of the data.
    status = np.full(len(units), DROPPED, dtype=np.int8)
    if end_of_data is not None:
        status[start_t + window_us > _us(end_of_data)] = IN_PROGRESS
    status[level == k] = CONVERTED
    segment = None
    if spec.breakdown is not None:
        values = rows.segment[start_row if spec.touch == "first" else reach_row]
        segment = np.array(
            [NO_VALUE if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values], dtype=object
        )
    if spec.hold is not None and spec.count == "users":
        # one row per user: the held value that went furthest, then converted earliest
        import pyarrow.compute as pc

        held = rows.keys.take(from_numpy(units))
        user_id = held.column("user_id").combine_chunks()
        done = status == CONVERTED
        by = pa.table({
            "u": user_id, "l": from_numpy(-level), "r": from_numpy(np.where(done, reach_t, np.iinfo(np.int64).max)),
            "e": from_numpy(start_t), "h": held.column("hold_value"),
        })
        order = to_numpy(pc.sort_indices(by, sort_keys=[(c, "ascending") for c in by.column_names]))
        ids = user_id.take(from_numpy(order))
        first = np.ones(len(order), dtype=bool)
        if len(order) > 1:
            first[1:] = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
        order = order[np.flatnonzero(first)]  # its status is that row's: its entry's window
        units, level, status, start_t, reach_t = units[order], level[order], status[order], start_t[order], reach_t[order]
        segment = None if segment is None else segment[order]
    return _Entries(
        keys=rows.keys,
        unit=np.asarray(units, dtype=np.int64),
        level=np.asarray(level, dtype=np.int64),
        status=status,
        entry_t=start_t,
        reach_t=reach_t,
        segment=segment,
    )


def _step_rows(e: _Entries, spec: FunnelSpec) -> tuple[StepRow, ...]:
    k = len(spec.steps)
    open_ = e.status == IN_PROGRESS
    reached = np.bincount(e.level, minlength=k + 1)  # stopped at each level
    still = np.bincount(e.level[open_], minlength=k + 1)  # of them, still in progress
    counts = np.cumsum(reached[::-1])[::-1]  # reached at least each level
    out = []
    for i, label in enumerate(spec.labels, start=1):
        in_prog = int(still[i])
        dropped = int(reached[i] - still[i]) if i < k else 0
        if i == 1:
            base_prev = base_first = int(counts[1])
        else:
            base_prev = int(counts[i - 1] - still[i - 1])
            base_first = int(counts[1] - still[1:i].sum())
        out.append(StepRow(i, label, int(counts[i]), _rate(int(counts[i]), base_prev), _rate(int(counts[i]), base_first),
                           in_prog, dropped, base_prev, base_first))
    return tuple(out)


def _local_us(t: np.ndarray, timezone: str) -> np.ndarray:
    """Naive-UTC µs as naive local wall-clock µs in ``timezone`` (:mod:`analytics.query.localtime`)."""
    if not len(t):
        return t
    lo, hi = (_EPOCH + dt.timedelta(microseconds=int(v)) for v in (t.min(), t.max()))
    offsets = utc_offsets(timezone, lo, hi)
    since = np.array([_us(s) for s, _ in offsets[1:]], dtype=np.int64)
    seconds = np.array([o for _, o in offsets], dtype=np.int64)
    return t + seconds[np.searchsorted(since, t, side="right")] * 1_000_000


def _over_time(e: _Entries, spec: FunnelSpec, timezone: str, end_of_data: dt.datetime | None,
               entry_end: dt.datetime | None) -> tuple[dict[str, Any], ...]:
    """Conversion by local entry day or week (one row per period, Python values); a period is ``complete`` once the window of its last
    possible entry (its end, or the date filter's end if sooner) has closed by ``end_of_data``.

    Incomplete periods keep their counts but get no ``conversion_rate``: their converters are in
    but most of their non-converters are still in progress, so a rate would lean toward 100 %.
    """
    day = _local_us(e.entry_t, timezone) // _DAY_US  # days since 1970-01-01, a Thursday
    first_day = day - (day + 3) % 7 if spec.period == "week" else day
    periods, period = np.unique(first_day, return_inverse=True)
    n = len(periods)
    entrants = np.bincount(period, minlength=n)
    converted = np.bincount(period, weights=e.status == CONVERTED, minlength=n).astype(np.int64)
    in_progress = np.bincount(period, weights=e.status == IN_PROGRESS, minlength=n).astype(np.int64)
    starts = [dt.date(1970, 1, 1) + dt.timedelta(days=int(d)) for d in periods]
    zone = parse_timezone(timezone)
    length = dt.timedelta(days=7 if spec.period == "week" else 1)
    window = dt.timedelta(seconds=spec.window_seconds)

    def closed(first: dt.date) -> bool:
        local_end = dt.datetime.combine(first + length, dt.time(), tzinfo=zone)
        last_entry = local_end.astimezone(dt.UTC).replace(tzinfo=None)
        if entry_end is not None:
            last_entry = min(last_entry, entry_end)
        return end_of_data is not None and last_entry + window <= end_of_data

    complete = [closed(d) for d in starts]
    return tuple(
        {"period_start": first, "entrants": int(a), "converted": int(c), "in_progress": int(o),
         "conversion_rate": _rate(int(c), int(a - o)) if done else None, "complete": done}
        for first, a, c, o, done in zip(starts, entrants, converted, in_progress, complete)
    )


def _segments(e: _Entries, spec: FunnelSpec) -> tuple[SegmentRow, ...]:
    if spec.breakdown is None or not len(e):
        return ()
    k = len(spec.steps)
    values, seg = np.unique(e.segment, return_inverse=True)
    n = len(values)
    conv = np.bincount(seg, weights=e.status == CONVERTED, minlength=n).astype(np.int64)
    open_ = np.bincount(seg, weights=e.status == IN_PROGRESS, minlength=n).astype(np.int64)
    size = np.bincount(seg, minlength=n)
    reached = [np.bincount(seg, weights=e.level >= i, minlength=n).astype(np.int64) for i in range(1, k + 1)]
    total_closed = int(len(e) - open_.sum())
    total_conv = int(conv.sum())
    out = []
    for g, value in enumerate(values):
        closed = int(size[g] - open_[g])
        rest_closed, rest_conv = total_closed - closed, total_conv - int(conv[g])
        if closed >= spec.min_segment and rest_closed >= spec.min_segment:
            z, p = two_proportion_z(int(conv[g]), closed, rest_conv, rest_closed)
            status = "ok"
        else:
            z = p = None
            status = "too_small"
        out.append(
            SegmentRow(
                str(value), int(size[g]), int(conv[g]), int(open_[g]), _rate(int(conv[g]), closed),
                tuple(int(r[g]) for r in reached), z, p, None if p is None else bool(p < SIGNIFICANCE_LEVEL), status,
            )
        )
    out.sort(key=lambda s: (-s.entrants, s.segment))
    return tuple(out)


def _entry_table(e: _Entries, spec: FunnelSpec, timezone: str) -> pa.Table:
    """One row per user or entry, by user and then entry time (one user's entries at one instant in
    the units' order); entry and conversion times naive local (for display and export)."""
    import pyarrow.compute as pc

    keys = e.keys.take(from_numpy(e.unit))
    order = pc.sort_indices(pa.table({"u": keys.column("user_id"), "e": from_numpy(e.entry_t)}),
                            sort_keys=[("u", "ascending"), ("e", "ascending")])
    keys, order = keys.take(order), to_numpy(order)
    level, status, entry_t, reach_t = e.level[order], e.status[order], e.entry_t[order], e.reach_t[order]
    done = status == CONVERTED
    local = _local_us(np.concatenate([entry_t, reach_t]), timezone)
    entry_local, reach_local = local[: len(e)], local[len(e):]
    columns = {"user_id": keys.column("user_id")}
    if spec.hold is not None:
        columns["hold_value"] = keys.column("hold_value")
    labels = pa.array(spec.labels)
    statuses = pa.array(STATUSES)
    columns |= {
        "level": pa.array(level, type=pa.int64()),
        "step_reached": labels.take(pa.array(level - 1)),
        "status": statuses.take(pa.array(status.astype(np.int64))),
        "entry_time": pa.array(entry_local, type=pa.timestamp("us")),
        "converted_time": pa.array(reach_local, type=pa.timestamp("us"), mask=~done),
        "seconds_to_convert": pa.array((reach_t - entry_t) / 1e6, type=pa.float64(), mask=~done),
    }
    if e.segment is not None:
        columns["segment"] = pa.array(e.segment[order], type=pa.string())
    return pa.table(columns)


def fetch_rows(source, spec: FunnelSpec, filters: Filters | None = None) -> UnitRows:
    """The funnel-relevant events of each unit, sorted by time (asked of the query layer, which
    answers from the in-memory event order where it can and with one ibis query otherwise)."""
    return engine.ask(source, FunnelEvents(spec, filters or Filters()))


def step_counts(source, spec: FunnelSpec, filters: Filters | None = None) -> tuple[int, ...]:
    """Just the count at each step (the path the benchmark times)."""
    rows = fetch_rows(source, spec, filters)
    if spec.count == "users" and spec.hold is None:
        level = _unit_levels(rows, spec, levels_only=True).level
    else:
        level = _entries(rows, spec, None).level
    return tuple(int((level >= i).sum()) for i in range(1, len(spec.steps) + 1))


def compute_funnel(source, spec: FunnelSpec, filters: Filters | None = None) -> FunnelResult:
    """Compute the funnel ``spec`` over the events passing ``filters``.

    Returns a :class:`FunnelResult`: counts per step (non-increasing), conversion from the previous
    and the first step in [0, 1] (in-progress entrants left out of the denominators), time to
    convert (median and 90th percentile, linear interpolation, seconds), conversion by entry day or
    week (local time), per-segment two-proportion z-tests against the rest of the entrants (shown
    from ``spec.min_segment`` closed entrants on both sides) and one row per user or entry.
    """
    filters = filters or Filters()
    parse_timezone(filters.timezone)
    end_of_data = data_end(source)
    rows = fetch_rows(source, spec, filters)
    e = _entries(rows, spec, end_of_data)
    done = e.status == CONVERTED
    seconds = (e.reach_t[done] - e.entry_t[done]) / 1e6
    open_ = int((e.status == IN_PROGRESS).sum())
    converted = int(done.sum())
    return FunnelResult(
        status="ok" if len(e) else "no_entrants",
        spec=spec,
        steps=_step_rows(e, spec),
        entrants=len(e),
        converted=converted,
        in_progress=open_,
        conversion_rate=_rate(converted, len(e) - open_),
        median_seconds_to_convert=float(np.quantile(seconds, 0.5)) if len(seconds) else None,
        p90_seconds_to_convert=float(np.quantile(seconds, 0.9)) if len(seconds) else None,
        seconds_to_convert=tuple(seconds.tolist()),
        segments=_segments(e, spec),
        over_time_rows=_over_time(e, spec, filters.timezone, end_of_data, filters.utc_bounds()[1]),
        entry_source=functools.partial(_entry_table, e, spec, filters.timezone),
        data_end=end_of_data,
        timezone=filters.timezone,
        filters=filters.describe(),
    )
