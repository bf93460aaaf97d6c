"""Funnels page: renders the funnel from a small store, flags in-progress entrants, explains errors."""

from __future__ import annotations

import json

import pytest

from analytics.store.storage import Store
from tests.helpers import insert_events, open_page

PAGE = "funnels.py"
DAY = 86400


def _app(monkeypatch, db):
    return open_page(monkeypatch, db, PAGE)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "fun.duckdb"
    s = Store(path)
    insert_events(
        s,
        {
            "a": [("view", 0, {"channel": "douyin"}), ("click", 60), ("purchase", 3600, {"revenue": 99})],
            "b": [("view", 0, {"channel": "douyin"}), ("click", 60)],
            "c": [("view", 0, {"channel": "kuaishou"})],
            "d": [("view", 20 * DAY, {"channel": "kuaishou"})],  # still inside its window at the end
        },
    )
    s.close()
    return path


def test_funnels_page_shows_steps_rates_and_in_progress(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Funnels"
    assert [m.value for m in at.main.metric] == ["4", "1", "33.3%", "1"]
    # the end of the data in local time (the last event is at 12:00 UTC, 20:00 in Asia/Shanghai)
    assert at.main.warning[0].value.startswith("1 entrants are still inside their window at the end of the data (2026-01-25 20:00)")
    steps = at.dataframe[0].value
    assert list(steps["count"]) == [4, 2, 1]
    assert list(steps["in_progress"]) == [1, 0, 0]
    assert steps["conversion_from_previous"].tolist()[1:] == [2 / 3, 0.5]
    captions = [c.value for c in at.main.caption]
    assert any(c.startswith("Median 1.0 h") for c in captions)
    # d entered 20 days later and is still in progress: every rate says it divides by the other 3
    assert "Step 2 (click): 2 of 3 who could reach it (66.7%); 1 still in progress." in captions
    assert "Step 3 (purchase): 1 of 3 who could reach it (33.3%); 1 still in progress." in captions
    funnel = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert funnel["text"] == ["4", "2 of 3 (66.7%)", "1 of 3 (33.3%)"]


def test_conversion_over_time_marks_the_open_entry_days_and_gives_them_no_rate(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    ot = at.dataframe[1].value
    assert ot["period_start"].astype(str).tolist() == ["2026-01-05", "2026-01-25"]
    assert ot["complete"].tolist() == ["Yes", "No"]  # shown in words
    assert ot["conversion_rate"].iloc[0] == pytest.approx(1 / 3) and ot["conversion_rate"].isna().iloc[1]
    assert any(c.value.startswith("Entry days from 2026-01-25 on are incomplete (shaded)") for c in at.main.caption)
    line = json.loads(at.get("plotly_chart")[2].proto.spec)
    assert line["data"][0]["x"] == ["2026-01-05"]  # only the complete day is drawn
    assert line["layout"]["shapes"][0]["fillcolor"] == "gray"


def test_breakdown_and_user_lists(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.selectbox(key="fun_by").set_value("channel").run()
    assert not at.exception
    seg = at.dataframe[2].value
    assert list(seg["segment"]) == ["douyin", "kuaishou"]
    assert list(seg["status"]) == ["Too few to test", "Too few to test"]
    at.selectbox(key="fun_list_status").set_value("dropped").run()
    at.selectbox(key="fun_list_step").set_value(1).run()
    assert list(at.dataframe[-1].value["user_id"]) == ["c"]


def test_bad_condition_is_shown_as_an_error(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.text_input(key="fun_cond_1_view").set_value("watch_ratio>=lots").run()
    assert not at.exception
    assert at.main.error[0].value == "watch_ratio compares with a number, got 'lots'"


def test_chinese_and_empty_store(monkeypatch, tmp_path):
    path = tmp_path / "data" / "empty.duckdb"
    Store(path).close()
    at = _app(monkeypatch, path)
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "转化漏斗"
    assert "暂无事件数据" in at.main.info[0].value


def test_funnels_page_on_the_sample_data_with_a_condition_and_week_breakdown(monkeypatch, sample_db_copy):
    path = sample_db_copy
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    plain = at.dataframe[0].value
    at.text_input(key="fun_cond_1_view").set_value("watch_ratio>=0.5").run()
    at.selectbox(key="fun_by").set_value("category").run()
    at.radio(key="fun_period").set_value("week").run()
    assert not at.exception
    conditioned = at.dataframe[0].value
    assert conditioned["count"].iloc[0] < plain["count"].iloc[0]
    assert conditioned["label"].iloc[0] == "view[watch_ratio>=0.5]"
    assert (conditioned["count"].diff().dropna() <= 0).all()
    assert len(at.dataframe[2].value) >= 2  # one row per category


def test_every_mode_count_hold_and_breakdown_renders(monkeypatch, db):
    from analytics.metrics.funnels import BREAKDOWNS, COUNTS, HOLD_COLUMNS, MODES

    at = _app(monkeypatch, db)
    at.run()
    for key, values in (("fun_mode", MODES), ("fun_count", COUNTS)):
        for value in values:
            at.radio(key=key).set_value(value).run()
            assert not at.exception, (key, value)
    for key, values in (("fun_hold", HOLD_COLUMNS), ("fun_by", BREAKDOWNS)):
        for value in (*values, None):
            at.selectbox(key=key).set_value(value).run()
            assert not at.exception, (key, value)
