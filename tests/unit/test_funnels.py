"""Funnels: hand-computed fixtures for every option (times in seconds after T0 unless noted)."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.errors import BadInput
from analytics.metrics.funnels import (
    Condition,
    FunnelSpec,
    Step,
    compute_funnel,
    parse_duration,
    parse_step_windows,
    parse_steps,
    portable_levels,
    step_counts,
    two_proportion_z,
)
from analytics.query.filters import Filters
from tests.helpers import T0, by_path, insert_events, insert_items

H = 3600
D = 86400
VCP = "view,click,purchase"


def spec(steps=VCP, **kw) -> FunnelSpec:
    return FunnelSpec(parse_steps(steps), **kw)


def counts(store, s: FunnelSpec, filters=None) -> list[int]:
    return [r.count for r in compute_funnel(store, s, filters).steps]


def levels(store, s: FunnelSpec) -> dict[str, int]:
    df = compute_funnel(store, s).entries
    return dict(zip(df["user_id"], df["level"]))


def far_end(store, t=60 * D):
    """An unrelated late event so that every window has closed by the end of the data."""
    insert_events(store, {"zz_end": [("like", t)]})


# -- parsing ---------------------------------------------------------------------------------------
def test_steps_parse_into_typed_steps_with_conditions():
    steps = parse_steps("view[watch_ratio>=0.5], click ,purchase[revenue>100 & channel=douyin]")
    assert steps == (
        Step("view", (Condition("watch_ratio", ">=", 0.5),)),
        Step("click"),
        Step("purchase", (Condition("revenue", ">", 100.0), Condition("channel", "=", "douyin"))),
    )
    assert steps[0].label == "view[watch_ratio>=0.5]"


@pytest.mark.parametrize(
    "text, message",
    [
        ("view", "2 to 8 steps"),
        ("view,watch", "unknown event type 'watch'"),
        ("view[watch_ratio>>0.5],click", "cannot read the condition"),
        ("view[colour=red],click", "unknown condition column 'colour'"),
        ("view[channel>douyin],click", "channel is text: use = or !="),
        ("view[watch_ratio>=half],click", "compares with a number"),
        ("view[watch_ratio>=0.5,click", "unbalanced"),
        ("view[],click", "empty condition"),
        ("view;click", "cannot read the step"),
    ],
)
def test_bad_steps_are_refused_naming_the_allowed_forms(text, message):
    with pytest.raises(BadInput, match=message):
        parse_steps(text)


def test_durations_and_step_windows():
    assert parse_duration("7d") == 7 * D
    assert parse_duration("90m") == 90 * 60
    assert parse_duration("2w") == 14 * D
    assert parse_duration("45s") == 45
    assert parse_duration(45) == 45  # a number from code is seconds
    assert parse_step_windows("1h,-", 3) == (H, None)
    for bad in ("7 days", "0d", "-1h"):
        with pytest.raises(BadInput, match="duration|between"):
            parse_duration(bad)


@pytest.mark.parametrize("text, option", [("7", "--window"), (" 45 ", "--window"), ("1.5", "--step-windows")])
def test_a_duration_without_a_unit_is_refused_with_the_allowed_forms(text, option):
    with pytest.raises(BadInput) as err:
        parse_duration(text, option)
    number = text.strip()
    assert err.value.code == "bad_duration"
    assert err.value.message == (
        f"{option} needs a unit: {text!r} could be seconds or days; write it as "
        f"{number}s, {number}m, {number}h, {number}d or {number}w"
    )
    with pytest.raises(BadInput, match="needs 2 durations"):
        parse_step_windows("1h", 3)


def test_spec_validation():
    with pytest.raises(BadInput, match="per-step windows need an ordered mode"):
        spec(mode="any", step_windows=(H, None))
    with pytest.raises(BadInput, match="cannot hold 'revenue'"):
        spec(hold="revenue")
    with pytest.raises(BadInput, match="cannot break down by 'nope'"):
        spec(breakdown="nope")
    with pytest.raises(BadInput, match="unknown mode"):
        spec(mode="loose")


# -- sequential = ClickHouse windowFunnel ----------------------------------------------------------
def test_sequential_basic_order_and_window(store):
    insert_events(
        store,
        {
            "a": [("view", 0), ("click", 60), ("purchase", 120)],
            "b": [("view", 0), ("click", 60)],
            "c": [("click", 0), ("view", 10)],  # click before the view does not count
            "d": [("view", 0), ("purchase", 8 * D)],  # no click
            "e": [("view", 0), ("click", H), ("purchase", 7 * D + 1)],  # purchase 1 s past the window
            "f": [("view", 0), ("click", H), ("purchase", 7 * D)],  # exactly at the window: counts
        },
    )
    far_end(store)
    assert levels(store, spec()) == {"a": 3, "b": 2, "c": 1, "d": 1, "e": 2, "f": 3}
    r = compute_funnel(store, spec())
    assert [s.count for s in r.steps] == [6, 4, 2]
    assert [s.conversion_from_previous for s in r.steps] == [1.0, 4 / 6, 2 / 4]
    assert [s.conversion_from_first for s in r.steps] == [1.0, 4 / 6, 2 / 6]
    assert [s.dropped for s in r.steps] == [2, 2, 0]


def test_window_runs_from_the_latest_possible_first_step(store):
    # windowFunnel keeps the chain with the latest start: the second view starts a chain that fits
    insert_events(store, {"a": [("view", 0), ("view", 2 * D), ("click", 6 * D), ("purchase", 8 * D)]})
    far_end(store)
    r = compute_funnel(store, spec())
    assert r.entries.set_index("user_id").loc["a", "level"] == 3
    assert r.median_seconds_to_convert == 6 * D  # from the view at day 2 to the purchase at day 8


def test_events_at_one_instant_are_ordered_by_step(store):
    insert_events(store, {"a": [("purchase", 0), ("click", 0), ("view", 0)], "b": [("click", 0), ("view", 5)]})
    far_end(store)
    assert levels(store, spec()) == {"a": 3, "b": 1}


def test_one_event_may_fill_several_steps_like_windowfunnel(store):
    insert_events(store, {"a": [("view", 0, {"watch_seconds": 10, "video_seconds": 10})], "b": [("view", 0, {"watch_seconds": 1, "video_seconds": 10})]})
    far_end(store)
    assert levels(store, spec("view,view[watch_ratio>=0.9]")) == {"a": 2, "b": 1}


def test_condition_watch_ratio_uses_the_catalog_length_when_the_event_has_none(store):
    insert_items(store, [{"item_id": "v1", "kind": "video", "duration_seconds": 100.0}])
    insert_events(
        store,
        {
            "a": [("view", 0, {"watch_seconds": 60}), ("click", 10)],
            "b": [("view", 0, {"watch_seconds": 20}), ("click", 10)],
            "c": [("view", 0, {"watch_seconds": 20}), ("view", 5, {"watch_seconds": 90}), ("click", 10)],
        },
    )
    far_end(store)
    assert levels(store, spec("view[watch_ratio>=0.5],click")) == {"a": 2, "c": 2}


def test_conditions_on_canonical_columns(store):
    insert_events(
        store,
        {
            "a": [("click", 0, {"channel": "douyin"}), ("purchase", 10, {"revenue": 199})],
            "b": [("click", 0, {"channel": "kuaishou"}), ("purchase", 10, {"revenue": 199})],
            "c": [("click", 0, {"channel": "douyin"}), ("purchase", 10, {"revenue": 9.9})],
        },
    )
    far_end(store)
    assert levels(store, spec("click[channel=douyin],purchase[revenue>100]")) == {"a": 2, "c": 1}


def test_per_step_windows_bound_each_gap(store):
    insert_events(
        store,
        {
            "a": [("view", 0), ("click", 2 * H), ("purchase", D)],
            "b": [("view", 0), ("click", 30 * 60), ("purchase", 6 * D)],
            # a later view rescues the 1 h gap; the window from that view still holds
            "c": [("view", 0), ("view", 5 * H), ("click", 5 * H + 60), ("purchase", 2 * D)],
        },
    )
    far_end(store)
    assert levels(store, spec(step_windows=(H, 7 * D))) == {"a": 1, "b": 3, "c": 3}
    assert levels(store, spec(step_windows=(H, D))) == {"a": 1, "b": 2, "c": 2}
    assert levels(store, spec(step_windows=(3 * H, None))) == {"a": 3, "b": 3, "c": 3}


# -- strict and any order --------------------------------------------------------------------------
def test_strict_mode_allows_no_other_event_in_between(store):
    insert_events(
        store,
        {
            "a": [("view", 0), ("click", 10), ("purchase", 20)],
            "b": [("view", 0), ("like", 5), ("click", 10), ("purchase", 20)],
            "c": [("view", 0), ("click", 10), ("like", 10), ("purchase", 20)],  # same instant: no break
            "d": [("view", 0), ("impression", 15), ("click", 30), ("view", 40), ("click", 50)],
        },
    )
    far_end(store)
    assert levels(store, spec(mode="strict")) == {"a": 3, "b": 1, "c": 3, "d": 2}
    assert levels(store, spec(mode="sequential")) == {"a": 3, "b": 3, "c": 3, "d": 2}


def test_any_order_needs_every_step_inside_one_window(store):
    insert_events(
        store,
        {
            "a": [("purchase", 0), ("click", 10), ("view", 20)],
            "b": [("click", 0), ("view", 8 * D)],  # too far apart
            "c": [("click", 0)],  # never did step 1
        },
    )
    far_end(store)
    assert levels(store, spec(mode="any")) == {"a": 3, "b": 1}
    assert levels(store, spec(mode="sequential")) == {"a": 1, "b": 1}


# -- hold, totals, breakdown -----------------------------------------------------------------------
def test_hold_keeps_the_property_constant_and_null_never_matches(store):
    insert_events(
        store,
        {
            "a": [("view", 0, {"course_id": "c1"}), ("click", 10, {"course_id": "c2"}), ("purchase", 20, {"course_id": "c2"})],
            "b": [("view", 0, {"course_id": "c1"}), ("click", 10, {"course_id": "c1"}), ("purchase", 20, {"course_id": "c1"})],
            "c": [("view", 0, {"course_id": None}), ("click", 10, {"course_id": None})],
            "d": [("view", 0, {"course_id": "c2"}), ("view", 5, {"course_id": "c1"}), ("click", 10, {"course_id": "c1"})],
        },
    )
    far_end(store)
    assert levels(store, spec(hold="course_id")) == {"a": 1, "b": 3, "d": 2}
    assert levels(store, spec()) == {"a": 3, "b": 3, "c": 2, "d": 2}
    held = compute_funnel(store, spec(hold="course_id")).entries.set_index("user_id")
    assert held.loc["d", "hold_value"] == "c1"


def test_totals_count_every_entry_with_re_entry_after_completion_or_expiry(store):
    insert_events(
        store,
        {
            # converts twice: the second view after the first purchase starts a new entry
            "a": [("view", 0), ("click", 10), ("purchase", 20), ("view", 30), ("click", 40), ("purchase", 50)],
            # the first entry expires at 7 d; the view at 3 d belongs to it; the view at 8 d re-enters
            "b": [("view", 0), ("view", 3 * D), ("view", 8 * D), ("click", 8 * D + 10)],
        },
    )
    far_end(store)
    r = compute_funnel(store, spec(count="totals"))
    assert [s.count for s in r.steps] == [4, 3, 2]
    assert r.entries.groupby("user_id").size().to_dict() == {"a": 2, "b": 2}
    assert list(r.entries[r.entries.user_id == "b"]["level"]) == [1, 2]
    assert counts(store, spec(count="users")) == [2, 2, 1]


def test_breakdown_first_and_last_touch(store):
    insert_events(
        store,
        {
            "a": [("view", 0, {"channel": "douyin"}), ("click", 10, {"channel": "kuaishou"}), ("purchase", 20, {"channel": "kuaishou"})],
            "b": [("view", 0, {"channel": "douyin"}), ("click", 10, {"channel": "douyin"})],
            "c": [("view", 0, {"channel": None})],
        },
    )
    far_end(store)
    first = compute_funnel(store, spec(breakdown="channel", touch="first"))
    last = compute_funnel(store, spec(breakdown="channel", touch="last"))
    assert {s.segment: s.counts for s in first.segments} == {"douyin": (2, 2, 1), "(none)": (1, 0, 0)}
    assert {s.segment: s.counts for s in last.segments} == {"douyin": (1, 1, 0), "kuaishou": (1, 1, 1), "(none)": (1, 0, 0)}
    assert all(s.status == "too_small" and s.p_value is None for s in first.segments)


def test_breakdown_by_an_item_column(store):
    insert_items(store, [{"item_id": "v1", "category": "编程"}, {"item_id": "v2", "category": "理财"}])
    insert_events(store, {"a": [("view", 0, {"item_id": "v1"}), ("click", 5, {"item_id": "v2"})], "b": [("view", 0, {"item_id": "v2"})]})
    far_end(store)
    r = compute_funnel(store, spec("view,click", breakdown="category"))
    assert {s.segment: s.counts for s in r.segments} == {"编程": (1, 1), "理财": (1, 0)}


def test_segment_significance_matches_statsmodels(store):
    from statsmodels.stats.proportion import proportions_ztest

    journeys = {}
    for i in range(60):  # douyin: 30 of 60 convert; kuaishou: 10 of 50
        journeys[f"d{i:02}"] = [("view", 0, {"channel": "douyin"})] + ([("click", 10)] if i < 30 else [])
    for i in range(50):
        journeys[f"k{i:02}"] = [("view", 0, {"channel": "kuaishou"})] + ([("click", 10)] if i < 10 else [])
    journeys["x"] = [("view", 0, {"channel": "wechat_channels"})]
    insert_events(store, journeys)
    far_end(store)
    r = compute_funnel(store, spec("view,click", breakdown="channel"))
    seg = {s.segment: s for s in r.segments}
    z, p = proportions_ztest([30, 10], [60, 51])  # douyin vs the rest (kuaishou + wechat_channels)
    assert seg["douyin"].z == pytest.approx(z, rel=1e-9)
    assert seg["douyin"].p_value == pytest.approx(p, rel=1e-9)
    assert seg["douyin"].significant is True
    assert seg["wechat_channels"].status == "too_small" and seg["wechat_channels"].p_value is None
    assert two_proportion_z(0, 10, 0, 10) == (None, None)


# -- in progress, time to convert, over time, user lists, filters -------------------------------
def test_entrants_whose_window_is_open_are_in_progress_not_drop_offs(store):
    end = 20 * D
    insert_events(
        store,
        {
            "a": [("view", 0), ("click", 10), ("purchase", 20)],
            "b": [("view", 0)],  # closed, dropped at step 1
            "c": [("view", end - D), ("click", end - D + 5)],  # window open at the end of the data
            "d": [("view", end - 2 * D)],  # open
            "e": [("view", end - D), ("click", end - D + 5), ("purchase", end)],  # converted
        },
    )
    r = compute_funnel(store, spec())
    assert [s.count for s in r.steps] == [5, 3, 2]
    assert [s.in_progress for s in r.steps] == [1, 1, 0]
    assert [s.dropped for s in r.steps] == [1, 0, 0]
    assert r.steps[1].conversion_from_previous == 3 / (5 - 1)
    assert r.steps[2].conversion_from_previous == 2 / (3 - 1)
    assert r.steps[2].conversion_from_first == 2 / (5 - 2)
    assert r.in_progress == 2 and r.conversion_rate == 2 / 3
    assert set(r.users("in_progress")["user_id"]) == {"c", "d"}
    assert list(r.users("dropped", step=1)["user_id"]) == ["b"]
    assert set(r.users("converted", step=2)["user_id"]) == {"a", "c", "e"}


def test_a_user_still_active_is_judged_by_the_window_of_their_entry(store):
    # Ten users view every day for 20 days; two buy, on day 1. A later view opens a new window at the
    # end of the data for everyone, but each non-buyer's entry (day 0) closed long ago without a
    # purchase: they are drop-offs, and the rate is 2 of 10, not 2 of the 2 whose outcome is "final".
    insert_events(store, {
        f"u{i}": [("view", day * D) for day in range(20)] + ([("purchase", D + 60)] if i < 2 else [])
        for i in range(10)
    })
    r = compute_funnel(store, spec(["view", "purchase"]))
    assert (r.entrants, r.converted, r.in_progress) == (10, 2, 0)
    assert r.conversion_rate == 0.2 and r.steps[1].conversion_from_previous == 0.2
    assert len(r.users("dropped", step=1)) == 8
    # one who first viewed within the last week is still in progress (and a buyer among them counts)
    insert_events(store, {"late": [("view", 18 * D)], "late_buyer": [("view", 18 * D), ("purchase", 19 * D)]})
    r = compute_funnel(store, spec(["view", "purchase"]))
    assert (r.entrants, r.converted, r.in_progress) == (12, 3, 1)
    assert list(r.users("in_progress")["user_id"]) == ["late"]


def test_time_to_convert_median_and_p90(store):
    gaps = [60, 120, 180, 240, 3600]
    insert_events(store, {f"u{i}": [("view", 0), ("click", g)] for i, g in enumerate(gaps)})
    far_end(store)
    r = compute_funnel(store, spec("view,click"))
    assert r.median_seconds_to_convert == 180
    assert r.p90_seconds_to_convert == pytest.approx(240 + 0.6 * (3600 - 240))  # linear interpolation
    assert sorted(r.seconds_to_convert) == gaps


def test_conversion_over_time_by_local_entry_day_and_week(store):
    # T0 is Monday 2026-01-05 20:00 in Asia/Shanghai; 5 h later is already Tuesday there
    insert_events(store, {"a": [("view", 0), ("click", 10)], "b": [("view", 5 * H)], "c": [("view", 7 * D), ("click", 7 * D + 1)]})
    far_end(store)
    days = compute_funnel(store, spec("view,click")).over_time
    assert days["period_start"].astype(str).tolist() == ["2026-01-05", "2026-01-06", "2026-01-12"]
    assert days["conversion_rate"].tolist() == [1.0, 0.0, 1.0]
    assert days["complete"].tolist() == [True, True, True]
    weeks = compute_funnel(store, spec("view,click", period="week")).over_time
    assert weeks["period_start"].astype(str).tolist() == ["2026-01-05", "2026-01-12"]
    assert weeks["entrants"].tolist() == [2, 1]


def test_entry_days_whose_window_has_not_closed_are_incomplete_and_get_no_rate(store):
    """A 7-day window; the data ends on Jan 15 (local). Days from Jan 9 on cannot have closed."""
    journeys = {
        "a": [("view", 0), ("click", 10)],  # Mon Jan 5: converted
        "b": [("view", 0)],  # Jan 5: dropped
        "c": [("view", 2 * D), ("click", 2 * D + 5)],  # Wed Jan 7: converted; day closes Jan 8 + 7 d = Jan 15 00:00
        "d": [("view", 8 * D), ("click", 8 * D + 5)],  # Tue Jan 13: converted, but its day is still open
        "e": [("view", 8 * D)],  # Jan 13: in progress
        "f": [("view", 9 * D)],  # Jan 14: in progress
    }
    insert_events(store, journeys)
    insert_events(store, {"zz": [("like", 9 * D + 4 * H)]})  # the data ends Jan 15 00:00 in Shanghai
    r = compute_funnel(store, spec("view,click"))
    ot = r.over_time
    assert ot["period_start"].astype(str).tolist() == ["2026-01-05", "2026-01-07", "2026-01-13", "2026-01-14"]
    assert ot["complete"].tolist() == [True, True, False, False]
    assert ot["conversion_rate"].tolist()[:2] == [0.5, 1.0]
    # d converted and e is in progress: 1 / (2 - 1) would read as 100 %; the rate is withheld instead
    assert ot["conversion_rate"].iloc[2:].isna().all()
    assert ot[["entrants", "converted", "in_progress"]].values.tolist()[2:] == [[2, 1, 1], [1, 0, 1]]


def test_incomplete_weeks_and_a_date_filter_that_ends_early(store):
    insert_events(store, {"a": [("view", 0), ("click", 10)], "b": [("view", 8 * D)]})  # Mon Jan 5, Tue Jan 13
    insert_events(store, {"zz": [("like", 14 * D)]})  # data ends Jan 19 20:00 local
    weeks = compute_funnel(store, spec("view,click", period="week")).over_time
    # week of Jan 5 ends Jan 12 00:00; + 7 d = Jan 19 00:00, before the data's end: complete
    assert weeks["complete"].tolist() == [True, False]
    assert weeks["conversion_rate"].iloc[0] == 1.0 and weeks["conversion_rate"].isna().iloc[1]
    # entries may only start until the filter's end (Jan 6), so that week closes a week earlier
    f = Filters(date_from=dt.date(2026, 1, 5), date_to=dt.date(2026, 1, 6))
    insert_events(store, {"c": [("view", 4 * D)]})
    assert compute_funnel(store, spec("view,click", period="week"), f).over_time["complete"].tolist() == [True]


def test_step_bases_say_what_each_rate_divides_by(store):
    end = 20 * D
    insert_events(
        store,
        {
            "a": [("view", 0), ("click", 10), ("purchase", 20)],
            "b": [("view", 0)],
            "c": [("view", end - D), ("click", end - D + 5)],
            "d": [("view", end - 2 * D)],
            "e": [("view", end - D), ("click", end - D + 5), ("purchase", end)],
        },
    )
    r = compute_funnel(store, spec())
    assert [s.base_from_first for s in r.steps] == [5, 4, 3]
    assert [s.base_from_previous for s in r.steps] == [5, 4, 2]
    for s in r.steps:
        assert s.conversion_from_first == s.count / s.base_from_first
        assert s.conversion_from_previous == s.count / s.base_from_previous


def test_entries_must_start_in_the_date_range_later_steps_may_follow(store):
    day = dt.timedelta(days=1)
    insert_events(
        store,
        {
            "a": [("view", 0), ("click", 2 * D)],  # enters on the last day, converts after the range
            "b": [("view", -3 * D), ("click", 10)],  # entered before the range
            "c": [("view", 3 * D), ("click", 3 * D + 5)],  # enters after the range
        },
    )
    far_end(store)
    local_day = (T0 + dt.timedelta(hours=8)).date()
    f = Filters(date_from=local_day - day, date_to=local_day)
    r = compute_funnel(store, spec("view,click"), f)
    assert dict(zip(r.entries.user_id, r.entries.level)) == {"a": 2}
    assert r.filters["to"] == local_day.isoformat()


def test_no_entrants_is_a_status_not_an_error(store):
    insert_events(store, {"a": [("click", 0)]})
    r = compute_funnel(store, spec())
    assert r.status == "no_entrants"
    assert [s.count for s in r.steps] == [0, 0, 0]
    assert r.steps[1].conversion_from_previous is None
    assert r.over_time.empty


def test_portable_definition_equals_the_fast_path_on_a_fixture(store):
    insert_events(
        store,
        {
            "a": [("view", 0), ("like", 5), ("click", 10), ("purchase", 20)],
            "b": [("click", 0), ("view", 5), ("purchase", 9)],
            "c": [("view", 0), ("click", 2 * H), ("purchase", 3 * H)],
        },
    )
    for s in (spec(), spec(mode="strict"), spec(mode="any"), spec(step_windows=(H, None))):
        portable = portable_levels(store, s)
        assert dict(zip(portable.user_id, portable.level)) == levels(store, s), s.mode
        assert step_counts(store, s) == tuple(counts(store, s))


def test_the_event_index_follows_every_change_of_the_data(store):
    from analytics.query.accel import funnel_order as funnel_fast

    insert_events(store, {"a": [("view", 0), ("click", 10)], "b": [("view", 0)]})
    far_end(store)
    assert by_path("funnel_order", step_counts, store, spec("view,click")) == (2, 1)
    assert funnel_fast.is_current(store)
    insert_events(store, {"c": [("view", 5), ("click", 6)]})  # no upload registered: the data version notices
    assert step_counts(store, spec("view,click")) == (3, 2)
    store.query("DELETE FROM events WHERE user_id = 'a'")
    assert step_counts(store, spec("view,click")) == (2, 1)
    from analytics.query import engine
    from analytics.query.layer import FunnelEvents

    def answers(s, f):
        return "funnel_order" in engine.paths_for(store, FunnelEvents(s, f))

    assert answers(spec("view[channel=douyin],click"), Filters())
    assert answers(spec("view,click"), Filters(channels=("douyin",)))
    assert answers(spec("view,click", mode="strict", count="totals"), Filters(date_to=dt.date(2026, 1, 9)))
    assert not answers(spec("view,click", hold="course_id"), Filters())
    assert not answers(spec("view,click", breakdown="channel"), Filters())


def test_a_process_without_the_funnel_order_reads_a_funnels_part_from_the_events(store):
    """Without a held or persisted order, a one-shot process reads the funnel's part from ``events``
    (funnel_scan) for every funnel that tests no catalog-derived watch ratio, with the same answer
    as the portable path, and builds nothing."""
    from analytics.query import engine
    from analytics.query.accel import funnel_order
    from analytics.query.layer import FunnelEvents

    insert_items(store, [{"item_id": "v1", "kind": "video", "category": "math", "duration_seconds": 60.0}])
    insert_events(store, {
        "a": [("view", 0, {"channel": "douyin", "item_id": "v1", "watch_seconds": 50.0}), ("click", 10, {"item_id": "v1"})],
        "b": [("view", 5, {"channel": "kuaishou", "item_id": "v1"}), ("purchase", 20, {"revenue": 9.0})],
        "c": [("click", 1), ("view", 2, {"channel": "douyin"})],
        "d": [("view", 4 * H), ("click", 4 * H + 1)],  # at the first instant of 2026-01-06 in Asia/Shanghai
    })
    far_end(store)

    def paths(s, f=None):
        return engine.paths_for(store, FunnelEvents(s, f or Filters()))

    assert paths(spec("view[channel=douyin],click"), Filters(categories=("math",))) == (
        "funnel_order", "funnel_scan", "portable")
    assert "funnel_scan" not in paths(spec("view[watch_ratio>=0.5],click"))
    assert "funnel_scan" not in paths(spec("view,click", hold="course_id"))
    assert "funnel_scan" not in paths(spec("view,click", breakdown="channel"))
    for s, f in [(spec("view,click"), Filters()), (spec("view[channel=douyin],click"), Filters(categories=("math",))),
                 (spec("view,purchase[revenue>5]", mode="strict"), Filters(channels=("kuaishou",))),
                 (spec("view,click"), Filters(dt.date(2026, 1, 6), dt.date(2026, 1, 6))),  # d enters at its start
                 (spec("like,share"), Filters())]:  # no event of the steps at all
        want = by_path("portable", compute_funnel, store, s, f)
        got = by_path("funnel_scan", compute_funnel, store, s, f)
        assert got.steps == want.steps and got.entries.equals(want.entries), (s, f)
    assert not funnel_order.is_current(store)  # nothing built or persisted
