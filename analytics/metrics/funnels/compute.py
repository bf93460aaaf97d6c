"""Computing a funnel: its events from the query layer, the kernels, and the result tables."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.config import parse_timezone
from analytics.metrics.funnels.kernels import _entries_totals, _unit_levels
from analytics.metrics.funnels.result import (
    FunnelResult,
    SegmentRow,
    StepRow,
    _rate,
    two_proportion_z,
)
from analytics.metrics.funnels.spec import NO_VALUE, SIGNIFICANCE_LEVEL, FunnelSpec
from analytics.query import engine
from analytics.query.filters import Filters
from analytics.query.layer import FunnelEvents, UnitRows


# -- the public entry points ----------------------------------------------------------------------
def data_end(source) -> dt.datetime | None:
    """The last event time of the data (naive UTC): windows still open then are "in progress"."""
    return source.span()[1]


def _entries_frame(rows: UnitRows, spec: FunnelSpec, end_of_data: dt.datetime | None) -> pd.DataFrame:
    k = len(spec.steps)
    window_us = spec.window_seconds * 1_000_000
    end_us = (
        int((end_of_data - dt.datetime(1970, 1, 1)) / dt.timedelta(microseconds=1)) if end_of_data is not None else None
    )
    if spec.count == "totals":
        units, level, start_row, reach_row = _entries_totals(rows, spec)
        start_t = rows.t[start_row] if len(start_row) else np.zeros(0, dtype=np.int64)
        open_t = start_t
    else:
        lv = _unit_levels(rows, spec)
        units = np.flatnonzero(lv.level > 0)
        level, start_row, reach_row = lv.level[units], lv.start_row[units], lv.reach_row[units]
        start_t = rows.t[start_row] if len(units) else np.zeros(0, dtype=np.int64)
        open_t = lv.last_start_t[units]
    reach_t = rows.t[reach_row] if len(units) else np.zeros(0, dtype=np.int64)
    completed = level == k
    in_progress = ~completed & ((open_t + window_us > end_us) if end_us is not None else False)
    keys = rows.keys.take(pa.array(units, type=pa.int64())) if len(units) else rows.keys.slice(0, 0)
    df = pd.DataFrame({"user_id": keys.column("user_id").to_pylist()})
    if spec.hold is not None:
        df["hold_value"] = keys.column("hold_value").to_pylist()
    df["level"] = level.astype(np.int64)
    df["step_reached"] = [spec.labels[i - 1] for i in level]
    df["status"] = np.where(completed, "converted", np.where(in_progress, "in_progress", "dropped"))
    df["entry_time"] = pd.Series(np.asarray(start_t, dtype=np.int64).astype("datetime64[us]"))
    df["converted_time"] = pd.Series(np.asarray(reach_t, dtype=np.int64).astype("datetime64[us]")).where(completed)
    df["seconds_to_convert"] = np.where(completed, (reach_t - start_t) / 1e6, np.nan)
    if spec.breakdown is not None:
        row = start_row if spec.touch == "first" else reach_row
        values = rows.segment[row] if len(row) else np.array([], dtype=object)
        df["segment"] = [NO_VALUE if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]
    if spec.hold is not None and spec.count == "users":
        # one row per user: the held value that went furthest, then converted earliest
        done = df["converted_time"].notna().to_numpy()
        reached = np.where(done, df["converted_time"].to_numpy().astype("datetime64[us]").astype(np.int64), np.iinfo(np.int64).max)
        df = df.assign(_rt=reached, _et=df["entry_time"])
        df = df.sort_values(["user_id", "level", "_rt", "_et", "hold_value"], ascending=[True, False, True, True, True])
        user_open = df.groupby("user_id")["status"].transform(lambda s: (s == "in_progress").any())
        df.loc[(df["status"] == "dropped") & user_open, "status"] = "in_progress"
        df = df.drop_duplicates("user_id", keep="first").drop(columns=["_rt", "_et"])
    return df.sort_values(["user_id", "entry_time"], kind="stable").reset_index(drop=True)


def _step_rows(entries: pd.DataFrame, spec: FunnelSpec) -> tuple[StepRow, ...]:
    level = entries["level"].to_numpy()
    open_ = (entries["status"] == "in_progress").to_numpy()
    counts = [int((level >= i).sum()) for i in range(1, len(spec.steps) + 1)]
    out = []
    for i, label in enumerate(spec.labels, start=1):
        in_prog = int((open_ & (level == i)).sum())
        dropped = int((~open_ & (level == i)).sum()) if i < len(spec.steps) else 0
        if i == 1:
            base_prev = base_first = counts[0]
        else:
            base_prev = counts[i - 2] - int((open_ & (level == i - 1)).sum())
            base_first = counts[0] - int((open_ & (level < i)).sum())
        out.append(StepRow(i, label, counts[i - 1], _rate(counts[i - 1], base_prev), _rate(counts[i - 1], base_first),
                           in_prog, dropped, base_prev, base_first))
    return tuple(out)


def _over_time(
    entries: pd.DataFrame, spec: FunnelSpec, timezone: str, end_of_data: dt.datetime | None, entry_end: dt.datetime | None
) -> pd.DataFrame:
    """Conversion by local entry day or week; a period is ``complete`` once the window of its last
    possible entry (its end, or the date filter's end if sooner) has closed by ``end_of_data``.

    Incomplete periods keep their counts but get no ``conversion_rate``: their converters are in
    but most of their non-converters are still in progress, so a rate would lean toward 100 %.
    """
    cols = ["period_start", "entrants", "converted", "in_progress", "conversion_rate", "complete"]
    if entries.empty:
        return pd.DataFrame(columns=cols)
    local = entries["entry_time"].dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None)
    day = local.dt.normalize()
    start = day - pd.to_timedelta(day.dt.day_of_week, unit="D") if spec.period == "week" else day
    g = entries.assign(
        period_start=start.dt.date,
        _conv=entries["status"] == "converted",
        _open=entries["status"] == "in_progress",
    ).groupby("period_start")
    df = pd.DataFrame({"entrants": g.size(), "converted": g["_conv"].sum(), "in_progress": g["_open"].sum()}).reset_index()
    zone = parse_timezone(timezone)
    length = dt.timedelta(days=7 if spec.period == "week" else 1)
    window = dt.timedelta(seconds=spec.window_seconds)

    def closed(first_day: dt.date) -> bool:
        local_end = dt.datetime.combine(first_day + length, dt.time(), tzinfo=zone)
        last_entry = local_end.astimezone(dt.timezone.utc).replace(tzinfo=None)
        if entry_end is not None:
            last_entry = min(last_entry, entry_end)
        return end_of_data is not None and last_entry + window <= end_of_data

    df["complete"] = [closed(d) for d in df["period_start"]]
    df["conversion_rate"] = [
        _rate(int(c), int(e - o)) if done else None
        for c, e, o, done in zip(df["converted"], df["entrants"], df["in_progress"], df["complete"])
    ]
    return df[cols].astype({"entrants": "int64", "converted": "int64", "in_progress": "int64", "complete": bool})


def _segments(entries: pd.DataFrame, spec: FunnelSpec) -> tuple[SegmentRow, ...]:
    if spec.breakdown is None or entries.empty:
        return ()
    k = len(spec.steps)
    total_closed = int((entries["status"] != "in_progress").sum())
    total_conv = int((entries["status"] == "converted").sum())
    out = []
    for value, part in entries.groupby("segment", sort=True):
        conv = int((part["status"] == "converted").sum())
        open_ = int((part["status"] == "in_progress").sum())
        closed = len(part) - open_
        rest_closed, rest_conv = total_closed - closed, total_conv - conv
        counts = tuple(int((part["level"] >= i).sum()) for i in range(1, k + 1))
        if closed >= spec.min_segment and rest_closed >= spec.min_segment:
            z, p = two_proportion_z(conv, closed, rest_conv, rest_closed)
            status = "ok"
        else:
            z = p = None
            status = "too_small"
        out.append(
            SegmentRow(
                str(value), len(part), conv, open_, _rate(conv, closed), counts, z, p,
                None if p is None else bool(p < SIGNIFICANCE_LEVEL), status,
            )
        )
    out.sort(key=lambda s: (-s.entrants, s.segment))
    return tuple(out)


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
        level = _entries_frame(rows, spec, None)["level"].to_numpy()
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
    entries = _entries_frame(rows, spec, end_of_data)
    steps = _step_rows(entries, spec)
    seconds = entries["seconds_to_convert"].dropna().to_numpy(dtype=float)
    open_ = int((entries["status"] == "in_progress").sum())
    converted = int((entries["status"] == "converted").sum())
    local_entries = entries.copy()
    return FunnelResult(
        status="ok" if len(entries) else "no_entrants",
        spec=spec,
        steps=steps,
        entrants=len(entries),
        converted=converted,
        in_progress=open_,
        conversion_rate=_rate(converted, len(entries) - open_),
        median_seconds_to_convert=float(np.quantile(seconds, 0.5)) if len(seconds) else None,
        p90_seconds_to_convert=float(np.quantile(seconds, 0.9)) if len(seconds) else None,
        seconds_to_convert=tuple(float(s) for s in seconds),
        segments=_segments(entries, spec),
        over_time=_over_time(entries, spec, filters.timezone, end_of_data, filters.utc_bounds()[1]),
        entries=_localise(local_entries, filters.timezone),
        data_end=end_of_data,
        timezone=filters.timezone,
        filters=filters.describe(),
    )


def _localise(entries: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Entry and conversion times in the configured zone (naive local, for display and export)."""
    out = entries.copy()
    for col in ("entry_time", "converted_time"):
        out[col] = out[col].dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None)
    return out
