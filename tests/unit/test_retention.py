"""Cohort retention and Dn retention: hand-computed fixtures and laws (hypothesis)."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.errors import BadInput
from analytics.metrics.retention import day_n_retention, day_n_retentions
from analytics.query.filters import Filters
from analytics.query.localtime import utc_offsets
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


def test_several_days_in_one_query_equal_each_day_alone(small):
    assert day_n_retentions(small, SH, (30, 1, 7, 2)) == {1: pytest.approx(1 / 3), 2: pytest.approx(1 / 3), 7: 0.0, 30: None}


def test_day_n_retention_is_none_when_no_user_is_observable(small, store):
    assert day_n_retention(small, SH, 30) is None
    assert day_n_retention(store, Filters(date_from=dt.date(2026, 1, 15), date_to=dt.date(2026, 1, 15)), 1) is None


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


# -- cohort table ----------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from analytics.metrics.retention import compute_retention  # noqa: E402


@pytest.fixture
def journeys(store):
    """a: days 0, 1 (watch 30 + 10 s, buys 99 on day 1); b: days 0, 2 (refund 30 on day 2);
    c: first seen day 1; z: first seen day 10 (data end 2026-01-15)."""
    insert_events(
        store,
        {
            "a": [("view", 0, {"watch_seconds": 30}), ("view", DAY, {"watch_seconds": 10}), ("purchase", DAY, {"revenue": 99})],
            "b": [("view", 0), ("like", 2 * DAY), ("refund", 2 * DAY, {"revenue": 30})],
            "c": [("view", DAY)],
            "z": [("view", 10 * DAY)],
        },
    )
    return store


def test_users_on_day_k_hand_computed(journeys):
    r = compute_retention(journeys, SH, periods=4)
    assert r.status == "ok"
    assert r.cohorts == (dt.date(2026, 1, 5), dt.date(2026, 1, 6), dt.date(2026, 1, 15))
    assert r.sizes == (2, 1, 1)
    assert r.values[0] == (1.0, 0.5, 0.5, 0.0)
    assert r.totals[0] == (2, 1, 1, 0)
    assert r.values[1] == (1.0, 0.0, 0.0, 0.0)
    # z's cohort: only period 0 has ended by the data end; later cells are incomplete, not 0
    assert r.values[2] == (1.0, None, None, None)
    assert r.incomplete[2] == (False, True, True, True)
    assert r.data_end == dt.date(2026, 1, 15)
    # size-weighted average over complete cells only
    assert r.curve() == pytest.approx([1.0, 1 / 3, 1 / 3, 0.0])


def test_users_on_or_after_hand_computed(journeys):
    r = compute_retention(journeys, SH, mode="on_or_after", periods=4)
    # a's last active day is 1, b's is 2: on or after day 1 both count
    assert r.values[0] == (1.0, 1.0, 0.5, 0.0)


def test_watch_time_per_member_and_cumulative(journeys):
    r = compute_retention(journeys, SH, measure="watch_seconds", periods=3)
    assert r.values[0] == (15.0, 5.0, 0.0)  # 30 s on day 0 and 10 s on day 1 over 2 members
    assert r.cumulative[0] == (15.0, 20.0, 20.0)
    assert r.totals[0] == (30.0, 10.0, 0.0)


def test_revenue_is_net_of_refunds(journeys):
    r = compute_retention(journeys, SH, measure="revenue", periods=3)
    assert r.values[0] == pytest.approx((0.0, 49.5, -15.0))
    assert r.cumulative[0] == pytest.approx((0.0, 49.5, 34.5))
    rel = r.relative(cumulative=True)
    assert rel[0] == (None, None, None)  # period 0 is 0: nothing to be relative to


def test_weeks_are_iso_weeks_and_incomplete_until_sunday(journeys):
    r = compute_retention(journeys, SH, period="week", periods=2)
    # Mon 5 Jan .. Sun 11 Jan holds a, b, c; z starts the week of 12 Jan, which ends after the data
    assert r.cohorts == (dt.date(2026, 1, 5), dt.date(2026, 1, 12))
    assert r.sizes == (3, 1)
    assert r.values[0] == (1.0, None)
    assert r.incomplete == ((False, True), (True, True))


def test_first_purchase_cohort_counts_from_the_purchase(journeys):
    r = compute_retention(journeys, SH, cohort="first_purchase", periods=2)
    assert r.cohorts == (dt.date(2026, 1, 6),) and r.sizes == (1,)
    assert r.values[0] == (1.0, 0.0)


def test_relative_to_period_zero(journeys):
    r = compute_retention(journeys, SH, measure="watch_seconds", periods=2)
    assert r.relative()[0] == (1.0, pytest.approx(1 / 3))


def test_no_cohorts_and_no_data(journeys, tmp_path):
    from analytics.store.storage import Store

    later = Filters(date_from=dt.date(2027, 1, 1), date_to=dt.date(2027, 1, 2))
    r = compute_retention(journeys, later)
    assert r.status == "no_cohorts" and r.users == 0 and r.curve() == [None] * 8
    empty = Store(tmp_path / "e" / "e.duckdb")
    assert compute_retention(empty, SH).status == "no_data"


def test_export_frame_is_long_and_carries_incomplete_flags(journeys):
    df = compute_retention(journeys, SH, periods=2).to_frame()
    assert list(df.columns) == ["cohort", "cohort_size", "period", "value", "total", "cumulative", "incomplete"]
    assert len(df) == 3 * 2
    assert df["incomplete"].sum() == 1


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"cohort": "first_view"}, "bad_cohort"),
        ({"period": "month"}, "bad_period"),
        ({"mode": "before"}, "bad_mode"),
        ({"measure": "likes"}, "bad_measure"),
        ({"periods": 0}, "bad_periods"),
        ({"periods": 401}, "bad_periods"),
        ({"mode": "on_or_after", "measure": "revenue"}, "bad_mode"),
    ],
)
def test_bad_options_are_refused(store, kwargs, code):
    with pytest.raises(BadInput) as info:
        compute_retention(store, SH, **kwargs)
    assert info.value.code == code


def test_channel_filter_applies_to_first_seen_and_returns(store):
    insert_events(
        store,
        {"a": [("view", 0, {"channel": "douyin"}), ("view", DAY, {"channel": "bilibili"})]},
    )
    # the data end is global (day 1), so day 1 is observable; the return was on another channel
    assert day_n_retention(store, Filters(channels=("douyin",)), 1) == 0.0
    assert day_n_retention(store, SH, 1) == 1.0
    r = compute_retention(store, Filters(channels=("douyin",)), periods=2)
    assert r.values[0] == (1.0, 0.0)


# -- laws (hypothesis) -----------------------------------------------------------------------

_journey = st.lists(
    st.tuples(st.sampled_from(["view", "like", "purchase"]), st.integers(0, 20 * 24)),  # hours after T0
    min_size=1,
    max_size=6,
)
_journeys = st.dictionaries(st.sampled_from([f"u{i}" for i in range(8)]), _journey, min_size=1, max_size=8)


def _reference(journeys, period_days, cohort_from, cohort_to):
    """Pure-Python reference: local Shanghai days, first-seen cohorts, 'on' and 'on or after'."""
    zone_shift = dt.timedelta(hours=8)
    t0 = dt.datetime(2026, 1, 5, 12)
    days = {u: sorted({(t0 + dt.timedelta(hours=h) + zone_shift).date() for _, h in evs}) for u, evs in journeys.items()}
    first = {u: d[0] for u, d in days.items()}
    in_range = {u for u, d in first.items() if cohort_from <= d <= cohort_to}
    return days, first, in_range


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(journeys=_journeys, lo=st.integers(0, 10), width=st.integers(0, 15), period=st.sampled_from(["day", "week"]))
def test_retention_laws(store, journeys, lo, width, period):
    with store.cursor() as cur:
        cur.execute("DELETE FROM events")
    insert_events(store, {u: [(e, h * 3600) for e, h in evs] for u, evs in journeys.items()})
    start = dt.date(2026, 1, 5) + dt.timedelta(days=lo)
    f = Filters(date_from=start, date_to=start + dt.timedelta(days=width))
    on = compute_retention(store, f, period=period, periods=5)
    after = compute_retention(store, f, period=period, mode="on_or_after", periods=5)
    _, first, in_range = _reference(journeys, 7 if period == "week" else 1, f.date_from, f.date_to)
    # cohort sizes sum to the users first seen in the range
    assert on.users == len(in_range) == after.users
    for grid in (on.values, after.values):
        for row in grid:
            assert all(v is None or 0.0 <= v <= 1.0 for v in row)  # rates in [0, 1]
    for row_on, row_after, flags in zip(on.values, after.values, on.incomplete):
        for v_on, v_after, flag in zip(row_on, row_after, flags):
            assert (v_on is None) == flag == (v_after is None)
            if not flag:
                assert v_after >= v_on  # 'on or after' >= 'on'
        complete = [v for v in row_after if v is not None]
        assert complete == sorted(complete, reverse=True)  # 'on or after' never increases with k
        if row_on[0] is not None:
            assert row_on[0] == 1.0  # everyone is active in their own first period


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(journeys=_journeys, n=st.integers(0, 8))
def test_day_n_retention_matches_a_reference(store, journeys, n):
    with store.cursor() as cur:
        cur.execute("DELETE FROM events")
    insert_events(store, {u: [(e, h * 3600) for e, h in evs] for u, evs in journeys.items()})
    days, first, _ = _reference(journeys, 1, dt.date.min, dt.date.max)
    end = max(d[-1] for d in days.values())
    eligible = [u for u, d in first.items() if d + dt.timedelta(days=n) <= end]
    returned = [u for u in eligible if first[u] + dt.timedelta(days=n) in days[u]]
    expected = len(returned) / len(eligible) if eligible else None
    got = day_n_retention(store, SH, n)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_local_days_across_a_daylight_saving_change(store):
    # New York moves to EDT (UTC-4) on 2026-03-08 at 07:00 UTC. 2026-03-09 04:30 UTC is 00:30 EDT on
    # 9 March (day 2 after 7 March); a fixed EST offset would wrongly put it at 23:30 on 8 March.
    ny = Filters(timezone="America/New_York")
    insert_events(store, {"u": [("view", dt.datetime(2026, 3, 7, 15)), ("view", dt.datetime(2026, 3, 9, 4, 30))]})
    assert day_n_retention(store, ny, 2) == 1.0
    assert day_n_retention(store, ny, 1) == 0.0
    r = compute_retention(store, ny, periods=3)
    assert r.cohorts == (dt.date(2026, 3, 7),) and r.values[0] == (1.0, 0.0, 1.0)


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_retention_json(journeys, capsys):
    import json

    from analytics.cli.main import main

    journeys.close()  # the command opens the file itself
    assert main(["--db", str(journeys.path), "--json", "retention", "--periods", "3", "--day", "1", "--day", "30"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["day_n"] == {"d1": pytest.approx(1 / 3), "d30": None}
    assert [c["size"] for c in out["cohorts"]] == [2, 1, 1]
    assert out["cohorts"][0]["values"] == [1.0, 0.5, 0.5]
    assert out["cohorts"][2]["values"] == [1.0, None, None]
    assert out["cohorts"][2]["incomplete"] == [False, True, True]
    assert out["filters"]["timezone"] == "Asia/Shanghai"


def test_cli_retention_text_marks_incomplete_cells(journeys, capsys):
    from analytics.cli.main import main

    journeys.close()  # the command opens the file itself
    assert main(["--db", str(journeys.path), "retention", "--periods", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["cohort", "size", "d0", "d1"]
    assert lines[4].split() == ["2026-01-15", "1", "100.0%", "–"]  # text_output.MISSING


@pytest.mark.parametrize(
    "argv, message",
    [
        (["retention", "--mode", "on_or_after", "--measure", "revenue"], "'on or after' applies to the users measure"),
        (["retention", "--periods", "0"], "periods must be a whole number from 1 to 400"),
        (["retention", "--day", "-1"], "the retention day must be a whole number >= 0"),
        (["retention", "--period", "month"], "invalid choice"),
    ],
)
def test_cli_retention_bad_options_exit_2_with_one_line(journeys, capsys, argv, message):
    from analytics.cli.main import main

    journeys.close()  # the command opens the file itself
    assert main(["--db", str(journeys.path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_retention_cumulative_revenue_text(journeys, capsys):
    from analytics.cli.main import main

    journeys.close()  # the command opens the file itself
    assert main(["--db", str(journeys.path), "retention", "--measure", "revenue", "--cumulative", "--periods", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "cumulative net revenue per member" in lines[0]
    assert lines[2].split() == ["2026-01-05", "2", "0.00", "49.50", "34.50"]
