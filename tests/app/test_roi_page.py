"""ROI page: spend joined to outcomes, campaigns ranked by ROAS, missing spend stated (not zero)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics.store.storage import Store
from tests.helpers import (
    insert_events,
    insert_items,
    insert_spend,
    open_page,
    shown_table,
)

PAGE = "roi.py"


def _app(monkeypatch, db, lang: str | None = None):
    return open_page(monkeypatch, db, PAGE, lang=lang)


@pytest.fixture
def db(tmp_path):
    """spring: spend 50, revenue 200 (ROAS 4); autumn: spend 100, revenue 50 (ROAS 0.5); organic: no spend."""
    path = tmp_path / "data" / "roi.duckdb"
    s = Store(path)
    insert_events(
        s,
        {
            "a": [("view", 0), ("purchase", 60, {"revenue": 200})],
            "b": [("view", 0)],
        },
        channel="douyin",
        campaign="spring",
    )
    insert_events(s, {"c": [("view", 0), ("purchase", 60, {"revenue": 50})]}, channel="douyin", campaign="autumn")
    insert_events(s, {"d": [("view", 0), ("purchase", 60, {"revenue": 10})]}, channel="bilibili", campaign="organic")
    insert_spend(
        s,
        [
            {"date": dt.date(2026, 1, 5), "channel": "douyin", "campaign": "spring", "spend": 50.0},
            {"date": dt.date(2026, 1, 5), "channel": "douyin", "campaign": "autumn", "spend": 100.0},
        ],
    )
    s.close()
    return path


def test_roi_page_ranks_campaigns_and_states_missing_spend(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.title[0].value == "ROI"
    assert at.main.warning[0].value == (
        "No spend was uploaded for organic, so CAC and ROAS are not available there (not zero) and those rows are not ranked."
    )
    table = at.dataframe[0].value
    assert list(table["campaign"]) == ["spring", "autumn", "organic"]
    assert list(table["rank"])[:2] == [1, 2] and pd.isna(table["rank"].iloc[2])
    assert list(table["roas"])[:2] == [4.0, 0.5] and pd.isna(table["roas"].iloc[2])
    assert list(table["spend_status"]) == ["Uploaded", "Uploaded", "No spend uploaded"]
    assert list(shown_table(at.dataframe[0]).columns[:2]) == ["Campaign", "Spend"]
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics == {"Spend": "¥150.00", "Revenue (net)": "¥260.00", "New buyers": "3", "CAC": "¥50.00", "ROAS": "1.73×",
                       "Paid ROAS (groups with spend)": "1.67×"}
    assert at.main.caption[-1].value == (
        "ROAS = all net revenue ¥260.00 / spend ¥150.00 = 1.73×. Paid ROAS counts only the revenue of the groups with "
        "uploaded spend: ¥250.00 / ¥150.00 = 1.67×. The other ¥10.00 came from groups without spend, such as organic traffic."
    )


def test_roi_page_by_channel_in_chinese(monkeypatch, db):
    at = _app(monkeypatch, db, lang="zh")
    at.run()
    at.selectbox(key="roi_level").select_index(1).run()  # channel
    assert not at.exception
    assert at.title[0].value == "投放回报"
    assert at.main.warning[0].value == "bilibili 没有上传花费，因此无法计算其获客成本和 ROAS（不按零计算），也不参与排名。"
    table = at.dataframe[0].value
    assert list(table["channel"]) == ["抖音", "哔哩哔哩"]


def test_roi_page_with_category_filter_says_spend_has_no_category(monkeypatch, db):
    s = Store(db)
    insert_items(s, [{"item_id": "v1", "kind": "video", "category": "math"}])
    s.close()
    at = _app(monkeypatch, db)
    at.query_params["category"] = ["math"]
    at.run()
    assert not at.exception
    assert at.main.warning[0].value == "Spend has no category: with a category filter spend, CAC and ROAS are not available."
    assert set(at.dataframe[0].value["spend_status"]) == {"Spend has no category"}


def test_roi_page_category_without_matching_items_shows_nothing(monkeypatch, db):
    s = Store(db)
    insert_items(s, [{"item_id": "x9", "kind": "video", "category": "art"}])  # a category nobody watched
    s.close()
    at = _app(monkeypatch, db)
    at.query_params["category"] = ["art"]
    at.run()
    assert not at.exception
    assert [i.value for i in at.main.info] == ["Nothing matches the current filters."]


def test_roi_page_without_spend(monkeypatch, tmp_path):
    path = tmp_path / "data" / "nospend.duckdb"
    s = Store(path)
    insert_events(s, {"a": [("view", 0), ("purchase", 5, {"revenue": 9})]}, campaign="x")
    s.close()
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    assert at.main.warning[0].value.startswith("No spend uploaded for this period.")
    assert at.dataframe[0].value["spend_status"].tolist() == ["No spend uploaded"]


def test_traffic_without_a_campaign_is_named_in_words(monkeypatch, db):
    s = Store(db)
    insert_events(s, {"e": [("view", 0), ("purchase", 60, {"revenue": 5})]}, channel="douyin")  # no campaign
    s.close()
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.main.warning[0].value == (
        "No spend was uploaded for organic; traffic without a campaign (organic or untagged), so CAC and ROAS are not "
        "available there (not zero) and those rows are not ranked."
    )
    assert "(none)" not in at.main.warning[0].value
    at.selectbox(key="roi_level").select("campaign_channel").run()
    assert "douyin" in at.main.warning[0].value and "no campaign / douyin" in at.main.warning[0].value
