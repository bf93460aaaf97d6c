"""Overview page: KPI cards with deltas, breakdown table, top/bottom videos, notes and empty states."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from analytics.store.storage import Store
from tests.helpers import (
    insert_events,
    insert_items,
    insert_spend,
    open_page,
    shown_table,
)

PAGE = "overview.py"
DAY = 86400
#: The note of the fixture below, whose events hold no follow and no click.
NOT_RECORDED = [
    (
        "Not measured (shown as –, not 0), because the data holds none of what they count: "
        "Follow rate (follows); Click-through rate (clicks)."
    ),
]


def _app(monkeypatch, db, lang: str | None = None):
    return open_page(monkeypatch, db, PAGE, lang=lang)


@pytest.fixture
def db(tmp_path):
    """Two local days (2026-01-05 and -06, Asia/Shanghai); spend only for campaign "spring"."""
    path = tmp_path / "data" / "ov.duckdb"
    s = Store(path)
    insert_items(
        s,
        [
            {"item_id": "v1", "kind": "video", "title": "Hook", "creator": "ann", "category": "math", "duration_seconds": 10.0},
            {"item_id": "v2", "kind": "video", "title": "=cmd()", "creator": "bo", "category": "art", "duration_seconds": 20.0},
            {"item_id": "c1", "kind": "course", "title": "Course", "creator": "ann", "category": "math"},
        ],
    )
    insert_events(
        s,
        {
            "alice": [("view", 0, {"watch_seconds": 10}), ("like", 5), ("purchase", 60, {"item_id": "c1", "revenue": 100})],
            "bob": [("view", 0, {"watch_seconds": 1}), ("view", DAY, {"item_id": "v2", "watch_seconds": 20})],
        },
        channel="douyin",
        campaign="spring",
    )
    insert_events(s, {"carol": [("view", DAY, {"item_id": "v2", "watch_seconds": 5, "channel": "kuaishou"})]})
    insert_spend(s, [{"date": dt.date(2026, 1, 5), "channel": "douyin", "campaign": "spring", "spend": 40.0}])
    s.close()
    return path


def test_overview_opens_on_the_latest_complete_days_against_the_days_before(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.radio(key="ov_scope").value == "latest"
    # the data ends at 20:01 on the 6th (local): that day is not complete, so the default is the 5th
    assert at.main.caption[0].value == (
        "Period 2026-01-05 to 2026-01-05, the latest complete days, compared with 2026-01-04 to 2026-01-04, "
        "as many days just before. Choose dates in the sidebar for another period."
    )
    assert any(i.value.startswith("No earlier data to compare with") for i in at.main.info)


def test_an_incomplete_day_is_named_and_not_drawn_as_a_full_day(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.query_params["from"] = "2026-01-06"
    at.query_params["to"] = "2026-01-06"
    at.run()
    assert not at.exception
    # spend was uploaded for the 5th only; the data holds no follow and no click at all
    assert [i.value for i in at.main.info] == [
        "No spend uploaded for this period: spend, CAC and ROAS are not available (not zero). Upload spend on the Data page.",
        *NOT_RECORDED,
    ]
    metrics = {m.label: m for m in at.main.metric}
    assert metrics["Views"].value == "2"  # bob's and carol's views on the 6th
    assert metrics["Active users"].value == "2"
    # the data ends at 20:01 on the 6th (local): that day is incomplete, named, and not drawn as a full day
    assert any(c.value.startswith("Incomplete days") and c.value.endswith("): 2026-01-06. The sparklines leave them "
               "out; the daily chart shows them as hollow grey points, not as full days.") for c in at.main.caption)
    assert all(len(m.proto.chart_data) == 0 for m in at.main.metric)
    daily = json.loads(at.get("plotly_chart")[0].proto.spec)
    full, partial = daily["data"]
    assert full["x"] == [] and partial["x"] == ["2026-01-06"] and partial["y"] == [2]  # active users
    assert partial["marker"]["symbol"] == "circle-open" and "incomplete day" in partial["hovertemplate"]
    assert [a["text"] for a in daily["layout"]["annotations"]] == ["incomplete day"]  # the shaded day


def test_the_default_period_on_the_sample_shows_a_change_on_every_count(monkeypatch, sample_db_copy):
    at = _app(monkeypatch, sample_db_copy)
    at.run()
    assert not at.exception
    # 28 complete days of data: the latest 14 against the 14 before
    assert at.main.caption[0].value.startswith(
        "Period 2026-09-15 to 2026-09-28, the latest complete days, compared with 2026-09-01 to 2026-09-14,"
    )
    deltas = {m.label: m.proto.delta for m in at.main.metric}
    for label in ("Active users", "Views", "Watch hours", "Orders", "Revenue (net)"):
        assert deltas[label], label
    # the sample covers whole local days: every day is drawn, none is called incomplete
    assert len({m.label: m for m in at.main.metric}["Views"].proto.chart_data) == 14
    assert not any(c.value.startswith("Incomplete days") for c in at.main.caption)


def test_overview_shows_cards_breakdown_and_videos(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.radio(key="ov_scope").set_value("all").run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert at.main.caption[0].value == "Period 2026-01-05 to 2026-01-06, compared with 2026-01-03 to 2026-01-04."
    assert at.main.info[0].value == "No earlier data to compare with: the data starts on 2026-01-05, so the cards show no change."
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Active users"] == "3"
    assert metrics["Views"] == "4"
    assert metrics["Conversion"] == "33.3%"
    assert metrics["Revenue (net)"] == "¥100.00"  # the currency chosen in the sidebar (default CNY)
    assert metrics["Spend"] == "¥40.00"
    assert metrics["ROAS"] == "2.50×"
    assert metrics["CAC"] == "¥40.00"
    assert metrics["Refund rate"] == "0.0%"
    breakdown = shown_table(at.dataframe[0])
    assert list(breakdown["Channel"]) == ["Douyin", "Kuaishou"]
    assert list(breakdown["Views"]) == [3, 1]
    assert at.selectbox(key="ov_rank").value == "views"  # ranked by views unless chosen otherwise
    top = shown_table(at.dataframe[1])
    assert list(top.columns) == ["Video", "Title", "Creator", "Views"]
    assert list(top["Video"]) == ["v1", "v2"] or list(top["Video"]) == ["v2", "v1"]
    assert set(top["Title"]) == {"Hook", "=cmd()"}


def test_overview_breakdown_by_video_and_rate_ranking(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.radio(key="ov_scope").set_value("all").run()
    at.selectbox(key="ov_by").select("video").run()
    at.selectbox(key="ov_rank").select("completion_rate").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["video"]) == ["v1", "v2"]
    assert [i.value for i in at.main.info] == [
        "No earlier data to compare with: the data starts on 2026-01-05, so the cards show no change.",
        *NOT_RECORDED,
        "Spend is split only by channel and campaign; this breakdown leaves spend, CAC and ROAS empty.",
        "No video has enough views to rank on this KPI.",
    ]
    assert at.main.caption[-1].value == "Rates rank only videos with at least 30 views."


def test_overview_states_missing_spend_in_chinese(monkeypatch, db):
    at = _app(monkeypatch, db, lang="zh")
    at.query_params["channel"] = ["kuaishou"]  # the sidebar reads its filters from the URL
    at.query_params["from"] = "2026-01-06"
    at.query_params["to"] = "2026-01-06"
    at.run()
    assert not at.exception
    assert at.title[0].value == "总览"
    assert at.main.info[0].value == "本周期没有上传投放花费：花费、获客成本和 ROAS 无法计算（不是零）。请在“数据”页上传花费。"
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["投放花费"] == "–"
    assert metrics["播放量"] == "1"


def test_overview_without_events_says_so(monkeypatch, tmp_path):
    path = tmp_path / "data" / "empty.duckdb"
    Store(path).close()
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    assert at.main.info[0].value.startswith("No events yet.")


def test_overview_on_the_sample_renders_every_card(monkeypatch, sample_db_copy):
    path = sample_db_copy
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    labels = [m.label for m in at.main.metric]
    assert "D7 retention" in labels and "Course completion" in labels
    assert not at.main.warning
    assert len(at.dataframe) == 3



def test_every_breakdown_and_every_ranking_renders(monkeypatch, db):
    from analytics.metrics.kpis import DIMENSIONS, KPIS

    at = _app(monkeypatch, db)
    at.run()
    for by in DIMENSIONS:
        at.selectbox(key="ov_by").select(by).run()
        assert not at.exception, by
        assert by in at.dataframe[0].value.columns
    for kpi in KPIS:
        at.selectbox(key="ov_rank").select(kpi.name).run()
        assert not at.exception, kpi.name


def test_all_data_says_in_chinese_that_there_is_nothing_earlier(monkeypatch, db):
    at = open_page(monkeypatch, db, PAGE, lang="zh", state={"ov_scope": "all"})
    at.run()
    assert not at.exception
    assert at.main.caption[0].value == "统计周期 2026-01-05 至 2026-01-06，对比上一周期 2026-01-03 至 2026-01-04。"
    assert at.main.info[0].value == "没有更早的数据可供对比：数据从 2026-01-05 开始，因此指标卡不显示变化。"
    assert all(m.proto.delta == "" for m in at.main.metric)


def test_what_the_data_never_records_shows_no_value_and_says_why(monkeypatch, db):
    # the fixture's events hold views, a like and a purchase: no follow and no click anywhere
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    infos = [i.value for i in at.main.info]
    assert all(note in infos for note in NOT_RECORDED)
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Follow rate"] == "–" and metrics["Interaction rate"] != "–"
    zh = _app(monkeypatch, db, lang="zh")
    zh.run()
    assert "以下指标无法计算（显示为 –，不是 0），因为数据中没有它们统计的记录：关注率（关注）；点击率（点击）。" in [i.value for i in zh.main.info]
