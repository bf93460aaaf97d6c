"""The in-memory event index answers funnels with step conditions and filters exactly like the query."""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.metrics.funnels import FunnelSpec, compute_funnel, parse_steps
from analytics.query.accel import funnel_order as funnel_fast
from analytics.query.filters import Filters
from analytics.store.storage import Store
from tests.helpers import T0, by_path, insert_events, insert_items

ITEMS = [
    {"item_id": "v1", "kind": "video", "category": "math", "duration_seconds": 60.0},
    {"item_id": "v2", "kind": "video", "category": "art", "duration_seconds": None},
    {"item_id": "c1", "kind": "course", "category": "math"},
]
STEPS = [
    "view[watch_ratio>=0.5],click,purchase",
    "view,click[channel=douyin],purchase[revenue>50]",
    "view[channel!=douyin],purchase",
    "impression,view[watch_seconds<20 & item_id=v1]",
    "view[video_seconds>=30],lesson_complete[lesson>=2]",
    "click[campaign=spring],purchase[course_id!=c2]",
]
FILTERS = [
    Filters(),
    Filters(channels=("douyin",)),
    Filters(campaigns=("spring", "none-such")),
    Filters(categories=("math",)),
    Filters(date_from=dt.date(2026, 1, 6), date_to=dt.date(2026, 1, 6), channels=("kuaishou", "douyin")),
]
EVENT = st.tuples(
    st.sampled_from(["u1", "u2", "u3", "u4"]),
    st.sampled_from(["impression", "view", "click", "purchase", "lesson_complete", "like"]),
    st.integers(min_value=0, max_value=60),  # half hours after T0 (crosses local midnights)
    st.sampled_from(["douyin", "kuaishou", None]),
    st.sampled_from(["spring", None]),
    st.sampled_from(["v1", "v2", "c1", None]),
    st.one_of(st.none(), st.floats(min_value=0, max_value=90, allow_nan=False)),
    st.sampled_from([None, 0.0, 40.0]),
    st.sampled_from([None, "c1", "c2"]),
    st.integers(min_value=0, max_value=3),
)


def same(store, spec, filters):
    """The index answers like the query: held in memory, then (not held) read in part from its
    persisted tables, as a one-shot process reads it."""
    query = by_path("portable", compute_funnel, store, spec, filters)
    for _ in ("held", "read in part"):
        fast = by_path("funnel_order", compute_funnel, store, spec, filters)
        assert fast.steps == query.steps
        assert fast.entries.equals(query.entries)
        funnel_fast.clear()


@settings(max_examples=25)
@given(
    st.lists(EVENT, min_size=1, max_size=40),
    st.sampled_from(STEPS),
    st.sampled_from(FILTERS),
    st.sampled_from(["sequential", "strict", "any"]),
    st.sampled_from(["users", "totals"]),
)
def test_conditions_and_filters_from_the_index_equal_the_query(events, steps, filters, mode, count):
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "f.duckdb")
        try:
            insert_items(store, ITEMS)
            journeys: dict[str, list] = {}
            for user, kind, half_hours, channel, campaign, item, watched, length, course, lesson in events:
                extra = {"channel": channel, "campaign": campaign, "item_id": item, "course_id": course,
                         "watch_seconds": watched, "video_seconds": length, "lesson": lesson or None,
                         "revenue": 99.0 if kind == "purchase" and lesson else (10.0 if kind == "purchase" else None)}
                journeys.setdefault(user, []).append((kind, T0 + dt.timedelta(minutes=30 * half_hours), extra))
            insert_events(store, journeys)
            same(store, FunnelSpec(parse_steps(steps), window_seconds=6 * 3600, mode=mode, count=count), filters)
        finally:
            store.close()
            funnel_fast.clear()


def test_columns_are_fetched_once_and_follow_deletions(store):
    insert_items(store, ITEMS)
    insert_events(store, {
        "a": [("view", 0, {"watch_seconds": 50, "channel": "douyin"}), ("click", 60, {"channel": "douyin"})],
        "b": [("view", 0, {"watch_seconds": 5, "channel": "kuaishou"}), ("click", 60, {"channel": "kuaishou"})],
    })
    spec = FunnelSpec(parse_steps("view[watch_ratio>=0.5],click"))
    assert [s.count for s in by_path("funnel_order", compute_funnel, store, spec).steps] == [1, 1]
    index = funnel_fast.event_index(store)
    assert "watch_ratio" in index.columns
    assert [s.count for s in by_path("funnel_order", compute_funnel, store, spec, Filters(channels=("kuaishou",))).steps] == [0, 0]
    store.query("DELETE FROM events WHERE user_id = 'a'")
    assert [s.count for s in by_path("funnel_order", compute_funnel, store, spec).steps] == [0, 0]
    spec = FunnelSpec(parse_steps("view[channel=kuaishou],click"))
    same(store, spec, Filters())
    assert [s.count for s in by_path("funnel_order", compute_funnel, store, spec).steps] == [1, 1]


def test_a_process_not_holding_the_index_reads_only_the_funnels_rows_of_the_persisted_one(store):
    from analytics.query import engine
    from analytics.query.layer import FunnelEvents

    insert_events(store, {"a": [("view", 0), ("like", 10), ("click", 60)], "b": [("view", 5), ("purchase", 90)]})
    insert_events(store, {"a": [("purchase", 120)], "c": [("view", 30), ("click", 40)]})
    spec = FunnelSpec(parse_steps("view,click,purchase"))
    query = FunnelEvents(spec, Filters())
    assert not engine._may_use(engine._accelerators(FunnelEvents)[0], store, query)  # not persisted: portable
    funnel_fast.event_index(store)  # persisted (as the dashboard does) and held
    funnel_fast.clear()
    part = funnel_fast._partial(store, spec, Filters())
    assert len(part.t) == 7 and list(part.unit) == [0, 0, 0, 1, 1, 2, 2]  # not the like; by user and time
    assert engine._may_use(engine._accelerators(FunnelEvents)[0], store, query) and not funnel_fast._CACHE
    assert [s.count for s in compute_funnel(store, spec).steps] == [3, 2, 1]
    assert not funnel_fast._CACHE  # answered without loading the whole index
    same(store, FunnelSpec(parse_steps("view,click"), mode="strict"), Filters())


def test_a_process_keeping_accelerators_loads_the_persisted_index_whole_once(store):
    """The dashboard (which keeps accelerators in memory) cuts every funnel from the whole index,
    loaded from the persisted order once per data version, rather than reading each funnel's part."""
    from analytics.query import engine

    insert_events(store, {"a": [("view", 0), ("click", 60)], "b": [("view", 5), ("purchase", 90)]})
    spec = FunnelSpec(parse_steps("view,click"))
    funnel_fast.event_index(store)  # persisted
    funnel_fast.clear()
    engine.keep_in_memory(True)
    try:
        assert [s.count for s in compute_funnel(store, spec).steps] == [2, 1]
        assert funnel_fast.is_held(store)  # loaded whole, kept for the next funnel
    finally:
        engine.keep_in_memory(False)
        funnel_fast.clear()


def test_an_unknown_column_is_a_programming_error(store):
    insert_events(store, {"a": [("view", 0)]})
    with pytest.raises(ValueError):
        funnel_fast._column(store, funnel_fast.event_index(store), "user_id")


@contextlib.contextmanager
def minute_log(events):
    """A fresh store holding ``(user number, event type, minute)`` events."""
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "m.duckdb")
        try:
            journeys: dict[str, list] = {}
            for user, kind, minute in events:
                journeys.setdefault(f"u{user:02d}", []).append((kind, minute * 60))
            insert_events(store, journeys)
            yield store
        finally:
            store.close()


MINUTE_EVENTS = st.tuples(st.integers(0, 29), st.sampled_from(["view", "click", "purchase", "like"]), st.integers(0, 200))


@settings(max_examples=10)
@given(st.lists(MINUTE_EVENTS, min_size=1, max_size=120), st.integers(min_value=2, max_value=5),
       st.sampled_from(["sequential", "strict", "any"]))
def test_users_split_over_threads_give_the_same_levels(events, workers, mode):
    import numpy as np

    from analytics.metrics.funnels import fetch_rows, kernels

    with minute_log(events) as store:
        spec = FunnelSpec(parse_steps("view,click,purchase"), window_seconds=3600, mode=mode)
        rows = by_path("portable", fetch_rows, store, spec, Filters())
        serial = kernels._unit_levels_serial(rows, spec)
        original = kernels.PARALLEL_ROWS
        kernels.PARALLEL_ROWS = 0
        try:
            split = kernels._unit_levels(rows, spec, workers=workers)
        finally:
            kernels.PARALLEL_ROWS = original
        for name in ("level", "start_row", "reach_row"):
            assert np.array_equal(getattr(split, name), getattr(serial, name)), name


@settings(max_examples=10)
@given(st.lists(MINUTE_EVENTS, min_size=1, max_size=60), st.sampled_from(["sequential", "strict", "any"]))
def test_step_counts_equal_the_full_funnel(events, mode):
    from analytics.metrics.funnels import step_counts

    with minute_log(events) as store:
        spec = FunnelSpec(parse_steps("view,click,purchase"), window_seconds=1800, mode=mode)
        assert by_path("portable", step_counts, store, spec) == tuple(s.count for s in compute_funnel(store, spec).steps)
