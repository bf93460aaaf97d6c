"""ROI per campaign / channel against hand-computed answers; missing spend stays missing."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from analytics.cli.main import main
from analytics.errors import BadInput
from analytics.metrics.kpis import kpi_values
from analytics.metrics.roi import SPEND_MISSING, SPEND_OK, compute_roi
from analytics.query.filters import Filters
from tests.helpers import insert_events, insert_items, insert_spend

JAN5 = dt.date(2026, 1, 5)


@pytest.fixture
def ads(store):
    """spring (douyin): 2 viewers, 1 buyer paying 200, spend 20 + 30 over two days -> ROAS 4, CAC 50.
    autumn: douyin buyer 50 (spend 40) and kuaishou buyer 30 with a refund of 10 (spend 60).
    organic (bilibili): 1 buyer paying 10, no spend. Spend for "winter" without any events.
    """
    insert_events(
        store,
        {"a": [("view", 0), ("purchase", 60, {"revenue": 200})], "b": [("view", 0), ("view", 10)]},
        channel="douyin", campaign="spring",
    )
    insert_events(store, {"c": [("view", 0), ("purchase", 60, {"revenue": 50})]}, channel="douyin", campaign="autumn")
    insert_events(
        store,
        {"d": [("view", 0), ("purchase", 60, {"revenue": 30}), ("refund", 120, {"revenue": 10})]},
        channel="kuaishou", campaign="autumn",
    )
    insert_events(store, {"e": [("view", 0), ("purchase", 60, {"revenue": 10})]}, channel="bilibili", campaign="organic")
    insert_spend(
        store,
        [
            {"date": JAN5, "channel": "douyin", "campaign": "spring", "spend": 20.0},
            {"date": JAN5 + dt.timedelta(days=1), "channel": "douyin", "campaign": "spring", "spend": 30.0},
            {"date": JAN5, "channel": "douyin", "campaign": "autumn", "spend": 40.0},
            {"date": JAN5, "channel": "kuaishou", "campaign": "autumn", "spend": 60.0},
            {"date": JAN5, "channel": "wechat", "campaign": "winter", "spend": 5.0},
        ],
    )
    return store


def test_roi_by_campaign(ads):
    report = compute_roi(ads, Filters(), "campaign")
    assert report.status == "ok"
    t = report.table.set_index("campaign")
    assert list(report.table["campaign"]) == ["spring", "autumn", "winter", "organic"]
    assert list(report.table["rank"]) == [1, 2, 3, None]
    assert t.loc["spring", "spend"] == 50.0 and t.loc["spring", "revenue"] == 200.0
    assert t.loc["spring", "roas"] == 4.0 and t.loc["spring", "cac"] == 50.0
    assert t.loc["spring", "views"] == 3 and t.loc["spring", "revenue_per_1000_views"] == pytest.approx(200 / 3 * 1000)
    assert t.loc["autumn", "spend"] == 100.0 and t.loc["autumn", "revenue"] == 70.0  # 50 + 30 - 10
    assert t.loc["autumn", "roas"] == pytest.approx(0.7) and t.loc["autumn", "cac"] == 50.0
    assert t.loc["autumn", "purchasers"] == 2 and t.loc["autumn", "orders"] == 2
    assert t.loc["winter", "roas"] == 0.0 and t.loc["winter", "views"] == 0
    assert t.loc["organic", "spend"] is None and t.loc["organic", "roas"] is None and t.loc["organic", "cac"] is None
    assert t.loc["organic", "spend_status"] == SPEND_MISSING and t.loc["spring", "spend_status"] == SPEND_OK
    assert report.missing_spend == (("organic",),)
    assert report.spend_without_events == (("winter",),)


def test_roi_totals(ads):
    totals = compute_roi(ads, Filters(), "campaign").totals
    assert totals["spend"] == 155.0
    assert totals["revenue"] == 280.0
    assert totals["roas"] == pytest.approx(280 / 155)
    assert totals["revenue_with_spend"] == 270.0  # organic's 10 has no spend
    assert totals["roas_with_spend"] == pytest.approx(270 / 155)
    assert totals["revenue_without_spend"] == 10.0  # the two ROAS differ by exactly this revenue
    assert totals["roas"] - totals["roas_with_spend"] == pytest.approx(totals["revenue_without_spend"] / totals["spend"])


def test_roi_by_campaign_and_channel(ads):
    report = compute_roi(ads, Filters(), "campaign_channel")
    rows = {(r["campaign"], r["channel"]): r for r in report.table.to_dict(orient="records")}
    assert rows[("autumn", "douyin")]["roas"] == pytest.approx(50 / 40)
    assert rows[("autumn", "kuaishou")]["roas"] == pytest.approx(20 / 60)
    assert rows[("organic", "bilibili")]["spend_status"] == SPEND_MISSING


def test_roi_uses_the_same_kpis_as_the_overview(ads):
    report = compute_roi(ads, Filters(campaigns=("spring",)), "campaign")
    values = kpi_values(ads, Filters(campaigns=("spring",)))
    row = report.table.iloc[0]
    for name in ("spend", "views", "purchasers", "revenue", "cac", "roas", "revenue_per_1000_views"):
        assert row[name] == pytest.approx(values[name]), name


def test_roi_date_range_selects_spend_days(ads):
    report = compute_roi(ads, Filters(JAN5, JAN5), "campaign")
    assert report.table.set_index("campaign").loc["spring", "spend"] == 20.0


def test_roi_without_spend_and_with_category(store, ads):
    insert_items(ads, [{"item_id": "v1", "kind": "video", "category": "math"}])
    report = compute_roi(ads, Filters(categories=("math",)), "channel")
    assert report.status == "no_spend" and report.notes == ("spend_not_by_category",)
    assert report.table["spend"].isna().all() and report.table["rank"].isna().all()


def test_roi_on_an_empty_store(store):
    report = compute_roi(store, Filters(), "campaign")
    assert report.status == "no_data" and len(report.table) == 0


def test_unknown_level(store):
    with pytest.raises(BadInput, match="unknown ROI level"):
        compute_roi(store, Filters(), "region")


def test_roi_and_kpis_cli(ads, capsys):
    db = str(ads.path)
    ads.close()
    assert main(["--db", db, "--json", "roi", "--level", "campaign"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["campaign"] for r in out["rows"]] == ["spring", "autumn", "winter", "organic"]
    assert out["rows"][3]["spend"] is None and out["missing_spend"] == [["organic"]]
    assert main(["--db", db, "--json", "kpis", "--from", "2026-01-05", "--to", "2026-01-06"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kpis"]["orders"] == 4 and out["kpis"]["spend"] == 155.0 and out["previous"]["spend"] is None
    assert main(["--db", db, "--json", "kpis", "--by", "channel", "--sort", "revenue"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["channel"] for r in out["rows"]] == ["douyin", "kuaishou", "bilibili", "wechat"]
    assert out["rows"][3]["spend"] == 5.0 and out["rows"][2]["spend"] is None
    assert main(["--db", db, "kpis", "--by", "colour"]) == 2
    assert "cannot break down by 'colour'" in capsys.readouterr().err
    assert main(["--db", db, "roi", "--level", "region"]) == 2


def test_roi_cli_words_missing_spend_and_both_roas(ads, capsys):
    insert_events(ads, {"f": [("view", 0), ("purchase", 60, {"revenue": 5})]}, channel="douyin")  # no campaign
    db = str(ads.path)
    ads.close()
    assert main(["--db", db, "roi"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "ROI by campaign, ranked by ROAS"
    assert "ROAS 1.84x = all net revenue / all spend" in lines  # 285 / 155
    assert "paid ROAS 1.74x = net revenue of the groups with spend (270.00) / all spend; the other 15.00 came from groups without spend" in lines
    assert lines[-2] == ("no spend uploaded for organic; traffic without a campaign: CAC and ROAS are not available there "
                         "(not zero) and those rows are not ranked")
    assert lines[-1] == "spend without any events in the period: winter"
    assert "(none)" not in "\n".join(lines) and "None" not in lines[-2]
