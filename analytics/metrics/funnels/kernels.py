"""The funnel kernels, vectorised with numpy over every unit at once (numpy releases the GIL).

Users mode finds, step after step, the rows reaching each step and the start of their best chain
(row numbers, sorted: a step costs about its own rows, not every row); its units are split over
threads. Totals mode advances every unit by one entry per round.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import numpy as np

from analytics.metrics.funnels.spec import FunnelSpec
from analytics.query.layer import UnitRows


# -- the kernels: the rows reaching each level, vectorised over all units --------------------------
@dataclass(frozen=True)
class _Levels:
    """Per unit: furthest level (0..k), the start row and the row that reached that level (of the
    chain that reached it first: the unit's entry)."""

    level: np.ndarray
    start_row: np.ndarray
    reach_row: np.ndarray


class _Peers:
    """The rows of one instant of a unit: a row followed by a run of rows at its time (the runs'
    first and last rows, sorted; no run: every row is alone at its instant)."""

    def __init__(self, rows: UnitRows):
        t = rows.t
        tie = np.flatnonzero(t[1:] == t[:-1]) + 1
        if len(tie):
            tie = tie[rows.starts[np.searchsorted(rows.starts, tie)] != tie]  # a unit's first row starts an instant
        brk = np.flatnonzero(np.diff(tie) != 1)
        self.first = tie[np.r_[0, brk + 1]] if len(tie) else tie
        self.last = tie[np.r_[brk, len(tie) - 1]] if len(tie) else tie

    def last_peer(self, q: np.ndarray) -> np.ndarray:
        """The last row at the instant of each row ``q`` (of its unit)."""
        if not len(self.first):
            return q
        r = np.searchsorted(self.first, q + 1, side="right") - 1
        end = self.last[np.maximum(r, 0)]
        return np.where((r >= 0) & (q < end), end, q)

    def first_peer(self, q: np.ndarray) -> np.ndarray:
        """The first row at the instant of each row ``q`` (of its unit)."""
        if not len(self.first):
            return q
        r = np.searchsorted(self.first, q, side="right") - 1
        rc = np.maximum(r, 0)
        return np.where((r >= 0) & (q <= self.last[rc]), self.first[rc] - 1, q)


def _count_below(values: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    """``np.searchsorted(values, x)``: how many of the sorted distinct ``values`` (each in 0..n)
    are below each ``x`` (in 0..n); a binary search each for a few ``x``, one running count for many."""
    if len(x) * 4 < n:
        return np.searchsorted(values, x)
    mark = np.zeros(n + 1, dtype=bool)
    mark[values] = True
    below = np.zeros(n + 2, dtype=np.int32 if n < 2**31 - 2 else np.int64)
    np.cumsum(mark, dtype=below.dtype, out=below[1:])
    return below[x]


def _unit_of(rows: UnitRows, q: np.ndarray) -> np.ndarray:
    """The unit of each row ``q``; by a binary search each for a few rows, from every row's unit for many."""
    if len(q) * 4 < len(rows.t):
        return np.searchsorted(rows.starts, q, side="right") - 1
    return np.repeat(np.arange(len(rows.starts) - 1), np.diff(rows.starts))[q]


def _step_rows(rows: UnitRows, i: int) -> np.ndarray:
    return np.flatnonzero((rows.bits & (1 << i)) != 0)


#: Per level: the rows reaching it (sorted), the start row of the chain each row belongs to, and
#: the row completing the level (``None``: the row itself).
_Reached = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def _extend(rows: UnitRows, peers: _Peers, spec: FunnelSpec, prev: tuple[np.ndarray, np.ndarray], i: int,
            q: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows (of ``q``; default every row of step ``i``) reaching step ``i`` after a chain of
    ``prev`` (rows reaching step ``i - 1``, sorted, and their chains' start rows), with the start
    of the best chain each (the latest start: the window is the tightest).

    Along the rows the starts of ``prev`` never decrease, so the best chain before a row is the
    last row of ``prev`` up to the row's instant; it counts when it is in the row's unit, its start
    is inside the window, its step inside the step's window, and (strict) at the row's instant or
    the unit's previous one.
    """
    p_rows, p_start = prev
    q = _step_rows(rows, i) if q is None else q
    if not len(p_rows) or not len(q):
        return q[:0], q[:0]
    j = _count_below(p_rows, peers.last_peer(q) + 1, len(rows.t)) - 1
    has = j >= 0
    j = np.maximum(j, 0)
    g = p_start[j]
    t, tq = rows.t, rows.t[q]
    ok = has & (g >= rows.starts[_unit_of(rows, q)]) & (tq - t[g] <= spec.window_seconds * 1_000_000)
    w = spec.step_windows[i - 1]
    if w is not None or spec.mode == "strict":
        tp = t[p_rows[j]]
        if w is not None:
            ok &= tq - tp <= w * 1_000_000
        if spec.mode == "strict":  # the previous step at this instant or the unit's previous one
            ok &= (tp == tq) | (tp >= rows.prev_t[q])
    return q[ok], g[ok]


def _chain_levels(rows: UnitRows, spec: FunnelSpec) -> list[_Reached]:
    """Per level j (1..k), the rows reaching it (:data:`_Reached`)."""
    peers = _Peers(rows)
    if spec.mode == "any":
        return _any_levels(rows, spec, peers)
    first = np.flatnonzero(rows.entry & ((rows.bits & 1) != 0))
    level = (first, first)
    out: list[_Reached] = [(first, first, None)]
    for i in range(1, len(spec.steps)):
        level = _extend(rows, peers, spec, level, i)
        out.append((*level, None))
    return out


def _any_levels(rows: UnitRows, spec: FunnelSpec, peers: _Peers) -> list[_Reached]:
    """``any`` mode: a row (of a step up to level j) starts a chain reaching level j when, from its
    instant on in its unit, each of the first j steps has a row inside the window; the chain is
    completed by the latest of those rows (the first of each step)."""
    k = len(spec.steps)
    cand = np.flatnonzero(rows.entry & (rows.bits != 0))
    t, tc, bc = rows.t, rows.t[cand], rows.bits[cand]
    from_row = peers.first_peer(cand)
    end = rows.starts[_unit_of(rows, cand) + 1]
    nexts = []
    for s in range(k):
        rows_s = _step_rows(rows, s)
        if not len(rows_s):
            nexts.append(np.full(len(cand), -1, dtype=np.int64))
            continue
        j = _count_below(rows_s, from_row, len(rows.t))
        at = rows_s[np.minimum(j, len(rows_s) - 1)]
        nexts.append(np.where((j < len(rows_s)) & (at < end), at, -1))
    out: list[_Reached] = []
    lowest = np.iinfo(np.int64).min
    for j in range(1, k + 1):
        ok = (bc & ((1 << j) - 1)) != 0
        last = np.full(len(cand), -1, dtype=np.int64)
        last_t = np.full(len(cand), lowest, dtype=np.int64)
        for s in range(j):
            ns = nexts[s]
            ok &= ns >= 0
            ts = np.where(ns >= 0, t[np.maximum(ns, 0)], lowest)
            last = np.where(ts > last_t, ns, last)
            last_t = np.maximum(last_t, ts)
        ok &= (last_t - tc) <= spec.window_seconds * 1_000_000
        out.append((cand[ok], cand[ok], last[ok]))
    return out


#: Rows from which the users-mode kernel splits the units over threads (numpy releases the GIL).
PARALLEL_ROWS: Final[int] = 1_000_000
#: Threads of that split: one per core, at most 8.
WORKERS: Final[int] = min(os.cpu_count() or 1, 8)


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
    workers = workers if workers is not None else WORKERS
    if workers < 2 or len(rows.t) < PARALLEL_ROWS or n_units < workers:
        return _unit_levels_serial(rows, spec, levels_only)
    cuts = np.searchsorted(rows.starts, np.linspace(0, len(rows.t), workers + 1)[1:-1])
    bounds = [0, *sorted({int(c) for c in cuts} - {0, n_units}), n_units]
    parts = list(itertools.pairwise(bounds))
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
    )


def _unit_levels_serial(rows: UnitRows, spec: FunnelSpec, levels_only: bool = False) -> _Levels:
    n_units = len(rows.starts) - 1
    level = np.zeros(n_units, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if levels_only:
        start_row = reach_row = empty
    else:
        start_row = np.full(n_units, -1, dtype=np.int64)
        reach_row = np.full(n_units, -1, dtype=np.int64)
    if len(rows.t) == 0:
        return _Levels(level, start_row, reach_row)
    levels = _chain_levels(rows, spec)
    for j, (reached, start, reach) in enumerate(levels, start=1):
        at = np.searchsorted(reached, rows.starts)  # each unit's first row reaching level j
        has = at[1:] > at[:-1]
        level[has] = j
        if not levels_only:
            first = at[:-1][has]
            start_row[has] = start[first]
            reach_row[has] = (reached if reach is None else reach)[first]
    return _Levels(level, start_row, reach_row)


def _first_later(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, value: np.ndarray) -> np.ndarray:
    """For each i, the first position in ``lo[i]:hi[i]`` where ``t`` (sorted there) is above
    ``value[i]`` (``hi[i]`` if none): one binary search for all i at once."""
    lo, hi = lo.copy(), hi.copy()
    open_ = np.flatnonzero(lo < hi)
    while len(open_):
        mid = (lo[open_] + hi[open_]) // 2
        right = t[mid] <= value[open_]
        lo[open_[right]] = mid[right] + 1
        hi[open_[~right]] = mid[~right]
        open_ = open_[lo[open_] < hi[open_]]
    return lo


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenated positions ``lo[i]:hi[i]`` for every i."""
    size = hi - lo
    ends = np.cumsum(size)
    return np.arange(int(ends[-1]) if len(ends) else 0) + np.repeat(lo - ends + size, size)


def _from_anchors(rows: UnitRows, spec: FunnelSpec, peers: _Peers, step_rows: list[np.ndarray],
                  anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Totals mode: the level and the reaching row of the chain that starts at each anchor (rows of
    distinct units, sorted), using the rows from the anchor's instant to the end of its window."""
    k, n, t = len(spec.steps), len(rows.t), rows.t
    since = peers.first_peer(anchors)
    until = _first_later(t, since, rows.starts[_unit_of(rows, anchors) + 1], t[anchors] + spec.window_seconds * 1_000_000)
    level = np.zeros(len(anchors), dtype=np.int64)
    reach = anchors.copy()
    if spec.mode == "any":  # the first j steps each have a row; the latest first row completes them
        reach_t = t[anchors]
        going = np.ones(len(anchors), dtype=bool)
        for s, rows_s in enumerate(step_rows):
            lo = _count_below(rows_s, since, n)
            found = going & (lo < _count_below(rows_s, until, n))
            first = rows_s[np.minimum(lo, len(rows_s) - 1)] if len(rows_s) else lo
            later = found & ((t[first] > reach_t) | (s == 0)) if len(rows_s) else found
            reach = np.where(later, first, reach)
            reach_t = np.where(later, t[first], reach_t)
            level[found] = s + 1
            going = found
        return level, reach
    level[:] = 1
    chain = (anchors, anchors)  # rows reaching the step so far, and their anchors
    for i in range(1, k):
        rows_i = step_rows[i]
        q = rows_i[_ranges(_count_below(rows_i, since, n), _count_below(rows_i, until, n))]
        chain = _extend(rows, peers, spec, chain, i, q)
        if not len(chain[0]):
            break
        new = np.ones(len(chain[1]), dtype=bool)  # the first row reaching the step from each anchor
        new[1:] = chain[1][1:] != chain[1][:-1]
        at = np.searchsorted(anchors, chain[1][new])
        level[at] = i + 1
        reach[at] = chain[0][new]
    return level, reach


def _entries_totals(rows: UnitRows, spec: FunnelSpec):
    """Totals mode: every entry of every unit (re-entry after completion or window expiry): each
    unit's first eligible row starts an entry, which ends when it completes (or its window
    expires), and the unit's first eligible row after that end starts the next. All units go
    forward together, one entry each per round."""
    k, t = len(spec.steps), rows.t
    window_us = spec.window_seconds * 1_000_000
    peers = _Peers(rows)
    step_rows = [_step_rows(rows, i) for i in range(k)]
    eligible = np.flatnonzero(rows.entry & ((rows.bits != 0) if spec.mode == "any" else ((rows.bits & 1) != 0)))
    eligible_t = t[eligible]
    first = np.searchsorted(eligible, rows.starts)  # each unit's eligible rows: first[u]:first[u + 1]
    units = np.flatnonzero(first[1:] > first[:-1])
    at = first[units]  # position in ``eligible`` of each unit's next anchor
    found: list[tuple[np.ndarray, ...]] = []
    while len(at):
        anchors = eligible[at]
        level, reach = _from_anchors(rows, spec, peers, step_rows, anchors)
        entered = level > 0
        found.append((units[entered], level[entered], anchors[entered], reach[entered]))
        end = np.where(level == k, t[reach], t[anchors] + window_us)
        nxt = _first_later(eligible_t, at + 1, first[units + 1], end)
        more = nxt < first[units + 1]
        units, at = units[more], nxt[more]
    if not found:
        return tuple(np.zeros(0, dtype=np.int64) for _ in range(4))
    unit, level, start, reach = (np.concatenate(c).astype(np.int64) for c in zip(*found))
    order = np.argsort(start, kind="stable")  # by unit, then entry (rows are sorted by unit and time)
    return unit[order], level[order], start[order], reach[order]
