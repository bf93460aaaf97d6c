"""Accelerator: every event sorted by (user, time) once per data version, in memory (DuckDB).

Funnels without a hold column and without a breakdown need, besides ``user_id``, ``event_time``
and ``event_type``, at most a few more columns: those their step conditions test and those the
channel, campaign and category filters test. This module keeps the three columns of every event,
grouped by user and sorted by time, as numpy arrays (17 bytes an event, plus 8 for the row map),
fetches any further column the first time a funnel needs it (aligned through DuckDB's ``rowid``;
4 bytes an event for a text column, 8 for a number) and answers such funnels without touching the
database again, apart from a checksum that proves the cached copy is still the data (row count and
the XOR of a hash of every row's id and three columns, plus the uploads registry's
:meth:`~analytics.store.storage.Store.data_version`).

It produces exactly the rows :func:`analytics.metrics.funnels._fetch_rows` would (tests prove both paths
give the same funnels); the portable definition stays :func:`analytics.metrics.funnels.portable_levels`.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.query.definitions import views_with_ratio
from analytics.query.filters import FIELDS, Filters, matching_items
from analytics.query.layer import Accelerator, FunnelEvents, UnitRows
from analytics.store.schema import EVENT_TYPES
from analytics.store.storage import Store

TYPE_BITS = 4  # codes 0..12 for EVENT_TYPES, 15 for anything else
OTHER = (1 << TYPE_BITS) - 1
_EVENT_ROWS = "event_time IS NOT NULL AND user_id IS NOT NULL"  # the events a funnel can use
TEXT_COLUMNS = ("channel", "campaign", "variant", "item_id", "course_id")
NUMBER_COLUMNS = ("watch_seconds", "video_seconds", "revenue", "lesson")


@dataclass(frozen=True)
class EventIndex:
    """Every event's user, time (µs since 1970) and type code, grouped by user, sorted by time."""

    token: tuple[Any, ...]
    user_ids: pa.Array
    starts: np.ndarray
    t: np.ndarray
    type_code: np.ndarray
    unit: np.ndarray  # int32: the user (row of user_ids) of every event
    rowid: np.ndarray  # int64: DuckDB's rowid of every event (aligns columns fetched later)
    columns: dict[str, Any] = field(default_factory=dict)  # fetched on demand, see :func:`_column`

    @property
    def nbytes(self) -> int:
        arrays = [self.t, self.type_code, self.starts, self.unit, self.rowid]
        for value in self.columns.values():
            arrays += [value[0]] if isinstance(value, tuple) else [value]
        return int(sum(a.nbytes for a in arrays) + self.user_ids.nbytes)


MAX_STORES = 2  # indexes kept at once (one per database file)
_CACHE: dict[Path, EventIndex] = {}
_LOCK = threading.Lock()


def _token(store: Store) -> tuple[Any, ...]:
    count, checksum = store.query(
        "SELECT count(*), coalesce(bit_xor(hash(rowid, user_id, event_type, event_time)), 0) FROM events"
    ).rows[0]
    return (store.data_version(), int(count), int(checksum))


def _build(store: Store, token: tuple[Any, ...]) -> EventIndex:
    """Fetch every event once (user, packed time and type), number the users, sort by both."""
    code = "CASE event_type " + " ".join(f"WHEN '{e}' THEN {i}" for i, e in enumerate(EVENT_TYPES)) + f" ELSE {OTHER} END"
    table = store.arrow(
        f"SELECT rowid AS r, user_id, epoch_us(event_time) * {1 << TYPE_BITS} + {code} AS p FROM events "
        f"WHERE {_EVENT_ROWS}"
    )
    users = pc.dictionary_encode(table.column("user_id")).combine_chunks()
    unit = users.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    p = np.asarray(table.column("p").to_numpy(), dtype=np.int64)
    rowid = np.asarray(table.column("r").to_numpy(), dtype=np.int64)
    lengths = np.bincount(unit, minlength=len(users.dictionary)) if len(unit) else np.zeros(0, dtype=np.int64)
    if len(p):
        t = p >> TYPE_BITS
        t0 = int(t.min())
        step = int(np.gcd.reduce(t - t0)) or 1
        q = (t - t0) // step
        t_bits = max(int(q.max()).bit_length(), 1)
        u_bits = max(int(len(lengths)).bit_length(), 1)
        if u_bits + t_bits + TYPE_BITS <= 62:  # one int64 key: user, time, type
            order = np.argsort((unit << (t_bits + TYPE_BITS)) | (q << TYPE_BITS) | (p & OTHER), kind="stable")
        else:
            order = np.lexsort((p, unit))
        unit, p, rowid = unit[order], p[order], rowid[order]
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return EventIndex(
        token=token,
        user_ids=users.dictionary,
        starts=starts,
        t=p >> TYPE_BITS,
        type_code=(p & OTHER).astype(np.int8),
        unit=unit.astype(np.int32),
        rowid=rowid,
    )


def event_index(store: Store, token: tuple[Any, ...] | None = None) -> EventIndex:
    """The index of ``store``'s events, rebuilt when the checksum (``token``, computed when not
    given) says the data changed."""
    token = token or _token(store)
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


_COLUMN_LOCK = threading.Lock()


def _positions(index: EventIndex) -> np.ndarray:
    """rowid -> position of that event in the index (-1: not an indexed event)."""
    pos = index.columns.get("_pos")
    if pos is None:
        pos = np.full(int(index.rowid.max()) + 1 if len(index.rowid) else 0, -1, dtype=np.int32)
        pos[index.rowid] = np.arange(len(index.rowid), dtype=np.int32)
        index.columns["_pos"] = pos
    return pos


def _rows_of(index: EventIndex, table: pa.Table) -> np.ndarray:
    """Index positions of ``table``'s rows (its column ``r`` holds their rowids)."""
    return _positions(index)[np.asarray(table.column("r").to_numpy(), dtype=np.int64)]


def _column(store: Store, index: EventIndex, name: str):
    """One more column of every indexed event, fetched once: ``(codes, values)`` for text (code
    -1 for NULL), float64 with NaN for NULL for numbers (``watch_ratio`` as the funnels define it)."""
    with _COLUMN_LOCK:
        cached = index.columns.get(name)
        if cached is not None:
            return cached
        if name == "watch_ratio":  # on views only; every other event has none
            events = store.sql_table(f"SELECT rowid AS r, * FROM events WHERE {_EVENT_ROWS}")
            views = views_with_ratio(events, store.table("items"))
            table = store.to_arrow(views.select("r", v=views.watch_ratio))
        elif name in TEXT_COLUMNS + NUMBER_COLUMNS:
            cast = "::DOUBLE" if name in NUMBER_COLUMNS else ""
            table = store.arrow(f'SELECT rowid AS r, "{name}"{cast} AS v FROM events WHERE {_EVENT_ROWS}')
        else:
            raise ValueError(f"not an indexed column: {name}")
        rows = _rows_of(index, table)
        if name in TEXT_COLUMNS:
            encoded = pc.dictionary_encode(table.column("v")).combine_chunks()
            codes = np.full(len(index.t), -1, dtype=np.int32)
            codes[rows] = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)
            out = (codes, encoded.dictionary.to_pylist())
        else:
            out = np.full(len(index.t), np.nan)
            out[rows] = np.asarray(table.column("v").to_numpy(zero_copy_only=False), dtype=np.float64)
        index.columns[name] = out
        return out


def _text_in(store: Store, index: EventIndex, name: str, values) -> np.ndarray:
    """Events whose text column ``name`` is one of ``values`` (NULL never is)."""
    codes, dictionary = _column(store, index, name)
    values = set(values)
    wanted = [i for i, v in enumerate(dictionary) if v in values]
    return np.isin(codes, np.asarray(wanted, dtype=np.int32))


def _condition(store: Store, index: EventIndex, cond) -> np.ndarray:
    """Events meeting ``cond``; a NULL never meets one (as ``fill_null(False)`` in the query path)."""
    if cond.column in TEXT_COLUMNS:
        codes, _ = _column(store, index, cond.column)
        equal = _text_in(store, index, cond.column, [cond.value])
        return equal if cond.op == "=" else (codes >= 0) & ~equal
    values = _column(store, index, cond.column)
    known = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        ops = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less,
               "=": np.equal, "!=": np.not_equal}
        return ops[cond.op](values, float(cond.value)) & known


def _in_filters(store: Store, index: EventIndex, filters: Filters) -> np.ndarray | None:
    """Events passing the list filters (``None``: no such filter), by their declarations."""
    keep = None
    for f in filters.active():
        values = f.values(filters) if f.item_column is None else matching_items(store, f, f.values(filters))
        mask = _text_in(store, index, f.column, values)
        keep = mask if keep is None else keep & mask
    return keep


def _columns_needed(spec, filters: Filters) -> set[str]:
    return {c.column for s in spec.steps for c in s.conditions} | {f.column for f in filters.active()}


def fetch_rows(store: Store, spec, filters: Filters, index: EventIndex | None = None) -> UnitRows:
    """The same rows as :func:`analytics.metrics.funnels._fetch_rows`, cut from the cached index.

    When the cached index already holds every column the funnel needs, the rows are cut while
    the checksum query runs in another thread, and kept only if the checksum still matches.
    """
    if index is not None:
        return _cut(store, spec, filters, index)
    with _LOCK:
        cached = _CACHE.get(store.path)
    if cached is None or not _columns_needed(spec, filters) <= set(cached.columns):
        return _cut(store, spec, filters, event_index(store))
    with ThreadPoolExecutor(1) as pool:
        token = pool.submit(_token, store)
        rows = _cut(store, spec, filters, cached)
        token = token.result()
    if token == cached.token:
        return rows
    return _cut(store, spec, filters, event_index(store, token))


def _cut(store: Store, spec, filters: Filters, index: EventIndex) -> UnitRows:
    start, end = filters.utc_bounds()
    lut = np.zeros(1 << TYPE_BITS, dtype=np.uint8)  # type code -> step bits (plain steps)
    for i, step in enumerate(spec.steps):
        if not step.conditions:
            lut[EVENT_TYPES.index(step.event_type)] |= 1 << i
    bits_all = lut[index.type_code]
    for i, step in enumerate(spec.steps):
        if step.conditions:
            match = index.type_code == EVENT_TYPES.index(step.event_type)
            for cond in step.conditions:
                match &= _condition(store, index, cond)
            bits_all |= match.astype(np.uint8) << i
    lo = _us(start) if start is not None else None
    hi = _us(end) + spec.window_seconds * 1_000_000 if end is not None else None
    in_time = _in_filters(store, index, filters)
    if lo is not None or hi is not None:
        in_time = np.ones(len(index.t), dtype=bool) if in_time is None else in_time
        if lo is not None:
            in_time &= index.t >= lo
        if hi is not None:
            in_time &= index.t < hi
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
    return UnitRows(
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


class FunnelOrder(Accelerator):
    name = "funnel_order"
    query = FunnelEvents
    in_memory = True
    filter_fields = frozenset(f for f in FIELDS if f.column in TEXT_COLUMNS)

    def answers(self, source, query: FunnelEvents) -> bool:
        return query.spec.hold is None and query.spec.breakdown is None

    def is_ready(self, source, query: FunnelEvents) -> bool:
        return has_index(source)

    def answer(self, source, query: FunnelEvents) -> UnitRows:
        return fetch_rows(source, query.spec, query.filters)
