"""The in-memory breakdown index gives exactly what reading the events gives."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.metrics.kpis import (
    breakdown,
    event_components,
    event_sums,
    top_bottom_videos,
)
from analytics.query.accel import breakdown as breakdown_index
from analytics.query.filters import Filters
from analytics.store.storage import Store
from tests.helpers import T0, by_path, insert_events, insert_items

DIMS = breakdown_index.INDEX_DIMENSIONS
JAN5, JAN6, JAN7 = dt.date(2026, 1, 5), dt.date(2026, 1, 6), dt.date(2026, 1, 7)
ITEMS = [
    {"item_id": "v1", "kind": "video", "title": "A", "creator": "ann", "category": "math", "duration_seconds": 60.0,
     "course_id": "c1"},
    {"item_id": "v2", "kind": "video", "title": "B", "creator": "ann", "category": "art", "duration_seconds": None},
    {"item_id": "v3", "kind": "video", "title": "C", "creator": "bob", "category": "math", "duration_seconds": 30.0,
     "course_id": "c2"},
    {"item_id": "c1", "kind": "course", "title": "Course", "creator": "bob", "category": "math"},
]


def assert_same(a: pd.DataFrame, b: pd.DataFrame, by: str) -> None:
    a = a.sort_values(by, na_position="last", key=lambda s: s.astype(str)).reset_index(drop=True)
    b = b.sort_values(by, na_position="last", key=lambda s: s.astype(str)).reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    missing_as_none = lambda s: [None if pd.isna(v) else v for v in s]  # noqa: E731 (an all-NULL key may read as NaN)
    assert missing_as_none(a[by]) == missing_as_none(b[by])
    for column in a.columns.drop(by):
        x, y = pd.to_numeric(a[column]).to_numpy(float), pd.to_numeric(b[column]).to_numpy(float)
        assert np.allclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True), (column, x, y)


@pytest.fixture
def shop(store):
    insert_items(store, ITEMS)
    day = dt.timedelta(days=1)
    insert_events(
        store,
        {
            "u1": [("impression", T0, {"item_id": "v1"}), ("view", T0, {"item_id": "v1", "watch_seconds": 58}),
                   ("view", T0 + day, {"item_id": "v1", "watch_seconds": 10}),
                   ("click", T0 + day, {"item_id": "v1"}), ("purchase", T0 + day, {"item_id": "c1", "revenue": 99.0})],
            "u2": [("view", T0, {"item_id": "v2", "watch_seconds": 5}), ("view", T0 + day, {"item_id": "v3", "watch_seconds": 30}),
                   ("purchase", T0 + 2 * day, {"item_id": "v3", "revenue": 10.0, "course_id": "c2"}),
                   ("refund", T0 + 2 * day, {"item_id": "v3", "revenue": -10.0, "course_id": "c2"})],
            "u3": [("impression", T0 + 2 * day, {"item_id": "v3"}), ("follow", T0 + 2 * day, {"item_id": None})],
        },
    )
    return store


PERIODS = [
    Filters(),
    Filters(JAN5, JAN7),
    Filters(JAN6, JAN6),
    Filters(JAN6, None),
    Filters(None, JAN5, timezone="UTC"),
    Filters(JAN6, JAN7, timezone="America/New_York"),
]


@pytest.mark.parametrize("by", DIMS)
@pytest.mark.parametrize("filters", PERIODS)
def test_index_equals_the_events(shop, by, filters):
    slow = by_path("portable", event_components, shop, filters, (by,))
    fast = by_path("breakdown", event_components, shop, filters, (by,))
    assert breakdown_index.is_current(shop, by, filters.timezone)
    assert_same(slow, fast, by)
    sums = by_path("breakdown", event_sums, shop, filters, (by,))
    plain = by_path("portable", event_sums, shop, filters, (by,))
    plain = plain[plain[list(sums.columns.drop([by, "revenue"]))].to_numpy(float).any(axis=1)]
    assert_same(plain[list(sums.columns)], sums, by)


def test_pages_get_the_same_tables(shop):
    for by in DIMS:
        fast = by_path("breakdown", breakdown, shop, Filters(JAN5, JAN7), by).table
        slow = by_path("portable", breakdown, shop, Filters(JAN5, JAN7), by).table
        pd.testing.assert_frame_equal(fast, slow, check_dtype=False)
    fast = by_path("breakdown", top_bottom_videos, shop, Filters(JAN5, JAN7), "completion_rate", min_views=1)
    slow = by_path("portable", top_bottom_videos, shop, Filters(JAN5, JAN7), "completion_rate", min_views=1)
    pd.testing.assert_frame_equal(fast.top, slow.top, check_dtype=False)


def test_a_breakdown_from_the_persisted_tables_builds_no_frame_and_no_catalog_expression(shop, monkeypatch):
    """As a one-shot command asks it: the components come from the persisted tables as an Arrow
    table, the labels from the catalog in SQL; no portable path and no ibis expression over the
    catalog (the store's own bookkeeping may still read ``meta`` and ``events``)."""
    import pyarrow as pa

    from analytics.query import components, engine
    from analytics.query.layer import Components

    by_path("breakdown", event_components, shop, Filters(), ("video",))  # the dashboard built the index
    breakdown_index.clear()  # a fresh process holds nothing
    asked: list[str] = []
    table = Store.table
    monkeypatch.setattr(Store, "table", lambda self, name: asked.append(name) or table(self, name))
    monkeypatch.setattr(components, "enriched", lambda *a: pytest.fail("the portable path answered"))
    period = Filters(JAN5, JAN7)
    assert isinstance(engine.ask(shop, Components(period, ("video",))), pa.Table)
    result = breakdown(shop, period, "video")
    assert isinstance(result.rows, pa.Table) and result.rows.num_rows > 0
    assert set(asked) <= {"meta", "events"}, asked
    assert breakdown_index.nbytes() == 0


def test_index_is_used_only_when_asked_or_already_built(shop):
    breakdown_index.clear()
    event_components(shop, Filters(), ("video",))
    assert not breakdown_index.is_current(shop, "video", "Asia/Shanghai")  # a one-shot caller reads the events
    by_path("breakdown", event_components, shop, Filters(), ("video",))
    assert breakdown_index.is_current(shop, "video", "Asia/Shanghai")


def test_parts_of_an_older_layout_are_not_read(shop):
    by_path("breakdown", event_components, shop, Filters(), ("video",))
    breakdown_index.clear()
    assert breakdown_index.is_current(shop, "video", "Asia/Shanghai")
    with shop.transaction() as cur:  # as a part built before the seen table was stored is keyed
        shop.set_meta(cur, breakdown_index._meta_key("video", "Asia/Shanghai"), shop.content_version())
    assert not breakdown_index.is_current(shop, "video", "Asia/Shanghai")


def test_filters_it_cannot_answer_read_the_events(shop):
    from analytics.query import engine
    from analytics.query.layer import Components

    def answers(f, by):
        return "breakdown" in engine.paths_for(shop, Components(f, (by,)))

    assert answers(Filters(), "video")
    assert not answers(Filters(channels=("douyin",)), "video")
    assert not answers(Filters(categories=("math",)), "creator")
    assert not answers(Filters(), "channel")
    filters = Filters(JAN5, JAN7, categories=("math",))
    assert_same(by_path("portable", event_components, shop, filters, ("creator",)),
                by_path("breakdown", event_components, shop, filters, ("creator",)), "creator")


def test_rebuilt_when_the_data_changes(shop):
    before = by_path("breakdown", event_components, shop, Filters(), ("video",))
    insert_events(shop, {"u9": [("view", T0, {"item_id": "v1", "watch_seconds": 1})]})
    after = by_path("breakdown", event_components, shop, Filters(), ("video",))
    row = lambda df: df[df["video"] == "v1"].iloc[0]  # noqa: E731
    assert row(after)["viewers"] == row(before)["viewers"] + 1
    assert_same(by_path("portable", event_components, shop, Filters(), ("video",)), after, "video")


def test_zones_whose_clock_jumps_over_midnight_are_not_indexed():
    start, end = dt.datetime(2026, 1, 1), dt.datetime(2026, 12, 31)
    assert breakdown_index._midnight_safe("Asia/Shanghai", start, end)
    assert breakdown_index._midnight_safe("America/New_York", start, end)  # changes at 02:00
    assert not breakdown_index._midnight_safe("America/Santiago", start, end)  # changes at 24:00


def test_santiago_falls_back_to_the_events(store):
    insert_items(store, ITEMS)
    at = dt.datetime(2026, 4, 5, 2, 30)  # around the April change at local midnight
    insert_events(store, {"a": [("view", at, {"item_id": "v1", "watch_seconds": 3}),
                                ("view", at + dt.timedelta(hours=2), {"item_id": "v1", "watch_seconds": 3})]})
    filters = Filters(dt.date(2026, 4, 4), dt.date(2026, 4, 4), timezone="America/Santiago")
    assert breakdown_index.components(store, filters, "video") is None
    assert_same(by_path("portable", event_components, store, filters, ("video",)),
                by_path("breakdown", event_components, store, filters, ("video",)), "video")


EVENT = st.tuples(
    st.sampled_from(["u1", "u2", "u3", "u4", "u5"]),
    st.sampled_from(["view", "impression", "like", "click", "follow", "purchase", "refund"]),
    st.integers(min_value=0, max_value=5 * 24),  # hours after T0
    st.sampled_from(["v1", "v2", "v3", "c1", None]),
    st.sampled_from([None, "c1", "c2"]),
    st.floats(min_value=0, max_value=90, allow_nan=False),
    st.integers(min_value=1, max_value=300),
)


@settings(max_examples=15)
@given(
    st.lists(EVENT, min_size=1, max_size=40),
    st.integers(min_value=-1, max_value=6),
    st.integers(min_value=0, max_value=6),
    st.sampled_from(["Asia/Shanghai", "UTC", "America/New_York"]),
)
def test_index_equals_the_events_for_any_log(events, start, length, timezone):
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "p.duckdb")
        try:
            insert_items(store, ITEMS)
            journeys: dict[str, list] = {}
            for user, kind, hours, item, course, watched, money in events:
                extra: dict = {"item_id": item, "course_id": course}
                if kind == "view":
                    extra["watch_seconds"] = watched
                if kind in ("purchase", "refund"):
                    extra["revenue"] = float(money)
                journeys.setdefault(user, []).append((kind, T0 + dt.timedelta(hours=hours), extra))
            insert_events(store, journeys)
            first = JAN5 + dt.timedelta(days=start)
            filters = Filters(first, first + dt.timedelta(days=length), timezone=timezone)
            for by in DIMS:
                assert_same(by_path("portable", event_components, store, filters, (by,)),
                            by_path("breakdown", event_components, store, filters, (by,)), by)
        finally:
            store.close()
            breakdown_index.clear()


def test_sums_alone_build_only_the_running_totals(shop):
    breakdown_index.clear()
    by_path("breakdown", event_sums, shop, Filters(), ("video",))
    assert {key[3] for key in breakdown_index._CACHE} == {"sums"}
    by_path("breakdown", event_components, shop, Filters(), ("video",))
    assert {key[3] for key in breakdown_index._CACHE} == {"sums", "touch"}
    assert breakdown_index.nbytes() > 0


def test_the_touch_part_follows_a_rebuilt_sums_part(shop):
    breakdown_index.clear()
    by_path("breakdown", event_components, shop, Filters(), ("video",))
    touch = breakdown_index._CACHE[(shop.path, "video", "Asia/Shanghai", "touch")]
    del breakdown_index._CACHE[(shop.path, "video", "Asia/Shanghai", "sums")]  # evicted, say
    fast = by_path("breakdown", event_components, shop, Filters(), ("video",))
    assert breakdown_index._CACHE[(shop.path, "video", "Asia/Shanghai", "touch")] is not touch
    assert_same(by_path("portable", event_components, shop, Filters(), ("video",)), fast, "video")
