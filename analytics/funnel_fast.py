"""DuckDB fast path for funnels: all events sorted by (user, time) once per data version, in memory.

Funnels whose steps are plain event types (no conditions), with no hold column and no breakdown,
under at most a date filter, need only ``user_id``, ``event_time`` and ``event_type``. This module
keeps those three columns of every event, grouped by user and sorted by time, as numpy arrays (13
bytes an event) and answers such funnels without touching the database again, apart from a
checksum that proves the cached copy is still the data (row count and the sum of a hash of every
row's three columns, plus the uploads registry's :meth:`~analytics.storage.Store.data_version`).

It produces exactly the rows :func:`analytics.funnels._fetch_rows` would (tests prove both paths
give the same funnels); the portable definition stays :func:`analytics.funnels.portable_levels`.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.filters import Filters
from analytics.schema import EVENT_TYPES
from analytics.storage import Store

if TYPE_CHECKING:
    from analytics.funnels import FunnelSpec, _Rows

TYPE_BITS = 4  # codes 0..12 for EVENT_TYPES, 15 for anything else
OTHER = (1 << TYPE_BITS) - 1


@dataclass(frozen=True)
class EventIndex:
    """Every event's user, time (µs since 1970) and type code, grouped by user, sorted by time."""

    token: tuple[Any, ...]
    user_ids: pa.Array
    starts: np.ndarray
    t: np.ndarray
    type_code: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.t.nbytes + self.type_code.nbytes + self.starts.nbytes + self.user_ids.nbytes)


MAX_STORES = 2  # indexes kept at once (one per database file)
_CACHE: dict[Path, EventIndex] = {}
_LOCK = threading.Lock()


def applicable(spec: "FunnelSpec", filters: Filters) -> bool:
    """Whether the index can answer ``spec`` under ``filters``."""
    return (
        all(not s.conditions for s in spec.steps)
        and spec.hold is None
        and spec.breakdown is None
        and not (filters.channels or filters.campaigns or filters.categories)
    )


def _token(store: Store) -> tuple[Any, ...]:
    count, checksum = store.query(
        "SELECT count(*), coalesce(sum(hash(user_id, event_type, event_time)), 0) FROM events"
    ).rows[0]
    return (store.data_version(), int(count), int(checksum))


def _build(store: Store, token: tuple[Any, ...]) -> EventIndex:
    from analytics.funnels import _sort_within_units

    code = "CASE event_type " + " ".join(f"WHEN '{e}' THEN {i}" for i, e in enumerate(EVENT_TYPES)) + f" ELSE {OTHER} END"
    table = store.arrow(
        f"SELECT user_id, list(epoch_us(event_time) * {1 << TYPE_BITS} + {code}) AS p FROM events "
        "WHERE event_time IS NOT NULL GROUP BY user_id"
    )
    lists = table.column("p").combine_chunks()
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    p = _sort_within_units(np.asarray(pc.list_flatten(lists).to_numpy(zero_copy_only=False), dtype=np.int64), starts, TYPE_BITS)
    return EventIndex(
        token=token,
        user_ids=table.column("user_id").combine_chunks(),
        starts=starts,
        t=p >> TYPE_BITS,
        type_code=(p & OTHER).astype(np.int8),
    )


def event_index(store: Store) -> EventIndex:
    """The index of ``store``'s events, rebuilt when the checksum says the data changed."""
    token = _token(store)
    with _LOCK:
        index = _CACHE.get(store.path)
        if index is None or index.token != token:
            _CACHE.pop(store.path, None)
            while len(_CACHE) >= MAX_STORES:  # keep the most recently built ones
                _CACHE.pop(next(iter(_CACHE)))
            index = _CACHE[store.path] = _build(store, token)
        return index


def clear() -> None:
    """Forget every cached index (frees the memory)."""
    with _LOCK:
        _CACHE.clear()


def _us(moment: dt.datetime) -> int:
    return int((moment - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1))


def fetch_rows(store: Store, spec: "FunnelSpec", filters: Filters) -> "_Rows":
    """The same rows as :func:`analytics.funnels._fetch_rows`, cut from the cached index."""
    from analytics.funnels import _Rows

    index = event_index(store)
    start, end = filters.utc_bounds()
    t, code = index.t, index.type_code
    unit = np.repeat(np.arange(len(index.starts) - 1, dtype=np.int64), np.diff(index.starts))
    keep = np.ones(len(t), dtype=bool)
    if start is not None:
        keep &= t >= _us(start)
    if end is not None:
        keep &= t < _us(end) + spec.window_seconds * 1_000_000
    bits = np.zeros(len(t), dtype=np.int64)
    for i, step in enumerate(spec.steps):
        bits |= (code == EVENT_TYPES.index(step.event_type)).astype(np.int64) << i
    prev_t = None
    if spec.mode == "strict":  # the user's previous distinct event time among the kept events
        kt, ku = t[keep], unit[keep]
        change = np.ones(len(kt), dtype=bool)
        change[1:] = (kt[1:] != kt[:-1]) | (ku[1:] != ku[:-1])
        first_of_user = np.ones(len(kt), dtype=bool)
        first_of_user[1:] = ku[1:] != ku[:-1]
        group_start = np.maximum.accumulate(np.where(change, np.arange(len(kt)), 0))
        before = group_start - 1
        prev_kept = np.where(
            (group_start > 0) & ~first_of_user[group_start], kt[np.maximum(before, 0)], -(1 << 62)
        )
        prev_t = np.full(len(t), -(1 << 62), dtype=np.int64)
        prev_t[keep] = prev_kept
    keep &= bits != 0
    t, bits, unit = t[keep], bits[keep], unit[keep]
    if prev_t is not None:
        prev_t = prev_t[keep]
    entry = t < _us(end) if end is not None else np.ones(len(t), dtype=bool)
    kept_units = np.unique(unit) if len(unit) else np.zeros(0, dtype=np.int64)
    lengths = np.bincount(np.searchsorted(kept_units, unit), minlength=len(kept_units)) if len(unit) else np.zeros(0, np.int64)
    starts = np.zeros(len(kept_units) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    users = index.user_ids.take(pa.array(kept_units, type=pa.int64()))
    return _Rows(
        keys=pa.table({"user_id": users}),
        starts=starts,
        t=t,
        bits=bits,
        entry=entry,
        prev_t=prev_t,
        segment=None,
    )

