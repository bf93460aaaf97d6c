"""Course completion page: metrics, funnel, stop lessons, split by the acquiring video/channel/variant."""

from __future__ import annotations

import pytest

from analytics.store.storage import Store
from tests.helpers import insert_events, insert_items, open_page, shown_table

PAGE = "courses.py"
H = 3600


def _app(monkeypatch, db):
    return open_page(monkeypatch, db, PAGE)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "courses.duckdb"
    s = Store(path)
    insert_items(
        s,
        [
            {"item_id": "c1", "kind": "course", "title": "Excel basics", "lessons": 2},
            {"item_id": "v1", "kind": "video", "course_id": "c1"},
        ],
    )
    insert_events(
        s,
        {
            "a": [
                ("view", 0, {"item_id": "v1", "channel": "douyin", "variant": "A"}),
                ("purchase", 60, {"item_id": "c1"}),
                ("lesson_complete", 60 + H, {"item_id": "c1", "lesson": 1}),
                ("lesson_complete", 60 + 3 * H, {"item_id": "c1", "lesson": 2}),
            ],
            "b": [
                ("purchase", 60, {"item_id": "c1"}),
                ("lesson_start", 60 + 2 * H, {"item_id": "c1", "lesson": 1}),
            ],
        },
    )
    s.close()
    return path


def test_courses_page_shows_funnel_and_split(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Course completion"
    assert at.selectbox(key="crs_course").value == "c1"
    assert [m.value for m in at.metric] == ["2", "50.0%", "50.0%", "50.0%"]  # b only started lesson 1
    assert "2 lessons (from the catalog)." in [c.value for c in at.caption]
    gaps = shown_table(at.dataframe[0])
    assert list(gaps["To step"]) == [1, 2] and list(gaps["Median hours"]) == [1.0, 2.0]
    split = shown_table(at.dataframe[1])
    assert list(split["Acquired by"]) == ["Douyin", "(no promoting view)"]
    assert list(split["Completed"]) == [1, 0]


def test_courses_page_counts_starts_and_splits_by_video(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.checkbox(key="crs_starts").check().run()
    at.radio(key="crs_by").set_value("video").run()
    assert not at.exception
    assert [m.value for m in at.metric] == ["2", "100.0%", "50.0%", "75.0%"]
    assert at.subheader[3].value == "Completion by acquiring video"
    assert list(shown_table(at.dataframe[1])["Acquired by"]) == ["v1", "(no promoting view)"]


def test_courses_page_in_chinese(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "课程完课" and at.metric[2].label == "完课率"
    assert "获客来源" in shown_table(at.dataframe[1]).columns


def test_courses_page_without_courses(monkeypatch, tmp_path):
    path = tmp_path / "data" / "none.duckdb"
    s = Store(path)
    insert_events(s, {"a": [("view", 0)]})
    s.close()
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    assert at.info[0].value == "No course found: add catalog items of kind 'course' or lesson events."


def test_courses_page_on_the_sample(monkeypatch, sample_db_copy):
    path = sample_db_copy
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    assert len(at.metric) == 4 and at.metric[0].label == "Buyers"
    assert len(at.dataframe) == 3
    overview = shown_table(at.dataframe[2])
    assert {"Days to complete (90% of completers)", "Buyers still within that time"} <= set(overview.columns)


@pytest.mark.parametrize(("lang", "said"), [
    ("en", ("2 of 7 buyers bought less than 8 days before the data ends, the time 90% of those who completed took: "
            "some of them are still learning, so the completion rate may still rise.")),
    ("zh", "7 名购买者中有 2 名在数据结束前不到 8 天内购买（90% 的完课者在这段时间内完课）：其中一些人仍在学习，完课率可能还会上升。"),
])
def test_courses_page_says_when_recent_buyers_may_still_complete(monkeypatch, tmp_path, lang, said):
    path = tmp_path / "data" / "recent.duckdb"
    s = Store(path)
    insert_items(s, [{"item_id": "k1", "kind": "course", "title": "Sketching", "lessons": 1}])
    day = 24 * H
    journeys = {f"u{d}": [("purchase", 0, {"item_id": "k1"}), ("lesson_complete", d * day, {"item_id": "k1", "lesson": 1})]
                for d in (1, 2, 3, 4, 10)}  # 90% of completers took 7.6 days
    journeys |= {"late5": [("purchase", 5 * day, {"item_id": "k1"})], "late8": [("purchase", 8 * day, {"item_id": "k1"})]}
    insert_events(s, journeys)
    s.close()
    at = _app(monkeypatch, path)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception
    assert said in [i.value for i in at.info]

