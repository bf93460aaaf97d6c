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
* what the data never records is not measured as zero: where no event of the whole store is a like,
  comment or share, a follow, a click, or a view with a watch time (:data:`RECORDED_BY`; many
  exports hold none), the KPIs counting it are ``None`` with the note ``not_recorded:KIND``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.columns import from_numpy, to_numpy
from analytics.errors import BadInput, ReelyticsError
from analytics.lazy import LazyModule
from analytics.query import engine
from analytics.query.components import (  # noqa: F401 - the KPI vocabulary, re-exported for callers
    DIMENSIONS,
    EVENT_COMPONENTS,
    EVENT_SUM_COMPONENTS,
    GROUP_COMPONENTS,
    PRODUCT_KINDS,
    SPEND_DIMENSIONS,
    USER_COMPONENTS,
    check_dimension,
    finish,
)
from analytics.query.filters import Filters, restrict
from analytics.query.layer import Components, ItemLabels, Recorded
from analytics.query.localtime import complete_days, to_local_day
from analytics.store.storage import Source

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: a breakdown answered from persisted tables needs no DataFrame
    pd = LazyModule("pandas")

Unit = Literal["count", "hours", "ratio", "money", "multiple"]
Direction = Literal["up", "down"]
Status = Literal["ok", "no_data"]

#: A video needs this many views before it is ranked on a rate (top / bottom videos).
MIN_VIEWS_FOR_RATES: Final[int] = 30

NOTE_NO_SPEND: Final[str] = "no_spend"
#: ``not_recorded:KIND``: the data holds no record of KIND (:data:`RECORDED_BY`), so its KPIs have no value.
NOTE_NOT_RECORDED: Final[str] = "not_recorded"
#: What a log may not record at all (an export without follows, clicks or watch times:
#: :data:`analytics.query.components.RECORDS`), and the components that count it. Where no event of
#: the store is such a record, every KPI whose numerator is one of them has no value: not measured,
#: rather than measured as zero.
RECORDED_BY: Final[dict[str, tuple[str, ...]]] = {
    "interactions": ("interactions",),
    "follows": ("follows",),
    "clicks": ("clicks",),
    "watch_time": ("watch_seconds", "watch_ratio_sum", "complete_views"),
}
NOTE_SPEND_NOT_BY_CATEGORY: Final[str] = "spend_not_by_category"
NOTE_SPEND_NOT_SPLIT: Final[str] = "spend_not_split"
#: ``course_still_learning:RECENT:BUYERS``: RECENT of the period's BUYERS (buyer-course pairs) bought
#: less than the time completers took before the data ends (analytics.metrics.courses, "still learning").
NOTE_COURSE_STILL_LEARNING: Final[str] = "course_still_learning"

@dataclass(frozen=True)
class Kpi:
    """One KPI: ``scale * numerator / denominator`` over named components."""

    name: str
    unit: Unit
    formula: str
    direction: Direction
    numerator: str
    denominator: str | None = None
    scale: float = 1.0

    def column(self, components: Mapping[str, Any], n: int = 1, unrecorded: Collection[str] = ()) -> np.ndarray:
        """The KPI for each of ``n`` groups from their component values (a DataFrame, or a mapping
        of equally long sequences): floats, NaN where it has no value (a missing numerator, a
        missing or zero denominator, a numerator among ``unrecorded`` components: what the data
        never records, :func:`not_recorded`). The one implementation of the formula."""
        if self.numerator in unrecorded:
            return np.full(n, np.nan)
        num = _numbers(components, self.numerator, n)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.denominator is None:
                out = np.round(num) if self.unit == "count" else num * self.scale
            else:
                den = _numbers(components, self.denominator, n)
                out = num / np.where(den != 0, den, np.nan) * self.scale
        out[~np.isfinite(out)] = np.nan  # a tiny denominator must not give infinity
        return out


def _float(value: Any) -> float:
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):  # pandas' NA among them
        return math.nan


def _numbers(components: Mapping[str, Any], name: str, n: int) -> np.ndarray:
    """Component ``name`` as floats: NaN for anything missing, not numeric or infinite."""
    if name not in components:
        return np.full(n, np.nan)
    values = components[name]
    if isinstance(values, np.ndarray) and values.dtype.kind in "iufb":
        out = values.astype("float64")
    elif isinstance(values, (list, tuple, np.ndarray)):
        out = np.array([_float(v) for v in values], dtype="float64")
    else:  # a pandas Series
        out = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isfinite(out), out, np.nan)


def _scalar(kpi: Kpi, value: float) -> float | int | None:
    """One value of :meth:`Kpi.column` as a Python number (``None`` for NaN: no value)."""
    if math.isnan(value):
        return None
    return int(value) if kpi.unit == "count" else float(value)


#: The KPI registry, in the order the Overview shows them.
KPIS: Final[tuple[Kpi, ...]] = (
    Kpi("active_users", "count", "distinct users with any event", "up", "active_users"),
    Kpi("views", "count", "number of view events", "up", "views"),
    Kpi("watch_hours", "hours", "sum(watch_seconds of views) / 3600", "up",
        "watch_seconds", scale=1 / 3600),
    Kpi("avg_watch_ratio", "ratio",
        "sum(watch ratio) / views with a usable video length", "up", "watch_ratio_sum", "views_with_length"),
    Kpi("completion_rate", "ratio",
        "views with watch ratio >= 0.9 / views with a usable video length", "up", "complete_views",
        "views_with_length"),
    Kpi("interaction_rate", "ratio", "(likes + comments + shares) / views", "up",
        "interactions", "views"),
    Kpi("follow_rate", "ratio", "follows / views", "up", "follows", "views"),
    Kpi("ctr", "ratio", "clicks / views", "up", "clicks", "views"),
    Kpi("conversion", "ratio", "viewers who purchased in the period / viewers", "up",
        "converted_viewers", "viewers"),
    Kpi("orders", "count", "number of purchase events", "up", "orders"),
    Kpi("revenue", "money", "purchase revenue - refunded amount", "up", "revenue"),
    Kpi("refund_rate", "ratio", "refund events / purchase events", "down", "refunds",
        "orders"),
    Kpi("arpu", "money", "revenue / active users", "up", "revenue", "active_users"),
    Kpi("arppu", "money", "revenue / purchasers", "up", "revenue", "purchasers"),
    Kpi("revenue_per_1000_views", "money", "revenue / views * 1000", "up",
        "revenue", "views", scale=1000.0),
    Kpi("purchasers", "count", "distinct users with a purchase", "up", "purchasers"),
    Kpi("new_buyers", "count",
        "purchasers whose first purchase in the whole store falls in the period", "up", "new_buyers"),
    Kpi("spend", "money", "sum of uploaded spend rows in the period", "down", "spend"),
    Kpi("cac", "money", "spend / new buyers", "down", "spend", "new_buyers"),
    Kpi("roas", "multiple", "revenue / spend", "up", "revenue", "spend"),
)


# -- KPIs defined by other modules (one implementation each, there) -----------------------------
def _retention(source: Source, filters: Filters) -> tuple[dict[str, float | None], tuple[str, ...]]:
    from analytics.metrics.retention import day_n_retentions

    return {f"d{n}_retention": value for n, value in day_n_retentions(source, filters, (1, 7, 30)).items()}, ()


def _course_completion(source: Source, filters: Filters) -> tuple[dict[str, float | None], tuple[str, ...]]:
    """Course completion, noted (:data:`NOTE_COURSE_STILL_LEARNING`) when some of its buyers may still complete."""
    from analytics.metrics.courses import completion_rate

    done = completion_rate(source, filters)
    note = (f"{NOTE_COURSE_STILL_LEARNING}:{done.recent_buyers}:{done.buyers}",) if done.recent_buyers else ()
    return {"course_completion": done.rate}, note


#: KPIs whose definition lives in another module; the Overview shows them without a sparkline and
#: breakdowns do not split them (their pages do).
EXTERNAL_KPIS: Final[tuple[Kpi, ...]] = (
    Kpi("d1_retention", "ratio",
        "users first seen in the period with an event on local day first+1 / those whose day 1 is observable",
        "up", "analytics.metrics.retention.day_n_retention(n=1)"),
    Kpi("d7_retention", "ratio",
        "as D1 with day first+7", "up", "analytics.metrics.retention.day_n_retention(n=7)"),
    Kpi("d30_retention", "ratio",
        "as D1 with day first+30", "up", "analytics.metrics.retention.day_n_retention(n=30)"),
    Kpi("course_completion", "ratio",
        "buyer-course pairs that reached the last lesson / buyer-course pairs (purchases in the period)", "up",
        "analytics.metrics.courses.completion_rate"),
)
#: How the external KPIs are computed: each computation gives the values of the KPIs it names (the
#: three retention days in one query) and its notes.
EXTERNAL_COMPUTE: Final[dict[tuple[str, ...], Callable[[Source, Filters], tuple[dict[str, float | None], tuple[str, ...]]]]] = {
    ("d1_retention", "d7_retention", "d30_retention"): _retention,
    ("course_completion",): _course_completion,
}

KPI_BY_NAME: Final[dict[str, Kpi]] = {k.name: k for k in KPIS}
ALL_KPIS: Final[tuple[Kpi, ...]] = KPIS + EXTERNAL_KPIS


def evaluate_frame(
    components: pd.DataFrame, names: Sequence[str] | None = None, unrecorded: Collection[str] = ()
) -> pd.DataFrame:
    """Every KPI (or those in ``names``) for every row of a frame of component values (none for a
    KPI counting ``unrecorded`` components).

    Nullable integers (``Int64``) for counts, floats otherwise, missing where a KPI has no value;
    :func:`as_objects` turns such a table into plain Python values and ``None``.
    """
    out = pd.DataFrame(index=components.index)
    for k in KPIS:
        if names is None or k.name in names:
            values = pd.Series(k.column(components, len(components), unrecorded), index=components.index)
            out[k.name] = values.astype("Int64") if k.unit == "count" else values
    return out


def as_objects(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with Python values: ints stay ints, missing values become ``None``."""
    return table.astype(object).where(table.notna(), None)


def evaluate(
    components: Mapping[str, Any], names: Sequence[str] | None = None, unrecorded: Collection[str] = ()
) -> dict[str, float | None]:
    """Every KPI (or those in ``names``) from one group's component values (none for a KPI counting
    ``unrecorded`` components)."""
    one = {k: (v,) for k, v in components.items()}
    return {k.name: _scalar(k, k.column(one, 1, unrecorded)[0]) for k in KPIS if names is None or k.name in names}


def not_recorded(source: Source) -> tuple[str, ...]:
    """The kinds of :data:`RECORDED_BY` of which no event of the store holds any, whatever the filters
    (an export without follows, clicks or watch times): their KPIs are not measured."""
    held = engine.ask(source, Recorded())
    return tuple(kind for kind in RECORDED_BY if kind not in held)


def unrecorded_components(kinds: Sequence[str]) -> frozenset[str]:
    """The components counting the ``kinds`` of :data:`RECORDED_BY` (from :func:`not_recorded`)."""
    return frozenset(c for kind in kinds for c in RECORDED_BY[kind])


def kpis_counting(kind: str) -> tuple[str, ...]:
    """The KPIs whose numerator counts ``kind`` of :data:`RECORDED_BY` (those without a value when the data records none)."""
    return tuple(k.name for k in KPIS if k.numerator in RECORDED_BY[kind])


def _unrecorded_notes(kinds: Sequence[str], names: Collection[str]) -> tuple[str, ...]:
    """A ``not_recorded:KIND`` note for each of ``kinds`` that leaves one of the KPIs ``names`` without a value."""
    return tuple(f"{NOTE_NOT_RECORDED}:{kind}" for kind in kinds if set(kpis_counting(kind)) & set(names))


# -- periods ---------------------------------------------------------------------------------
def resolve_period(source: Source, filters: Filters) -> Filters | None:
    """``filters`` with open dates closed at the data's first / last local day; ``None`` without events."""
    if filters.date_from and filters.date_to:
        return filters
    first, last = source.span()
    if first is None:
        return None
    return dataclasses.replace(
        filters,
        date_from=filters.date_from or to_local_day(first, filters.timezone),
        date_to=filters.date_to or to_local_day(last, filters.timezone),
    )


# -- components, asked of the query layer ----------------------------------------------------
def event_sums(source, filters: Filters, by: Sequence[str]) -> pd.DataFrame:
    """Only the event-level components (:data:`USER_COMPONENTS`, no distinct users) per group of ``by``.

    Enough for KPIs built from event counts and sums (views, rates per view, orders, revenue), and
    much cheaper for fine groups such as videos (groups with nothing but zero sums may be absent).
    """
    return _frame_of(engine.ask(source, Components(filters, tuple(by), sums_only=True)))


def event_components(source, filters: Filters, by: Sequence[str] = ()) -> pd.DataFrame:
    """Component values per group of ``by`` (one row without grouping) as a DataFrame.

    Group columns are named after the dimensions; component columns after
    :data:`GROUP_COMPONENTS`, plus ``revenue`` (net). ``filters`` should have closed dates when
    grouping by ``day``. The query layer picks the path (hourly rollup, in-memory breakdown index or
    the events); all give the same numbers.
    """
    return _frame_of(engine.ask(source, Components(filters, tuple(by))))


def _frame_of(answer) -> pd.DataFrame:
    """A query layer's answer (a DataFrame, or an Arrow table where no path needed pandas) as a DataFrame."""
    return answer.to_pandas() if isinstance(answer, pa.Table) else answer


def _table_of(answer) -> pa.Table:
    """A query layer's answer (an Arrow table, or a DataFrame) as an Arrow table."""
    return answer if isinstance(answer, pa.Table) else pa.Table.from_pandas(answer, preserve_index=False)


def spend_components(source, filters: Filters, by: Sequence[str] = ()) -> pd.DataFrame | None:
    """Sum of uploaded spend per group of ``by`` (``channel``, ``campaign``, ``day``) in the period.

    Returns ``None`` when spend cannot be attributed (a filter on a field spend rows do not carry,
    such as category, or a dimension they do not carry); groups without spend rows are absent
    (missing, not zero). Spend rows carry local dates, compared with the period's local days.
    """
    if spend_note(filters, by) is not None:
        return None
    s = source.table("spend")
    if filters.date_from:
        s = s.filter(s.date >= filters.date_from)
    if filters.date_to:
        s = s.filter(s.date <= filters.date_to)
    s = restrict(s, filters)
    metrics = {"spend": s.spend.cast("float64").sum(), "spend_rows": s.count()}
    if by:
        keys = {b: (s.date if b == "day" else s[b]) for b in by}
        df = source.execute(s.group_by(**keys).aggregate(**metrics))
    else:
        df = source.execute(s.aggregate(**metrics))
    df = df[pd.to_numeric(df["spend_rows"]) > 0]
    return df.drop(columns="spend_rows").reset_index(drop=True)


def spend_note(filters: Filters, by: Sequence[str] = ()) -> str | None:
    """Why spend is not available for this view (``None`` when it can be computed): a filter on a
    field spend rows do not carry (``spend_not_by_category``), or a dimension they do not carry."""
    for f in filters.active():
        if f.column not in SPEND_DIMENSIONS or f.item_column is not None:
            return f"spend_not_by_{f.key}"
    if any(b not in SPEND_DIMENSIONS + ("day",) for b in by):
        return NOTE_SPEND_NOT_SPLIT
    return None


# -- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class KpiCard:
    """One KPI for the period, the previous period and its daily series (``complete``: whether the
    data covers each day of the series in full, see :func:`complete_days`)."""

    kpi: Kpi
    value: float | None
    previous: float | None
    series: tuple[float | None, ...]
    complete: tuple[bool, ...] = ()

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
    """KPIs of a period, the previous period of equal length, and daily series; ``complete`` says
    per day whether the data covers it in full (:func:`complete_days`)."""

    status: Status
    filters: Filters
    previous_filters: Filters | None
    values: dict[str, float | None]
    previous: dict[str, float | None]
    days: tuple[dt.date, ...]
    series: dict[str, tuple[float | None, ...]]
    notes: tuple[str, ...] = ()
    complete: tuple[bool, ...] = ()

    @property
    def incomplete_days(self) -> tuple[dt.date, ...]:
        return tuple(d for d, done in zip(self.days, self.complete) if not done)

    def cards(self) -> list[KpiCard]:
        return [
            KpiCard(k, self.values.get(k.name), self.previous.get(k.name), self.series.get(k.name, ()), self.complete)
            for k in ALL_KPIS
            if k.name in self.values
        ]

    def table(self) -> pd.DataFrame:
        """One row per KPI: name, value, previous value, change (for exports)."""
        return pd.DataFrame(
            [
                {"kpi": c.kpi.name, "unit": c.kpi.unit, "value": c.value,
                 "previous": c.previous, "difference": c.difference, "change": c.change}
                for c in self.cards()
            ]
        )

    def series_frame(self) -> pd.DataFrame:
        """Daily series: one row per local day, whether the data covers it in full, one column per KPI."""
        return pd.DataFrame({"day": list(self.days), "complete": list(self.complete),
                             **{k: list(v) for k, v in self.series.items()}})

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
    """KPIs per group of one dimension: ``rows``, an Arrow table (missing values null)."""

    status: Status
    by: str
    filters: Filters
    rows: pa.Table = field(repr=False)
    notes: tuple[str, ...] = ()

    @property
    def table(self) -> pd.DataFrame:
        """The rows as a DataFrame of Python values (ints stay ints, missing values ``None``)."""
        return pd.DataFrame({name: pd.Series(column.to_pylist(), dtype=object)
                             for name, column in zip(self.rows.column_names, self.rows.columns)})

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "by": self.by, "filters": self.filters.describe(),
                "rows": self.rows, "notes": list(self.notes)}


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
def _values(source: Source, filters: Filters, kinds: Sequence[str]) -> tuple[dict[str, float | None], tuple[str, ...]]:
    """Every KPI of the period, and its notes (``kinds``: what the data does not record, :func:`not_recorded`)."""
    comps = event_components(source, filters).iloc[0].to_dict()
    note = spend_note(filters)
    if note is None:
        spend = spend_components(source, filters)
        if spend is not None and len(spend):
            comps["spend"] = spend["spend"].iloc[0]
        else:
            note = NOTE_NO_SPEND
    return evaluate(comps, unrecorded=unrecorded_components(kinds)), ((note,) if note else ())


def kpi_values(source: Source, filters: Filters) -> dict[str, float | None]:
    """Every KPI over ``filters`` (open dates mean all data): ``{name: value or None}``."""
    return _values(source, filters, not_recorded(source))[0]


def period_days(filters: Filters) -> tuple[dt.date, ...]:
    """Every local day of the (closed) period."""
    if not (filters.date_from and filters.date_to):
        raise BadInput("a daily series needs both a start and an end date", code="no_period")
    return tuple(pd.date_range(filters.date_from, filters.date_to, freq="D").date)


def daily_series(
    source: Source, filters: Filters, kinds: Sequence[str] | None = None
) -> tuple[tuple[dt.date, ...], dict[str, tuple[float | None, ...]]]:
    """Every KPI per local day of the (closed) period; days without events have counts 0, rates None
    (``kinds``: what the data does not record, default :func:`not_recorded`: those KPIs have no value)."""
    if kinds is None:
        kinds = not_recorded(source)
    days = period_days(filters)
    comps = event_components(source, filters, ("day",))
    comps["day"] = pd.to_datetime(comps["day"]).dt.date
    comps = comps.set_index("day").reindex(list(days))
    comps = finish(comps.reset_index(names="day")).set_index("day")
    if spend_note(filters) is None:
        spend = spend_components(source, filters, ("day",))
        if spend is not None and len(spend):
            spend["day"] = pd.to_datetime(spend["day"]).dt.date
            comps["spend"] = spend.set_index("day")["spend"].reindex(list(days))
    values = as_objects(evaluate_frame(comps.reindex(list(days)), unrecorded=unrecorded_components(kinds)))
    series = {k.name: tuple(values[k.name]) for k in KPIS}
    return days, series


def external_values(source: Source, filters: Filters) -> tuple[dict[str, float | None], tuple[str, ...]]:
    """D1/D7/D30 retention and course completion, computed by their own modules.

    A failure inside one of those modules leaves that KPI ``None`` with the note
    ``external_failed:NAME`` (the Overview shows it) instead of taking every other card down.
    """
    values: dict[str, float | None] = {}
    notes: list[str] = []
    for names, compute in EXTERNAL_COMPUTE.items():
        try:
            computed, said = compute(source, filters)
            values.update(computed)
            notes.extend(said)
        except ReelyticsError:
            raise
        except Exception:  # noqa: BLE001 - reported as a note, see docstring
            values.update(dict.fromkeys(names))
            notes.extend(f"external_failed:{name}" for name in names)
    return values, tuple(notes)


def kpi_report(source: Source, filters: Filters, *, external: bool = True, series: bool = True) -> KpiReport:
    """KPIs of the filtered period with the previous period of equal length and daily sparklines.

    An open date range stands for the data's whole span (first to last local day with events).
    With ``external`` the report also holds :data:`EXTERNAL_KPIS` (no daily series for those); without
    ``series`` it holds no daily series (``days`` and ``series`` empty), which saves a query per day
    grouping when nothing shows them.
    """
    period = resolve_period(source, filters)
    if period is None:
        names = ALL_KPIS if external else KPIS
        return KpiReport("no_data", filters, None, {k.name: None for k in names}, {}, (), {})
    previous = period.previous_period()
    kinds = not_recorded(source)
    values, notes = _values(source, period, kinds)
    before, _ = _values(source, previous, kinds)
    notes = notes + _unrecorded_notes(kinds, values)
    if external:
        now, failed = external_values(source, period)
        values.update(now)
        before.update(external_values(source, previous)[0])
        notes = notes + failed
    days, daily = daily_series(source, period, kinds) if series else (period_days(period), {})
    complete = complete_days(days, source.span(), period.timezone)
    return KpiReport("ok", period, previous, values, before, days, daily, notes, complete)


def _labels(source: Source) -> pa.Table:
    """Each video's catalog title and creator (``video``, ``title``, ``creator``)."""
    return engine.ask(source, ItemLabels()).rename_columns(["video", "title", "creator"])


def _kpi_array(kpi: Kpi, values: np.ndarray) -> pa.Array:
    """A KPI column as Arrow: integers for counts, floats otherwise, null where it has no value."""
    missing = np.isnan(values)
    return from_numpy(np.where(missing, 0, values).astype(np.int64) if kpi.unit == "count" else values, missing)


def breakdown(
    source: Source, filters: Filters, by: str, sort: str = "views", limit: int | None = None
) -> Breakdown:
    """Every KPI per value of ``by`` (channel, campaign, variant, creator, category, video, course, props.KEY).

    Rows are ordered by ``sort`` (a KPI name, descending, ``None`` last; ties by the group value).
    ``video`` keeps only items with at least one view and adds the catalog title and creator. Spend,
    CAC and ROAS are filled only for channel and campaign (the dimensions spend rows carry). Computed
    on Arrow columns: where the query layer answers from persisted tables, no DataFrame is built.
    """
    check_dimension(by)
    if sort not in KPI_BY_NAME:
        raise BadInput(f"unknown KPI {sort!r} to sort by", code="bad_kpi", value=sort)
    comps = _table_of(engine.ask(source, Components(filters, (by,))))
    notes: list[str] = []
    note = spend_note(filters, (by,))
    if note is None:
        spend = spend_components(source, filters, (by,))
        if spend is None or not len(spend):
            notes.append(NOTE_NO_SPEND)
        else:
            comps = _table_of(finish(comps.to_pandas().merge(spend, on=by, how="outer")))
    else:
        notes.append(note)
    if by == "video":
        comps = comps.filter(from_numpy(to_numpy(comps["views"].cast(pa.float64())) > 0))
    values = {name: to_numpy(column.cast(pa.float64()), np.nan)
              for name, column in zip(comps.column_names, comps.columns) if name != by}
    columns: dict[str, Any] = {by: comps[by]}
    if by == "video":
        labels = _labels(source)
        at = pc.index_in(comps[by], value_set=labels["video"])
        columns.update(title=labels["title"].take(at), creator=labels["creator"].take(at))
    kinds = not_recorded(source)
    notes += _unrecorded_notes(kinds, KPI_BY_NAME)
    missing = unrecorded_components(kinds)
    columns.update({k.name: _kpi_array(k, k.column(values, comps.num_rows, missing)) for k in KPIS})
    rows = pa.table(columns)
    # Ties keep a fixed order (by the group value) so the same data always gives the same table.
    order = pc.sort_indices(rows, sort_keys=[(sort, "descending", "at_end"), (by, "ascending", "at_end")])
    rows = rows.take(order if limit is None else order[:limit])
    status: Status = "ok" if rows.num_rows else "no_data"
    return Breakdown(status, by, filters, rows, tuple(notes))


def _video_table(source: Source, filters: Filters, comps: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    comps = comps[comps["views"] > 0]
    comps = comps.reset_index(drop=True)
    table = pd.concat([comps[["video"]], evaluate_frame(comps, names, unrecorded_components(not_recorded(source)))], axis=1)
    table = table.merge(_labels(source).to_pandas(), on="video", how="left")
    return table[["video", "title", "creator", *dict.fromkeys(names)]]


def top_bottom_videos(
    source: Source,
    filters: Filters,
    metric: str = "views",
    n: int = 10,
    min_views: int | None = None,
    videos: pd.DataFrame | None = None,
) -> VideoRanking:
    """The ``n`` best and worst videos by ``metric`` (good direction of the KPI decides "best").

    For ratio and money-per-view KPIs only videos with at least ``min_views`` views
    (default :data:`MIN_VIEWS_FOR_RATES`) are ranked, so one lucky view does not top the list.
    ``videos`` may pass the table of ``breakdown(source, filters, "video")`` already computed.
    """
    kpi = KPI_BY_NAME.get(metric)
    if kpi is None:
        raise BadInput(f"unknown KPI {metric!r}; use one of {', '.join(KPI_BY_NAME)}", code="bad_kpi", value=metric)
    if min_views is None:
        min_views = MIN_VIEWS_FOR_RATES if kpi.denominator else 0
    if videos is not None:
        table = videos
    elif {kpi.numerator, kpi.denominator or "views"} <= EVENT_SUM_COMPONENTS:
        table = _video_table(source, filters, event_sums(source, filters, ("video",)), (metric, "views"))
    else:
        table = breakdown(source, filters, "video", sort=metric).table
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
    source: Source, filters: Filters, by: str = "channel", rank_by: str = "views", n: int = 10
) -> Overview:
    """The Overview page's data: :func:`kpi_report`, :func:`breakdown` by ``by`` and
    :func:`top_bottom_videos` by ``rank_by`` (``n`` each), all over the same ``filters``."""
    check_dimension(by)
    report = kpi_report(source, filters)
    if report.status != "ok":
        return Overview(report, None, None)
    table = breakdown(source, filters, by)
    videos = table.table if by == "video" else None
    return Overview(report, table, top_bottom_videos(source, filters, rank_by, n, videos=videos))
