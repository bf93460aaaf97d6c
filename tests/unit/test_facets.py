import datetime as dt

import pytest

from analytics.query.facets import (
    Facets,
    comparison_coverage,
    default_period,
    load_facets,
    local_today,
    with_default_period,
)
from analytics.query.filters import Filters
from tests.helpers import insert_events, insert_items


def test_facets_span_local_days_and_list_distinct_values(store):
    insert_items(store, [{"item_id": "v1", "category": "finance"}, {"item_id": "v2", "category": "english"}])
    insert_events(store, {
        "a": [("view", dt.datetime(2026, 1, 4, 16, 30), {"channel": "douyin", "campaign": "spring"})],  # 00:30 on the 5th in Shanghai
        "b": [("view", dt.datetime(2026, 1, 9, 15, 59), {"channel": "bilibili"})],  # 23:59 on the 9th
    })
    f = load_facets(store, "Asia/Shanghai")
    assert (f.first_day, f.last_day) == (dt.date(2026, 1, 5), dt.date(2026, 1, 9))
    assert f.channels == ("bilibili", "douyin") and f.campaigns == ("spring",)
    assert f.categories == ("english", "finance")
    utc = load_facets(store, "UTC")
    assert (utc.first_day, utc.last_day) == (dt.date(2026, 1, 4), dt.date(2026, 1, 9))


def test_facets_of_an_empty_store(store):
    f = load_facets(store, "Asia/Shanghai")
    assert f.first_day is None and f.last_day is None and f.channels == ()


# -- the default period --------------------------------------------------------------------------
D = dt.date


def test_default_period_is_the_latest_28_complete_days_against_the_28_before():
    p = default_period(D(2026, 9, 1), D(2026, 10, 30), today=D(2026, 12, 6))
    assert (p.date_from, p.date_to, p.days) == (D(2026, 10, 3), D(2026, 10, 30), 28)
    assert (p.previous_from, p.previous_to) == (D(2026, 9, 5), D(2026, 10, 2))
    assert p.comparison == "full"


def test_today_is_not_complete_so_the_period_ends_yesterday():
    p = default_period(D(2026, 9, 1), D(2026, 12, 6), today=D(2026, 12, 6))
    assert (p.date_from, p.date_to) == (D(2026, 11, 8), D(2026, 12, 5))


def test_a_last_day_after_today_does_not_count_either():
    p = default_period(D(2026, 9, 1), D(2026, 12, 9), today=D(2026, 12, 6))
    assert p.date_to == D(2026, 12, 5)


@pytest.mark.parametrize(
    "complete_days, length",
    [(56, 28), (57, 28), (55, 27), (40, 20), (3, 1), (2, 1)],
)
def test_shorter_data_gives_the_longest_period_it_can_compare_in_full(complete_days, length):
    first = D(2026, 1, 1)
    last = first + dt.timedelta(days=complete_days - 1)
    p = default_period(first, last, today=D(2026, 12, 6))
    assert p.date_to == last and p.days == length and p.comparison == "full"
    assert p.previous_from >= first


def test_one_complete_day_has_nothing_before_it():
    p = default_period(D(2026, 1, 5), D(2026, 1, 5), today=D(2026, 12, 6))
    assert (p.date_from, p.date_to, p.comparison) == (D(2026, 1, 5), D(2026, 1, 5), "none")


def test_data_only_from_today_gives_today_so_far():
    p = default_period(D(2026, 12, 5), D(2026, 12, 6), today=D(2026, 12, 5))
    assert (p.date_from, p.date_to, p.comparison) == (D(2026, 12, 5), D(2026, 12, 6), "none")


@pytest.mark.parametrize(
    "first_day, expected",
    [(D(2026, 1, 1), "full"), (D(2026, 1, 3), "full"), (D(2026, 1, 4), "partial"), (D(2026, 1, 8), "partial"), (D(2026, 1, 9), "none")],
)
def test_comparison_coverage_of_the_previous_period(first_day, expected):
    # the period 2026-01-09 .. 01-14 (6 days) is compared with 01-03 .. 01-08
    assert comparison_coverage(D(2026, 1, 9), D(2026, 1, 14), first_day) == expected


def test_local_today_is_the_date_in_the_configured_zone():
    now = dt.datetime(2026, 12, 5, 17, 30, tzinfo=dt.timezone.utc)  # 01:30 on the 6th in Shanghai
    assert local_today("Asia/Shanghai", now) == D(2026, 12, 6)
    assert local_today("UTC", now) == D(2026, 12, 5)


def test_open_dates_get_the_default_period_and_chosen_dates_are_kept():
    facets = Facets(D(2026, 9, 1), D(2026, 10, 30))
    closed, period = with_default_period(Filters(channels=("douyin",)), facets, D(2026, 12, 6))
    assert (closed.date_from, closed.date_to, closed.channels) == (D(2026, 10, 3), D(2026, 10, 30), ("douyin",))
    assert period is not None and period.days == 28
    chosen = Filters(date_from=D(2026, 9, 10))
    assert with_default_period(chosen, facets, D(2026, 12, 6)) == (chosen, None)
    empty = Facets(None, None)
    assert with_default_period(Filters(), empty, D(2026, 12, 6)) == (Filters(), None)


def test_data_ending_inside_a_day_leaves_that_day_out_of_the_default_period():
    covered = Facets(D(2026, 9, 1), D(2026, 10, 30), span=(dt.datetime(2026, 9, 1), dt.datetime(2026, 10, 30, 23, 30)))
    cut = Facets(D(2026, 9, 1), D(2026, 10, 30), span=(dt.datetime(2026, 9, 1), dt.datetime(2026, 10, 30, 12)))
    assert with_default_period(Filters(timezone="UTC"), covered, D(2026, 12, 6))[0].date_to == D(2026, 10, 30)
    closed, period = with_default_period(Filters(timezone="UTC"), cut, D(2026, 12, 6))
    assert (closed.date_from, closed.date_to, period.days) == (D(2026, 10, 2), D(2026, 10, 29), 28)
