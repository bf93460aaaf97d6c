"""Course completion: hand-computed funnel, stop lessons, time between lessons, acquiring split."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.errors import BadInput
from analytics.metrics.courses import completion_rate, course_completion
from analytics.query.filters import Filters
from tests.helpers import T0, insert_events, insert_items

H = 3600.0


@pytest.fixture
def school(store):
    """Course c1 (3 lessons) promoted by v1 and v2; course c2 has no catalog lessons."""
    insert_items(
        store,
        [
            {"item_id": "c1", "kind": "course", "title": "Excel in 7 days", "lessons": 3},
            {"item_id": "v1", "kind": "video", "course_id": "c1"},
            {"item_id": "v2", "kind": "video", "course_id": "c1"},
            {"item_id": "v9", "kind": "video"},
            {"item_id": "e1", "kind": "ebook"},
        ],
    )
    insert_events(
        store,
        {
            # alice: v1 (douyin) then v2 (kuaishou, variant B) -> acquired by v2; completes all 3 lessons
            "alice": [
                ("view", 0, {"item_id": "v1", "channel": "douyin", "variant": "A"}),
                ("view", 60, {"item_id": "v2", "channel": "kuaishou", "variant": "B"}),
                ("purchase", 120, {"item_id": "c1", "channel": "kuaishou"}),
                ("lesson_complete", 120 + 2 * H, {"item_id": "c1", "lesson": 1}),
                ("lesson_complete", 120 + 6 * H, {"item_id": "c1", "lesson": 2}),
                ("lesson_complete", 120 + 7 * H, {"item_id": "c1", "lesson": 3}),
            ],
            # bob: purchase through the video item carrying course_id; a view after the purchase does not
            # acquire; reaches lesson 1 only (lesson 1 completed twice: the first time counts)
            "bob": [
                ("view", 0, {"item_id": "v1", "channel": "douyin", "variant": "A"}),
                ("purchase", 30, {"item_id": "v1", "course_id": "c1", "channel": "douyin"}),
                ("view", 40, {"item_id": "v2", "channel": "kuaishou"}),
                ("lesson_start", 30 + 1 * H, {"item_id": "c1", "lesson": 2}),
                ("lesson_complete", 30 + 4 * H, {"item_id": "c1", "lesson": 1}),
                ("lesson_complete", 30 + 9 * H, {"item_id": "c1", "lesson": 1}),
            ],
            # carol: no promoting view (v9 promotes nothing); a lesson before the purchase does not count
            "carol": [
                ("view", 0, {"item_id": "v9", "channel": "douyin"}),
                ("lesson_complete", 5, {"item_id": "c1", "lesson": 1}),
                ("purchase", 10, {"item_id": "c1"}),
            ],
            # dave: buys the e-book only (not a course); erin: course c2 known from lesson events only
            "dave": [("purchase", 0, {"item_id": "e1"})],
            "erin": [
                ("purchase", 0, {"item_id": "c2"}),
                ("lesson_complete", 1 * H, {"item_id": "c2", "lesson": 1}),
                ("lesson_complete", 2 * H, {"course_id": "c2", "item_id": "x", "lesson": 4}),
            ],
        },
    )
    return store


def test_courses_table_by_hand(school):
    r = course_completion(school)
    assert r.status == "ok"
    c = r.courses.set_index("course_id")
    assert set(c.index) == {"c1", "c2"}
    assert (c.loc["c1", "lessons"], c.loc["c1", "lessons_source"]) == (3, "catalog")
    assert (c.loc["c2", "lessons"], c.loc["c2", "lessons_source"]) == (4, "events")
    assert (c.loc["c1", "buyers"], c.loc["c1", "started"], c.loc["c1", "completed"]) == (3, 2, 1)
    assert c.loc["c1", "completion_rate"] == pytest.approx(1 / 3)
    assert c.loc["c1", "avg_progress"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    # erin: lesson 4 of 4 reached (lesson >= k counts for every k <= 4)
    assert c.loc["c2", "completed"] == 1
    # the Overview's KPI: completed pairs over buyer-course pairs, c1 and c2 together
    assert completion_rate(school).rate == pytest.approx((1 + 1) / (3 + 1))


def test_recent_buyers_are_counted_against_the_time_completers_took(store):
    day = 86400
    insert_items(store, [{"item_id": "k1", "kind": "course", "lessons": 1}, {"item_id": "k2", "kind": "course", "lessons": 2}])
    journeys = {  # five completers of k1 bought on day 0 and took 1, 2, 3, 4 and 10 days
        f"u{d}": [("purchase", 0, {"item_id": "k1"}), ("lesson_complete", d * day, {"item_id": "k1", "lesson": 1})]
        for d in (1, 2, 3, 4, 10)
    }
    journeys["late5"] = [("purchase", 5 * day, {"item_id": "k1"})]
    journeys["late8"] = [("purchase", 8 * day, {"item_id": "k1"})]
    journeys["k2buyer"] = [("purchase", 9 * day, {"item_id": "k2"})]
    insert_events(store, journeys)
    c = course_completion(store).courses.set_index("course_id")
    # 90% of completers took 4 + 0.6 * (10 - 4) = 7.6 days; the data ends on day 10, so buyers after day 2.4
    # are still within that time: late5 and late8 (the completers bought on day 0)
    assert c.loc["k1", "days_to_complete"] == pytest.approx(7.6)
    assert (c.loc["k1", "buyers"], c.loc["k1", "recent_buyers"]) == (7, 2)
    # k2 has no completer of its own: the completers of every course tell
    assert c.loc["k2", "days_to_complete"] == pytest.approx(7.6) and c.loc["k2", "recent_buyers"] == 1
    # the Overview's KPI: 5 of 8 pairs completed, 3 still learning, and the KPI report says so
    assert completion_rate(store) == (5 / 8, 8, 3)
    from analytics.metrics.kpis import kpi_report

    report = kpi_report(store, Filters(), series=False)
    assert report.values["course_completion"] == pytest.approx(5 / 8) and "course_still_learning:3:8" in report.notes


def test_too_few_completers_say_nothing_about_recent_buyers(school):
    c = course_completion(school).courses
    assert c["days_to_complete"].isna().all() and c["recent_buyers"].isna().all()


def test_completion_rate_without_buyers(school):
    day = (T0 + dt.timedelta(hours=8)).date() + dt.timedelta(days=1)
    assert completion_rate(school, Filters(date_from=day, date_to=day)).rate is None


def test_funnel_and_stops_by_hand(school):
    r = course_completion(school, course="c1")
    f = r.funnel
    assert list(f.step) == [0, 1, 2, 3] and list(f.learners) == [3, 2, 1, 1]
    assert list(f.conversion_from_previous) == pytest.approx([1.0, 2 / 3, 0.5, 1.0])
    assert list(f.conversion_from_first) == pytest.approx([1.0, 2 / 3, 1 / 3, 1 / 3])
    s = r.stops
    assert list(s.last_lesson) == [0, 1, 2, 3] and list(s.learners) == [1, 1, 0, 1]
    assert s.share.sum() == pytest.approx(1.0)


def test_lesson_start_counts_only_when_asked(school):
    r = course_completion(school, course="c1", count_starts=True)
    # bob's lesson_start of lesson 2 now reaches lesson 2
    assert list(r.funnel.learners) == [3, 2, 2, 1]


def test_time_between_lessons_by_hand(school):
    g = course_completion(school, course="c1").gaps.set_index("to_step")
    # purchase -> lesson 1: alice 2 h, bob 4 h (his second completion is ignored)
    assert g.loc[1, "learners"] == 2 and g.loc[1, "median_hours"] == pytest.approx(3.0)
    assert g.loc[2, "learners"] == 1 and g.loc[2, "median_hours"] == pytest.approx(4.0)
    assert g.loc[3, "median_hours"] == pytest.approx(1.0) and g.loc[3, "from_step"] == 2


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("video", {"v2": (1, 1), "v1": (1, 0), None: (1, 0)}),
        ("channel", {"kuaishou": (1, 1), "douyin": (1, 0), None: (1, 0)}),
        ("variant", {"B": (1, 1), "A": (1, 0), None: (1, 0)}),
    ],
)
def test_split_by_the_last_promoting_view_before_purchase(school, by, expected):
    split = course_completion(school, by=by, course="c1").split
    got = {g: (b, c) for g, b, c in zip(split.group, split.buyers, split.completed)}
    assert got == expected
    assert list(split.acquired) == [True, True, False]
    assert (split.by == by).all()


def test_date_filter_picks_the_purchase_cohort(school):
    day = (T0 + dt.timedelta(hours=8)).date()  # local day of the purchases
    assert course_completion(school, Filters(date_from=day, date_to=day)).courses.buyers.sum() == 4
    later = day + dt.timedelta(days=1)
    r = course_completion(school, Filters(date_from=later, date_to=later))
    assert r.status == "no_buyers" and r.funnel.empty and r.courses.buyers.sum() == 0


def test_no_courses_and_bad_split(store):
    assert course_completion(store).status == "no_courses"
    assert completion_rate(store).rate is None
    with pytest.raises(BadInput):
        course_completion(store, by="campaign")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.booleans(), st.lists(st.tuples(st.integers(-2, 6), st.integers(1, 6)), max_size=6)),
        min_size=1,
        max_size=12,
    )
)
def test_funnel_never_increases_and_rates_lie_in_unit_interval(store, learners):
    with store.transaction() as cur:
        cur.execute("DELETE FROM events")
        cur.execute("DELETE FROM items")
    insert_items(store, [{"item_id": "c", "kind": "course", "lessons": 5}, {"item_id": "v", "course_id": "c"}])
    journeys = {}
    for i, (channel, viewed, lessons) in enumerate(learners):
        rows = [("purchase", 100, {"item_id": "c"})]
        if viewed:
            rows.append(("view", 50, {"item_id": "v", "channel": f"ch{channel}"}))
        rows += [("lesson_complete", 100 + dt_h * H, {"item_id": "c", "lesson": k}) for dt_h, k in lessons]
        journeys[f"u{i}"] = rows
    insert_events(store, journeys)
    r = course_completion(store)
    f = r.funnel
    assert f.learners.iloc[0] == len(learners)
    assert (np.diff(f.learners.to_numpy()) <= 0).all()
    for col in ("conversion_from_previous", "conversion_from_first"):
        rates = f[col].dropna()  # undefined after a step nobody reached
        assert ((rates >= 0) & (rates <= 1)).all()
    assert r.stops.learners.sum() == len(learners)
    assert r.split.buyers.sum() == len(learners)
    assert ((r.split.completion_rate >= 0) & (r.split.completion_rate <= 1)).all()
    assert (r.gaps.median_hours >= 0).all()
    # step k equals the learners whose highest lesson at or after the purchase is >= k
    best = [max([k for h, k in lessons if h >= 0], default=0) for _, _, lessons in learners]
    for step, n in zip(f.step, f.learners):
        assert n == sum(min(b, 5) >= step for b in best)
