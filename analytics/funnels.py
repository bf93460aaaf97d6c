"""Funnels: ordered steps, order modes, conversion windows, hold, totals, breakdowns (docs/metrics.md).

A funnel is a list of :class:`Step` (an event type, optionally with conditions such as
``view[watch_ratio>=0.5]``). :func:`compute_funnel` counts, per step, the users (or entries) that
reached it and derives conversion rates, time to convert, conversion over time, per-segment
significance and the lists of converted, dropped and in-progress users.

Semantics (the same text is in docs/metrics.md, "Funnels"):

* **sequential** (default) equals ClickHouse ``windowFunnel(window)``: a chain counts when its
  steps occur in order (equal times allowed; events at one instant are ordered by step) and the
  last step is at most ``window`` after the chain's first step; a user's level is the longest
  chain. Optional per-step windows bound the gap between consecutive steps as well. As in
  ClickHouse, one event that matches several steps may fill each of them.
* **strict**: as sequential, and no other event of the user (any type, after the filters) lies
  strictly between two consecutive steps; events at the same instant as a step do not interrupt.
* **any**: the first ``j`` steps count as reached when an event of each of them lies inside one
  window ``[start, start + window]``, in any order (per-step windows do not apply).
* **users** counts each user once at the furthest step of any chain (with ``hold``: any value of the
  held column); **totals** counts entries: an entry starts at a step-1 event (any step's event in
  ``any`` mode), ends when it completes or its window expires, and the next entry starts at the
  first step-1 event after that end.

The per-chain work is a vectorised numpy pass over each user's events sorted by time. The rows
come from one ibis query (the funnel's events as packed ``time << bits | steps`` integers; users
numbered by dictionary encoding and sorted with one int64 sort; with extra columns, grouped into
sorted lists per user) or, for plain event-type steps, from the in-memory event index of
:mod:`analytics.query.accel.funnel_order`. :func:`portable_levels` is the same definition written only with ibis
window functions (it runs on DuckDB and Spark); tests prove all paths give the same levels.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.config import parse_timezone
from analytics.errors import BadInput
from analytics.query import engine
from analytics.query.filters import Filters
from analytics.query.funnel_events import ITEM_BREAKDOWNS, _annotated, _unit_keys
from analytics.query.layer import FunnelEvents, UnitRows
from analytics.store.schema import EVENT_TYPES

Mode = Literal["sequential", "strict", "any"]
CountBy = Literal["users", "totals"]
Touch = Literal["first", "last"]
Period = Literal["day", "week"]
Status = Literal["converted", "dropped", "in_progress"]

MODES: Final[tuple[str, ...]] = get_args(Mode)
COUNTS: Final[tuple[str, ...]] = get_args(CountBy)
TOUCHES: Final[tuple[str, ...]] = get_args(Touch)
PERIODS: Final[tuple[str, ...]] = get_args(Period)
STATUSES: Final[tuple[str, ...]] = get_args(Status)

MAX_STEPS: Final[int] = 8
DEFAULT_WINDOW_SECONDS: Final[int] = 7 * 86400
MIN_SEGMENT_SIZE: Final[int] = 30
SIGNIFICANCE_LEVEL: Final[float] = 0.05

NUMERIC_CONDITION_COLUMNS: Final[tuple[str, ...]] = ("watch_ratio", "watch_seconds", "video_seconds", "revenue", "lesson")
TEXT_CONDITION_COLUMNS: Final[tuple[str, ...]] = ("channel", "campaign", "variant", "item_id", "course_id")
OPERATORS: Final[tuple[str, ...]] = (">=", "<=", "!=", "=", ">", "<")
HOLD_COLUMNS: Final[tuple[str, ...]] = ("course_id", "item_id", "channel", "campaign", "variant")
EVENT_BREAKDOWNS: Final[tuple[str, ...]] = ("channel", "campaign", "variant", "item_id", "course_id")
BREAKDOWNS: Final[tuple[str, ...]] = EVENT_BREAKDOWNS + ITEM_BREAKDOWNS
NO_VALUE: Final[str] = "(none)"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_STEP_RE = re.compile(r"^\s*([A-Za-z_]+)\s*(?:\[(.*)\])?\s*$", re.S)
_COND_RE = re.compile(r"^\s*([A-Za-z_]+)\s*(>=|<=|!=|=|>|<)\s*([^<>=!\s].*?)\s*$", re.S)
_STEP_FORMS = (
    "steps are event types separated by commas, each optionally with conditions in brackets, "
    "e.g. view[watch_ratio>=0.5],click,purchase[revenue>100 & channel=douyin]"
)


# -- settings -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """``column op value``, e.g. ``watch_ratio >= 0.5``; text columns allow only ``=`` and ``!=``."""

    column: str
    op: str
    value: float | str

    @property
    def label(self) -> str:
        value = f"{self.value:g}" if isinstance(self.value, float) else self.value
        return f"{self.column}{self.op}{value}"


@dataclass(frozen=True)
class Step:
    """One funnel step: an event type and the conditions its event must meet (all of them)."""

    event_type: str
    conditions: tuple[Condition, ...] = ()

    @property
    def label(self) -> str:
        if not self.conditions:
            return self.event_type
        return f"{self.event_type}[{' & '.join(c.label for c in self.conditions)}]"


def parse_duration(text: str | int | float, option: str = "--window") -> int:
    """Seconds in ``text``: a number with unit s/m/h/d/w (``90s``, ``90m``, ``7d``); a number given
    as ``int`` or ``float`` is seconds. Text without a unit (``"7"``) is refused: seven what?"""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text).lower())
        if not m:
            raise BadInput(
                f"{option} expects a duration such as 30m, 1h, 7d or 2w, got {text!r}", code="bad_duration", value=str(text)
            )
        if not m.group(2):
            raise BadInput(
                f"{option} needs a unit: {text!r} could be seconds or days; write it as {m.group(1)}s, "
                f"{m.group(1)}m, {m.group(1)}h, {m.group(1)}d or {m.group(1)}w",
                code="bad_duration", value=str(text),
            )
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(seconds) or seconds <= 0 or seconds > 366 * 86400 * 5:
        raise BadInput(f"{option} must be between 1 second and 5 years, got {text!r}", code="bad_duration", value=str(text))
    return int(round(seconds))


def parse_step_windows(text: str | None, n_steps: int) -> tuple[int | None, ...]:
    """Per-step windows ``1h,7d`` (``-`` for none): one for each step after the first."""
    if not text:
        return (None,) * max(n_steps - 1, 0)
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != n_steps - 1:
        raise BadInput(
            f"--step-windows needs {n_steps - 1} durations (one per step after the first), got {len(parts)}",
            code="bad_step_windows",
            value=text,
        )
    return tuple(None if p in ("", "-", "none") else parse_duration(p, "--step-windows") for p in parts)


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise BadInput(f"unbalanced ']' in steps {text!r}; {_STEP_FORMS}", code="bad_steps", value=text)
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise BadInput(f"unbalanced '[' in steps {text!r}; {_STEP_FORMS}", code="bad_steps", value=text)
    parts.append("".join(cur))
    return parts


def parse_condition(text: str) -> Condition:
    """Parse ``column op value`` into a :class:`Condition` or raise :class:`BadInput`."""
    m = _COND_RE.match(text)
    allowed = ", ".join(NUMERIC_CONDITION_COLUMNS + TEXT_CONDITION_COLUMNS)
    if not m or not m.group(3):
        raise BadInput(
            f"cannot read the condition {text.strip()!r}: use column, operator ({' '.join(OPERATORS)}) and value, "
            f"e.g. watch_ratio>=0.5; columns: {allowed}",
            code="bad_condition",
            value=text,
        )
    column, op, raw = m.group(1).lower(), m.group(2), m.group(3).strip().strip("'\"")
    if column in NUMERIC_CONDITION_COLUMNS:
        try:
            value: float | str = float(raw)
        except ValueError as exc:
            raise BadInput(f"{column} compares with a number, got {raw!r}", code="bad_condition", value=text) from exc
        if not math.isfinite(value):
            raise BadInput(f"{column} compares with a finite number, got {raw!r}", code="bad_condition", value=text)
    elif column in TEXT_CONDITION_COLUMNS:
        if op not in ("=", "!="):
            raise BadInput(f"{column} is text: use = or !=, not {op}", code="bad_condition", value=text)
        value = raw
    else:
        raise BadInput(f"unknown condition column {column!r}; use one of {allowed}", code="bad_condition", value=text)
    return Condition(column, op, value)


def parse_steps(text: str | list[str] | tuple[str, ...]) -> tuple[Step, ...]:
    """Parse ``view[watch_ratio>=0.5],click,purchase`` into typed steps (2..8) or raise BadInput."""
    pieces = _split_top(text) if isinstance(text, str) else list(text)
    steps = []
    for piece in pieces:
        m = _STEP_RE.match(piece)
        if not m:
            raise BadInput(f"cannot read the step {piece.strip()!r}; {_STEP_FORMS}", code="bad_steps", value=piece)
        event_type = m.group(1).lower()
        if event_type not in EVENT_TYPES:
            raise BadInput(
                f"unknown event type {event_type!r} in the steps; use one of {', '.join(EVENT_TYPES)}",
                code="bad_steps",
                value=event_type,
            )
        conds = ()
        if m.group(2) is not None:
            if not m.group(2).strip():
                raise BadInput(f"empty condition in step {piece.strip()!r}; {_STEP_FORMS}", code="bad_steps", value=piece)
            conds = tuple(parse_condition(c) for c in m.group(2).split("&"))
        steps.append(Step(event_type, conds))
    if not 2 <= len(steps) <= MAX_STEPS:
        raise BadInput(f"a funnel needs 2 to {MAX_STEPS} steps, got {len(steps)}; {_STEP_FORMS}", code="bad_steps")
    return tuple(steps)


@dataclass(frozen=True)
class FunnelSpec:
    """What to compute; validated once here (the boundary)."""

    steps: tuple[Step, ...]
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    step_windows: tuple[int | None, ...] = ()
    mode: Mode = "sequential"
    hold: str | None = None
    count: CountBy = "users"
    breakdown: str | None = None
    touch: Touch = "first"
    period: Period = "day"
    min_segment: int = MIN_SEGMENT_SIZE

    def __post_init__(self) -> None:
        if isinstance(self.steps, str):
            object.__setattr__(self, "steps", parse_steps(self.steps))
        if not 2 <= len(self.steps) <= MAX_STEPS:
            raise BadInput(f"a funnel needs 2 to {MAX_STEPS} steps, got {len(self.steps)}", code="bad_steps")
        if not self.step_windows:
            object.__setattr__(self, "step_windows", (None,) * (len(self.steps) - 1))
        if len(self.step_windows) != len(self.steps) - 1:
            raise BadInput(
                f"per-step windows: need {len(self.steps) - 1} (one per step after the first), got {len(self.step_windows)}",
                code="bad_step_windows",
            )
        if not isinstance(self.window_seconds, int) or self.window_seconds <= 0:
            raise BadInput("the conversion window must be a positive number of seconds", code="bad_duration")
        for name, value, allowed in (
            ("mode", self.mode, MODES),
            ("count", self.count, COUNTS),
            ("touch", self.touch, TOUCHES),
            ("period", self.period, PERIODS),
        ):
            if value not in allowed:
                raise BadInput(f"unknown {name} {value!r}; use one of {', '.join(allowed)}", code=f"bad_{name}", value=value)
        if self.hold is not None and self.hold not in HOLD_COLUMNS:
            raise BadInput(f"cannot hold {self.hold!r} constant; use one of {', '.join(HOLD_COLUMNS)}", code="bad_hold", value=self.hold)
        if self.breakdown is not None and self.breakdown not in BREAKDOWNS:
            raise BadInput(
                f"cannot break down by {self.breakdown!r}; use one of {', '.join(BREAKDOWNS)}", code="bad_breakdown", value=self.breakdown
            )
        if self.mode == "any" and any(w is not None for w in self.step_windows):
            raise BadInput("per-step windows need an ordered mode (sequential or strict), not 'any'", code="bad_step_windows")
        if self.min_segment < 1:
            raise BadInput("the minimum segment size must be at least 1", code="bad_min_segment")

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.steps)

    def describe(self) -> dict[str, Any]:
        return {
            "steps": list(self.labels),
            "window_seconds": self.window_seconds,
            "step_windows_seconds": list(self.step_windows),
            "mode": self.mode,
            "hold": self.hold,
            "count": self.count,
            "breakdown": self.breakdown,
            "touch": self.touch,
            "period": self.period,
        }


# -- results --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepRow:
    """One step: how many reached it and the conversion rates (in [0, 1], None without a base).

    ``in_progress``: entrants stopped at this step whose window is still open at the data's end;
    ``dropped``: entrants stopped at this step whose window has closed. Rates leave in-progress
    entrants out of their denominators: ``base_from_previous`` and ``base_from_first`` are those
    denominators (the previous step's / first step's count less the entrants still in progress
    before this step), so ``conversion_from_first == count / base_from_first``.
    """

    step: int
    label: str
    count: int
    conversion_from_previous: float | None
    conversion_from_first: float | None
    in_progress: int
    dropped: int
    base_from_previous: int
    base_from_first: int


@dataclass(frozen=True)
class SegmentRow:
    """One breakdown value: its funnel and a two-proportion z-test of its conversion vs the rest."""

    segment: str
    entrants: int
    converted: int
    in_progress: int
    conversion_rate: float | None
    counts: tuple[int, ...]
    z: float | None
    p_value: float | None
    significant: bool | None
    status: Literal["ok", "too_small"]


@dataclass(frozen=True)
class FunnelResult:
    """The funnel over the filtered data; ``status`` is ``no_entrants`` when nobody did step 1."""

    status: Literal["ok", "no_entrants"]
    spec: FunnelSpec
    steps: tuple[StepRow, ...]
    entrants: int
    converted: int
    in_progress: int
    conversion_rate: float | None
    median_seconds_to_convert: float | None
    p90_seconds_to_convert: float | None
    seconds_to_convert: tuple[float, ...]
    segments: tuple[SegmentRow, ...]
    over_time: pd.DataFrame
    entries: pd.DataFrame
    data_end: dt.datetime | None
    timezone: str
    filters: dict[str, Any] = field(default_factory=dict)

    def steps_frame(self) -> pd.DataFrame:
        return pd.DataFrame([dataclasses.asdict(s) for s in self.steps])

    def segments_frame(self) -> pd.DataFrame:
        rows = []
        for s in self.segments:
            row = {k: v for k, v in dataclasses.asdict(s).items() if k != "counts"}
            for label, c in zip(self.spec.labels, s.counts):
                row[f"count {label}"] = c
            rows.append(row)
        return pd.DataFrame(rows)

    def users(self, status: Status | None = None, step: int | None = None) -> pd.DataFrame:
        """Entries (users, or entries with totals) by outcome; ``step``: stopped at this step (1-based).

        ``status='converted'`` with ``step`` lists those who reached ``step``.
        """
        df = self.entries
        if status is not None:
            if status not in STATUSES:
                raise BadInput(f"unknown status {status!r}; use one of {', '.join(STATUSES)}", code="bad_status")
            if status == "converted" and step is not None:
                df = df[df["level"] >= step]
                return df.reset_index(drop=True)
            df = df[df["status"] == status]
        if step is not None:
            if not 1 <= step <= len(self.spec.steps):
                raise BadInput(f"step must be between 1 and {len(self.spec.steps)}", code="bad_step", value=step)
            df = df[df["level"] == step]
        return df.reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "funnel": self.spec.describe(),
            "steps": [dataclasses.asdict(s) for s in self.steps],
            "entrants": self.entrants,
            "converted": self.converted,
            "in_progress": self.in_progress,
            "conversion_rate": self.conversion_rate,
            "time_to_convert": {
                "n": len(self.seconds_to_convert),
                "median_seconds": self.median_seconds_to_convert,
                "p90_seconds": self.p90_seconds_to_convert,
            },
            "segments": [
                {**{k: v for k, v in dataclasses.asdict(s).items()}, "counts": list(s.counts)} for s in self.segments
            ],
            "over_time": self.over_time,
            "data_end": self.data_end,
            "timezone": self.timezone,
            "filters": self.filters,
        }


# -- the kernels: per-row chain states, vectorised over all units --------------------------------
@dataclass(frozen=True)
class _Levels:
    """Per unit: furthest level (0..k), the start row and the row that reached that level."""

    level: np.ndarray
    start_row: np.ndarray
    reach_row: np.ndarray
    last_start_t: np.ndarray  # latest time an entry could have started (in-progress check)


def _unit_of_rows(rows: UnitRows) -> np.ndarray:
    return np.repeat(np.arange(len(rows.starts) - 1, dtype=np.int64), np.diff(rows.starts))


def _layout(rows: UnitRows, unit: np.ndarray):
    """Per row: its unit's first row, the groups of rows at one instant of a unit (starts, group of
    each row, first and last row of the row's group) and whether any group has several rows."""
    n = len(rows.t)
    ustart = rows.starts[:-1][unit]
    newgrp = np.ones(n, dtype=bool)
    if n:
        np.not_equal(rows.t[1:], rows.t[:-1], out=newgrp[1:])
        newgrp[rows.starts[:-1]] = True
    if newgrp.all():  # no two events of a unit at one instant: every row is its own group
        ar = np.arange(n, dtype=np.int64)
        return ustart, ar, ar, ar, ar, False
    gstart = np.flatnonzero(newgrp)
    gid = np.cumsum(newgrp) - 1
    gend = np.r_[gstart[1:], n] - 1
    return ustart, gstart, gid, gstart[gid], gend[gid], True


def _first_per_unit(mask: np.ndarray, unit: np.ndarray, n_units: int, last: bool = False) -> np.ndarray:
    """Index of the first (or last) row of each unit where ``mask`` holds; -1 where none."""
    out = np.full(n_units, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    if len(idx):
        u = unit[idx]
        edge = np.ones(len(idx), dtype=bool)
        if last:
            np.not_equal(u[:-1], u[1:], out=edge[:-1])
        else:
            np.not_equal(u[1:], u[:-1], out=edge[1:])
        out[u[edge]] = idx[edge]
    return out


def _range_max(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``max(values[lo[i]:hi[i] + 1])`` for every i (sparse table built one level at a time)."""
    length = hi - lo + 1
    level = np.zeros(len(lo), dtype=np.int64)
    if len(lo):
        level = np.floor(np.log2(np.maximum(length, 1))).astype(np.int64)
    out = np.full(len(lo), -1, dtype=np.int64)
    table = values.copy()
    top = int(level.max()) if len(level) else 0
    for p in range(top + 1):
        sel = level == p
        if sel.any():
            out[sel] = np.maximum(table[lo[sel]], table[hi[sel] - (1 << p) + 1])
        if p < top:
            s = 1 << p
            nxt = table.copy()
            nxt[: len(table) - s] = np.maximum(table[: len(table) - s], table[s:])
            table = nxt
    return out


def _window_lo(rows: UnitRows, unit: np.ndarray, seconds: int) -> np.ndarray:
    """First row of the same unit whose time is >= the row's time minus ``seconds``."""
    uniq = np.unique(rows.t)
    r = len(uniq) + 1
    key = unit * r + np.searchsorted(uniq, rows.t)
    q = unit * r + np.searchsorted(uniq, rows.t - seconds * 1_000_000, side="left")
    return np.searchsorted(key, q, side="left")


def _chain_levels(rows: UnitRows, spec: FunnelSpec):
    """Per level j (1..k): for every row, the start row of the best chain reaching step j at this
    row (-1 if none); the row that completes step j (``any`` only; else None: the row itself); the
    eligible-start mask; each row's unit."""
    k = len(spec.steps)
    n = len(rows.t)
    t, bits = rows.t, rows.bits
    window_us = spec.window_seconds * 1_000_000
    ar = np.arange(n, dtype=np.int64)
    unit = _unit_of_rows(rows)
    ustart, gstart, gid, first_peer, last_peer, ties = _layout(rows, unit)

    def bit(i: int) -> np.ndarray:
        return ((bits >> i) & 1).astype(bool)

    if spec.mode == "any":
        uend = rows.starts[1:][unit]
        nexts = []
        for s in range(k):
            idx = np.where(bit(s), ar, n)
            nxt = np.minimum.accumulate(idx[::-1])[::-1] if n else idx
            at = nxt[first_peer] if n else nxt
            nexts.append(np.where(at < uend, at, -1))
        starts_by_level, reach_by_level = [], []
        for j in range(1, k + 1):
            anyb = (bits & ((1 << j) - 1)) != 0
            ok = rows.entry & anyb
            last = np.full(n, -1, dtype=np.int64)
            last_t = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
            for s in range(j):
                ns = nexts[s]
                ok &= ns >= 0
                ts = np.where(ns >= 0, t[np.maximum(ns, 0)], np.iinfo(np.int64).min)
                better = ts > last_t
                last = np.where(better, ns, last)
                last_t = np.maximum(last_t, ts)
            ok &= (last_t - t) <= window_us
            starts_by_level.append(np.where(ok, ar, -1))
            reach_by_level.append(np.where(ok, last, -1))
        eligible = rows.entry & (bits != 0)
        return starts_by_level, reach_by_level, eligible, unit

    first = bit(0) & rows.entry
    f = np.where(first, ar, -1)
    levels = [f]
    if spec.mode == "strict":
        prev_t = rows.prev_t
        has_prev = first_peer > ustart
        before = np.where(has_prev, t[np.maximum(first_peer - 1, 0)], np.iinfo(np.int64).min)
        adjacent = has_prev & (before == prev_t)
    for i in range(1, k):
        w = spec.step_windows[i - 1]
        if spec.mode == "strict":
            gmax = np.maximum.reduceat(f, gstart) if n else f
            same = gmax[gid]
            ok_prev = adjacent if w is None else adjacent & (t - prev_t <= w * 1_000_000)
            prev = np.where(ok_prev, gmax[np.maximum(gid - 1, 0)], -1)
            g = np.maximum(same, prev)
        elif w is None:
            g = np.maximum.accumulate(f) if n else f
            if ties:
                g = g[last_peer]
            g[g < ustart] = -1
        else:
            lo = _window_lo(rows, unit, w)
            g = _range_max(f, lo, last_peer)
        ok = bit(i) & (g >= 0)
        ok &= (t - t[np.maximum(g, 0)]) <= window_us
        f = np.where(ok, g, -1)
        levels.append(f)
    return levels, None, first, unit  # the reaching row is the row itself


#: Rows from which the users-mode kernel splits the units over threads (numpy releases the GIL).
PARALLEL_ROWS: Final[int] = 1_000_000


def _part(rows: UnitRows, u0: int, u1: int) -> UnitRows:
    """Units ``u0:u1`` of ``rows`` as rows of their own (row numbers restart at 0)."""
    r0, r1 = int(rows.starts[u0]), int(rows.starts[u1])
    cut = slice(r0, r1)
    return UnitRows(
        keys=rows.keys.slice(u0, u1 - u0),
        starts=rows.starts[u0 : u1 + 1] - r0,
        t=rows.t[cut],
        bits=rows.bits[cut],
        entry=rows.entry[cut],
        prev_t=None if rows.prev_t is None else rows.prev_t[cut],
        segment=None if rows.segment is None else rows.segment[cut],
    )


def _unit_levels(rows: UnitRows, spec: FunnelSpec, workers: int | None = None, *, levels_only: bool = False) -> _Levels:
    """Users mode: each unit's furthest level and its earliest chain reaching it (with
    ``levels_only`` just the level; the other arrays are then empty).

    Units are independent, so from :data:`PARALLEL_ROWS` rows they are split into contiguous
    parts of about equal rows, one per core (``workers``), computed in threads and joined.
    """
    n_units = len(rows.starts) - 1
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if workers < 2 or len(rows.t) < PARALLEL_ROWS or n_units < workers:
        return _unit_levels_serial(rows, spec, levels_only)
    cuts = np.searchsorted(rows.starts, np.linspace(0, len(rows.t), workers + 1)[1:-1])
    bounds = [0, *sorted(set(int(c) for c in cuts) - {0, n_units}), n_units]
    parts = list(zip(bounds[:-1], bounds[1:]))
    with ThreadPoolExecutor(len(parts)) as pool:
        results = list(pool.map(lambda b: _unit_levels_serial(_part(rows, *b), spec, levels_only), parts))

    def rows_of(name: str) -> np.ndarray:  # row numbers back to the whole table's
        return np.concatenate([
            np.where(getattr(r, name) >= 0, getattr(r, name) + rows.starts[u0], -1) for r, (u0, _) in zip(results, parts)
        ]).astype(np.int64)

    return _Levels(
        np.concatenate([r.level for r in results]),
        rows_of("start_row"),
        rows_of("reach_row"),
        np.concatenate([r.last_start_t for r in results]),
    )


def _unit_levels_serial(rows: UnitRows, spec: FunnelSpec, levels_only: bool = False) -> _Levels:
    n_units = len(rows.starts) - 1
    n = len(rows.t)
    level = np.zeros(n_units, dtype=np.int64)
    start_row = np.full(n_units, -1, dtype=np.int64)
    reach_row = np.full(n_units, -1, dtype=np.int64)
    if n == 0:
        return _Levels(level, start_row, reach_row, np.zeros(0, dtype=np.int64))
    starts_by_level, reach_by_level, eligible, unit = _chain_levels(rows, spec)
    if levels_only:  # the furthest level any row of the unit completes (every unit has rows)
        row_level = np.zeros(n, dtype=np.int8)
        for j, sl in enumerate(starts_by_level, start=1):
            row_level[sl >= 0] = j
        level = np.maximum.reduceat(row_level, rows.starts[:-1]).astype(np.int64)
        empty = np.zeros(0, dtype=np.int64)
        return _Levels(level, empty, empty, empty)
    for j, sl in enumerate(starts_by_level, start=1):
        earliest = _first_per_unit(sl >= 0, unit, n_units)
        has = earliest >= 0
        level[has] = j
        start_row[has] = sl[earliest[has]]
        reach_row[has] = earliest[has] if reach_by_level is None else reach_by_level[j - 1][earliest[has]]
    last = _first_per_unit(eligible, unit, n_units, last=True)
    last_start_t = np.where(last >= 0, rows.t[np.maximum(last, 0)], np.iinfo(np.int64).min)
    return _Levels(level, start_row, reach_row, last_start_t)


def _anchored(rows: UnitRows, spec: FunnelSpec, lo: int, hi: int, anchor: int) -> tuple[int, int]:
    """Totals mode: the level and reaching row of a chain that starts at row ``anchor``, using rows
    ``lo:hi`` (the anchor's instant up to the end of its window)."""
    k = len(spec.steps)
    t, bits = rows.t, rows.bits
    idx = np.arange(lo, hi)
    if spec.mode == "any":
        level, reach, reach_t = 0, anchor, t[anchor]
        for s in range(k):
            has = idx[((bits[lo:hi] >> s) & 1).astype(bool)]
            if not len(has):
                break
            level = s + 1
            if t[has[0]] > reach_t or s == 0:
                reach, reach_t = int(has[0]), t[has[0]]
        return level, reach
    reach_t = np.array([t[anchor]])
    reach_rows = np.array([anchor])
    level = 1
    for i in range(1, k):
        cand = idx[((bits[lo:hi] >> i) & 1).astype(bool)]
        if not len(cand):
            break
        tc = t[cand]
        j = np.searchsorted(reach_t, tc, side="right") - 1
        ok = j >= 0
        lower = np.full(len(cand), np.iinfo(np.int64).min, dtype=np.int64)
        w = spec.step_windows[i - 1]
        if w is not None:
            lower = tc - w * 1_000_000
        if spec.mode == "strict":
            lower = np.maximum(lower, rows.prev_t[cand])
        ok &= reach_t[np.maximum(j, 0)] >= lower
        if not ok.any():
            break
        reach_t, reach_rows = tc[ok], cand[ok]
        level = i + 1
    return level, int(reach_rows[0])


def _entries_totals(rows: UnitRows, spec: FunnelSpec):
    """Totals mode: every entry of every unit (re-entry after completion or window expiry)."""
    k = len(spec.steps)
    window_us = spec.window_seconds * 1_000_000
    if spec.mode == "any":
        eligible = rows.entry & (rows.bits != 0)
    else:
        eligible = rows.entry & ((rows.bits & 1) == 1)
    units, levels, start_rows, reach_rows = [], [], [], []
    t = rows.t
    for u in range(len(rows.starts) - 1):
        s, e = int(rows.starts[u]), int(rows.starts[u + 1])
        cand = s + np.flatnonzero(eligible[s:e])
        if not len(cand):
            continue
        ts = t[s:e]
        pos = 0
        while pos < len(cand):
            a = int(cand[pos])
            ta = t[a]
            lo = s + int(np.searchsorted(ts, ta, side="left"))
            hi = s + int(np.searchsorted(ts, ta + window_us, side="right"))
            level, reach = _anchored(rows, spec, lo, hi, a)
            end = t[reach] if level == k else ta + window_us
            if level > 0:
                units.append(u)
                levels.append(level)
                start_rows.append(a)
                reach_rows.append(reach)
            pos = int(np.searchsorted(t[cand], end, side="right"))
    as_arr = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    return as_arr(units), as_arr(levels), as_arr(start_rows), as_arr(reach_rows)


# -- statistics -----------------------------------------------------------------------------------
def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float | None, float | None]:
    """Pooled two-proportion z-test of x1/n1 vs x2/n2: ``(z, two-sided p)``; None without variance."""
    from scipy.stats import norm

    if n1 <= 0 or n2 <= 0:
        return None, None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None, None
    z = (x1 / n1 - x2 / n2) / se
    return z, float(2 * norm.sf(abs(z)))


def _rate(num: int, den: int) -> float | None:
    return num / den if den > 0 else None


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


# -- the portable definition (ibis window functions only; DuckDB and Spark) -----------------------
def portable_levels(source, spec: FunnelSpec, filters: Filters | None = None):
    """Per user, the furthest step reached (users mode), as one ibis query.

    Written only with window functions over ``(user[, held value], t)`` so the same query runs on
    every engine; equal to the numpy kernels (tests prove it). Returns a DataFrame
    ``user_id, level`` (users that reached step 1 only).
    """
    if spec.count != "users":
        raise BadInput("the portable funnel counts users; totals need the numpy kernel", code="bad_count")
    filters = filters or Filters()
    k = len(spec.steps)
    ev = _annotated(source, spec, filters)
    keys = _unit_keys(spec)
    window_us = spec.window_seconds * 1_000_000

    def has(i):
        return ((ev.steps // (1 << i)) % 2) == 1

    ev = ev.mutate(**{f"b{i}": has(i) for i in range(k)})
    if spec.mode == "any":
        for s in range(k):
            nxt = ibis.ifelse(ev[f"b{s}"], ev.t, ibis.null("int64")).min().over(
                ibis.window(group_by=[ev[c] for c in keys], order_by=ev.t, range=(0, None))
            )
            ev = ev.mutate(**{f"n{s}": nxt})
        level = ibis.literal(0)
        for j in range(1, k + 1):
            anyb = (ev.steps % (1 << j)) != 0
            allv = ibis.literal(True)
            for s in range(j):
                allv = allv & ev[f"n{s}"].notnull()
            last = ibis.greatest(*[ev[f"n{s}"] for s in range(j)]) if j > 1 else ev["n0"]
            ok = ev.entry & anyb & allv & ((last - ev.t) <= window_us)
            level = ibis.ifelse(ok.fill_null(False), j, level)
        ev = ev.mutate(level=level)
    else:
        ev = ev.mutate(f0=ibis.ifelse(ev.b0 & ev.entry, ev.t, ibis.null("int64")))
        for i in range(1, k):
            w = spec.step_windows[i - 1]
            prev = ev[f"f{i - 1}"]
            if spec.mode == "strict":
                # the best start among the rows at this instant and, when nothing else of the user
                # happened in between, the unit's previous instant
                per_instant = ev.group_by([*keys, "t"]).aggregate(best=prev.max())
                win = ibis.window(group_by=[per_instant[c] for c in keys], order_by=per_instant.t)
                per_instant = per_instant.mutate(
                    prev_instant=per_instant.t.lag().over(win), prev_best=per_instant.best.lag().over(win)
                )
                ev = ev.inner_join(per_instant, [*keys, "t"])
                ok_prev = (ev.prev_instant == ev.prev_t).fill_null(False)
                if w is not None:
                    ok_prev = ok_prev & ((ev.t - ev.prev_t) <= w * 1_000_000)
                none = -(1 << 62)
                g = ibis.greatest(
                    ev.best.fill_null(none), ibis.ifelse(ok_prev, ev.prev_best.fill_null(none), none)
                )
                g = ibis.ifelse(g > none, g, ibis.null("int64"))
                ev = ev.mutate(g=g).drop("best", "prev_instant", "prev_best")
                g = ev.g
            else:
                frame = (None, 0) if w is None else (-w * 1_000_000, 0)
                g = prev.max().over(ibis.window(group_by=[ev[c] for c in keys], order_by=ev.t, range=frame))
            ok = (ev[f"b{i}"] & g.notnull() & ((ev.t - g) <= window_us)).fill_null(False)
            ev = ev.mutate(**{f"f{i}": ibis.ifelse(ok, g, ibis.null("int64"))})
            if "g" in ev.columns:
                ev = ev.drop("g")
        level = ibis.literal(0)
        for i in range(k):
            level = ibis.ifelse(ev[f"f{i}"].notnull(), i + 1, level)
        ev = ev.mutate(level=level)
    per_user = ev.group_by("user_id").aggregate(level=ev.level.max())
    return source.execute(per_user.filter(per_user.level > 0))
