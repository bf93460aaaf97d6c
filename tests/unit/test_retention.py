"""Cohort retention and Dn retention: hand-computed fixtures and laws (hypothesis)."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.retention import day_n_retention, utc_offsets
from tests.helpers import insert_events

DAY = 86400
SH = Filters(timezone="Asia/Shanghai")
# T0 is Monday 2026-01-05 12:00 UTC = 20:00 in Asia/Shanghai (local day 2026-01-05).


@pytest.fixture
def small(store):
    """a: days 0, 1; b: days 0, 2; c: first seen day 1; z: first seen day 10 (the data's last day)."""
    insert_events(
        store,
        {
            "a": [("view", 0), ("view", DAY)],
            "b": [("view", 0), ("like", 2 * DAY)],
            "c": [("view", DAY)],
            "z": [("view", 10 * DAY)],
        },
    )
    return store


def test_day_n_retention_hand_computed(small):
    # D1: eligible a, b (day 0) and c (day 1); z's day 1 is after the data end. Only a returns.
    assert day_n_retention(small, SH, 1) == pytest.approx(1 / 3)
    # D2: b returns on day 2.
    assert day_n_retention(small, SH, 2) == pytest.approx(1 / 3)
    assert day_n_retention(small, SH, 7) == 0.0
    # day 0 is the first-seen day itself
    assert day_n_retention(small, SH, 0) == 1.0


def test_day_n_retention_is_none_when_no_user_is_observable(small, store):
    assert day_n_retention(small, SH, 30) is None
    assert day_n_retention(store.ibis(), Filters(date_from=dt.date(2026, 1, 15), date_to=dt.date(2026, 1, 15)), 1) is None


def test_day_n_retention_date_filter_picks_the_cohort(small):
    only_c = Filters(date_from=dt.date(2026, 1, 6), date_to=dt.date(2026, 1, 6))
    assert day_n_retention(small, only_c, 1) == 0.0


def test_day_n_retention_on_empty_store_is_none(store):
    assert day_n_retention(store, SH, 1) is None


@pytest.mark.parametrize("n", [-1, 1.5, "7"])
def test_day_n_retention_rejects_bad_day(store, n):
    with pytest.raises(BadInput, match="whole number"):
        day_n_retention(store, SH, n)


def test_local_days_follow_the_configured_zone(store):
    # 15:30 UTC is 23:30 in Shanghai (day 0); 16:30 UTC the next day is 00:30 two local days later.
    t = dt.datetime(2026, 1, 5, 15, 30)
    insert_events(store, {"u": [("view", t), ("view", t + dt.timedelta(days=1, hours=1))]})
    assert day_n_retention(store, SH, 2) == 1.0
    assert day_n_retention(store, SH, 1) == 0.0
    # in UTC the same events are one day apart
    assert day_n_retention(store, Filters(timezone="UTC"), 1) == 1.0


def test_utc_offsets_find_daylight_saving_transitions():
    offsets = utc_offsets("Europe/Berlin", dt.datetime(2026, 1, 1), dt.datetime(2026, 12, 31))
    assert offsets == [
        (None, 3600),
        (dt.datetime(2026, 3, 29, 1, 0), 7200),
        (dt.datetime(2026, 10, 25, 1, 0), 3600),
    ]
    assert utc_offsets("Asia/Shanghai", dt.datetime(2026, 1, 1), dt.datetime(2026, 12, 31)) == [(None, 28800)]
