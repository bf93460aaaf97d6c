"""Audiences page: a course's target list with expected conversion, engaged users, a free video, Chinese."""

from __future__ import annotations

import pytest

import analytics.recsys.recommend as rec
from analytics.store.storage import Store
from tests.helpers import insert_events, open_page
from tests.unit.test_recommend import checkerboard

PAGE = "audiences.py"
SMALL = {"factors": 4, "iterations": 20, "regularization": 0.1, "alpha": 5.0, "gpu": "off"}


def _app(monkeypatch, db):
    return open_page(monkeypatch, db, PAGE, state={"rec_params": SMALL, "rec_tune": {"enabled": False, "budget_seconds": None}})


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "aud.duckdb"
    s = Store(path)
    checkerboard(s)
    insert_events(s, {u: [("purchase", 3600, {"item_id": "x0", "revenue": 99.0})] for u in ("a1", "a2")})
    s.close()
    rec.clear_cache()
    yield path
    rec.clear_cache()


def _texts(at) -> str:
    return "\n".join([c.value for c in at.caption] + [i.value for i in at.info])


def test_empty_store_shows_the_no_data_message(monkeypatch, tmp_path):
    at = _app(monkeypatch, tmp_path / "data" / "empty.duckdb")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Audiences"
    assert at.info[0].value.startswith("No events yet.")


def test_course_audience_with_expected_conversion(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.selectbox(key="aud_item").value == "x0"  # the sold item comes first
    assert [m.label for m in at.metric] == ["Users in the list", "Expected conversions", "Expected conversion rate",
                                           "Conversion among all users"]
    assert at.metric[0].value == "14"  # 24 users minus the 10 who engaged with x0
    assert at.metric[3].value == "8.3%"  # 2 of 24 users bought it
    assert "Sold item: conversion means buying it." in _texts(at)
    assert at.subheader[0].value == "Target list"
    table = at.dataframe[0].value
    assert list(table.columns) == ["rank", "user", "score", "decile", "expected_conversion"]
    assert set(table["user"].iloc[:2]) == {"a0", "a6"}  # same taste, never touched x0
    at.number_input(key="aud_k").set_value(3).run()
    assert at.metric[0].value == "3" and len(at.dataframe[0].value) == 3
    at.checkbox(key="aud_include_engaged").check().run()
    assert not at.exception and at.metric[0].value == "3"
    assert at.dataframe[1].value["converted"].sum() == 2  # the calibration table in the expander


def test_free_video_converts_by_engagement(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.selectbox(key="aud_item").set_value("y1").run()
    assert not at.exception
    assert "Free item: conversion means any interaction with it (view, like, share…)." in _texts(at)
    assert set(at.dataframe[0].value["user"].iloc[:2]) == {"b1", "b7"}


def test_page_speaks_chinese(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "目标人群"
    assert at.metric[0].label == "名单人数"
    assert "付费内容：转化指购买。" in _texts(at)
