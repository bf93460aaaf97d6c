"""Accelerator: in-memory KPI breakdowns by creator, category, video and course.

Per-item breakdowns need distinct users per item (active users, viewers, converted viewers,
purchasers, new buyers) over millions of user-item pairs, which no single query answers in a few
hundred milliseconds. Like :mod:`analytics.query.accel.funnel_order`, this module reads the events once per
data version, dimension and time zone, and keeps two small structures in memory:

* the stage-1 sums of :data:`analytics.query.components.USER_COMPONENTS` per (group, local day), as running
  totals, so the sums over any run of days are one subtraction per group;
* one row per (group, user, local day) with the day on which the same user last touched the same
  group (and last viewed it, and last bought in it). A user counts in a period exactly once: on
  the row whose day falls in the period and whose previous day falls before it. Distinct counts
  thus become plain counts of rows, with no hashing of user ids at query time.

The two are built separately: the running totals alone answer :func:`sums` (the video ranking),
and the second part is built only when :func:`components` needs distinct users.

The stage-1 aggregation is the ibis expression of :mod:`analytics.query.components` (one definition), so
this accelerator gives the same numbers as the portable path reading the events (tests
prove it). It answers only what it can answer exactly (:class:`BreakdownIndex`): no list filter
(it declares none), and a time zone whose clock never jumps across midnight within the data.
"""

from __future__ import annotations

import datetime as dt
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
from analytics.query.layer import Accelerator, Components
from analytics.query.localtime import local_day
from analytics.store.storage import Store

#: Dimensions this index serves (the others are cheap enough from the hourly rollup or events).
INDEX_DIMENSIONS: Final[tuple[str, ...]] = ("creator", "category", "video", "course")
NONE: Final[int] = np.iinfo(np.int32).min  # "no earlier day"
MAX_INDEXES: Final[int] = 8  # parts kept at once (least recently used dropped first)

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


def _grouped(store: Store, by: str, timezone: str):
    """The enriched events with ``_key`` (the group) and ``_day`` (local day), and the data's span."""
    everything = Filters(timezone=timezone)
    lo, hi = store.span()
    e = enriched(store, everything)
    return e.mutate(_key=dimension(e, by, everything), _day=local_day(e.event_time, timezone, lo, hi)), lo, hi


def _build_sums(store: Store, token: tuple[Any, ...], by: str, timezone: str) -> _Sums:
    e, lo, hi = _grouped(store, by, timezone)
    names = tuple(USER_COMPONENTS)
    per_day = e.group_by("_key", "_day").aggregate(**{name: fn(e) for name, fn in USER_COMPONENTS.items()})
    table = store.to_arrow(per_day)
    code, groups = _codes(table.column("_key"))
    day = _local_days(table, "_day")
    day0 = int(day.min()) if len(day) else 0
    n_days = int(day.max()) - day0 + 2 if len(day) else 1
    sum_key = code * n_days + (day - day0)
    order = np.argsort(sum_key)
    totals = np.zeros((len(order) + 1, len(names)), dtype=np.float64)
    for k, name in enumerate(names):
        column = np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)
        np.cumsum(np.nan_to_num(column[order]), out=totals[1:, k])
    return _Sums(token, groups, sum_key[order], names, totals, day0, n_days, _midnight_safe(timezone, lo, hi))


def _build_touch(store: Store, by: str, timezone: str, sums: _Sums) -> _Touch:
    e, _, _ = _grouped(store, by, timezone)
    # who touched, viewed and bought in which group on which day
    touches = e.group_by("_key", _user=e.user_id, _day=e._day).aggregate(
        _view=(e.event_type == "view").any(), _order=(e.event_type == "purchase").any()
    )
    table = store.to_arrow(touches)
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


def has_index(store: Store, by: str, timezone: str) -> bool:
    """Whether this process holds an index (current or not) for ``store``, ``by`` and ``timezone``."""
    with _LOCK:
        return (store.path, by, timezone, "sums") in _CACHE


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
        return has_index(source, query.by[0], query.filters.timezone)

    def answer(self, source, query: Components) -> pd.DataFrame | None:
        return (sums if query.sums_only else components)(source, query.filters, query.by[0])
