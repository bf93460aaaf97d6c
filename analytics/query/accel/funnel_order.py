"""Accelerator: every event sorted by (user, time), persisted in the database and loaded once (DuckDB).

Funnels without a hold column and without a breakdown need, besides ``user_id``, ``event_time``
and ``event_type``, at most a few more columns: those their step conditions test and those the
channel, campaign and category filters test. The database keeps, keyed in ``meta`` by the data
version (:meth:`~analytics.store.storage.Store.content_version`):

* ``accel_funnel_users``: a code per user id (new users of an upload get the next codes);
* ``accel_funnel_events``: per event its upload, user code, time and type packed in one integer,
  and the columns funnels test (``watch_ratio`` as the funnels define it), each upload's rows
  sorted by (user, time, type), so an upload appends its rows and a removal deletes them
  (:func:`upkeep`).

A process loads the user codes and the packed integers once per data version (a linear merge of
the uploads' sorted runs) into numpy arrays (17 bytes an event, plus the order of the merge when
there are several uploads), reads any further column the first time a funnel needs it (4 bytes an
event for a text column, 8 for a number) and answers such funnels without reading the events. Only a
process that keeps accelerators in memory (the dashboard) builds or loads it whole; a process that
does not hold it reads, from the persisted tables when they are current, only one funnel's part
(:func:`_partial`: the steps' types inside its time bounds, the columns it tests: integers, no
event text), which costs less than the portable rows. Without them, :class:`FunnelScan` reads the
same part straight from ``events`` (:func:`_scan`) with one SQL statement, for funnels that test
no catalog-derived ``watch_ratio``; a one-shot command then builds no ibis expression and imports
neither ibis nor pandas.

It produces exactly the rows :func:`analytics.query.funnel_events.portable_rows` would (tests prove
both paths give the same funnels); the portable definition stays
:func:`analytics.metrics.funnels.portable_levels`.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from analytics.columns import take_text, to_numpy
from analytics.query.arrays import sort_by_unit, unit_key
from analytics.query.filters import FIELDS, Filters, matching_items
from analytics.query.layer import (
    Accelerator,
    Change,
    FunnelEvents,
    UnitRows,
    keeps_in_memory,
)
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
    order: np.ndarray | None  # positions in the persisted table's row order (None: the same order)
    columns: dict[str, Any] = field(default_factory=dict)  # fetched on demand, see :func:`_column`

    @property
    def nbytes(self) -> int:
        arrays = [self.t, self.type_code, self.starts, self.unit]
        arrays += [] if self.order is None else [self.order]
        for value in self.columns.values():
            arrays += [value[0]] if isinstance(value, tuple) else [value]
        return int(sum(a.nbytes for a in arrays) + self.user_ids.nbytes)


MAX_STORES = 2  # indexes kept at once (one per database file)
_CACHE: dict[Path, EventIndex] = {}
_LOCK = threading.Lock()
#: The persisted form: user codes, and every event's user code, packed time and type, and the
#: columns funnels test, each upload's rows sorted by (user, time, type).
USERS_TABLE = "accel_funnel_users"
EVENTS_TABLE = "accel_funnel_events"
META_KEY = "accel_funnel_order"


def _token(store: Store) -> tuple[Any, ...]:
    return (store.content_version(),)


def _events_sql(store: Store, upload_id: int | None) -> str:
    """SELECT of the persisted rows (of one upload, if given) in their stored order."""
    import ibis

    from analytics.query.definitions import views_with_ratio

    only = "" if upload_id is None else f" AND upload_id = {int(upload_id)}"
    events = store.sql_table(f"SELECT rowid AS _r, * FROM events WHERE {_EVENT_ROWS}{only}")
    views = views_with_ratio(events, store.table("items")).select(_vr="_r", watch_ratio="watch_ratio")
    columns = ", ".join([*(f'e."{c}"' for c in TEXT_COLUMNS), *(f'e."{c}"::DOUBLE AS "{c}"' for c in NUMBER_COLUMNS)])
    return (
        f"SELECT e.upload_id, u.code AS u, {_packed_sql('e.')} AS p, {columns}, "
        f"w.watch_ratio FROM (SELECT rowid AS _r, * FROM events WHERE {_EVENT_ROWS}{only}) e "
        f"JOIN {USERS_TABLE} u ON u._uid = e.user_id LEFT JOIN ({ibis.to_sql(views, dialect='duckdb')}) w ON w._vr = e._r "
        "ORDER BY e.upload_id, u, p"
    )


def _packed_sql(prefix: str = "", codes: set[int] | None = None) -> str:
    """An event's time (µs since 1970) and type code packed in one integer, as the index keeps them
    (``codes``: the only types the rows can hold, where a filter keeps no other; each other type is
    one text comparison less per row)."""
    code = " ".join(f"WHEN '{e}' THEN {i}" for i, e in enumerate(EVENT_TYPES) if codes is None or i in codes)
    return f"epoch_us({prefix}event_time) * {1 << TYPE_BITS} + CASE {prefix}event_type {code} ELSE {OTHER} END"


def _new_users_sql(upload_id: int | None) -> str:
    only = "" if upload_id is None else f" AND upload_id = {int(upload_id)}"
    return (
        f"SELECT _uid, (SELECT coalesce(max(code), -1) FROM {USERS_TABLE}) + row_number() OVER (ORDER BY _uid) AS code "
        f"FROM (SELECT DISTINCT user_id AS _uid FROM events WHERE {_EVENT_ROWS}{only} "
        f"EXCEPT SELECT _uid FROM {USERS_TABLE})"
    )


def _persist(store: Store, key: str) -> None:
    """Build the persisted tables from every event, keyed by ``key``."""
    with store.transaction() as cur:
        cur.execute(f"CREATE OR REPLACE TABLE {USERS_TABLE} (_uid VARCHAR, code INTEGER)")
        cur.execute(f"INSERT INTO {USERS_TABLE} {_new_users_sql(None)}")
        cur.execute(f"CREATE OR REPLACE TABLE {EVENTS_TABLE} AS {_events_sql(store, None)}")
        store.set_meta(cur, META_KEY, key)


def upkeep(store: Store, change: Change) -> None:
    """Keep persisted tables that were current before ``change`` current after it: an events
    upload's users get codes after the known ones and its rows are appended (sorted among
    themselves; loading merges the sorted runs), a removed upload's rows are deleted; a catalog
    change (watch ratios) or tables that were not current are rebuilt. Never built: left absent."""
    with _LOCK:
        held = store.get_meta(META_KEY)
        if held is None:
            return
        key = store.content_version()
        if held != change.before or change.kind == "items":
            _persist(store, key)
            return
        with store.transaction() as cur:
            if change.kind == "events" and change.removed:
                cur.execute(f"DELETE FROM {EVENTS_TABLE} WHERE upload_id = ?", [change.upload_id])
            elif change.kind == "events":
                cur.execute(f"INSERT INTO {USERS_TABLE} {_new_users_sql(change.upload_id)}")
                cur.execute(f"INSERT INTO {EVENTS_TABLE} {_events_sql(store, change.upload_id)}")
            store.set_meta(cur, META_KEY, key)


def _sort_order(unit: np.ndarray, p: np.ndarray) -> np.ndarray | None:
    """The order that sorts rows by (user, time, type); ``None`` when they already are. Runs
    already sorted (one per upload) are merged in linear time by the stable sort."""
    step = np.diff(unit)
    if step.min(initial=0) >= 0 and bool(np.all(step[p[1:] < p[:-1]] > 0)):  # one upload: already sorted
        return None
    packed = unit_key(p, unit.astype(np.int64), TYPE_BITS)
    return np.lexsort((p, unit)) if packed is None else np.argsort(packed[0], kind="stable")


def _ensure_persisted(store: Store, key: str) -> None:
    """Build the persisted tables for data version ``key`` unless they are its (under ``_LOCK``)."""
    if store.get_meta(META_KEY) != key:
        _persist(store, key)


def _build(store: Store, token: tuple[Any, ...]) -> EventIndex:
    """Load the persisted tables (built first when not current): users, packed times and types."""
    _ensure_persisted(store, token[0])
    rows = store.numpy(f"SELECT u, p FROM {EVENTS_TABLE}")
    return _load(token, _persisted_users(store), rows["u"], rows["p"])


def _persisted_users(store: Store) -> pa.Array:
    return store.arrow(f"SELECT _uid FROM {USERS_TABLE} ORDER BY code").column(0).combine_chunks()


def _partial(store: Store, spec, filters: Filters) -> EventIndex:
    """The part of the persisted (current) tables one funnel can use, read without the rest: the
    rows of the steps' event types (every type in strict mode, which looks for interruptions)
    inside the funnel's time bounds, with the columns its steps and filters test.

    DuckDB picks the rows (a one-shot process then holds and converts only those: about half the
    CPU time, with the page faults, of reading every row and picking them in numpy)."""
    start, end = filters.utc_bounds()
    where = []
    if spec.mode != "strict":
        codes = sum(1 << c for c in _step_codes(spec))
        where.append(f"(1::BIGINT << (p & {OTHER})) & {codes} <> 0")  # the type's bit (cheaper than IN)
    if start is not None:
        where.append(f"p >= {_us(start) << TYPE_BITS}")
    if end is not None:
        where.append(f"p < {(_us(end) + spec.window_seconds * 1_000_000) << TYPE_BITS}")
    names = _tested_columns(spec, filters)
    columns = "".join(f', "{name}"' for name in names)
    sql = f"SELECT u, p{columns} FROM {EVENTS_TABLE}" + (f" WHERE {' AND '.join(where)}" if where else "")
    users = _persisted_users(store)
    if not names:  # integers only: straight into numpy
        rows = store.numpy(sql)
        return _load(("partial",), users, rows["u"], rows["p"])
    table = store.arrow(sql)  # text columns are dictionary-encoded from Arrow
    index = _load(("partial",), users, to_numpy(table.column("u")), to_numpy(table.column("p")))
    for name in names:
        index.columns[name] = _as_column(name, table.column(name), index.order)
    return index


def _scan(store: Store, spec, filters: Filters) -> EventIndex:
    """The same part as :func:`_partial`, read straight from ``events`` where no order is persisted:
    DuckDB picks the rows, packs each one's time and type and gathers them per user (one list each,
    so every user id reaches Python once and no event's text does)."""
    start, end = filters.utc_bounds()
    where = [_EVENT_ROWS]
    codes = None if spec.mode == "strict" else _step_codes(spec)  # strict: every type breaks a run
    if codes is not None:
        where.append("event_type IN (" + ", ".join(f"'{EVENT_TYPES[c]}'" for c in sorted(codes)) + ")")
    if start is not None:
        where.append(f"event_time >= TIMESTAMP '{start.isoformat(sep=' ')}'")
    if end is not None:
        limit = end + dt.timedelta(seconds=spec.window_seconds)
        where.append(f"event_time < TIMESTAMP '{limit.isoformat(sep=' ')}'")
    names = _tested_columns(spec, filters)
    if "watch_ratio" in names:
        raise ValueError("watch_ratio is derived from the catalog: read it from the persisted order")
    columns = "".join(f', "{n}"' if n in TEXT_COLUMNS else f', "{n}"::DOUBLE AS "{n}"' for n in names)
    # a list of the packed integers alone where no column is tested (no struct to build and take apart)
    gathered = "p" if not names else "{" + ", ".join(f"'{n}': \"{n}\"" for n in ["p", *names]) + "}"
    table = store.arrow(
        f"SELECT user_id, list({gathered}) AS r FROM (SELECT user_id, {_packed_sql(codes=codes)} AS p{columns} FROM events "
        f"WHERE {' AND '.join(where)}) GROUP BY user_id"
    )
    lists = table.column("r").combine_chunks()
    rows = lists.flatten()
    users = table.column("user_id").combine_chunks()
    unit = np.repeat(np.arange(len(users), dtype=np.int64), np.diff(to_numpy(lists.offsets)))
    p = np.asarray(to_numpy(rows if not names else rows.field("p")), dtype=np.int64)
    if not names:  # no order of rows to keep: sorted by value
        unit, p = sort_by_unit(unit, p, TYPE_BITS)
        return _index(("partial",), users, unit.astype(np.int32), p, None)
    index = _load(("partial",), users, unit, p)
    for name in names:
        index.columns[name] = _as_column(name, pa.chunked_array([rows.field(name)]), index.order)
    return index


def _step_codes(spec) -> set[int]:
    return {EVENT_TYPES.index(step.event_type) for step in spec.steps}


def _tested_columns(spec, filters: Filters) -> list[str]:
    """The columns a funnel's steps and list filters test, checked against those the index keeps."""
    names = sorted({c.column for step in spec.steps for c in step.conditions} | {f.column for f in filters.active()})
    for name in names:
        _check_column(name)
    return names


def _load(token: tuple[Any, ...], users: pa.Array, unit: np.ndarray, p: np.ndarray) -> EventIndex:
    """An index of rows with user codes ``unit`` and packed ``p`` (in any order), ``users`` the ids by code."""
    unit = np.asarray(unit, dtype=np.int32)
    p = np.asarray(p, dtype=np.int64)
    order = _sort_order(unit, p)
    if order is not None:
        unit, p = unit[order], p[order]
    return _index(token, users, unit, p, order)


def _index(token: tuple[Any, ...], users: pa.Array, unit: np.ndarray, p: np.ndarray, order: np.ndarray | None) -> EventIndex:
    """The index of rows sorted by (user, time, type); ``order``: their positions in the rows as read."""
    lengths = np.bincount(unit, minlength=len(users)) if len(unit) else np.zeros(len(users), dtype=np.int64)
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return EventIndex(
        token=token,
        user_ids=users,
        starts=starts,
        t=p >> TYPE_BITS,
        type_code=np.bitwise_and(p, OTHER, out=np.empty(len(p), dtype=np.int8), casting="unsafe"),
        unit=unit,
        order=order,
    )


def event_index(store: Store, token: tuple[Any, ...] | None = None) -> EventIndex:
    """The index of ``store``'s events, loaded again when the data version (``token``, read when
    not given) says the data changed."""
    token = token or _token(store)
    with _LOCK:
        index = _CACHE.get(store.path)
        if index is None or index.token != token:
            _CACHE.pop(store.path, None)
            while len(_CACHE) >= MAX_STORES:  # keep the most recently built ones
                _CACHE.pop(next(iter(_CACHE)))
            index = _CACHE[store.path] = _build(store, token)
        return index


def is_current(store: Store) -> bool:
    """Whether the database keeps the index of the data as it is now."""
    held = store.get_meta(META_KEY)
    return held is not None and held == store.content_version()


def persist(store: Store) -> None:
    """Build the persisted tables for the data as it is now, unless they are current (nothing is loaded)."""
    with _LOCK:
        _ensure_persisted(store, store.content_version())


def is_held(store: Store) -> bool:
    """Whether this process holds the index of the data as it is now (loaded or built)."""
    with _LOCK:
        held = _CACHE.get(store.path)
    return held is not None and held.token == _token(store)


def clear() -> None:
    """Forget every cached index (frees the memory)."""
    with _LOCK:
        _CACHE.clear()


def _us(moment: dt.datetime) -> int:
    return int((moment - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1))


_COLUMN_LOCK = threading.Lock()


def _column(store: Store, index: EventIndex, name: str):
    """One more column of every indexed event, read once from the persisted table: ``(codes,
    values)`` for text (code -1 for NULL), float64 with NaN for NULL for numbers (``watch_ratio``
    as the funnels define it, on views only)."""
    with _COLUMN_LOCK:
        cached = index.columns.get(name)
        if cached is not None:
            return cached
        _check_column(name)
        out = index.columns[name] = _as_column(name, store.arrow(f'SELECT "{name}" AS v FROM {EVENTS_TABLE}').column("v"),
                                               index.order)
        return out


def _check_column(name: str) -> None:
    if name not in (*TEXT_COLUMNS, *NUMBER_COLUMNS, "watch_ratio"):
        raise ValueError(f"not an indexed column: {name}")


def _as_column(name: str, column: pa.ChunkedArray, order: np.ndarray | None):
    """A persisted column in the index's row order: ``(codes, values)`` for text, else float64."""
    import pyarrow.compute as pc

    if name in TEXT_COLUMNS:
        encoded = pc.dictionary_encode(column).combine_chunks()
        codes = np.asarray(to_numpy(encoded.indices.fill_null(-1)), dtype=np.int32)
        return codes if order is None else codes[order], encoded.dictionary.to_pylist()
    values = to_numpy(pc.fill_null(column.cast(pa.float64()), float("nan")))
    return values if order is None else values[order]


def _text_in(store: Store, index: EventIndex, name: str, values) -> np.ndarray:
    """Events whose text column ``name`` is one of ``values`` (NULL never is)."""
    codes, dictionary = _column(store, index, name)
    values = set(values)
    wanted = [i for i, v in enumerate(dictionary) if v in values]
    if len(wanted) == 1:
        return codes == wanted[0]
    table = np.zeros(len(dictionary) + 1, dtype=bool)  # the last entry answers NULL's code, -1
    table[wanted] = True
    return table[codes]


def _condition(store: Store, index: EventIndex, cond) -> np.ndarray:
    """Events meeting ``cond``; a NULL never meets one (as ``fill_null(False)`` in the query path)."""
    if cond.column in TEXT_COLUMNS:
        codes, _ = _column(store, index, cond.column)
        equal = _text_in(store, index, cond.column, [cond.value])
        return equal if cond.op == "=" else (codes >= 0) & ~equal
    values = _column(store, index, cond.column)
    with np.errstate(invalid="ignore"):  # NaN (NULL) compares false, but unequal to everything
        ops = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less, "=": np.equal}
        if cond.op == "!=":
            return np.not_equal(values, float(cond.value)) & ~np.isnan(values)
        return ops[cond.op](values, float(cond.value))


def _in_filters(store: Store, index: EventIndex, filters: Filters) -> np.ndarray | None:
    """Events passing the list filters (``None``: no such filter), by their declarations."""
    keep = None
    for f in filters.active():
        values = f.values(filters) if f.item_column is None else matching_items(store, f, f.values(filters))
        mask = _text_in(store, index, f.column, values)
        keep = mask if keep is None else keep & mask
    return keep


def fetch_rows(store: Store, spec, filters: Filters, index: EventIndex | None = None) -> UnitRows:
    """The same rows as :func:`analytics.query.funnel_events.portable_rows`, cut from the index."""
    return _cut(store, spec, filters, index or event_index(store))


def _cut(store: Store, spec, filters: Filters, index: EventIndex) -> UnitRows:
    start, end = filters.utc_bounds()
    lut = np.zeros(1 << TYPE_BITS, dtype=np.uint8)  # type code -> step bits (plain steps)
    for i, step in enumerate(spec.steps):
        if not step.conditions:
            lut[EVENT_TYPES.index(step.event_type)] |= 1 << i
    keep = np.zeros(len(index.t), dtype=bool)  # rows of some step (compared per type: cheaper than a lookup)
    for code in np.flatnonzero(lut).tolist():
        keep |= index.type_code == code
    matches = []  # (step, rows meeting it) of the steps with conditions
    for i, step in enumerate(spec.steps):
        if step.conditions:
            match = index.type_code == EVENT_TYPES.index(step.event_type)
            for cond in step.conditions:
                match &= _condition(store, index, cond)
            matches.append((i, match))
            keep |= match
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
    if in_time is not None:
        keep &= in_time
    if keep.all():  # every row kept (a funnel's part read from the persisted order): the index's arrays, not copies
        rows, at, n = slice(None), index.starts, len(index.t)
    else:
        rows = np.flatnonzero(keep)
        at, n = np.searchsorted(rows, index.starts), len(rows)  # each user's first kept row
    bits = lut[index.type_code[rows]]
    for i, match in matches:
        bits |= match[rows].astype(np.uint8) << i
    t = index.t[rows]
    kept_units = np.flatnonzero(at[1:] > at[:-1])
    starts = np.append(at[kept_units], n)
    return UnitRows(
        keys=pa.table({"user_id": take_text(index.user_ids, kept_units)}),
        starts=starts,
        t=t,
        bits=bits,
        entry=t < _us(end) if end is not None else np.ones(n, dtype=bool),
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
        # Held in memory, or persisted and current: a process that does not hold it reads only the
        # funnel's rows of it (loading every event's user, time and type would cost a one-shot
        # process more than the portable query of one funnel's events).
        return is_held(source) or is_current(source)

    def upkeep(self, source, change: Change) -> None:
        upkeep(source, change)

    def prepare(self, source, timezone: str, dimensions: tuple[str, ...]) -> tuple[str, ...]:
        persist(source)  # times in UTC: one order for every zone
        return (META_KEY,)

    def structures(self, source) -> dict[str, bool]:
        held = source.get_meta(META_KEY)
        return {} if held is None else {META_KEY: held == source.content_version()}

    def answer(self, source, query: FunnelEvents) -> UnitRows:
        # A process that keeps accelerators (the dashboard) loads the index whole once per data
        # version; any other reads one funnel's part of the persisted order.
        if not keeps_in_memory() and not is_held(source) and is_current(source):
            return _cut(source, query.spec, query.filters, _partial(source, query.spec, query.filters))
        return fetch_rows(source, query.spec, query.filters)


class FunnelScan(Accelerator):
    """One funnel's part read from ``events`` and cut as the order's part is, where no order is held
    or persisted (a one-shot command on a database whose order was never built)."""

    name = "funnel_scan"
    query = FunnelEvents
    filter_fields = FunnelOrder.filter_fields

    def answers(self, source, query: FunnelEvents) -> bool:
        spec = query.spec
        return (
            spec.hold is None
            and spec.breakdown is None
            and all(c.column != "watch_ratio" for step in spec.steps for c in step.conditions)
        )

    def answer(self, source, query: FunnelEvents) -> UnitRows:
        return _cut(source, query.spec, query.filters, _scan(source, query.spec, query.filters))
