"""Videos page: summary metrics, excluded-view note, curve against the typical curve, rankings, empty states."""

from __future__ import annotations

import pytest

from analytics.store.storage import Store
from tests.helpers import insert_events, insert_items, open_page, shown_table

PAGE = "videos.py"


def _app(monkeypatch, db):
    return open_page(monkeypatch, db, PAGE)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "videos.duckdb"
    s = Store(path)
    insert_items(
        s,
        [
            {"item_id": "a1", "kind": "video", "title": "Hook demo", "creator": "ann", "duration_seconds": 20.0},
            {"item_id": "a2", "kind": "video", "title": "Second", "creator": "ann", "duration_seconds": 10.0},
            {"item_id": "b1", "kind": "video", "title": "No length", "creator": "bob", "duration_seconds": 0.0},
        ],
    )
    insert_events(
        s,
        {
            "u1": [("view", 0, {"item_id": "a1", "watch_seconds": 2.0}), ("view", 9, {"item_id": "a2", "watch_seconds": 3.0})],
            "u2": [("view", 0, {"item_id": "a1", "watch_seconds": 10.0}), ("view", 9, {"item_id": "a2", "watch_seconds": 9.0})],
            "u3": [("view", 0, {"item_id": "a1", "watch_seconds": 19.0})],
            "u4": [("view", 0, {"item_id": "a1", "watch_seconds": 40.0}), ("view", 9, {"item_id": "b1", "watch_seconds": 4.0})],
        },
    )
    s.close()
    return path


def test_videos_page_shows_rates_curve_and_rankings(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Videos"
    # usable ratios a1 0.1 0.5 0.95 1.0 (40 s replay), a2 0.3 0.9; b1 has no length; hooked 6 of 7
    assert [m.value for m in at.metric] == ["7", "85.7%", "50.0%", "62.5%"]
    assert at.caption[1].value == (
        "1 views without a usable video length and 0 views without a watch time are left out of ratio metrics; "
        "1 replays were capped at 100%."
    )
    # curve of the most viewed video (a1) against ann's other short video (a2)
    assert at.selectbox(key="vid_video").value == "a1"
    assert any(c.value.startswith("4 usable views; typical curve = median of 1 other videos by ann") for c in at.caption)
    assert len(at.get("plotly_chart")) == 2
    # no video has the default 5 usable views to be ranked
    assert [i.value for i in at.info] == ["No video has enough usable views to be ranked."] * 2
    creators = shown_table(at.dataframe[0])
    assert list(creators["Creator"]) == ["ann", "bob"] and list(creators["Views"]) == [6, 1]


def test_videos_page_min_views_creator_and_video_choice(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.number_input(key="vid_min_views").set_value(3).run()
    assert not at.exception
    assert list(at.dataframe[0].value["video"]) == ["a1"]
    at.selectbox(key="vid_video").select("a2").run()
    assert not at.exception and at.selectbox(key="vid_video").value == "a2"
    at.selectbox(key="vid_creator").select("bob").run()
    assert not at.exception
    assert at.warning[0].value.startswith("Views were found, but none has both a watch time")
    assert [m.value for m in at.metric] == ["1", "100.0%", "–", "–"]


def test_videos_page_in_chinese(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "视频"
    assert at.metric[1].label == "3 秒留存率"


def test_videos_page_without_events(monkeypatch, tmp_path):
    at = _app(monkeypatch, tmp_path / "data" / "empty.duckdb")
    at.run()
    assert not at.exception
    assert at.info[0].value.startswith("No events yet.")


def test_videos_page_on_the_sample(monkeypatch, sample_db_copy):
    path = sample_db_copy
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    assert len(at.metric) == 4 and at.metric[0].label == "Views"
    assert len(at.dataframe) >= 3
    assert not at.warning
