"""The Overview and Funnels pages over the Taobao UserBehavior head, uploaded through the ingest pipeline.

The export as published: no header, epoch seconds, no catalog (so creator, category and course are
empty), ``category_id`` kept as an extra column. The pages must show the same numbers the library
computes, and the in-memory indexes the pages use must agree with reading the events.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest

from analytics.ingest.pipeline import ingest_file
from analytics.metrics.funnels import FunnelSpec, compute_funnel, parse_steps
from analytics.metrics.kpis import breakdown, resolve_period
from analytics.query.accel import breakdown as breakdown_index
from analytics.query.accel import funnel_order as funnel_fast
from analytics.query.filters import Filters
from analytics.store.storage import Store
from tests.helpers import DATASETS, by_path, open_page

FILE = DATASETS / "taobao_userbehavior_head" / "UserBehavior_head.csv"
COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not FILE.is_file(), reason=f"real dataset {FILE} is absent"),
]


@pytest.fixture(scope="module")
def taobao_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("taobao_pages") / "data"
    folder.mkdir()
    source = folder / FILE.name
    shutil.copy(FILE, source)
    store = Store(folder / "taobao.duckdb", read_paths=[source])
    report = ingest_file(store, source, columns=COLUMNS)
    assert report.rows_accepted == 84_475
    store.close()
    return folder / "taobao.duckdb"


@pytest.fixture
def store(taobao_db):
    s = Store(taobao_db)
    yield s
    s.close()
    breakdown_index.clear()
    funnel_fast.clear()


def test_video_breakdown_from_the_index_equals_the_events(store):
    period = resolve_period(store, Filters())
    fast = by_path("breakdown", breakdown, store, period, "video").table
    slow = by_path("portable", breakdown, store, period, "video").table
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False)
    assert int(pd.to_numeric(fast["views"]).sum()) == store.query(
        "SELECT count(*) FROM events WHERE event_type = 'view' AND event_time >= ? AND event_time < ?",
        list(period.utc_bounds()),
    ).scalar()
    for by in ("creator", "category", "course"):  # no catalog: one group of "unknown"
        table = by_path("breakdown", breakdown, store, period, by).table
        pd.testing.assert_frame_equal(table, by_path("portable", breakdown, store, period, by).table, check_dtype=False)
        assert table[by].tolist() == [None]


@pytest.fixture
def page_db(taobao_db, tmp_path):
    """A private copy: a page keeps its connection to the file for the rest of the process."""
    path = tmp_path / "data" / "taobao.duckdb"
    path.parent.mkdir()
    shutil.copy(taobao_db, path)
    return path


def _computed(path, fn):
    s = Store(path)
    try:
        return fn(s)
    finally:
        s.close()


def test_overview_page_over_the_upload(monkeypatch, page_db):
    table = _computed(page_db, lambda s: by_path("portable", breakdown, s, resolve_period(s, Filters()), "video").table)
    at = open_page(monkeypatch, page_db, "overview.py", state={"ov_scope": "all"})  # the whole upload
    at.run()
    at.selectbox(key="ov_by").select("video").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Views"] == f"{int(pd.to_numeric(table['views']).sum()):,}"
    shown = at.dataframe[0].value
    assert len(shown) == len(table)
    assert list(shown["video"][:20]) == list(table["video"][:20])


def test_funnels_page_over_the_upload(monkeypatch, page_db):
    spec = FunnelSpec(parse_steps("view,add_to_cart,purchase"), window_seconds=7 * 86400)
    expected = _computed(page_db, lambda s: [st.count for st in by_path("portable", compute_funnel, s, spec).steps])
    at = open_page(monkeypatch, page_db, "funnels.py")
    at.run()
    at.multiselect(key="fun_steps").set_value(["view", "add_to_cart", "purchase"]).run()
    assert not at.exception
    assert list(at.dataframe[0].value["count"]) == expected


def test_conditions_and_a_day_from_the_funnel_index_equal_the_query(store):
    conditioned = FunnelSpec(parse_steps("view,add_to_cart,purchase[item_id!=none]"), window_seconds=86400)
    day = Filters(dt.date(2017, 11, 27), dt.date(2017, 11, 27))
    fast = by_path("funnel_order", compute_funnel, store, conditioned, day)
    slow = by_path("portable", compute_funnel, store, conditioned, day)
    assert fast.steps == slow.steps and fast.entries.equals(slow.entries)
    assert fast.steps[0].count > 0
