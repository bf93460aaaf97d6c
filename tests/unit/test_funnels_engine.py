"""The portable funnel definition gives the same levels on DuckDB and on Apache Spark (local[2]).

One ibis expression (:func:`analytics.metrics.funnels.portable_levels`) per mode, run on both engines over
the same rows, and compared with the numpy fast path. Uses the Spark session of tests/engine.
"""

from __future__ import annotations

import ibis
import pytest

from analytics.metrics.funnels import (
    FunnelSpec,
    compute_funnel,
    parse_steps,
    portable_levels,
)
from analytics.store.schema import TABLE_COLUMNS
from analytics.store.storage import IbisSource
from tests.engine.conftest import _spark_schema, spark  # noqa: F401  (the session fixture)
from tests.helpers import insert_events, insert_items

pytestmark = [pytest.mark.engine, pytest.mark.slow]
H = 3600


def _sync(store, session) -> None:
    for table, columns in TABLE_COLUMNS.items():
        cols = ", ".join(f'"{c}"' for c in columns)
        rows = list(store.query(f'SELECT {cols} FROM "{table}"').rows)
        session.createDataFrame(rows, schema=_spark_schema(columns)).createOrReplaceTempView(table)


def test_every_mode_gives_the_same_levels_on_duckdb_spark_and_the_fast_path(store, spark):  # noqa: F811
    insert_items(store, [{"item_id": "v1", "duration_seconds": 100.0}])
    insert_events(
        store,
        {
            "a": [("view", 0, {"watch_seconds": 80}), ("like", 5), ("click", 10), ("purchase", 20)],
            "b": [("click", 0), ("view", 5, {"watch_seconds": 10}), ("purchase", 9)],
            "c": [("view", 0, {"watch_seconds": 60}), ("click", 2 * H), ("purchase", 3 * H)],
            "d": [("view", 0, {"course_id": "c2"}), ("click", 60), ("purchase", 120)],
        },
        course_id="c1",
    )
    _sync(store, spark)
    backend = IbisSource(ibis.pyspark.connect(spark), "spark")
    specs = [
        FunnelSpec(parse_steps("view,click,purchase")),
        FunnelSpec(parse_steps("view,click,purchase"), mode="strict"),
        FunnelSpec(parse_steps("view,click,purchase"), mode="any"),
        FunnelSpec(parse_steps("view[watch_ratio>=0.5],click,purchase"), step_windows=(H, None), hold="course_id"),
    ]
    for spec in specs:
        on_spark = portable_levels(backend, spec)
        on_duckdb = portable_levels(store, spec)
        fast = compute_funnel(store, spec).entries
        want = dict(zip(fast.user_id, fast.level))
        assert dict(zip(on_spark.user_id, on_spark.level)) == want, spec.mode
        assert dict(zip(on_duckdb.user_id, on_duckdb.level)) == want, spec.mode
