"""Key performance indicators: one registry entry per KPI, computed once, for any grouping.

Every KPI is ``scale * numerator / denominator`` over *components*: ibis aggregations of the
filtered events (or sums of the uploaded spend). The registry :data:`KPIS` names each KPI's
components, unit, formula text and good direction; :data:`COMPONENTS` holds each aggregation.
The Overview cards, the daily sparklines, the breakdown tables, the video ranking and the ROI table
(:mod:`analytics.metrics.roi`) all evaluate the same registry, so a KPI has exactly one implementation.
docs/metrics.md is the glossary; a test keeps it and :data:`KPIS` in step.

Rules (see the glossary for the full text):

* a zero or missing denominator gives ``None`` (shown as "—"), never infinity or a crash;
* revenue is net: purchase revenue minus refunded amounts (refund rows carry the amount refunded;
  its sign is ignored);
* conversion counts a viewer as converted when the same user made a purchase anywhere within the
  filtered period; purchasers without a view count in orders and revenue but not in conversion;
* a *new buyer* is a user whose first purchase in the whole store falls inside the period;
  CAC = spend / new buyers;
* spend comes only from uploaded spend rows: without any row for the period (or a group) spend,
  CAC and ROAS are ``None`` with the note ``no_spend``, never zero. Spend has no category, so with
  a category filter they are ``None`` with the note ``spend_not_by_category``.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import ibis
import numpy as np
import pandas as pd

from analytics.config import parse_timezone
from analytics.errors import BadInput, ReelyticsError
from analytics.query.definitions import (
    COMPLETION_THRESHOLD,
    INTERACTION_TYPES,
    latest_items,
    length_seconds,
    watch_ratio,
)
from analytics.query.filters import Filters, filtered_events
from analytics.store.storage import Store

Unit = Literal["count", "hours", "ratio", "money", "multiple"]
Direction = Literal["up", "down"]
Status = Literal["ok", "no_data"]

#: Item kinds that are paid products (a purchase or lesson is about them, not about a video).
PRODUCT_KINDS: Final[tuple[str, ...]] = ("course", "ebook", "live", "consult")

#: Breakdown dimensions (``--by``); ``props.KEY`` groups by an extra column kept at ingest.
DIMENSIONS: Final[tuple[str, ...]] = ("channel", "campaign", "variant", "creator", "category", "video", "course")

#: Dimensions that uploaded spend rows carry (spend can be split only along these).
SPEND_DIMENSIONS: Final[tuple[str, ...]] = ("channel", "campaign")

#: A video needs this many views before it is ranked on a rate (top / bottom videos).
MIN_VIEWS_FOR_RATES: Final[int] = 30

NOTE_NO_SPEND: Final[str] = "no_spend"
NOTE_SPEND_NOT_BY_CATEGORY: Final[str] = "spend_not_by_category"
NOTE_SPEND_NOT_SPLIT: Final[str] = "spend_not_split"


@dataclass(frozen=True)
class Kpi:
    """One KPI: ``scale * numerator / denominator`` over named components."""

    name: str
    label_en: str
    label_zh: str
    unit: Unit
    formula: str
    direction: Direction
    numerator: str
    denominator: str | None = None
    scale: float = 1.0

    def column(self, components: Mapping[str, Any], n: int = 1) -> np.ndarray:
        """The KPI for each of ``n`` groups from their component values (a DataFrame, or a mapping
        of equally long sequences): floats, NaN where it has no value (a missing numerator, a
        missing or zero denominator). The one implementation of the formula."""
        num = _numbers(components, self.numerator, n)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.denominator is None:
                out = np.round(num) if self.unit == "count" else num * self.scale
            else:
                den = _numbers(components, self.denominator, n)
                out = num / np.where(den != 0, den, np.nan) * self.scale
        out[~np.isfinite(out)] = np.nan  # a tiny denominator must not give infinity
        return out

    def label(self, lang: str = "en") -> str:
        return self.label_zh if lang == "zh" else self.label_en


def _float(value: Any) -> float:
    try:
        return float(value) if value is not None and value is not pd.NA else math.nan
    except (TypeError, ValueError):
        return math.nan


def _numbers(components: Mapping[str, Any], name: str, n: int) -> np.ndarray:
    """Component ``name`` as floats: NaN for anything missing, not numeric or infinite."""
    if name not in components:
        return np.full(n, np.nan)
    values = components[name]
    if isinstance(values, pd.Series):
        out = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    else:
        out = np.array([_float(v) for v in values], dtype="float64")
    return np.where(np.isfinite(out), out, np.nan)


def _scalar(kpi: Kpi, value: float) -> float | int | None:
    """One value of :meth:`Kpi.column` as a Python number (``None`` for NaN: no value)."""
    if math.isnan(value):
        return None
    return int(value) if kpi.unit == "count" else float(value)


#: The KPI registry, in the order the Overview shows them.
KPIS: Final[tuple[Kpi, ...]] = (
    Kpi("active_users", "Active users", "活跃用户", "count", "distinct users with any event", "up", "active_users"),
    Kpi("views", "Views", "播放量", "count", "number of view events", "up", "views"),
    Kpi("watch_hours", "Watch hours", "观看时长（小时）", "hours", "sum(watch_seconds of views) / 3600", "up",
        "watch_seconds", scale=1 / 3600),
    Kpi("avg_watch_ratio", "Average watch ratio", "平均完播比例", "ratio",
        "sum(watch ratio) / views with a usable video length", "up", "watch_ratio_sum", "views_with_length"),
    Kpi("completion_rate", "Completion rate", "完播率", "ratio",
        "views with watch ratio >= 0.9 / views with a usable video length", "up", "complete_views",
        "views_with_length"),
    Kpi("interaction_rate", "Interaction rate", "互动率", "ratio", "(likes + comments + shares) / views", "up",
        "interactions", "views"),
    Kpi("follow_rate", "Follow rate", "关注率", "ratio", "follows / views", "up", "follows", "views"),
    Kpi("ctr", "Click-through rate", "点击率", "ratio", "clicks / views", "up", "clicks", "views"),
    Kpi("conversion", "Conversion", "转化率", "ratio", "viewers who purchased in the period / viewers", "up",
        "converted_viewers", "viewers"),
    Kpi("orders", "Orders", "订单数", "count", "number of purchase events", "up", "orders"),
    Kpi("revenue", "Revenue (net)", "收入（净额）", "money", "purchase revenue - refunded amount", "up", "revenue"),
    Kpi("refund_rate", "Refund rate", "退款率", "ratio", "refund events / purchase events", "down", "refunds",
        "orders"),
    Kpi("arpu", "ARPU", "每用户收入（ARPU）", "money", "revenue / active users", "up", "revenue", "active_users"),
    Kpi("arppu", "ARPPU", "每付费用户收入（ARPPU）", "money", "revenue / purchasers", "up", "revenue", "purchasers"),
    Kpi("revenue_per_1000_views", "Revenue per 1,000 views", "千次播放收入", "money", "revenue / views * 1000", "up",
        "revenue", "views", scale=1000.0),
    Kpi("purchasers", "Purchasers", "购买用户", "count", "distinct users with a purchase", "up", "purchasers"),
    Kpi("new_buyers", "New buyers", "新购买用户", "count",
        "purchasers whose first purchase in the whole store falls in the period", "up", "new_buyers"),
    Kpi("spend", "Spend", "投放花费", "money", "sum of uploaded spend rows in the period", "down", "spend"),
    Kpi("cac", "CAC", "获客成本（CAC）", "money", "spend / new buyers", "down", "spend", "new_buyers"),
    Kpi("roas", "ROAS", "广告支出回报（ROAS）", "multiple", "revenue / spend", "up", "revenue", "spend"),
)


# -- KPIs defined by other modules (one implementation each, there) -----------------------------
def _day_n(n: int) -> Callable[[Store, Filters], float | None]:
    def compute(store: Store, filters: Filters) -> float | None:
        from analytics.metrics.retention import day_n_retention

        return day_n_retention(store.ibis(), filters, n)

    return compute


def _course_completion(store: Store, filters: Filters) -> float | None:
    from analytics.metrics.courses import completion_rate

    return completion_rate(store, filters)


#: KPIs whose definition lives in another module; the Overview shows them without a sparkline and
#: breakdowns do not split them (their pages do).
EXTERNAL_KPIS: Final[tuple[Kpi, ...]] = (
    Kpi("d1_retention", "D1 retention", "次日留存", "ratio",
        "users first seen in the period with an event on local day first+1 / those whose day 1 is observable",
        "up", "analytics.metrics.retention.day_n_retention(n=1)"),
    Kpi("d7_retention", "D7 retention", "7 日留存", "ratio",
        "as D1 with day first+7", "up", "analytics.metrics.retention.day_n_retention(n=7)"),
    Kpi("d30_retention", "D30 retention", "30 日留存", "ratio",
        "as D1 with day first+30", "up", "analytics.metrics.retention.day_n_retention(n=30)"),
    Kpi("course_completion", "Course completion", "课程完课率", "ratio",
        "buyer-course pairs that reached the last lesson / buyer-course pairs (purchases in the period)", "up",
        "analytics.metrics.courses.completion_rate"),
)
EXTERNAL_COMPUTE: Final[dict[str, Callable[[Store, Filters], float | None]]] = {
    "d1_retention": _day_n(1),
    "d7_retention": _day_n(7),
    "d30_retention": _day_n(30),
    "course_completion": _course_completion,
}

KPI_BY_NAME: Final[dict[str, Kpi]] = {k.name: k for k in KPIS}
ALL_KPIS: Final[tuple[Kpi, ...]] = KPIS + EXTERNAL_KPIS


# -- components: ibis aggregations in two stages ------------------------------------------------
# Stage 1 aggregates the enriched events per group and user; stage 2 aggregates those per-user rows
# per group. Counts are COUNT(*) FILTER (BIGINT), not sums of booleans (HUGEINT in DuckDB, which
# made later sums some hundred times slower). Distinct-user counts thus become plain counts of per-user rows, which DuckDB (and
# Spark) compute far faster than several COUNT(DISTINCT ...) FILTER aggregates over the events.
def _is(e, event_type: str):
    return e.event_type == event_type


#: Stage 1: per group and user, over the enriched events ``e``.
USER_COMPONENTS: Final[dict[str, Callable[[Any], Any]]] = {
    "views": lambda e: e.count(where=_is(e, "view")),
    "watch_seconds": lambda e: e.watch_seconds.clip(lower=0).sum(where=_is(e, "view")),
    "watch_ratio_sum": lambda e: e.watch_ratio.sum(where=_is(e, "view")),
    "views_with_length": lambda e: e.watch_ratio.count(where=_is(e, "view")),
    "complete_views": lambda e: e.count(where=_is(e, "view") & (e.watch_ratio >= COMPLETION_THRESHOLD)),
    "interactions": lambda e: e.count(where=e.event_type.isin(list(INTERACTION_TYPES))),
    "follows": lambda e: e.count(where=_is(e, "follow")),
    "clicks": lambda e: e.count(where=_is(e, "click")),
    "orders": lambda e: e.count(where=_is(e, "purchase")),
    "refunds": lambda e: e.count(where=_is(e, "refund")),
    "gross_revenue": lambda e: e.revenue.cast("float64").sum(where=_is(e, "purchase")),
    "refunded_amount": lambda e: e.revenue.cast("float64").abs().sum(where=_is(e, "refund")),
}

#: Stage 2: per group, over the per-user rows ``u`` (with the flags ``_buyer`` and ``_new``).
GROUP_COMPONENTS: Final[dict[str, Callable[[Any], Any]]] = {
    "active_users": lambda u: u.count(),
    "viewers": lambda u: u.count(where=u.views > 0),
    "converted_viewers": lambda u: u.count(where=(u.views > 0) & u._buyer),
    "purchasers": lambda u: u.count(where=u.orders > 0),
    "new_buyers": lambda u: u.count(where=(u.orders > 0) & u._new),
    **{name: (lambda u, name=name: u[name].sum()) for name in USER_COMPONENTS},
}
EVENT_COMPONENTS: Final[tuple[str, ...]] = tuple(GROUP_COMPONENTS)
#: Components derived after aggregation (not ibis aggregations themselves).
DERIVED_COMPONENTS: Final[tuple[str, ...]] = ("revenue", "spend")


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """Fill counts of empty groups with 0 and derive net revenue (user counts stay absent if not computed)."""
    for name in EVENT_COMPONENTS:
        if name in df.columns and name != "watch_ratio_sum":
            df[name] = pd.to_numeric(df[name], errors="coerce").fillna(0)
    df["revenue"] = df["gross_revenue"] - df["refunded_amount"]
    return df


def evaluate_frame(components: pd.DataFrame, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Every KPI (or those in ``names``) for every row of a frame of component values.

    Nullable integers (``Int64``) for counts, floats otherwise, missing where a KPI has no value;
    :func:`as_objects` turns such a table into plain Python values and ``None``.
    """
    out = pd.DataFrame(index=components.index)
    for k in KPIS:
        if names is None or k.name in names:
            values = pd.Series(k.column(components, len(components)), index=components.index)
            out[k.name] = values.astype("Int64") if k.unit == "count" else values
    return out


def as_objects(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with Python values: ints stay ints, missing values become ``None``."""
    return table.astype(object).where(table.notna(), None)


def evaluate(components: Mapping[str, Any], names: Sequence[str] | None = None) -> dict[str, float | None]:
    """Every KPI (or those in ``names``) from one group's component values."""
    one = {k: (v,) for k, v in components.items()}
    return {k.name: _scalar(k, k.column(one)[0]) for k in KPIS if names is None or k.name in names}


# -- local time ------------------------------------------------------------------------------
def local_day(ts, timezone: str, start: dt.datetime | None, end: dt.datetime | None):
    """ibis date: the local calendar day of naive-UTC ``ts`` in ``timezone`` (times in [start, end)).

    Uses the engine-neutral offset arithmetic of :mod:`analytics.metrics.retention` (one CASE branch per
    daylight-saving change), so local days mean the same on every page.
    """
    from analytics.metrics.retention import local_time, utc_offsets

    return local_time(ts, utc_offsets(timezone, start, end)).date()


# -- periods ---------------------------------------------------------------------------------
def resolve_period(store: Store, filters: Filters) -> Filters | None:
    """``filters`` with open dates closed at the data's first / last local day; ``None`` without events."""
    if filters.date_from and filters.date_to:
        return filters
    first, last = store.query("SELECT min(event_time), max(event_time) FROM events").rows[0]
    if first is None:
        return None
    zone = parse_timezone(filters.timezone)

    def local(at: dt.datetime) -> dt.date:
        return at.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()

    return Filters(
        filters.date_from or local(first),
        filters.date_to or local(last),
        filters.channels,
        filters.campaigns,
        filters.categories,
        filters.timezone,
    )


# -- the enriched events table ---------------------------------------------------------------
def _catalog(backend):
    items = latest_items(backend.table("items"))
    return items.group_by("item_id").aggregate(
        _catalog_seconds=items.duration_seconds.max(),
        _creator=items.creator.max(),
        _category=items.category.max(),
        _kind=items.kind.max(),
        _item_course=items.course_id.max(),
        _title=items.title.max(),
    )


def _enriched(backend, filters: Filters):
    """Filtered events with the catalog columns and ``watch_ratio``."""
    events = filtered_events(backend, filters)
    catalog = _catalog(backend)
    e = events.left_join(catalog, events.item_id == catalog.item_id).drop("item_id_right")
    return e.mutate(watch_ratio=watch_ratio(e.watch_seconds, length_seconds(e.video_seconds, e._catalog_seconds)))


def _new_buyers(backend, filters: Filters, rollup: bool = False):
    """Users whose first purchase in the whole store falls inside the period (one column ``_new_user``).

    From the rollup the first purchase is known to the hour, which decides the same question
    because the rollup is only used when the period starts and ends on whole UTC hours.
    """
    if rollup:
        r = backend.table(ROLLUP_TABLE)
        first = r.filter(r.orders > 0).group_by("user_id").aggregate(_first_purchase=r._hour.min())
    else:
        everything = backend.table("events")
        first = everything.filter(everything.event_type == "purchase").group_by("user_id").aggregate(
            _first_purchase=everything.event_time.min()
        )
    start, end = filters.utc_bounds()
    preds = []
    if start is not None:
        preds.append(first._first_purchase >= start)
    if end is not None:
        preds.append(first._first_purchase < end)
    first = first.filter(*preds) if preds else first
    return first.select(_new_user=first.user_id)


def _dimension(e, by: str, filters: Filters, start: dt.datetime | None = None, end: dt.datetime | None = None):
    """The ibis expression that groups ``e`` by the dimension ``by``."""
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
    _dimension(None, by, Filters())  # raises the BadInput
    return by


# -- the hourly rollup: stage 1 stored once per data version ---------------------------------
#: Table holding stage 1 per UTC hour, user, channel, campaign and variant (a cache of ``events``).
ROLLUP_TABLE: Final[str] = "kpi_rollup"
ROLLUP_META_KEY: Final[str] = "kpi_rollup_key"
#: Dimensions the rollup can group by (``day`` = local day of the hour).
ROLLUP_DIMENSIONS: Final[tuple[str, ...]] = ("channel", "campaign", "variant", "day")
Source = Literal["auto", "events", "rollup"]
_ROLLUP_LOCK = threading.Lock()


def _rollup_key(store: Store) -> str:
    """Changes whenever events or the catalog (video lengths) change, uploads or not."""
    facts = store.query(
        "SELECT (SELECT count(*) FROM events), (SELECT max(event_time) FROM events), "
        "(SELECT count(*) FROM items), (SELECT sum(duration_seconds) FROM items)"
    ).rows[0]
    return "|".join([store.data_version(), *map(str, facts)])


def refresh_rollup(store: Store, *, force: bool = False) -> bool:
    """Build the hourly rollup of stage 1 when the events changed since it was built.

    Every stage-1 component is a sum, so grouping the rollup by (dimension, user) gives exactly
    what grouping the events would. Returns True when the table was (re)built. The table is a
    cache: removing it loses nothing.
    """
    with _ROLLUP_LOCK:
        key = _rollup_key(store)
        if not force and store.get_meta(ROLLUP_META_KEY) == key:
            return False
        backend = store.ibis()
        e = _enriched(backend, Filters())
        expr = e.group_by(
            _hour=e.event_time.truncate("h"), user_id=e.user_id, channel=e.channel, campaign=e.campaign,
            variant=e.variant,
        ).aggregate(**{name: fn(e) for name, fn in USER_COMPONENTS.items()})
        sql = str(ibis.to_sql(expr, dialect="duckdb"))
        with store.transaction() as cur:
            cur.execute(f'CREATE OR REPLACE TABLE "{ROLLUP_TABLE}" AS {sql}')
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [ROLLUP_META_KEY, key])
        return True


def rollup_applies(filters: Filters, by: Sequence[str] = ()) -> bool:
    """Whether the rollup can answer: no category filter, dimensions it carries, whole-hour offsets."""
    if filters.categories or any(b not in ROLLUP_DIMENSIONS for b in by):
        return False
    from analytics.metrics.retention import utc_offsets

    start, end = filters.utc_bounds()
    return all(offset % 3600 == 0 for _, offset in utc_offsets(filters.timezone, start, end))


def _buyers(backend, filters: Filters, rollup: bool = False):
    """Users with a purchase within ``filters`` (one column ``_buyer_user``)."""
    if rollup:
        r = _rollup_rows(backend, filters)
        r = r.filter(r.orders > 0)
    else:
        r = filtered_events(backend, filters)
        r = r.filter(r.event_type == "purchase")
    return r.select(_buyer_user=r.user_id).distinct()


def _rollup_rows(backend, filters: Filters):
    r = backend.table(ROLLUP_TABLE)
    start, end = filters.utc_bounds()
    preds = []
    if start is not None:
        preds.append(r._hour >= start)
    if end is not None:
        preds.append(r._hour < end)
    if filters.channels:
        preds.append(r.channel.isin(list(filters.channels)))
    if filters.campaigns:
        preds.append(r.campaign.isin(list(filters.campaigns)))
    return r.filter(*preds) if preds else r


def _per_user_from_rollup(backend, filters: Filters, by: Sequence[str]):
    r = _rollup_rows(backend, filters)
    start, end = filters.utc_bounds()
    keys = {
        f"_g{i}": (local_day(r._hour, filters.timezone, start, end) if b == "day" else r[b]) for i, b in enumerate(by)
    }
    return r.group_by(**keys, user_id=r.user_id).aggregate(**{name: r[name].sum() for name in USER_COMPONENTS}), keys


def _from_index(store: Store, filters: Filters, by: Sequence[str], index: bool | None, what: str) -> pd.DataFrame | None:
    """The answer of the in-memory breakdown index (:mod:`analytics.query.accel.breakdown`), or ``None``.

    ``index=True`` builds the index when missing or stale (worth it in a long-lived process such
    as the dashboard), ``None`` uses it only if this process already built it, ``False`` never.
    """
    from analytics.query.accel import breakdown as breakdown_index

    if index is False or len(by) != 1 or not breakdown_index.applicable(filters, by[0]):
        return None
    if not index and not breakdown_index.has_index(store, by[0], filters.timezone):
        return None
    fn = breakdown_index.components if what == "components" else breakdown_index.sums
    return fn(store, filters, by[0])


def event_sums(store: Store, filters: Filters, by: Sequence[str], *, index: bool | None = None) -> pd.DataFrame:
    """Only the event-level components (:data:`USER_COMPONENTS`, no distinct users) per group of ``by``.

    One aggregation without the user grain: enough for KPIs built from event counts and sums
    (views, rates per view, orders, revenue), and much cheaper for fine groups such as videos.
    ``index`` as in :func:`_from_index` (groups with nothing but zero sums may then be absent).
    """
    fast = _from_index(store, filters, by, index, "sums")
    if fast is not None:
        return fast
    backend = store.ibis()
    e = _enriched(backend, filters)
    start, end = filters.utc_bounds()
    keys = {f"_g{i}": _dimension(e, b, filters, start, end) for i, b in enumerate(by)}
    df = e.group_by(**keys).aggregate(**{name: fn(e) for name, fn in USER_COMPONENTS.items()}).execute()
    return _finish(df.rename(columns={f"_g{i}": b for i, b in enumerate(by)}))


#: Components :func:`event_sums` provides (``revenue`` is derived from two of them).
EVENT_SUM_COMPONENTS: Final[frozenset[str]] = frozenset(USER_COMPONENTS) | {"revenue"}


def event_components(
    store: Store, filters: Filters, by: Sequence[str] = (), source: Source = "auto", *, index: bool | None = None
) -> pd.DataFrame:
    """Component values per group of ``by`` (one row without grouping) as a DataFrame.

    Group columns are named after the dimensions; component columns after
    :data:`GROUP_COMPONENTS`, plus ``revenue`` (net). ``filters`` should have closed dates when
    grouping by ``day``. ``source="auto"`` reads the hourly rollup (:func:`refresh_rollup`) when it
    can answer (:func:`rollup_applies`), the in-memory breakdown index for creator, category, video
    and course (``index`` as in :func:`_from_index`), and the events otherwise; all give the same
    numbers.
    """
    if source == "auto":
        fast = _from_index(store, filters, by, index, "components")
        if fast is not None:
            return fast
    backend = store.ibis()
    use_rollup = source == "rollup" or (source == "auto" and rollup_applies(filters, by))
    if use_rollup:
        refresh_rollup(store)
        per_user, keys = _per_user_from_rollup(backend, filters, by)
    else:
        e = _enriched(backend, filters)
        start, end = filters.utc_bounds()
        keys = {f"_g{i}": _dimension(e, b, filters, start, end) for i, b in enumerate(by)}
        per_user = e.group_by(**keys, user_id=e.user_id).aggregate(
            **{name: fn(e) for name, fn in USER_COMPONENTS.items()}
        )
    new = _new_buyers(backend, filters, rollup=use_rollup)
    u = per_user.left_join(new, per_user.user_id == new._new_user)
    if keys:  # a buyer is a user with a purchase in any group of the period (a join, not a window)
        buyers = _buyers(backend, filters, rollup=use_rollup)
        u = u.left_join(buyers, u.user_id == buyers._buyer_user)
        u = u.mutate(_buyer=u._buyer_user.notnull(), _new=u._new_user.notnull())
    else:
        u = u.mutate(_buyer=u.orders > 0, _new=u._new_user.notnull())
    metrics = {name: fn(u) for name, fn in GROUP_COMPONENTS.items()}
    if keys:
        df = u.group_by(*keys).aggregate(**metrics).execute()
        df = df.rename(columns={f"_g{i}": b for i, b in enumerate(by)})
    else:
        df = u.aggregate(**metrics).execute()
    return _finish(df)


def spend_components(store: Store, filters: Filters, by: Sequence[str] = ()) -> pd.DataFrame | None:
    """Sum of uploaded spend per group of ``by`` (``channel``, ``campaign``, ``day``) in the period.

    Returns ``None`` when spend cannot be attributed (a category filter, or a dimension that spend
    rows do not carry); groups without spend rows are absent (missing, not zero).
    """
    if filters.categories or any(b not in SPEND_DIMENSIONS + ("day",) for b in by):
        return None
    backend = store.ibis()
    s = backend.table("spend")
    preds = []
    if filters.date_from:
        preds.append(s.date >= filters.date_from)
    if filters.date_to:
        preds.append(s.date <= filters.date_to)
    if filters.channels:
        preds.append(s.channel.isin(list(filters.channels)))
    if filters.campaigns:
        preds.append(s.campaign.isin(list(filters.campaigns)))
    if preds:
        s = s.filter(*preds)
    metrics = {"spend": s.spend.cast("float64").sum(), "spend_rows": s.count()}
    if by:
        keys = {b: (s.date if b == "day" else s[b]) for b in by}
        df = s.group_by(**keys).aggregate(**metrics).execute()
    else:
        df = s.aggregate(**metrics).execute()
    df = df[pd.to_numeric(df["spend_rows"]) > 0]
    return df.drop(columns="spend_rows").reset_index(drop=True)


def spend_note(filters: Filters, by: Sequence[str] = ()) -> str | None:
    """Why spend is not available for this view (``None`` when it can be computed)."""
    if filters.categories:
        return NOTE_SPEND_NOT_BY_CATEGORY
    if any(b not in SPEND_DIMENSIONS + ("day",) for b in by):
        return NOTE_SPEND_NOT_SPLIT
    return None


# -- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class KpiCard:
    """One KPI for the period, the previous period and its daily series."""

    kpi: Kpi
    value: float | None
    previous: float | None
    series: tuple[float | None, ...]

    @property
    def difference(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def change(self) -> float | None:
        """Relative change against the previous period; ``None`` when that was missing or zero."""
        if self.difference is None or not self.previous:
            return None
        return self.difference / abs(self.previous)


@dataclass(frozen=True)
class KpiReport:
    """KPIs of a period, the previous period of equal length, and daily series."""

    status: Status
    filters: Filters
    previous_filters: Filters | None
    values: dict[str, float | None]
    previous: dict[str, float | None]
    days: tuple[dt.date, ...]
    series: dict[str, tuple[float | None, ...]]
    notes: tuple[str, ...] = ()

    def cards(self) -> list[KpiCard]:
        return [
            KpiCard(k, self.values.get(k.name), self.previous.get(k.name), self.series.get(k.name, ()))
            for k in ALL_KPIS
            if k.name in self.values
        ]

    def table(self) -> pd.DataFrame:
        """One row per KPI: name, value, previous value, change (for exports)."""
        return pd.DataFrame(
            [
                {"kpi": c.kpi.name, "label": c.kpi.label_en, "unit": c.kpi.unit, "value": c.value,
                 "previous": c.previous, "difference": c.difference, "change": c.change}
                for c in self.cards()
            ]
        )

    def series_frame(self) -> pd.DataFrame:
        """Daily series: one row per local day, one column per KPI."""
        return pd.DataFrame({"day": list(self.days), **{k: list(v) for k, v in self.series.items()}})

    def to_dict(self) -> dict[str, Any]:
        cards = self.cards()
        return {
            "status": self.status,
            "filters": self.filters.describe(),
            "previous_period": self.previous_filters.describe() if self.previous_filters else None,
            "kpis": self.values,
            "previous": self.previous,
            "change": {c.kpi.name: c.change for c in cards},
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Breakdown:
    """KPIs per group of one dimension."""

    status: Status
    by: str
    filters: Filters
    table: pd.DataFrame = field(repr=False)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "by": self.by, "filters": self.filters.describe(),
                "rows": self.table, "notes": list(self.notes)}


@dataclass(frozen=True)
class VideoRanking:
    """The best and worst videos by one KPI (rates only over videos with enough views)."""

    status: Status
    metric: str
    min_views: int
    top: pd.DataFrame = field(repr=False)
    bottom: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "metric": self.metric, "min_views": self.min_views,
                "top": self.top, "bottom": self.bottom}


# -- public functions ------------------------------------------------------------------------
def _values(store: Store, filters: Filters) -> tuple[dict[str, float | None], tuple[str, ...]]:
    comps = event_components(store, filters).iloc[0].to_dict()
    note = spend_note(filters)
    if note is None:
        spend = spend_components(store, filters)
        if spend is not None and len(spend):
            comps["spend"] = spend["spend"].iloc[0]
        else:
            note = NOTE_NO_SPEND
    return evaluate(comps), ((note,) if note else ())


def kpi_values(store: Store, filters: Filters) -> dict[str, float | None]:
    """Every KPI over ``filters`` (open dates mean all data): ``{name: value or None}``."""
    return _values(store, filters)[0]


def daily_series(store: Store, filters: Filters) -> tuple[tuple[dt.date, ...], dict[str, tuple[float | None, ...]]]:
    """Every KPI per local day of the (closed) period; days without events have counts 0, rates None."""
    if not (filters.date_from and filters.date_to):
        raise BadInput("a daily series needs both a start and an end date", code="no_period")
    days = tuple(pd.date_range(filters.date_from, filters.date_to, freq="D").date)
    comps = event_components(store, filters, ("day",))
    comps["day"] = pd.to_datetime(comps["day"]).dt.date
    comps = comps.set_index("day").reindex(list(days))
    comps = _finish(comps.reset_index(names="day")).set_index("day")
    if spend_note(filters) is None:
        spend = spend_components(store, filters, ("day",))
        if spend is not None and len(spend):
            spend["day"] = pd.to_datetime(spend["day"]).dt.date
            comps["spend"] = spend.set_index("day")["spend"].reindex(list(days))
    values = as_objects(evaluate_frame(comps.reindex(list(days))))
    series = {k.name: tuple(values[k.name]) for k in KPIS}
    return days, series


def external_values(store: Store, filters: Filters) -> tuple[dict[str, float | None], tuple[str, ...]]:
    """D1/D7/D30 retention and course completion, computed by their own modules.

    A failure inside one of those modules leaves that KPI ``None`` with the note
    ``external_failed:NAME`` (the Overview shows it) instead of taking every other card down.
    """
    values: dict[str, float | None] = {}
    notes: list[str] = []
    for name, compute in EXTERNAL_COMPUTE.items():
        try:
            values[name] = compute(store, filters)
        except ReelyticsError:
            raise
        except Exception:  # noqa: BLE001 - reported as a note, see docstring
            values[name] = None
            notes.append(f"external_failed:{name}")
    return values, tuple(notes)


def kpi_report(store: Store, filters: Filters, *, external: bool = True) -> KpiReport:
    """KPIs of the filtered period with the previous period of equal length and daily sparklines.

    An open date range stands for the data's whole span (first to last local day with events).
    With ``external`` the report also holds :data:`EXTERNAL_KPIS` (no daily series for those).
    """
    period = resolve_period(store, filters)
    if period is None:
        names = ALL_KPIS if external else KPIS
        return KpiReport("no_data", filters, None, {k.name: None for k in names}, {}, (), {})
    previous = period.previous_period()
    values, notes = _values(store, period)
    before, _ = _values(store, previous)
    if external:
        now, failed = external_values(store, period)
        values.update(now)
        before.update(external_values(store, previous)[0])
        notes = notes + failed
    days, series = daily_series(store, period)
    return KpiReport("ok", period, previous, values, before, days, series, notes)


def _labels(store: Store, by: str) -> pd.DataFrame | None:
    if by != "video":
        return None
    return store.arrow(
        "SELECT item_id AS video, max(title) AS title, max(creator) AS creator FROM items GROUP BY item_id"
    ).to_pandas()


def breakdown(
    store: Store, filters: Filters, by: str, sort: str = "views", limit: int | None = None, *, index: bool | None = None
) -> Breakdown:
    """Every KPI per value of ``by`` (channel, campaign, variant, creator, category, video, course, props.KEY).

    Rows are ordered by ``sort`` (a KPI name, descending, ``None`` last). ``video`` keeps only
    items with at least one view and adds the catalog title and creator. Spend, CAC and ROAS are
    filled only for channel and campaign (the dimensions spend rows carry). ``index``: see
    :func:`_from_index`.
    """
    check_dimension(by)
    if sort not in KPI_BY_NAME:
        raise BadInput(f"unknown KPI {sort!r} to sort by", code="bad_kpi", value=sort)
    comps = event_components(store, filters, (by,), index=index)
    notes: list[str] = []
    note = spend_note(filters, (by,))
    if note is None:
        spend = spend_components(store, filters, (by,))
        if spend is None or not len(spend):
            notes.append(NOTE_NO_SPEND)
        else:
            comps = comps.merge(spend, on=by, how="outer")
            comps = _finish(comps)
    else:
        notes.append(note)
    if by == "video":
        comps = comps[comps["views"] > 0]
    comps = comps.reset_index(drop=True)
    table = pd.concat([comps[[by]], evaluate_frame(comps)], axis=1)
    labels = _labels(store, by)
    if labels is not None:
        table = table.merge(labels, on="video", how="left")
        table = table[["video", "title", "creator"] + [k.name for k in KPIS]]
    # Ties keep a fixed order (by the group value) so the same data always gives the same table.
    table = table.sort_values(by, na_position="last", kind="stable")
    table = table.sort_values(sort, ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    if limit is not None:
        table = table.head(limit)
    table = as_objects(table)
    status: Status = "ok" if len(table) else "no_data"
    return Breakdown(status, by, filters, table, tuple(notes))


def _video_table(store: Store, filters: Filters, comps: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    comps = comps[comps["views"] > 0]
    comps = comps.reset_index(drop=True)
    table = pd.concat([comps[["video"]], evaluate_frame(comps, names)], axis=1)
    table = table.merge(_labels(store, "video"), on="video", how="left")
    return table[["video", "title", "creator", *dict.fromkeys(names)]]


def top_bottom_videos(
    store: Store,
    filters: Filters,
    metric: str = "views",
    n: int = 10,
    min_views: int | None = None,
    videos: pd.DataFrame | None = None,
    *,
    index: bool | None = None,
) -> VideoRanking:
    """The ``n`` best and worst videos by ``metric`` (good direction of the KPI decides "best").

    For ratio and money-per-view KPIs only videos with at least ``min_views`` views
    (default :data:`MIN_VIEWS_FOR_RATES`) are ranked, so one lucky view does not top the list.
    ``videos`` may pass the table of ``breakdown(store, filters, "video")`` already computed;
    ``index``: see :func:`_from_index`.
    """
    kpi = KPI_BY_NAME.get(metric)
    if kpi is None:
        raise BadInput(f"unknown KPI {metric!r}; use one of {', '.join(KPI_BY_NAME)}", code="bad_kpi", value=metric)
    if min_views is None:
        min_views = MIN_VIEWS_FOR_RATES if kpi.denominator else 0
    if videos is not None:
        table = videos
    elif {kpi.numerator, kpi.denominator or "views"} <= EVENT_SUM_COMPONENTS:
        table = _video_table(store, filters, event_sums(store, filters, ("video",), index=index), (metric, "views"))
    else:
        table = breakdown(store, filters, "video", sort=metric, index=index).table
    value, views = pd.to_numeric(table[metric]).astype("float64"), pd.to_numeric(table["views"]).astype("float64")
    keep = (views >= min_views) & value.notna()
    table = table[keep].assign(_value=value[keep], _views=views[keep])
    # ties: more views first, then by video id, whatever order the table came in
    table = table.sort_values("video", kind="stable").sort_values("_views", ascending=False, kind="stable")
    best_first = table.sort_values("_value", ascending=kpi.direction == "down", kind="stable")
    best_first = best_first.drop(columns=["_value", "_views"])
    top = as_objects(best_first.head(n).reset_index(drop=True))
    bottom = as_objects(best_first.iloc[::-1].head(n).reset_index(drop=True))
    return VideoRanking("ok" if len(table) else "no_data", metric, min_views, top, bottom)


# -- the Overview in one call ----------------------------------------------------------------
@dataclass(frozen=True)
class Overview:
    """Everything the Overview page shows: KPI cards, one breakdown and the video ranking."""

    report: KpiReport
    breakdown: Breakdown | None
    ranking: VideoRanking | None

    @property
    def status(self) -> Status:
        return self.report.status

    def to_dict(self) -> dict[str, Any]:
        return {"report": self.report, "breakdown": self.breakdown, "ranking": self.ranking}


def overview(
    store: Store, filters: Filters, by: str = "channel", rank_by: str = "views", n: int = 10, *, index: bool | None = None
) -> Overview:
    """The Overview page's data: :func:`kpi_report`, :func:`breakdown` by ``by`` and
    :func:`top_bottom_videos` by ``rank_by`` (``n`` each), all over the same ``filters``
    (``index``: see :func:`_from_index`)."""
    check_dimension(by)
    report = kpi_report(store, filters)
    if report.status != "ok":
        return Overview(report, None, None)
    table = breakdown(store, filters, by, index=index)
    videos = table.table if by == "video" else None
    return Overview(report, table, top_bottom_videos(store, filters, rank_by, n, videos=videos, index=index))
