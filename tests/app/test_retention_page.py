"""Retention page: renders the cohort table from a small store, marks incomplete cells, explains empty states."""

from __future__ import annotations

import json

import pytest

from analytics.store.storage import Store
from tests.helpers import insert_events, open_page

PAGE = "retention.py"
DAY = 86400


def _app(monkeypatch, db):
    return open_page(monkeypatch, db, PAGE)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "ret.duckdb"
    s = Store(path)
    insert_events(
        s,
        {
            "a": [("view", 0, {"watch_seconds": 30}), ("view", DAY, {"watch_seconds": 10}), ("purchase", DAY, {"revenue": 99})],
            "b": [("view", 0), ("like", 2 * DAY)],
            "c": [("view", DAY)],
            "z": [("view", 10 * DAY)],
        },
    )
    s.close()
    return path


def test_retention_page_shows_cohorts_and_incomplete_cells(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Retention"
    assert [m.value for m in at.metric] == ["4", "3", "2026-01-15"]
    assert at.caption[1].value == "Times in Asia/Shanghai. 4 users in 3 cohorts; data ends 2026-01-15."
    table = at.dataframe[0].value
    assert list(table["size"]) == [2, 1, 1]
    assert list(table["day_1"])[:2] == [0.5, 0.0]
    assert table["day_1"].isna().tolist() == [False, False, True]  # z's day 1 is after the data end
    heatmap = json.loads(at.get("plotly_chart")[0].proto.spec)
    grey = heatmap["data"][0]
    assert grey["text"][2][1] == "incomplete" and grey["text"][0][1] == ""


def test_retention_page_revenue_per_member_cumulative(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.selectbox(key="ret_measure").select("revenue").run()
    at.checkbox(key="ret_cumulative").check().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["day_1"].iloc[0] == pytest.approx(49.5)
    assert table["day_3"].iloc[0] == pytest.approx(49.5)


def test_retention_page_first_purchase_weeks_in_chinese(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.radio(key="ret_cohort").set_value("first_purchase").run()
    at.radio(key="ret_period").set_value("week").run()
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "留存"
    assert list(at.dataframe[0].value["size"]) == [1]


def test_retention_page_without_data_says_so(monkeypatch, tmp_path):
    Store(tmp_path / "data" / "empty.duckdb").close()
    at = _app(monkeypatch, tmp_path / "data" / "empty.duckdb")
    at.run()
    assert not at.exception
    assert at.info[0].value.startswith("No events yet.")


def test_retention_page_on_the_sample_data(monkeypatch, sample_db_copy):
    db = sample_db_copy
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["size"].sum() == 300  # every sample user is first seen inside the data
    day1 = table["day_1"].dropna()
    assert ((day1 >= 0) & (day1 <= 1)).all() and len(day1) > 0
    at.radio(key="ret_mode").set_value("on_or_after").run()
    assert not at.exception


def test_retention_page_first_purchase_without_purchases_explains(monkeypatch, tmp_path):
    path = tmp_path / "data" / "nobuy.duckdb"
    s = Store(path)
    insert_events(s, {"a": [("view", 0)], "b": [("view", DAY)]})
    s.close()
    at = _app(monkeypatch, path)
    at.run()
    at.radio(key="ret_cohort").set_value("first_purchase").run()
    assert not at.exception
    assert at.info[0].value.startswith("No user starts a cohort in the selected range.")
