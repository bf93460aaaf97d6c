"""Accelerator: KPI breakdowns by creator, category, video and course, persisted and loaded once.

Per-item breakdowns need distinct users per item (active users, viewers, converted viewers,
purchasers, new buyers) over millions of user-item pairs, which no single query answers in a few
hundred milliseconds. Per dimension and time zone this module keeps two tables in the database,
keyed in ``meta`` by the data version (:meth:`~analytics.store.storage.Store.content_version`) and
carrying the upload of every row, so that an upload appends its rows and a removal deletes them
(:func:`upkeep`):

* ``accel_breakdown_sums_*``: the stage-1 sums of :data:`analytics.query.components.USER_COMPONENTS`
  per (group, local day, upload);
* ``accel_breakdown_touch_*``: one row per (group, user, local day, upload) with whether it held a
  view and a purchase.

A process loads them once per data version into two small in-memory structures:

* the stage-1 sums per (group, local day) as running totals, so the sums over any run of days are
  one subtraction per group (enough for :func:`sums`, the video ranking);
* one row per (group, user, local day) with the day on which the same user last touched the same
  group (and last viewed it, and last bought in it). A user counts in a period exactly once: on
  the row whose day falls in the period and whose previous day falls before it. Distinct counts
  thus become plain counts of rows, with no hashing of user ids at query time.

The stage-1 aggregation is the ibis expression of :mod:`analytics.query.components` (one definition), so
this accelerator gives the same numbers as the portable path reading the events (tests
prove it). It answers only what it can answer exactly (:class:`BreakdownIndex`): no list filter
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
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.query.components import (
    EVENT_COMPONENTS,
    USER_COMPONENTS,
    dimension,
    enriched,
    finish,
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
    return np.asarray(table.column(column).cast(pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int32)


def _previous(pair: np.ndarray, day: np.ndarray, flag: np.ndarray | None) -> np.ndarray:
    """For rows sorted by (pair, day): the day of the pair's previous row (with ``flag``), else NONE."""
    n = len(pair)
    out = np.full(n, NONE, dtype=np.int32)
    if n < 2:
        return out
    idx = np.arange(n)
    marks = idx if flag is None else np.where(flag, idx, -1)
    last = np.maximum.accumulate(marks)  # last flagged row at or before each row
    before = np.empty(n, dtype=np.int64)
    before[0] = -1
    before[1:] = last[:-1]
    ok = before >= 0
    ok[ok] = pair[before[ok]] == pair[ok]
    out[ok] = day[before[ok]]
    return out


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


def _tables(by: str, timezone: str) -> tuple[str, str]:
    """Names of the persisted sums and touch tables of ``by`` and ``timezone``."""
    slug = hashlib.sha1(f"{by}|{timezone}".encode()).hexdigest()[:12]
    return f"accel_breakdown_sums_{by}_{slug}", f"accel_breakdown_touch_{by}_{slug}"


def _meta_key(by: str, timezone: str) -> str:
    return f"{META_PREFIX}{by}|{timezone}"


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
    """Build both persisted tables of ``by`` and ``timezone`` from the events, keyed by ``key``."""
    with store.transaction() as cur:
        for name, expr in zip(_tables(by, timezone), _persisted_rows(store, by, timezone)):
            store.create_table_as(cur, name, expr)
        store.set_meta(cur, _meta_key(by, timezone), key)


def _ensure_persisted(store: Store, by: str, timezone: str, key: str) -> None:
    if store.get_meta(_meta_key(by, timezone)) != key:
        _persist(store, by, timezone, key)


def upkeep(store: Store, change: Change) -> None:
    """Keep every persisted part that was current before ``change`` current after it: an events
    upload's rows are appended, a removed upload's rows deleted; a catalog change (groups and
    ratios may move) or a part that was not current is rebuilt. Parts never built stay absent."""
    with _LOCK:
        key = store.content_version()
        for meta_key, held in store.meta_like(META_PREFIX).items():
            _, by, timezone = meta_key.split("|", 2)
            if held != change.before or change.kind == "items":
                _persist(store, by, timezone, key)
                continue
            tables = _tables(by, timezone)
            added = _persisted_rows(store, by, timezone, change.upload_id) if change.kind == "events" and not change.removed else ()
            with store.transaction() as cur:
                if change.kind == "events" and change.removed:
                    for name in tables:
                        cur.execute(f'DELETE FROM "{name}" WHERE upload_id = ?', [change.upload_id])
                for name, expr in zip(tables, added):
                    store.insert_into(cur, name, expr)
                store.set_meta(cur, meta_key, key)


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
    table = store.arrow(f'SELECT _key, _user, _day, _view, _order FROM "{_tables(by, timezone)[1]}"')
    code, _ = _codes(table.column("_key"), sums.groups)  # the same events: the same groups
    user, users = _codes(table.column("_user"))
    day = _local_days(table, "_day")
    views = np.asarray(table.column("_view").to_numpy(zero_copy_only=False), dtype=bool)
    orders = np.asarray(table.column("_order").to_numpy(zero_copy_only=False), dtype=bool)
    del table
    n_users = len(users)
    day0, n_days = sums.day0, sums.n_days

    # the previous touch of the same group by the same user: sort by (group, user, day)
    offset = (day - day0).astype(np.int64)
    pair = code * max(n_users, 1) + user
    if len(pair) and int(pair.max()) < np.iinfo(np.int64).max // n_days:
        order = np.argsort(pair * n_days + offset)
    else:
        order = np.lexsort((offset, pair))
    pair, day, code, user = pair[order], day[order], code[order].astype(np.int32), user[order].astype(np.int32)
    views, orders = views[order], orders[order]
    del order, offset
    # one row per (group, user, day): rows of several uploads merged
    head = np.ones(len(pair), dtype=bool)
    head[1:] = (pair[1:] != pair[:-1]) | (day[1:] != day[:-1])
    if not head.all():
        at = np.flatnonzero(head)
        views, orders = np.logical_or.reduceat(views, at), np.logical_or.reduceat(orders, at)
        pair, day, code, user = pair[at], day[at], code[at], user[at]
    prev_any = _previous(pair, day, None)
    prev_view = _previous(pair, day, views)
    prev_order = _previous(pair, day, orders)
    del pair
    first_purchase = np.full(max(n_users, 1), np.iinfo(np.int32).max, dtype=np.int32)
    np.minimum.at(first_purchase, user[orders], day[orders])
    return _Touch(
        groups=sums.groups,
        touch=_by_day(day, day0, n_days, code, prev_any),
        view=_by_day(day[views], day0, n_days, code[views], user[views], prev_view[views]),
        order=_by_day(day[orders], day0, n_days, code[orders], user[orders], prev_order[orders]),
        first_purchase=first_purchase,
        n_users=n_users,
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
    the data as it is now (answering then costs a load, never a build from the events)."""
    key = store.content_version()
    with _LOCK:
        held = _CACHE.get((store.path, by, timezone, "sums"))
    return (held is not None and held.token == (key,)) or store.get_meta(_meta_key(by, timezone)) == key


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


def _frame(index: _Sums, by: str, sums: np.ndarray, counts: dict[str, np.ndarray] | None) -> pd.DataFrame:
    data: dict[str, Any] = {by: index.groups.to_pylist()}
    for k, name in enumerate(index.sum_names):
        data[name] = sums[:, k]
    df = pd.DataFrame(data)
    for name in index.sum_names:
        if name not in _FLOAT_OF_COUNT:
            df[name] = np.rint(df[name]).astype(np.int64)
    for name, count in _FLOAT_OF_COUNT.items():
        df.loc[df[count] == 0, name] = 0.0
    if counts is not None:
        for name, values in counts.items():
            df[name] = values
        df = df[df["active_users"] > 0]
    else:  # groups with a non-zero sum in the period
        df = df[(df[list(index.sum_names)] != 0).any(axis=1)]
    df = finish(df.reset_index(drop=True))
    df.loc[df["views_with_length"] == 0, "watch_ratio_sum"] = np.nan
    return df


def sums(store: Store, filters: Filters, by: str) -> pd.DataFrame | None:
    """What the portable sums-only components give for ``(by,)``: stage-1 sums per group.

    Groups whose every sum is zero in the period (only impressions, say) are left out; callers
    select on views or other sums. ``None`` when the index cannot answer exactly.
    """
    index = _sums_index(store, by, filters.timezone)
    if not index.exact:
        return None
    first, last = _period(index, filters)
    return _frame(index, by, _period_sums(index, first, last), None)


def components(store: Store, filters: Filters, by: str) -> pd.DataFrame | None:
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
    df = _frame(index, by, _period_sums(index, first, last), counts)
    return df[[by, *EVENT_COMPONENTS, "revenue"]]


class BreakdownIndex(Accelerator):
    """Answers one-dimension breakdowns by creator, category, video or course without list filters;
    ``None`` from :meth:`answer` (a clock change across midnight in the data) sends the query on."""

    name = "breakdown"
    query = Components
    in_memory = True

    def answers(self, source, query: Components) -> bool:
        return len(query.by) == 1 and query.by[0] in INDEX_DIMENSIONS

    def is_ready(self, source, query: Components) -> bool:
        return is_current(source, query.by[0], query.filters.timezone)

    def upkeep(self, source, change: Change) -> None:
        upkeep(source, change)

    def answer(self, source, query: Components) -> pd.DataFrame | None:
        return (sums if query.sums_only else components)(source, query.filters, query.by[0])
