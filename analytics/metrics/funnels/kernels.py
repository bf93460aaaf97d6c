"""The funnel kernels: per-row chain states of every unit, vectorised with numpy (threads over users)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import numpy as np

from analytics.metrics.funnels.spec import FunnelSpec
from analytics.query.layer import UnitRows


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
