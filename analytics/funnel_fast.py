"""DuckDB fast path for funnels: all events sorted by (user, time) once per data version, in memory.

Funnels whose steps are plain event types (no conditions), with no hold column and no breakdown,
under at most a date filter, need only ``user_id``, ``event_time`` and ``event_type``. This module
keeps those three columns of every event, grouped by user and sorted by time, as numpy arrays (17
bytes an event) and answers such funnels without touching the database again, apart from a
checksum that proves the cached copy is still the data (row count and the XOR of a hash of every
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
    unit: np.ndarray  # int32: the user (row of user_ids) of every event

    @property
    def nbytes(self) -> int:
        arrays = (self.t, self.type_code, self.starts, self.unit)
        return int(sum(a.nbytes for a in arrays) + self.user_ids.nbytes)


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
        "SELECT count(*), coalesce(bit_xor(hash(user_id, event_type, event_time)), 0) FROM events"
    ).rows[0]
    return (store.data_version(), int(count), int(checksum))


def _build(store: Store, token: tuple[Any, ...]) -> EventIndex:
    """Fetch every event once (user, packed time and type), number the users, sort by both."""
    code = "CASE event_type " + " ".join(f"WHEN '{e}' THEN {i}" for i, e in enumerate(EVENT_TYPES)) + f" ELSE {OTHER} END"
    table = store.arrow(
        f"SELECT user_id, epoch_us(event_time) * {1 << TYPE_BITS} + {code} AS p FROM events "
        "WHERE event_time IS NOT NULL AND user_id IS NOT NULL"
    )
    users = pc.dictionary_encode(table.column("user_id")).combine_chunks()
    unit = users.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    p = np.asarray(table.column("p").to_numpy(), dtype=np.int64)
    lengths = np.bincount(unit, minlength=len(users.dictionary)) if len(unit) else np.zeros(0, dtype=np.int64)
    order_key = None
    if len(p):
        t = p >> TYPE_BITS
        t0 = int(t.min())
        step = int(np.gcd.reduce(t - t0)) or 1
        q = (t - t0) // step
        t_bits = max(int(q.max()).bit_length(), 1)
        u_bits = max(int(len(lengths)).bit_length(), 1)
        if u_bits + t_bits + TYPE_BITS <= 62:  # one int64 key: user, time, type
            order_key = (unit << (t_bits + TYPE_BITS)) | (q << TYPE_BITS) | (p & OTHER)
            order_key.sort()
            unit = order_key >> (t_bits + TYPE_BITS)
            p = ((((order_key >> TYPE_BITS) & ((1 << t_bits) - 1)) * step + t0) << TYPE_BITS) | (order_key & OTHER)
        else:
            order = np.lexsort((p, unit))
            unit, p = unit[order], p[order]
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return EventIndex(
        token=token,
        user_ids=users.dictionary,
        starts=starts,
        t=p >> TYPE_BITS,
        type_code=(p & OTHER).astype(np.int8),
        unit=unit.astype(np.int32),
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


def has_index(store: Store) -> bool:
    """Whether this process holds an index (current or not) for ``store``'s file."""
    with _LOCK:
        return store.path in _CACHE


def clear() -> None:
    """Forget every cached index (frees the memory)."""
    with _LOCK:
        _CACHE.clear()


def _us(moment: dt.datetime) -> int:
    return int((moment - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1))


def fetch_rows(store: Store, spec: "FunnelSpec", filters: Filters, index: EventIndex | None = None) -> "_Rows":
    """The same rows as :func:`analytics.funnels._fetch_rows`, cut from the cached index."""
    from analytics.funnels import _Rows

    index = index or event_index(store)
    start, end = filters.utc_bounds()
    lut = np.zeros(1 << TYPE_BITS, dtype=np.uint8)  # type code -> step bits
    for i, step in enumerate(spec.steps):
        lut[EVENT_TYPES.index(step.event_type)] |= 1 << i
    lo = _us(start) if start is not None else None
    hi = _us(end) + spec.window_seconds * 1_000_000 if end is not None else None
    in_time = None
    if lo is not None or hi is not None:
        in_time = np.ones(len(index.t), dtype=bool)
        if lo is not None:
            in_time &= index.t >= lo
        if hi is not None:
            in_time &= index.t < hi
    bits_all = lut[index.type_code]
    prev_all = None
    if spec.mode == "strict":
        prev_all = _previous_instants(index, in_time)
    keep = bits_all != 0
    if in_time is not None:
        keep &= in_time
    rows = np.flatnonzero(keep)
    t = index.t[rows]
    unit = index.unit[rows]
    edge = np.ones(len(rows), dtype=bool)
    if len(rows):
        np.not_equal(unit[1:], unit[:-1], out=edge[1:])
    heads = np.flatnonzero(edge)
    starts = np.append(heads, len(rows)).astype(np.int64)
    kept_units = unit[heads].astype(np.int64)
    return _Rows(
        keys=pa.table({"user_id": index.user_ids.take(pa.array(kept_units, type=pa.int64()))}),
        starts=starts,
        t=t,
        bits=bits_all[rows].astype(np.int64),
        entry=t < _us(end) if end is not None else np.ones(len(rows), dtype=bool),
        prev_t=None if prev_all is None else prev_all[rows],
        segment=None,
    )


def _previous_instants(index: EventIndex, in_time: np.ndarray | None) -> np.ndarray:
    """For every event, the user's previous distinct event time among the events in the date
    bounds (the strict mode's "nothing in between" test); a large negative number if none."""
    none = -(1 << 62)
    out = np.full(len(index.t), none, dtype=np.int64)
    sel = np.flatnonzero(in_time) if in_time is not None else np.arange(len(index.t))
    kt, ku = index.t[sel], index.unit[sel]
    if not len(kt):
        return out
    change = np.ones(len(kt), dtype=bool)
    change[1:] = (kt[1:] != kt[:-1]) | (ku[1:] != ku[:-1])
    group_start = np.maximum.accumulate(np.where(change, np.arange(len(kt)), 0))
    before = np.maximum(group_start - 1, 0)
    same_user = (group_start > 0) & (ku[before] == ku)
    out[sel] = np.where(same_user, kt[before], none)
    return out
