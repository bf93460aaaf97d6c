"""Golden equality on the sample data: retention, timing and video completion give the same tables on
DuckDB and on Spark (the engine-neutral ibis code that a platform outgrowing one machine would run)."""

import dataclasses
import datetime as dt
import math

import pandas as pd
import pytest

from analytics.metrics.completion import retention_curve, video_completion
from analytics.metrics.kpis import resolve_period
from analytics.metrics.retention import compute_retention, day_n_retention
from analytics.metrics.timing import compute_timing
from analytics.query.filters import Filters

FILTERS = Filters(timezone="Asia/Shanghai")


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _same_frame(a: pd.DataFrame, b: pd.DataFrame, key: list[str]) -> None:
    assert list(a.columns) == list(b.columns)
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    assert len(a) == len(b)
    for col in a.columns:
        for x, y in zip(a[col].tolist(), b[col].tolist()):
            assert _close(x, y), (col, x, y)


@pytest.mark.parametrize("n", [1, 7])
def test_day_n_retention(sample_engines, n):
    duck, spark = sample_engines
    assert _close(day_n_retention(duck, FILTERS, n), day_n_retention(spark, FILTERS, n))


@pytest.mark.parametrize(
    "options",
    [
        dict(cohort="first_seen", period="day", mode="on", measure="users"),
        dict(cohort="first_purchase", period="week", mode="on_or_after", measure="users"),
        dict(cohort="first_seen", period="week", mode="on", measure="revenue"),
    ],
)
def test_cohort_retention(sample_engines, options):
    duck, spark = sample_engines
    a = compute_retention(duck, FILTERS, periods=6, **options)
    b = compute_retention(spark, FILTERS, periods=6, **options)
    assert a.status == b.status == "ok"
    assert (a.cohorts, a.sizes, a.incomplete) == (b.cohorts, b.sizes, b.incomplete)
    for row_a, row_b in zip(a.values, b.values):
        assert all(_close(x, y) for x, y in zip(row_a, row_b))


@pytest.mark.parametrize("outcome", ["views", "ctr"])
def test_best_time_to_post(sample_engines, outcome):
    duck, spark = sample_engines
    a = compute_timing(duck, FILTERS, outcome=outcome)
    b = compute_timing(spark, FILTERS, outcome=outcome)
    assert a.status == b.status == "ok"
    _same_frame(a.cells, b.cells, ["weekday", "hour"])
    _same_frame(a.activity, b.activity, ["weekday", "hour"])


def test_video_completion_and_curve(sample_engines):
    duck, spark = sample_engines
    a = video_completion(duck, FILTERS)
    b = video_completion(spark, FILTERS)
    for field in dataclasses.fields(a.summary):  # float sums may differ in the last bit (summation order)
        assert _close(getattr(a.summary, field.name), getattr(b.summary, field.name)), field.name
    _same_frame(a.videos, b.videos, ["item_id"])
    _same_frame(a.histogram, b.histogram, ["bin_start"])
    video = a.videos.sort_values("views", ascending=False).item_id.iloc[0]
    ca = retention_curve(duck, video, FILTERS).curve
    cb = retention_curve(spark, video, FILTERS).curve
    _same_frame(ca, cb, [ca.columns[0]])


# -- the query layer's portable paths: part of its contract (tests/unit/test_query_contract.py) --------
@pytest.mark.parametrize("by", [("campaign", "channel"), ("course",), ("day",)])
def test_kpi_components_are_the_same_on_spark(sample_engines, by):
    from analytics.query import engine
    from analytics.query.layer import Components

    duck, spark = sample_engines
    first = resolve_period(duck, FILTERS).date_from
    filters = Filters(first, first + dt.timedelta(days=13), timezone="Asia/Shanghai")
    query = Components(filters, by)
    assert engine.paths_for(spark, query) == (engine.PORTABLE,)  # DuckDB accelerators are skipped, never faked
    a = engine.answer_by(engine.PORTABLE, duck, query)
    b = engine.ask(spark, query)
    if "day" in by:
        for df in (a, b):
            df["day"] = pd.to_datetime(df["day"]).dt.date
    _same_frame(a[sorted(a.columns)], b[sorted(b.columns)], list(by) or ["views"])


@pytest.mark.parametrize("steps", ["view[watch_ratio>=0.5],click[channel=douyin],purchase"])
def test_funnels_are_the_same_on_spark(sample_engines, steps):
    from analytics.metrics.funnels import FunnelSpec, compute_funnel, parse_steps

    duck, spark = sample_engines
    first = resolve_period(duck, FILTERS).date_from
    category = sorted(duck.execute(duck.table("items").select("category").distinct()).category.dropna())[0]
    filters = Filters(first, first + dt.timedelta(days=6), channels=("douyin", "kuaishou"), categories=(category,))
    spec = FunnelSpec(parse_steps(steps))
    a, b = compute_funnel(duck, spec, filters), compute_funnel(spark, spec, filters)
    assert a.steps == b.steps and a.entrants > 0
