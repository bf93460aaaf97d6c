"""Accelerator: KPI breakdowns by creator, category, video and course, persisted and loaded once.

Per-item breakdowns need distinct users per item (active users, viewers, converted viewers,
purchasers, new buyers) over millions of user-item pairs, which no single query answers in a few
hundred milliseconds. Per dimension and time zone this module keeps three tables in the database,
keyed in ``meta`` by the data version (:meth:`~analytics.store.storage.Store.content_version`), so
that an upload appends its rows and a removal deletes them (:func:`upkeep`):

* ``accel_breakdown_sums_*``: the stage-1 sums of :data:`analytics.query.components.USER_COMPONENTS`
  per (group, local day, upload);
* ``accel_breakdown_touch_*``: one row per (group, user, local day, upload) with whether it held a
  view and a purchase;
* ``accel_breakdown_seen_*``: derived from the touches, one row per (group, user, local day) with
  the day on which the same user last touched the same group before (and last viewed it, and last
  bought in it). A user counts in a period exactly once: on the row whose day falls in the period
  and whose previous day falls before it. Distinct counts thus become plain counts of rows, with
  no hashing of user ids at query time. An upload or a removal derives these rows again for the
  (group, user) pairs it touched.

Two paths read them. :class:`BreakdownIndex` loads them once per data version into a process (the
dashboard): the stage-1 sums per (group, local day) as running totals, so the sums over any run of
days are one subtraction per group, and the seen rows sorted by day, so a period is a slice.
:class:`BreakdownTables` counts the same rows in DuckDB without loading them (a one-shot command).

The stage-1 aggregation is the ibis expression of :mod:`analytics.query.components` (one definition), so
this accelerator gives the same numbers as the portable path reading the events (tests
prove it). It answers only what it can answer exactly: no list filter
(it declares none), and a time zone whose clock never jumps across midnight within the data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.columns import from_numpy, to_numpy
from analytics.query.components import (
    EVENT_COMPONENTS,
    USER_COMPONENTS,
    dimension,
    enriched,
)
from analytics.query.filters import Filters
from analytics.query.layer import Accelerator, Change, Components
from analytics.query.localtime import local_day
from analytics.store.storage import Store

#: Dimensions this index serves (the others are cheap enough from the hourly rollup or events).
INDEX_DIMENSIONS: Final[tuple[str, ...]] = ("creator", "category", "video", "course")
NONE: Final[int] = np.iinfo(np.int32).min  # "no earlier day"
MAX_INDEXES: Final[int] = 8  # parts kept at once (least recently used dropped first)
#: ``meta`` keys of the persisted parts: ``accel_breakdown|<dimension>|<time zone>`` -> data version.
META_PREFIX: Final[str] = "accel_breakdown|"
#: The layout of the persisted tables, part of each ``meta`` value (2: with the seen table).
LAYOUT: Final[str] = "2"

#: The distinct-user counts (stage 2 components that are not sums of stage 1).
_COUNT_NAMES: Final[tuple[str, ...]] = ("active_users", "viewers", "converted_viewers", "purchasers", "new_buyers")
#: A float component and the count that is zero exactly when it is (keeps empty sums at 0.0).
_FLOAT_OF_COUNT: Final[dict[str, str]] = {
    "watch_seconds": "views",
    "watch_ratio_sum": "views_with_length",
    "gross_revenue": "orders",
    "refunded_amount": "refunds",
}


@dataclass(frozen=True)
class _Sums:
    """Running totals of the stage-1 sums per (group, local day); enough for sums-only callers."""

    token: tuple[Any, ...]
    groups: pa.Array  # group values, position = group code
    sum_key: np.ndarray  # int64: code * n_days + day offset, sorted (rows of ``totals`` after the first)
    sum_names: tuple[str, ...]
    totals: np.ndarray  # float64 (rows + 1, components), first row zeros
    day0: int
    n_days: int
    exact: bool  # local days match the period's UTC bounds (see :func:`_midnight_safe`)

    @property
    def nbytes(self) -> int:
        return int(self.sum_key.nbytes + self.totals.nbytes + self.groups.nbytes)


@dataclass(frozen=True)
class _Touch:
    """Who touched which group on which day, with the previous such day (codes of a :class:`_Sums`)."""

    groups: pa.Array  # the very array of the sums part whose codes these are
    # one row per (group, user, day), sorted by day: [day starts, code, previous day]
    touch: tuple[np.ndarray, np.ndarray, np.ndarray]
    # rows with a view / with an order, sorted by day: [day starts, code, user, previous day of that kind]
    view: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    order: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    first_purchase: np.ndarray  # int32 local day of each user's first purchase (int32 max if none)
    n_users: int

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in (self.first_purchase, *self.touch, *self.view, *self.order)))  # groups: shared


_CACHE: OrderedDict[tuple[Path, str, str, str], _Sums | _Touch] = OrderedDict()
_LOCK = threading.Lock()


def _midnight_safe(timezone: str, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    """Whether no clock change of ``timezone`` between ``start`` and ``end`` skips or repeats a
    local midnight (then local days and the period's UTC bounds describe the same events)."""
    from analytics.query.localtime import utc_offsets

    offsets = utc_offsets(timezone, start, end)
    for (since, new), (_, old) in zip(offsets[1:], offsets[:-1]):
        before, after = since + dt.timedelta(seconds=old), since + dt.timedelta(seconds=new)
        if before.date() != after.date() or before.time() == dt.time() or after.time() == dt.time():
            return False
    return True


def _token(store: Store) -> tuple[Any, ...]:
    return (store.content_version(),)


def _local_days(table: pa.Table, column: str) -> np.ndarray:
    """Local days as day numbers (NULL: :data:`NONE`, no earlier day)."""
    days = pc.fill_null(table.column(column).cast(pa.int32()), NONE)
    return np.asarray(days.to_numpy(zero_copy_only=False), dtype=np.int32)


def _by_day(day: np.ndarray, day0: int, n_days: int, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """``columns`` sorted by day, led by where each day's rows start (``n_days + 1`` positions)."""
    offset = day - day0
    order = np.argsort(offset, kind="stable")
    starts = np.zeros(n_days + 1, dtype=np.int64)
    np.cumsum(np.bincount(offset, minlength=n_days), out=starts[1:])
    return (starts, *(c[order] for c in columns))


def _codes(column: pa.ChunkedArray, dictionary: pa.Array | None = None) -> tuple[np.ndarray, pa.Array]:
    """Integer codes of ``column``'s values (null is a value too) and the values they stand for."""
    if dictionary is None:
        encoded = pc.dictionary_encode(column, null_encoding="encode").combine_chunks()
        return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64), encoded.dictionary
    codes = pc.index_in(column, value_set=dictionary, skip_nulls=False)
    return np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.int64), dictionary


def _grouped(store: Store, by: str, timezone: str, upload_id: int | None = None):
    """The enriched events (of one upload, if given) with ``_key`` (the group) and ``_day`` (local day)."""
    everything = Filters(timezone=timezone)
    lo, hi = store.span()
    e = enriched(store, everything)
    if upload_id is not None:
        e = e.filter(e.upload_id == upload_id)
    return e.mutate(_key=dimension(e, by, everything), _day=local_day(e.event_time, timezone, lo, hi))


def _tables(by: str, timezone: str) -> tuple[str, str, str]:
    """Names of the persisted sums, touch and seen tables of ``by`` and ``timezone``."""
    slug = hashlib.sha1(f"{by}|{timezone}".encode()).hexdigest()[:12]
    return tuple(f"accel_breakdown_{part}_{by}_{slug}" for part in ("sums", "touch", "seen"))  # type: ignore[return-value]


def _seen_sql(touch: str, pairs: str | None = None) -> str:
    """The seen rows derived from the touch table (of the (group, user) pairs in the table
    ``pairs`` only, if given): one row per (group, user, local day), the rows of every upload
    merged, with the latest earlier day on which the same user touched (viewed, bought in) the same
    group, NULL for none. Stored, so that no reader derives it again."""
    only = "" if pairs is None else (
        f' SEMI JOIN "{pairs}" AS p ON t._key IS NOT DISTINCT FROM p._key AND t._user IS NOT DISTINCT FROM p._user'
    )
    return (
        "SELECT _key, _user, _day, _view, _order, max(_day) OVER w AS _prev, "
        "max(CASE WHEN _view THEN _day END) OVER w AS _prev_view, "
        "max(CASE WHEN _order THEN _day END) OVER w AS _prev_order "
        f'FROM (SELECT t._key, t._user, t._day, bool_or(t._view) AS _view, bool_or(t._order) AS _order FROM "{touch}" AS t{only} '
        "GROUP BY t._key, t._user, t._day) "
        "WINDOW w AS (PARTITION BY _key, _user ORDER BY _day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )


def _meta_key(by: str, timezone: str) -> str:
    return f"{META_PREFIX}{by}|{timezone}"


def _stamp(version: str) -> str:
    """The ``meta`` value of parts of this :data:`LAYOUT` built for data version ``version`` (parts
    of an older layout are never current: they are rebuilt, not read)."""
    return f"{LAYOUT}:{version}"


def _persisted_rows(store: Store, by: str, timezone: str, upload_id: int | None = None):
    """The two persisted row sets: stage-1 sums per (group, local day, upload) and who touched
    (viewed, bought in) which group on which day, per upload. Rows of one group, day (and user)
    from two uploads are merged when loaded (sums add up, flags are or-ed)."""
    e = _grouped(store, by, timezone, upload_id)
    sums = e.group_by("_key", "_day", "upload_id").aggregate(**{name: fn(e) for name, fn in USER_COMPONENTS.items()})
    touches = e.group_by("_key", "upload_id", _user=e.user_id, _day=e._day).aggregate(
        _view=(e.event_type == "view").any(), _order=(e.event_type == "purchase").any()
    )
    return sums, touches


def _persist(store: Store, by: str, timezone: str, key: str) -> None:
    """Build the persisted tables of ``by`` and ``timezone`` from the events, keyed by ``key``."""
    sums, touch, seen = _tables(by, timezone)
    with store.transaction() as cur:
        for name, expr in zip((sums, touch), _persisted_rows(store, by, timezone)):
            store.create_table_as(cur, name, expr)
        cur.execute(f'CREATE OR REPLACE TABLE "{seen}" AS {_seen_sql(touch)}')
        store.set_meta(cur, _meta_key(by, timezone), _stamp(key))


def _ensure_persisted(store: Store, by: str, timezone: str, key: str) -> None:
    if store.get_meta(_meta_key(by, timezone)) != _stamp(key):
        _persist(store, by, timezone, key)


def upkeep(store: Store, change: Change) -> None:
    """Keep every persisted part that was current before ``change`` current after it: an events
    upload's rows are appended, a removed upload's rows deleted; a catalog change (groups and
    ratios may move) or a part that was not current is rebuilt. Parts never built stay absent."""
    with _LOCK:
        key = store.content_version()
        for meta_key, held in store.meta_like(META_PREFIX).items():
            _, by, timezone = meta_key.split("|", 2)
            if held != _stamp(change.before) or change.kind == "items":
                _persist(store, by, timezone, key)
                continue
            sums, touch, seen = _tables(by, timezone)
            added = _persisted_rows(store, by, timezone, change.upload_id) if change.kind == "events" and not change.removed else ()
            with store.transaction() as cur:
                if change.kind == "events":
                    _upkeep_rows(cur, store, (sums, touch, seen), change, added)
                store.set_meta(cur, meta_key, _stamp(key))


def _upkeep_rows(cur, store: Store, tables: tuple[str, str, str], change: Change, added) -> None:
    """Append (or delete) the rows of ``change``'s upload, then derive the seen rows again for the
    (group, user) pairs that upload touched (their earlier days may have moved)."""
    sums, touch, seen = tables
    pairs = "accel_breakdown_pairs"
    touched = f'CREATE OR REPLACE TEMP TABLE "{pairs}" AS SELECT DISTINCT _key, _user FROM "{touch}" WHERE upload_id = ?'
    if change.removed:
        cur.execute(touched, [change.upload_id])
        for name in (sums, touch):
            cur.execute(f'DELETE FROM "{name}" WHERE upload_id = ?', [change.upload_id])
    else:
        for name, expr in zip((sums, touch), added):
            store.insert_into(cur, name, expr)
        cur.execute(touched, [change.upload_id])
    cur.execute(f'DELETE FROM "{seen}" AS s WHERE EXISTS (SELECT 1 FROM "{pairs}" AS p '
                "WHERE p._key IS NOT DISTINCT FROM s._key AND p._user IS NOT DISTINCT FROM s._user)")
    cur.execute(f'INSERT INTO "{seen}" {_seen_sql(touch, pairs)}')
    cur.execute(f'DROP TABLE "{pairs}"')


def _build_sums(store: Store, token: tuple[Any, ...], by: str, timezone: str) -> _Sums:
    _ensure_persisted(store, by, timezone, token[0])
    lo, hi = store.span()
    names = tuple(USER_COMPONENTS)
    table = store.arrow(f'SELECT * FROM "{_tables(by, timezone)[0]}"')
    code, groups = _codes(table.column("_key"))
    day = _local_days(table, "_day")
    day0 = int(day.min()) if len(day) else 0
    n_days = int(day.max()) - day0 + 2 if len(day) else 1
    sum_key = code * n_days + (day - day0)
    order = np.argsort(sum_key, kind="stable")
    sum_key = sum_key[order]
    running = np.zeros((len(order), len(names)), dtype=np.float64)
    for k, name in enumerate(names):
        column = np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)
        np.cumsum(np.nan_to_num(column[order]), out=running[:, k])
    last = np.ones(len(sum_key), dtype=bool)  # the last row of each (group, day): rows of several uploads
    last[:-1] = sum_key[1:] != sum_key[:-1]
    totals = np.zeros((int(last.sum()) + 1, len(names)), dtype=np.float64)
    totals[1:] = running[last]
    return _Sums(token, groups, sum_key[last], names, totals, day0, n_days, _midnight_safe(timezone, lo, hi))


def _build_touch(store: Store, by: str, timezone: str, sums: _Sums) -> _Touch:
    _ensure_persisted(store, by, timezone, sums.token[0])
    table = store.arrow(f'SELECT _key, _user, _day, _view, _order, _prev, _prev_view, _prev_order FROM "{_tables(by, timezone)[2]}"')
    code, _ = _codes(table.column("_key"), sums.groups)  # the same events: the same groups
    user, users = _codes(table.column("_user"))
    code, user = code.astype(np.int32), user.astype(np.int32)
    day, prev, prev_view, prev_order = (_local_days(table, c) for c in ("_day", "_prev", "_prev_view", "_prev_order"))
    views = np.asarray(table.column("_view").to_numpy(zero_copy_only=False), dtype=bool)
    orders = np.asarray(table.column("_order").to_numpy(zero_copy_only=False), dtype=bool)
    del table
    first_purchase = np.full(max(len(users), 1), np.iinfo(np.int32).max, dtype=np.int32)
    np.minimum.at(first_purchase, user[orders], day[orders])
    day0, n_days = sums.day0, sums.n_days
    return _Touch(
        groups=sums.groups,
        touch=_by_day(day, day0, n_days, code, prev),
        view=_by_day(day[views], day0, n_days, code[views], user[views], prev_view[views]),
        order=_by_day(day[orders], day0, n_days, code[orders], user[orders], prev_order[orders]),
        first_purchase=first_purchase,
        n_users=len(users),
    )


def _cached(key: tuple[Any, ...], stale, build):
    """The cached part under ``key``, built again by ``build()`` when missing or ``stale(part)``."""
    with _LOCK:
        found = _CACHE.get(key)
        if found is None or stale(found):
            _CACHE.pop(key, None)
            while len(_CACHE) >= MAX_INDEXES:
                _CACHE.popitem(last=False)
            found = build()
        _CACHE[key] = found
        _CACHE.move_to_end(key)
        return found


def _sums_index(store: Store, by: str, timezone: str) -> _Sums:
    """The sums part, checked against the data's token."""
    token = _token(store)
    return _cached(
        (store.path, by, timezone, "sums"), lambda part: part.token != token,
        lambda: _build_sums(store, token, by, timezone),
    )


def _touch_index(store: Store, by: str, timezone: str, sums: _Sums) -> _Touch:
    """The touch part built against this very ``sums`` (its group codes)."""
    return _cached(
        (store.path, by, timezone, "touch"), lambda part: part.groups is not sums.groups,
        lambda: _build_touch(store, by, timezone, sums),
    )


def nbytes() -> int:
    """Memory held by every cached part."""
    with _LOCK:
        return sum(part.nbytes for part in _CACHE.values())


def is_current(store: Store, by: str, timezone: str) -> bool:
    """Whether this process holds, or the database keeps, the index of ``by`` and ``timezone`` for
    the data as it is now (answering then costs a load or a query, never a build from the events)."""
    return _held(store, by, timezone) or _persisted(store, by, timezone)


def _held(store: Store, by: str, timezone: str) -> bool:
    """Whether this process holds the index of ``by`` and ``timezone`` for the data as it is now."""
    with _LOCK:
        held = _CACHE.get((store.path, by, timezone, "sums"))
    return held is not None and held.token == _token(store)


def _persisted(store: Store, by: str, timezone: str) -> bool:
    """Whether the database keeps the tables of ``by`` and ``timezone`` for the data as it is now."""
    return store.get_meta(_meta_key(by, timezone)) == _stamp(store.content_version())


def clear() -> None:
    """Forget every cached index (frees the memory)."""
    with _LOCK:
        _CACHE.clear()


def _day_number(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _period(index: _Sums, filters: Filters) -> tuple[int, int]:
    """[first, last] local day numbers of the period (open ends: the data's)."""
    first = _day_number(filters.date_from) if filters.date_from else index.day0
    last = _day_number(filters.date_to) if filters.date_to else index.day0 + index.n_days
    return first, last


def _offsets(index: _Sums, first: int, last: int) -> tuple[int, int]:
    """Local days first..last as [lo, hi) offsets from the index's first day, clipped to its span."""
    return min(max(first - index.day0, 0), index.n_days), min(max(last - index.day0 + 1, 0), index.n_days)


def _slice(index: _Sums, starts: np.ndarray, first: int, last: int) -> slice:
    lo, hi = _offsets(index, first, last)
    return slice(int(starts[lo]), int(starts[max(hi, lo)]))


def _period_sums(index: _Sums, first: int, last: int) -> np.ndarray:
    """(groups, components) sums over local days first..last."""
    n_groups = len(index.groups)
    lo, hi = _offsets(index, first, last)
    base = np.arange(n_groups, dtype=np.int64) * index.n_days
    i = np.searchsorted(index.sum_key, base + lo, "left")
    j = np.searchsorted(index.sum_key, base + hi, "left")
    return index.totals[j] - index.totals[i]


def _frame(by: str, groups: pa.Array | pa.ChunkedArray, sums: dict[str, np.ndarray],
           counts: dict[str, np.ndarray] | None) -> pa.Table:
    """The components of each group (an Arrow table: no pandas on this path) from its stage-1
    ``sums`` and, unless sums only, its distinct-user ``counts``: the columns and values of the
    portable answer (counts as integers, ``watch_ratio_sum`` NaN without a view with a length)."""
    if counts is not None:
        keep = counts["active_users"] > 0
    else:  # groups with a non-zero sum in the period
        keep = np.zeros(len(groups), dtype=bool)
        for values in sums.values():
            keep |= values != 0
    columns: dict[str, Any] = {by: pc.filter(groups, from_numpy(keep))}
    for name, values in (counts or {}).items():
        columns[name] = values[keep]
    for name, values in sums.items():
        values = np.nan_to_num(values[keep], nan=0.0) if name != "watch_ratio_sum" else values[keep]
        columns[name] = values if name in _FLOAT_OF_COUNT else np.rint(values).astype(np.int64)
    for name, count in _FLOAT_OF_COUNT.items():
        columns[name] = np.where(columns[count] == 0, 0.0, columns[name])
    columns["revenue"] = columns["gross_revenue"] - columns["refunded_amount"]
    columns["watch_ratio_sum"] = np.where(columns["views_with_length"] == 0, np.nan, columns["watch_ratio_sum"])
    names = [by, *EVENT_COMPONENTS, "revenue"] if counts is not None else list(columns)
    return pa.Table.from_arrays([columns[by], *(from_numpy(columns[name]) for name in names[1:])], names=names)


def _index_frame(index: _Sums, by: str, first: int, last: int, counts: dict[str, np.ndarray] | None) -> pa.Table:
    totals = _period_sums(index, first, last)
    return _frame(by, index.groups, {name: totals[:, k] for k, name in enumerate(index.sum_names)}, counts)


def sums(store: Store, filters: Filters, by: str) -> pa.Table | None:
    """What the portable sums-only components give for ``(by,)``: stage-1 sums per group.

    Groups whose every sum is zero in the period (only impressions, say) are left out; callers
    select on views or other sums. ``None`` when the index cannot answer exactly.
    """
    index = _sums_index(store, by, filters.timezone)
    if not index.exact:
        return None
    first, last = _period(index, filters)
    return _index_frame(index, by, first, last, None)


def components(store: Store, filters: Filters, by: str) -> pa.Table | None:
    """What the portable components give for ``(by,)``, from the index
    (``None`` when it cannot answer exactly)."""
    index = _sums_index(store, by, filters.timezone)
    if not index.exact:
        return None
    touched = _touch_index(store, by, filters.timezone, index)
    first, last = _period(index, filters)
    n = len(index.groups)

    starts, code, prev = touched.touch
    s = _slice(index, starts, first, last)
    active = np.bincount(code[s][prev[s] < first], minlength=n)

    starts, code, user, prev = touched.order
    s = _slice(index, starts, first, last)
    buyer = np.zeros(max(touched.n_users, 1), dtype=bool)
    buyer[user[s]] = True
    bought_first = touched.first_purchase[user[s]]
    new_first = (prev[s] < first) & (bought_first >= first) & (bought_first <= last)
    purchasers = np.bincount(code[s][prev[s] < first], minlength=n)
    new_buyers = np.bincount(code[s][new_first], minlength=n)

    starts, code, user, prev = touched.view
    s = _slice(index, starts, first, last)
    first_view = prev[s] < first
    viewers = np.bincount(code[s][first_view], minlength=n)
    converted = np.bincount(code[s][first_view & buyer[user[s]]], minlength=n)

    counts = {
        "active_users": active,
        "viewers": viewers,
        "converted_viewers": converted,
        "purchasers": purchasers,
        "new_buyers": new_buyers,
    }
    return _index_frame(index, by, first, last, counts)


#: The distinct-user counts of a period from the seen rows (``$first``/``$last``: the period's local
#: days): a user counts in a group on the row whose day is in the period and whose previous day of
#: that kind is not, the same rule as the in-memory index.
_COUNTS_SQL: Final[str] = """
WITH p AS (
    SELECT _key, _user, _order,
        coalesce(_prev < $first, true) AS _new_touch,
        _view AND coalesce(_prev_view < $first, true) AS _new_view,
        _order AND coalesce(_prev_order < $first, true) AS _new_order
    FROM "{seen}" WHERE _day BETWEEN $first AND $last
),
buyers AS (SELECT DISTINCT _user FROM p WHERE _order),
new AS (SELECT _user FROM "{seen}" WHERE _order GROUP BY _user HAVING min(_day) BETWEEN $first AND $last),
counts AS (
    SELECT _key, count(*) FILTER (WHERE _new_touch) AS active_users, count(*) FILTER (WHERE _new_view) AS viewers,
        count(*) FILTER (WHERE _new_order) AS purchasers
    FROM p GROUP BY _key
),
converted AS (SELECT _key, count(*) AS converted_viewers FROM p SEMI JOIN buyers USING (_user) WHERE _new_view GROUP BY _key),
new_buyers AS (SELECT _key, count(*) AS new_buyers FROM p SEMI JOIN new USING (_user) WHERE _new_order GROUP BY _key)
SELECT c._key, c.active_users, c.viewers, coalesce(v.converted_viewers, 0) AS converted_viewers, c.purchasers,
    coalesce(n.new_buyers, 0) AS new_buyers
FROM counts AS c
LEFT JOIN converted AS v ON c._key IS NOT DISTINCT FROM v._key
LEFT JOIN new_buyers AS n ON c._key IS NOT DISTINCT FROM n._key
"""


def from_tables(store: Store, filters: Filters, by: str, sums_only: bool) -> pa.Table | None:
    """What :func:`components` (or :func:`sums`) gives, queried in DuckDB from the persisted tables
    without loading them into this process (built first where they are not current); ``None`` when
    the index cannot answer exactly."""
    lo, hi = store.span()
    if not _midnight_safe(filters.timezone, lo, hi):
        return None
    with _LOCK:
        _ensure_persisted(store, by, filters.timezone, store.content_version())
    sums_table, _, seen = _tables(by, filters.timezone)
    period = {"first": filters.date_from or dt.date.min, "last": filters.date_to or dt.date.max}
    totals = ", ".join(
        f"coalesce(sum({name}), 0){'' if name in _FLOAT_OF_COUNT else '::BIGINT'} AS {name}" for name in USER_COMPONENTS
    )
    sql = f'SELECT _key, {totals} FROM "{sums_table}" WHERE _day BETWEEN $first AND $last GROUP BY _key'
    if not sums_only:
        sql = (f"SELECT c.*, s.* EXCLUDE (_key) FROM ({_COUNTS_SQL.format(seen=seen)}) AS c "
               f"LEFT JOIN ({sql}) AS s ON c._key IS NOT DISTINCT FROM s._key")
    table = store.arrow(sql, period)
    counts = None if sums_only else {name: to_numpy(table.column(name)) for name in _COUNT_NAMES}
    sums = {name: to_numpy(table.column(name)).astype(np.float64) for name in USER_COMPONENTS}
    return _frame(by, table.column("_key"), sums, counts)


class BreakdownIndex(Accelerator):
    """Answers one-dimension breakdowns by creator, category, video or course without list filters,
    from the index held in this process; ``None`` from :meth:`answer` (a clock change across
    midnight in the data) sends the query on."""

    name = "breakdown"
    query = Components
    in_memory = True
    prepared_dimensions = INDEX_DIMENSIONS

    def answers(self, source, query: Components) -> bool:
        return len(query.by) == 1 and query.by[0] in INDEX_DIMENSIONS

    def is_ready(self, source, query: Components) -> bool:
        return _held(source, query.by[0], query.filters.timezone)

    def upkeep(self, source, change: Change) -> None:
        upkeep(source, change)

    def prepare(self, source, timezone: str, dimensions: tuple[str, ...]) -> tuple[str, ...]:
        lo, hi = source.span()
        if not _midnight_safe(timezone, lo, hi):  # local days would not answer exactly: never read
            return ()
        built = []
        for by in dict.fromkeys(d for d in dimensions if d in self.prepared_dimensions):
            with _LOCK:
                _ensure_persisted(source, by, timezone, source.content_version())
            built.append(_meta_key(by, timezone))
        return tuple(built)

    def structures(self, source) -> dict[str, bool]:
        current = _stamp(source.content_version())
        return {key: held == current for key, held in source.meta_like(META_PREFIX).items()}

    def answer(self, source, query: Components) -> pa.Table | None:
        return (sums if query.sums_only else components)(source, query.filters, query.by[0])


class BreakdownTables(BreakdownIndex):
    """The same answers queried in DuckDB from the index's persisted tables, for a process that does
    not hold the index (a one-shot command): ready where the tables are current; they are built
    only where the engine builds in-memory structures (they are the index's)."""

    name = "breakdown_tables"
    prepared_dimensions = ()  # the index's tables, built by BreakdownIndex

    def is_ready(self, source, query: Components) -> bool:
        return _persisted(source, query.by[0], query.filters.timezone)

    def upkeep(self, source, change: Change) -> None:
        """Nothing: the tables are the index's, kept by :class:`BreakdownIndex`."""

    def prepare(self, source, timezone: str, dimensions: tuple[str, ...]) -> tuple[str, ...]:
        """Nothing: the tables are the index's, built by :class:`BreakdownIndex`."""
        return ()

    def structures(self, source) -> dict[str, bool]:
        """None of its own: the index's tables, listed by :class:`BreakdownIndex`."""
        return {}

    def answer(self, source, query: Components) -> pa.Table | None:
        return from_tables(source, query.filters, query.by[0], query.sums_only)
