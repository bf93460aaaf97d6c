"""Timing page: best publish time from a small catalog, activity heatmap, empty catalog explained."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.store.storage import Store
from tests.helpers import T0, insert_events, insert_items, open_page

PAGE = "timing.py"
H = 3600


def _app(monkeypatch, db):
    return open_page(monkeypatch, db, PAGE)


@pytest.fixture
def db(tmp_path):
    """v1 published Monday 20:00 (Shanghai) gets 2 views in 24 h, v2 Monday 21:00 gets 1."""
    path = tmp_path / "data" / "tim.duckdb"
    s = Store(path)
    insert_items(
        s,
        [
            {"item_id": "v1", "kind": "video", "creator": "ann", "duration_seconds": 10, "course_id": "c1", "published_at": T0},
            {"item_id": "v2", "kind": "video", "creator": "bob", "duration_seconds": 10, "course_id": "c1", "published_at": T0 + dt.timedelta(hours=1)},
            {"item_id": "c1", "kind": "course", "price": 99},
        ],
    )
    insert_events(
        s,
        {
            "a": [("view", 60, {"watch_seconds": 10}), ("click", 70), ("purchase", 80, {"item_id": "c1", "course_id": "c1", "revenue": 99})],
            "b": [("view", 120, {"watch_seconds": 2}), ("view", 25 * H, {"watch_seconds": 10})],
            "c": [("view", H + 10, {"item_id": "v2", "watch_seconds": 9.5})],
        },
    )
    s.close()
    return path


def test_timing_page_ranks_publish_times(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Timing"
    # two videos cannot tell a best time from luck: the page says so instead of naming one
    assert [m.value for m in at.metric] == ["2", "No clear best time", "1.5"]
    assert at.caption[1].value == (
        "Times in Asia/Shanghai. 2 videos. No clear best time: no publish time's interval lies above the average of 1.5. "
        "The top cell, Mon 20:00 (1.8, interval 1.2 .. 2.3), may be ahead by luck."
    )
    best = at.dataframe[0].value
    assert list(best["raw"]) == [2.0, 1.0]
    assert list(best["weekday"]) == ["Mon", "Mon"]  # names, not 0-6


def test_timing_page_ctr_in_chinese(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.selectbox(key="tim_outcome").select("ctr").run()
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "发布时间"
    assert at.metric[1].value == "没有明确的最佳时间"
    assert list(at.dataframe[0].value["weekday"]) == ["周一", "周一"]


@pytest.fixture
def clear_db(tmp_path):
    """Six Thursday 19:00 (Shanghai) videos reach 40 viewers each in 24 h; twelve at other times reach 4."""
    path = tmp_path / "data" / "clear.duckdb"
    s = Store(path)
    items, journeys = [], {}
    for i in range(18):
        strong = i < 6
        at = T0 + dt.timedelta(days=3 + 7 * (i % 6), hours=-1 if strong else 1 + i)
        items.append({"item_id": f"v{i}", "kind": "video", "published_at": at})
        for u in range(40 if strong else 4):
            journeys.setdefault(f"u{i}_{u}", []).append(("view", at + dt.timedelta(minutes=5), {"item_id": f"v{i}"}))
    insert_items(s, items)
    insert_events(s, journeys)
    insert_events(s, {"z": [("impression", T0 + dt.timedelta(days=60))]})  # the data covers every first day
    s.close()
    return path


def test_timing_page_names_a_best_time_that_clears_the_average(monkeypatch, clear_db):
    at = _app(monkeypatch, clear_db)
    at.run()
    assert not at.exception
    assert at.metric[1].value == "Thu 19:00"
    caption = at.caption[1].value
    assert caption.startswith("Times in Asia/Shanghai. 18 videos; best: Thu 19:00 (")
    assert caption.endswith(", which lies above the average of 16.0.")  # (6 x 40 + 12 x 4) / 18


def test_timing_page_without_videos_explains(monkeypatch, tmp_path):
    path = tmp_path / "data" / "novid.duckdb"
    s = Store(path)
    insert_events(s, {"a": [("view", 0)]})
    s.close()
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    assert at.info[0].value.startswith("No published videos match these filters")


def test_timing_page_on_the_sample_data(monkeypatch, sample_db_copy):
    db = sample_db_copy
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.caption[1].value.startswith("Times in Asia/Shanghai.")
    best = at.dataframe[0].value
    assert len(best) == 10 and list(best["rank"]) == sorted(best["rank"])
    at.selectbox(key="tim_outcome").select("purchases").run()
    assert not at.exception


def test_timing_page_when_no_video_has_views(monkeypatch, tmp_path):
    path = tmp_path / "data" / "noviews.duckdb"
    s = Store(path)
    insert_items(s, [{"item_id": "v1", "kind": "video", "published_at": T0}])
    insert_events(s, {"a": [("like", 60)], "z": [("impression", 2 * 86400)]})
    s.close()
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception  # views: the one cell ranks with 0 views; no creator to plot
    assert at.metric[0].value == "1"
    at.selectbox(key="tim_outcome").select("ctr").run()
    assert not at.exception
    assert at.info[0].value.startswith("No video has any views in its first 24 hours")
