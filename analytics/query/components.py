"""KPI components: what every KPI is computed from, declared once, and their portable query.

Every KPI (:mod:`analytics.metrics.kpis`) is a formula over *components*: ibis aggregations of the
filtered, enriched events in two stages. Stage 1 (:data:`USER_COMPONENTS`) aggregates per group
and user; stage 2 (:data:`GROUP_COMPONENTS`) aggregates those per-user rows per group, so
distinct-user counts become plain counts of rows. Counts are ``COUNT(*) FILTER`` (BIGINT), not
sums of booleans (HUGEINT in DuckDB, which made later sums some hundred times slower).

:func:`portable_components` is the meaning of a :class:`~analytics.query.layer.Components` query,
written only in ibis (it runs on DuckDB and Spark alike); the accelerators of
:mod:`analytics.query.accel` must give exactly the same numbers (the contract tests prove it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from analytics.errors import BadInput
from analytics.lazy import LazyModule
from analytics.query.definitions import (
    COMPLETION_THRESHOLD,
    INTERACTION_TYPES,
    PRODUCT_KINDS,
    latest_items,
    length_seconds,
    watch_ratio,
)
from analytics.query.filters import Filters, filtered_events, in_period
from analytics.query.localtime import local_day

if TYPE_CHECKING:
    import ibis
    import pandas as pd
else:  # imported on first use: a breakdown answered from persisted tables builds no expression and no frame
    ibis = LazyModule("ibis")
    pd = LazyModule("pandas")

#: Breakdown dimensions (``--by``); ``props.KEY`` groups by an extra column kept at ingest.
DIMENSIONS: Final[tuple[str, ...]] = ("channel", "campaign", "variant", "creator", "category", "video", "course")

#: Dimensions that uploaded spend rows carry (spend can be split only along these).
SPEND_DIMENSIONS: Final[tuple[str, ...]] = ("channel", "campaign")


def _is(e, event_type: str):
    return e.event_type == event_type


#: What a log may not record at all (many exports hold no follows, clicks or watch times): whether
#: an event is a record of each kind. The components counting a kind count these events.
RECORDS: Final[dict[str, Callable[[Any], Any]]] = {
    "interactions": lambda e: e.event_type.isin(list(INTERACTION_TYPES)),
    "follows": lambda e: _is(e, "follow"),
    "clicks": lambda e: _is(e, "click"),
    "watch_time": lambda e: _is(e, "view") & (e.watch_seconds > 0),
}

#: Stage 1: per group and user, over the enriched events ``e``.
USER_COMPONENTS: Final[dict[str, Callable[[Any], Any]]] = {
    "views": lambda e: e.count(where=_is(e, "view")),
    "watch_seconds": lambda e: e.watch_seconds.clip(lower=0).sum(where=_is(e, "view")),
    "watch_ratio_sum": lambda e: e.watch_ratio.sum(where=_is(e, "view")),
    "views_with_length": lambda e: e.watch_ratio.count(where=_is(e, "view")),
    "complete_views": lambda e: e.count(where=_is(e, "view") & (e.watch_ratio >= COMPLETION_THRESHOLD)),
    "interactions": lambda e: e.count(where=RECORDS["interactions"](e)),
    "follows": lambda e: e.count(where=RECORDS["follows"](e)),
    "clicks": lambda e: e.count(where=RECORDS["clicks"](e)),
    "orders": lambda e: e.count(where=_is(e, "purchase")),
    "refunds": lambda e: e.count(where=_is(e, "refund")),
    "gross_revenue": lambda e: e.revenue.cast("float64").sum(where=_is(e, "purchase")),
    "refunded_amount": lambda e: e.revenue.cast("float64").abs().sum(where=_is(e, "refund")),
}

#: Stage 2, the distinct users: per group, over the per-user rows ``u`` (with the flags ``_buyer``
#: and ``_new``); they read only the stage-1 ``views`` and ``orders``.
USER_COUNTS: Final[dict[str, Callable[[Any], Any]]] = {
    "active_users": lambda u: u.count(),
    "viewers": lambda u: u.count(where=u.views > 0),
    "converted_viewers": lambda u: u.count(where=(u.views > 0) & u._buyer),
    "purchasers": lambda u: u.count(where=u.orders > 0),
    "new_buyers": lambda u: u.count(where=(u.orders > 0) & u._new),
}
#: Stage 2: per group, over the per-user rows ``u``: the distinct users and the sums of stage 1.
GROUP_COMPONENTS: Final[dict[str, Callable[[Any], Any]]] = {
    **USER_COUNTS,
    **{name: (lambda u, name=name: u[name].sum()) for name in USER_COMPONENTS},
}
EVENT_COMPONENTS: Final[tuple[str, ...]] = tuple(GROUP_COMPONENTS)
#: Components derived after aggregation (not ibis aggregations themselves).
DERIVED_COMPONENTS: Final[tuple[str, ...]] = ("revenue", "spend")
#: Components a sums-only query provides (``revenue`` is derived from two of them).
EVENT_SUM_COMPONENTS: Final[frozenset[str]] = frozenset(USER_COMPONENTS) | {"revenue"}


def finish(df: pd.DataFrame) -> pd.DataFrame:
    """Fill counts of empty groups with 0 and derive net revenue (user counts stay absent if not computed)."""
    for name in EVENT_COMPONENTS:
        if name in df.columns and name != "watch_ratio_sum":
            df[name] = pd.to_numeric(df[name], errors="coerce").fillna(0)
    df["revenue"] = df["gross_revenue"] - df["refunded_amount"]
    return df


# -- the enriched events ---------------------------------------------------------------------
def catalog(source):
    """One row per item of the latest catalog with the columns the dimensions and ratios read."""
    items = latest_items(source.table("items"))
    return items.group_by("item_id").aggregate(
        _catalog_seconds=items.duration_seconds.max(),
        _creator=items.creator.max(),
        _category=items.category.max(),
        _kind=items.kind.max(),
        _item_course=items.course_id.max(),
        _title=items.title.max(),
    )


def recorded(source) -> frozenset[str]:
    """The portable :class:`~analytics.query.layer.Recorded`: the kinds of :data:`RECORDS` of which
    the store holds an event (each asked as one row at most: the read stops at the first)."""
    e = source.table("events")
    return frozenset(kind for kind, held in RECORDS.items() if len(source.execute(e.filter(held(e)).select("event_type").limit(1))))


def item_labels(source):
    """The portable :class:`~analytics.query.layer.ItemLabels`: each item's title and creator (Arrow)."""
    items = source.table("items")
    return source.to_arrow(items.group_by("item_id").aggregate(title=items.title.max(), creator=items.creator.max()))


def enriched(source, filters: Filters):
    """Filtered events with the catalog columns and ``watch_ratio``."""
    events = filtered_events(source, filters)
    items = catalog(source)
    e = events.left_join(items, events.item_id == items.item_id).drop("item_id_right")
    return e.mutate(watch_ratio=watch_ratio(e.watch_seconds, length_seconds(e.video_seconds, e._catalog_seconds)))


def dimension(e, by: str, filters: Filters, start: dt.datetime | None = None, end: dt.datetime | None = None):
    """The ibis expression that groups the enriched events ``e`` by the dimension ``by``."""
    if by in ("channel", "campaign", "variant"):
        return e[by]
    if by == "creator":
        return e._creator
    if by == "category":
        return e._category
    if by == "video":
        return e.item_id
    if by == "course":
        product = ibis.ifelse(e._kind.isin(list(PRODUCT_KINDS)), e.item_id, ibis.null("string"))
        return ibis.coalesce(e.course_id, e._item_course, product)
    if by == "day":
        return local_day(e.event_time, filters.timezone, start, end)
    if by.startswith("props.") and len(by) > len("props."):
        return e.props[by[len("props."):]]
    raise BadInput(
        f"cannot break down by {by!r}; use one of {', '.join(DIMENSIONS)} or props.KEY",
        code="bad_dimension",
        value=by,
    )


def check_dimension(by: str) -> str:
    """Validate a breakdown dimension given at the boundary."""
    if by in DIMENSIONS or (by.startswith("props.") and len(by) > len("props.")):
        return by
    dimension(None, by, Filters())  # raises the BadInput
    return by


# -- stage 2, shared by every path that has per-user rows ------------------------------------
def first_purchases(source, table=None, time_column: str = "event_time"):
    """First purchase time per user over the whole store (``user_id``, ``_first_purchase``)."""
    if table is None:
        everything = source.table("events")
        return everything.filter(everything.event_type == "purchase").group_by("user_id").aggregate(
            _first_purchase=everything.event_time.min()
        )
    return table.filter(table.orders > 0).group_by("user_id").aggregate(_first_purchase=table[time_column].min())


def new_buyers(first, filters: Filters):
    """Users whose first purchase (``first``, from :func:`first_purchases`) falls inside the period."""
    preds = in_period(first._first_purchase, filters)
    first = first.filter(*preds) if preds else first
    return first.select(_new_user=first.user_id)


def group_components(source, per_user, keys: Sequence[str], new, buyers) -> pd.DataFrame:
    """Stage 2: :data:`GROUP_COMPONENTS` per group of ``keys`` over the per-user rows.

    ``new``: users who are new buyers; ``buyers``: users with a purchase anywhere in the period
    (a join, not a window), needed only when grouping.
    """
    return source.execute(_stage2(per_user, keys, new, buyers, GROUP_COMPONENTS))


def _stage2(per_user, keys: Sequence[str], new, buyers, components):
    """The ibis expression of ``components`` per group of ``keys`` over the per-user rows."""
    u = per_user.left_join(new, per_user.user_id == new._new_user)
    if keys:
        u = u.left_join(buyers, u.user_id == buyers._buyer_user)
        u = u.mutate(_buyer=u._buyer_user.notnull(), _new=u._new_user.notnull())
    else:
        u = u.mutate(_buyer=u.orders > 0, _new=u._new_user.notnull())
    metrics = {name: fn(u) for name, fn in components.items()}
    return u.group_by(*keys).aggregate(**metrics) if keys else u.aggregate(**metrics)


def renamed(df: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Group columns ``_g0, _g1, ...`` named after their dimensions."""
    return df.rename(columns={f"_g{i}": b for i, b in enumerate(by)})


# -- the portable path -----------------------------------------------------------------------
def portable_components(source, filters: Filters, by: Sequence[str]) -> pd.DataFrame:
    """Component values per group of ``by`` (one row without grouping), from the events: the sums of
    stage 1 per group directly, and only the distinct users at the user grain (the per-user rows
    then carry two counts instead of every sum)."""
    e = enriched(source, filters)
    keys = _keys(e, filters, by)
    per_user = e.group_by(**keys, user_id=e.user_id).aggregate(
        **{name: USER_COMPONENTS[name](e) for name in ("views", "orders")}
    )
    purchases = filtered_events(source, filters)
    buyers = purchases.filter(purchases.event_type == "purchase").select(_buyer_user=purchases.user_id).distinct()
    new = new_buyers(first_purchases(source), filters)
    counts = _stage2(per_user, list(keys), new, buyers, USER_COUNTS)
    sums = _sums(e, keys)
    if not keys:
        return finish(source.execute(counts.cross_join(sums)))
    both = counts.left_join(sums, [counts[k].identical_to(sums[k]) for k in keys]).drop(*(f"{k}_right" for k in keys))
    return finish(renamed(source.execute(both), by))


def portable_sums(source, filters: Filters, by: Sequence[str]) -> pd.DataFrame:
    """Only the stage-1 sums (:data:`USER_COMPONENTS`, no distinct users) per group of ``by``:
    one aggregation without the user grain, enough for KPIs built from event counts and sums."""
    e = enriched(source, filters)
    return finish(renamed(source.execute(_sums(e, _keys(e, filters, by))), by))


def _keys(e, filters: Filters, by: Sequence[str]) -> dict[str, Any]:
    """The group expressions ``_g0, _g1, ...`` of ``by`` over the enriched events ``e``."""
    start, end = filters.utc_bounds()
    return {f"_g{i}": dimension(e, b, filters, start, end) for i, b in enumerate(by)}


def _sums(e, keys: dict[str, Any]):
    """The ibis expression of the stage-1 sums of the enriched events ``e`` per group of ``keys`` (one row without)."""
    sums = {name: fn(e) for name, fn in USER_COMPONENTS.items()}
    return e.group_by(**keys).aggregate(**sums) if keys else e.aggregate(**sums)
