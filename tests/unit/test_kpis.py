"""KPIs against a hand-computed fixture, their edge cases, and laws that hold for any events."""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.errors import BadInput
from analytics.metrics.kpis import (
    ALL_KPIS,
    KPIS,
    NOTE_NO_SPEND,
    NOTE_SPEND_NOT_BY_CATEGORY,
    NOTE_SPEND_NOT_SPLIT,
    breakdown,
    daily_series,
    evaluate,
    kpi_report,
    kpi_values,
    overview,
    resolve_period,
    top_bottom_videos,
)
from analytics.query.filters import Filters
from analytics.query.localtime import complete_days
from analytics.store.storage import Store
from tests.helpers import T0, by_path, insert_events, insert_items, insert_spend

H = 3600
DAY = 86400
JAN5, JAN6 = dt.date(2026, 1, 5), dt.date(2026, 1, 6)
PERIOD = Filters(JAN5, JAN6)  # local days in Asia/Shanghai; T0 is 2026-01-05 20:00 local


@pytest.fixture
def shop(store):
    """The hand-computed fixture (answers in the tests below; T0 + 5 h is already 2026-01-06 locally).

    u1: view v1 95/100 s, like, comment, click, purchase 100            (douyin, Jan 5)
    u2: view v1 30/100 s, share, follow, purchase 50; refund 50 on Jan 6 (douyin)
    u5: view v1 200 s of a 100 s video (replay: ratio capped at 1)       (douyin, Jan 5)
    u3: view v2 10 s, v2 has no usable length                           (kuaishou, Jan 6)
    u4: purchase 20 on Jan 3 (previous period), purchase 80 on Jan 6, no view (kuaishou)
    spend: douyin Jan 5 30, kuaishou Jan 6 60, douyin Jan 3 999 (previous period)
    """
    insert_items(
        store,
        [
            {"item_id": "v1", "kind": "video", "title": "Hook", "creator": "ann", "category": "math",
             "duration_seconds": 100.0, "course_id": "c1"},
            {"item_id": "v2", "kind": "video", "title": "Cut", "creator": "bo", "category": "art", "duration_seconds": 0.0},
            {"item_id": "c1", "kind": "course", "title": "Algebra", "creator": "ann", "category": "math"},
        ],
    )
    buy = {"item_id": "c1"}
    insert_events(
        store,
        {
            "u1": [("view", 0, {"watch_seconds": 95}), ("like", 60), ("comment", 70), ("click", 80),
                   ("purchase", 90, {**buy, "revenue": 100})],
            "u2": [("view", 0, {"watch_seconds": 30}), ("share", 40), ("follow", 50),
                   ("purchase", 100, {**buy, "revenue": 50}), ("refund", 5 * H, {**buy, "revenue": 50})],
            "u5": [("view", 10, {"watch_seconds": 200, "video_seconds": 100})],
        },
        channel="douyin",
        campaign="spring",
    )
    insert_events(
        store,
        {
            "u3": [("view", 6 * H, {"item_id": "v2", "watch_seconds": 10})],
            "u4": [("purchase", -2 * DAY, {**buy, "revenue": 20}), ("purchase", 7 * H, {**buy, "revenue": 80})],
        },
        channel="kuaishou",
        campaign="autumn",
    )
    insert_spend(
        store,
        [
            {"date": JAN5, "channel": "douyin", "campaign": "spring", "spend": 30.0},
            {"date": JAN6, "channel": "kuaishou", "campaign": "autumn", "spend": 60.0},
            {"date": dt.date(2026, 1, 3), "channel": "douyin", "campaign": "spring", "spend": 999.0},
        ],
    )
    return store


EXPECTED = {
    "active_users": 5,
    "views": 4,
    "watch_hours": (95 + 30 + 200 + 10) / 3600,
    "avg_watch_ratio": (0.95 + 0.3 + 1.0) / 3,
    "completion_rate": 2 / 3,
    "interaction_rate": 3 / 4,
    "follow_rate": 1 / 4,
    "ctr": 1 / 4,
    "conversion": 2 / 4,
    "orders": 3,
    "revenue": 100 + 50 + 80 - 50,
    "refund_rate": 1 / 3,
    "arpu": 180 / 5,
    "arppu": 180 / 3,
    "revenue_per_1000_views": 180 / 4 * 1000,
    "purchasers": 3,
    "new_buyers": 2,
    "spend": 90.0,
    "cac": 45.0,
    "roas": 2.0,
}


def test_every_registry_kpi_has_a_hand_computed_answer():
    assert set(EXPECTED) == {k.name for k in KPIS}


def test_kpis_match_the_hand_computed_fixture(shop):
    values = kpi_values(shop, PERIOD)
    assert set(values) == set(EXPECTED)
    for name, expected in EXPECTED.items():
        assert values[name] == pytest.approx(expected), name
    assert isinstance(values["views"], int) and isinstance(values["orders"], int)


def test_previous_period_and_change(shop):
    report = kpi_report(shop, PERIOD, external=False)
    assert report.status == "ok"
    assert (report.previous_filters.date_from, report.previous_filters.date_to) == (dt.date(2026, 1, 3), dt.date(2026, 1, 4))
    prev = report.previous
    assert prev["orders"] == 1 and prev["revenue"] == 20 and prev["new_buyers"] == 1 and prev["views"] == 0
    assert prev["conversion"] is None and prev["ctr"] is None  # no views: no rates, not 0
    assert prev["spend"] == 999 and prev["cac"] == 999 and prev["roas"] == pytest.approx(20 / 999)
    cards = {c.kpi.name: c for c in report.cards()}
    assert cards["revenue"].change == pytest.approx(8.0)  # (180 - 20) / 20
    assert cards["views"].change is None  # previous 0
    assert cards["cac"].change == pytest.approx((45 - 999) / 999)
    assert report.notes == ()


def test_open_dates_use_the_data_span(shop):
    report = kpi_report(shop, Filters(), external=False)
    assert (report.filters.date_from, report.filters.date_to) == (dt.date(2026, 1, 3), JAN6)
    assert (report.previous_filters.date_from, report.previous_filters.date_to) == (dt.date(2025, 12, 30), dt.date(2026, 1, 2))
    assert report.values["orders"] == 4
    assert report.values["new_buyers"] == 3  # with the whole span every purchaser is new


def test_a_day_is_complete_when_the_data_covers_all_of_it():
    days = (dt.date(2026, 9, 1), dt.date(2026, 9, 2), dt.date(2026, 9, 3))
    # local midnight to midnight in Asia/Shanghai (events from 00:31 to 23:59:57): every day covered
    span = (dt.datetime(2026, 8, 31, 16, 31), dt.datetime(2026, 9, 3, 15, 59, 57))
    assert complete_days(days, span, "Asia/Shanghai") == (True, True, True)
    # the same data read in UTC starts at 16:31 and ends at 15:59: its first and last days are partial
    assert complete_days((dt.date(2026, 8, 31), *days), span, "UTC") == (False, True, True, False)
    # the data ends mid-day, or a day lies outside the data: not complete
    assert complete_days(days, (span[0], dt.datetime(2026, 9, 3, 4)), "Asia/Shanghai") == (True, True, False)
    assert complete_days((dt.date(2026, 9, 4),), span, "Asia/Shanghai") == (False,)
    assert complete_days(days, (None, None), "UTC") == (False, False, False)


def test_the_report_flags_days_the_data_does_not_cover(shop):
    report = kpi_report(shop, PERIOD, external=False)
    assert report.days == (JAN5, JAN6)
    # the data runs from Jan 3 20:00 to the early hours of Jan 6 (local): Jan 6 is not covered
    assert report.complete == (True, False)
    assert report.incomplete_days == (JAN6,)
    assert list(report.series_frame()["complete"]) == list(report.complete)
    assert all(c.complete == report.complete for c in report.cards())


def test_daily_series_uses_local_days(shop):
    days, series = daily_series(shop, PERIOD)
    assert days == (JAN5, JAN6)
    assert series["views"] == (3, 1)
    assert series["revenue"] == (150.0, 30.0)  # the refund and u4's order fall on Jan 6 locally
    assert series["spend"] == (30.0, 60.0)
    assert series["roas"] == (5.0, 0.5)
    assert series["conversion"] == (pytest.approx(2 / 3), 0.0)
    utc_days, utc_series = daily_series(shop, Filters(JAN5, JAN6, timezone="UTC"))
    assert utc_series["views"] == (4, 0)  # 06:00 Jan 6 local is still Jan 5 in UTC


def test_days_without_events_have_zero_counts_and_no_rates(shop):
    days, series = daily_series(shop, Filters(JAN5, dt.date(2026, 1, 8)))
    assert series["views"][2:] == (0, 0)
    assert series["ctr"][2:] == (None, None)
    assert series["spend"][2:] == (None, None)  # no spend row: missing, not zero


def test_breakdown_by_channel_carries_spend(shop):
    table = breakdown(shop, PERIOD, "channel").table.set_index("channel")
    assert table.loc["douyin", "views"] == 3 and table.loc["kuaishou", "views"] == 1
    assert table.loc["douyin", "conversion"] == pytest.approx(2 / 3)
    assert table.loc["kuaishou", "conversion"] == 0.0
    assert table.loc["douyin", "revenue"] == 100.0  # 100 + 50 - 50
    assert table.loc["douyin", "roas"] == pytest.approx(100 / 30)
    assert table.loc["douyin", "cac"] == 15.0
    assert table.loc["kuaishou", "new_buyers"] == 0 and table.loc["kuaishou", "cac"] is None
    assert table.loc["kuaishou", "roas"] == pytest.approx(80 / 60)


def test_breakdown_by_video_keeps_viewed_items_with_titles(shop):
    result = breakdown(shop, PERIOD, "video")
    assert result.notes == (NOTE_SPEND_NOT_SPLIT,)
    t = result.table
    assert list(t["video"]) == ["v1", "v2"]
    assert list(t["title"]) == ["Hook", "Cut"]
    assert t.loc[0, "conversion"] == pytest.approx(2 / 3)
    assert t.loc[1, "avg_watch_ratio"] is None  # no usable length
    assert t["spend"].isna().all()


@pytest.mark.parametrize(
    "by, expected",
    [
        ("creator", {"ann": 3, "bo": 1}),
        ("category", {"math": 3, "art": 1}),
        ("course", {"c1": 3, None: 1}),
        ("campaign", {"spring": 3, "autumn": 1}),
        ("variant", {None: 4}),
    ],
)
def test_breakdown_dimensions(shop, by, expected):
    table = breakdown(shop, PERIOD, by).table
    assert dict(zip(table[by], table["views"])) == expected


def test_course_groups_purchases_with_their_promoting_videos(shop):
    table = breakdown(shop, PERIOD, "course").table.set_index("course", drop=False)
    assert table.loc["c1", "orders"] == 3 and table.loc["c1", "revenue"] == 180.0


def test_breakdown_by_an_extra_property(shop):
    with shop.cursor() as cur:
        cur.execute("UPDATE events SET props = MAP {'src': 'ad'} WHERE user_id = 'u1'")
    table = breakdown(shop, PERIOD, "props.src").table
    assert dict(zip(table["props.src"], table["active_users"])) == {None: 4, "ad": 1}


def test_bad_dimension_and_sort_are_refused(shop):
    with pytest.raises(BadInput, match="cannot break down by 'colour'"):
        breakdown(shop, PERIOD, "colour")
    with pytest.raises(BadInput, match="unknown KPI"):
        breakdown(shop, PERIOD, "channel", sort="happiness")
    with pytest.raises(BadInput, match="unknown KPI"):
        top_bottom_videos(shop, PERIOD, "happiness")


def test_category_filter_makes_spend_unavailable(shop):
    report = kpi_report(shop, Filters(JAN5, JAN6, categories=("math",)), external=False)
    assert report.notes == (NOTE_SPEND_NOT_BY_CATEGORY,)
    assert report.values["spend"] is None and report.values["roas"] is None and report.values["cac"] is None
    assert report.values["views"] == 3


def test_no_spend_rows_is_missing_not_zero(shop):
    report = kpi_report(shop, Filters(dt.date(2026, 1, 7), dt.date(2026, 1, 8)), external=False)
    assert report.notes == (NOTE_NO_SPEND,)
    assert report.values["spend"] is None and report.values["cac"] is None
    assert report.values["views"] == 0 and report.values["conversion"] is None


def test_channel_filter(shop):
    values = kpi_values(shop, Filters(JAN5, JAN6, channels=("kuaishou",)))
    assert values["active_users"] == 2 and values["orders"] == 1 and values["spend"] == 60.0
    assert values["conversion"] == 0.0 and values["new_buyers"] == 0 and values["cac"] is None


def test_top_and_bottom_videos(shop):
    ranking = top_bottom_videos(shop, PERIOD, "views", n=1)
    assert list(ranking.top["video"]) == ["v1"] and list(ranking.bottom["video"]) == ["v2"]
    rates = top_bottom_videos(shop, PERIOD, "completion_rate", min_views=1)
    assert list(rates.top["video"]) == ["v1"]  # v2 has no completion rate (no usable length)
    assert top_bottom_videos(shop, PERIOD, "completion_rate").status == "no_data"  # < 30 views each


def test_overview_bundles_report_breakdown_and_ranking(shop):
    result = overview(shop, PERIOD, by="creator", rank_by="views")
    assert result.status == "ok"
    assert list(result.breakdown.table["creator"]) == ["ann", "bo"]
    assert len(result.ranking.top) == 2


def test_empty_store_is_a_status_not_an_error(store):
    report = kpi_report(store, Filters())
    assert report.status == "no_data" and all(v is None for v in report.values.values())
    assert overview(store, Filters()).breakdown is None


def test_external_kpis_come_from_their_modules(shop):
    report = kpi_report(shop, PERIOD)
    names = {c.kpi.name for c in report.cards()}
    assert names == {k.name for k in ALL_KPIS}
    from analytics.metrics.retention import day_n_retention

    assert report.values["d1_retention"] == day_n_retention(shop, report.filters, 1)


def test_zero_denominators_give_none_never_infinity():
    for kpi in KPIS:
        if kpi.denominator:
            for zero in (0, None, float("nan")):
                assert evaluate({kpi.numerator: 5, kpi.denominator: zero}, [kpi.name])[kpi.name] is None
    assert evaluate({"spend": None}, ["spend"])["spend"] is None


# -- laws for any events ------------------------------------------------------------------------
EVENT = st.tuples(
    st.sampled_from(["u1", "u2", "u3", "u4"]),
    st.sampled_from(["view", "like", "comment", "share", "follow", "click", "purchase", "refund"]),
    st.integers(min_value=0, max_value=3 * DAY),
    st.sampled_from(["douyin", "kuaishou", None]),
    st.floats(min_value=-5, max_value=300, allow_nan=False),
    st.sampled_from([None, 0.0, 60.0]),
    st.integers(min_value=1, max_value=500),
)


@settings(max_examples=12)
@given(st.lists(EVENT, min_size=1, max_size=30))
def test_laws_for_any_events(events):
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "p.duckdb")
        try:
            insert_items(store, [{"item_id": "v1", "kind": "video", "duration_seconds": 30.0}])
            journeys: dict[str, list] = {}
            for user, kind, at, channel, watched, length, money in events:
                extra = {"channel": channel}
                if kind == "view":
                    extra.update(watch_seconds=watched, video_seconds=length)
                if kind in ("purchase", "refund"):
                    extra["revenue"] = float(money)
                journeys.setdefault(user, []).append((kind, T0 + dt.timedelta(seconds=at), extra))
            insert_events(store, journeys)
            total = kpi_values(store, Filters())
            for name in ("avg_watch_ratio", "completion_rate", "conversion"):
                assert total[name] is None or 0.0 <= total[name] <= 1.0, name
            for value in total.values():
                assert value is None or math.isfinite(value)
            purchases = sum(m for _, k, *_, m in events if k == "purchase")
            refunds = sum(m for _, k, *_, m in events if k == "refund")
            assert total["revenue"] == pytest.approx(purchases - refunds)
            # additive counts split exactly across channels (every event has one channel or none)
            table = breakdown(store, Filters(), "channel").table
            for name in ("views", "orders", "active_users"):
                parts = sum(table[name])
                if name == "active_users":
                    assert parts >= total[name]  # a user may be active on several channels
                else:
                    assert parts == total[name], name
            # the daily series adds up to the period
            _, series = daily_series(store, resolve_period(store, Filters()))
            assert sum(series["views"]) == total["views"]
            assert sum(series["revenue"]) == pytest.approx(total["revenue"])
        finally:
            store.close()


# -- the hourly rollup answers exactly like the events ------------------------------------------
@pytest.mark.parametrize("by", [(), ("channel",), ("campaign",), ("variant",), ("day",), ("campaign", "channel")])
@pytest.mark.parametrize("filters", [PERIOD, Filters(JAN5, JAN5, channels=("douyin",)), Filters(JAN6, JAN6, campaigns=("autumn",))])
def test_rollup_and_events_give_the_same_components(shop, by, filters):
    from analytics.metrics.kpis import event_components

    a = by_path("portable", event_components, shop, filters, by)
    b = by_path("rollup", event_components, shop, filters, by)
    if by:
        a, b = a.sort_values(list(by)).reset_index(drop=True), b.sort_values(list(by)).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[sorted(a.columns)], b[sorted(b.columns)], check_dtype=False)


def test_rollup_is_rebuilt_when_data_changes(shop):
    from analytics.query import engine
    from analytics.query.accel.rollup import refresh as refresh_rollup
    from analytics.query.layer import Components

    def rollup_applies(filters, by=()):
        return "rollup" in engine.paths_for(shop, Components(filters, by))

    assert rollup_applies(PERIOD) and not rollup_applies(PERIOD, ("video",))
    assert not rollup_applies(Filters(JAN5, JAN6, categories=("math",)))
    assert not rollup_applies(Filters(JAN5, JAN6, timezone="Asia/Kolkata"))  # +05:30: not whole hours
    assert kpi_values(shop, PERIOD)["views"] == 4
    assert refresh_rollup(shop) is False  # up to date
    insert_events(shop, {"u9": [("view", 60, {"watch_seconds": 50})]})
    assert kpi_values(shop, PERIOD)["views"] == 5  # rebuilt before answering
    insert_items(shop, [{"item_id": "v1", "duration_seconds": 1000.0}])  # a longer catalog length
    assert refresh_rollup(shop) is True


def test_kolkata_half_hour_offset_uses_the_events(store):
    insert_events(store, {"a": [("view", dt.datetime(2026, 1, 5, 18, 45))]})  # 00:15 on Jan 6 in Kolkata
    days, series = daily_series(store, Filters(JAN5, JAN6, timezone="Asia/Kolkata"))
    assert series["views"] == (0, 1)


@pytest.mark.parametrize("metric", ["views", "ctr", "completion_rate", "revenue", "conversion"])
def test_video_ranking_from_event_sums_equals_the_full_breakdown(shop, metric):
    full = breakdown(shop, PERIOD, "video").table
    light = top_bottom_videos(shop, PERIOD, metric, min_views=1)
    heavy = top_bottom_videos(shop, PERIOD, metric, min_views=1, videos=full)
    assert list(light.top["video"]) == list(heavy.top["video"])
    assert list(light.top[metric]) == list(heavy.top[metric])


COMPONENT_VALUE = st.one_of(st.none(), st.just(0), st.integers(min_value=-5, max_value=10**6),
                            st.floats(min_value=-1e6, max_value=1e6), st.sampled_from([math.nan, math.inf, -math.inf]))


@settings(max_examples=40)
@given(st.lists(st.fixed_dictionaries({name: COMPONENT_VALUE for name in sorted({n for k in KPIS for n in (k.numerator, k.denominator) if n})}),
                min_size=1, max_size=5))
def test_a_table_of_groups_evaluates_like_each_group_alone(rows):
    from analytics.metrics.kpis import as_objects, evaluate_frame

    table = as_objects(evaluate_frame(pd.DataFrame(rows)))
    for i, row in enumerate(rows):
        alone = evaluate(row)
        for name, value in alone.items():
            got = table[name].iloc[i]
            assert (got is None) == (value is None), name
            if value is not None:
                assert got == pytest.approx(value) and type(got) is type(value), name
                assert math.isfinite(value)


def test_what_the_data_never_records_is_not_measured_as_zero(store):
    """An order export beside a log of plain views (no likes, follows, clicks nor watch times, as many
    exports have): those KPIs have no value, with a note naming what is missing; the others stand."""
    from analytics.metrics.kpis import (
        NOTE_NOT_RECORDED,
        RECORDED_BY,
        kpis_counting,
        not_recorded,
    )
    from analytics.query import engine
    from analytics.query.layer import Recorded

    insert_events(store, {
        "u1": [("view", 0), ("purchase", 60, {"item_id": "c1", "revenue": 50})],
        "u2": [("view", 3 * H, {"watch_seconds": 0})],  # a watch time of zero records no watching
    })
    assert engine.ask(store, Recorded()) == frozenset()
    assert not_recorded(store) == tuple(RECORDED_BY)
    report = kpi_report(store, PERIOD)
    unmeasured = {k for kind in RECORDED_BY for k in kpis_counting(kind)}
    assert unmeasured == {"interaction_rate", "follow_rate", "ctr", "watch_hours", "avg_watch_ratio", "completion_rate"}
    assert all(report.values[k] is None and report.previous[k] is None for k in unmeasured)
    assert all(v is None for k in unmeasured for v in report.series[k])
    assert (report.values["views"], report.values["orders"], report.values["conversion"]) == (2, 1, 0.5)
    assert [n for n in report.notes if n.startswith(NOTE_NOT_RECORDED)] == [f"{NOTE_NOT_RECORDED}:{k}" for k in RECORDED_BY]
    table = breakdown(store, PERIOD, "channel")
    assert table.table["follow_rate"].tolist() == [None] and table.table["views"].tolist() == [2]
    assert f"{NOTE_NOT_RECORDED}:follows" in table.notes
    assert top_bottom_videos(store, PERIOD, "ctr", min_views=0).status == "no_data"

    # one follow anywhere in the data, even outside the period, and follows are measured: zero is a value
    insert_events(store, {"u3": [("follow", 30 * DAY), ("view", 30 * DAY, {"watch_seconds": 4})]})
    assert not_recorded(store) == ("interactions", "clicks")
    report = kpi_report(store, PERIOD)
    assert (report.values["follow_rate"], report.values["watch_hours"]) == (0.0, 0.0)
    assert report.values["ctr"] is None and f"{NOTE_NOT_RECORDED}:follows" not in report.notes


def test_each_kind_of_record_is_found_by_the_events_that_count_it(store):
    from analytics.query import engine
    from analytics.query.layer import Recorded

    insert_events(store, {"u1": [("comment", 0), ("click", 1), ("view", 2, {"watch_seconds": 3})]})
    assert engine.ask(store, Recorded()) == frozenset({"interactions", "clicks", "watch_time"})


def test_a_kpi_the_data_never_records_has_no_change_to_explain(store):
    from analytics.metrics.explain import explain

    insert_events(store, {"u1": [("view", 0)], "u2": [("view", DAY), ("view", DAY + 60)]})
    assert explain(store, "follow_rate", Filters(JAN6, JAN6), Filters(JAN5, JAN5)).status == "no_data"
    assert explain(store, "views", Filters(JAN6, JAN6), Filters(JAN5, JAN5)).status == "ok"
