"""Best time to post: hand-computed outcomes, empirical-Bayes golden numbers and laws (hypothesis)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from analytics.errors import BadInput
from analytics.metrics.timing import (
    BetaPrior,
    NormalPrior,
    compute_timing,
    fit_beta_prior,
    fit_normal_prior,
    shrink_means,
    shrink_rates,
)
from analytics.query.filters import Filters
from tests.helpers import T0, insert_events, insert_items

H = 3600
SH = Filters(timezone="Asia/Shanghai")


@pytest.fixture
def catalog(store):
    """v1: Monday 20:00 Shanghai (T0); v2: Monday 21:00; v3 (a course promo without views): Tuesday 09:00."""
    insert_items(
        store,
        [
            {"item_id": "v1", "kind": "video", "creator": "ann", "category": "career", "duration_seconds": 10, "course_id": "c1", "published_at": T0},
            {"item_id": "v2", "kind": "video", "creator": "bob", "category": "finance", "duration_seconds": 10, "course_id": "c2", "published_at": T0 + dt.timedelta(hours=1)},
            {"item_id": "v3", "kind": "video", "creator": "ann", "category": "career", "duration_seconds": 20, "course_id": "c1", "published_at": T0 + dt.timedelta(hours=13)},
            {"item_id": "c1", "kind": "course", "price": 99, "published_at": T0},
            {"item_id": "v9", "kind": "video", "creator": "cat"},  # never published: not counted
        ],
    )
    insert_events(
        store,
        {
            # watched fully, clicked, bought the promoted course (item = course)
            "a": [("view", 60, {"watch_seconds": 10}), ("click", 70), ("purchase", 80, {"item_id": "c1", "course_id": "c1", "revenue": 99})],
            # 2 s of 10 s; a second view after 24 h does not count; bought another course: not counted
            "b": [("view", 120, {"watch_seconds": 2}), ("view", 25 * H, {"watch_seconds": 10}), ("purchase", 130, {"item_id": "c2", "course_id": "c2"})],
            # bought c1 before viewing v1: not caused by the view
            "d": [("purchase", 30, {"item_id": "c1", "course_id": "c1"}), ("view", 200, {"watch_seconds": 9})],
            # a view without a usable length (video_seconds 0 falls back to the catalog: 10 s)
            "e": [("view", 300, {"watch_seconds": 5, "video_seconds": 0})],
            # v2: 9.5 of 10 s is complete; purchase counted through the video itself
            "c": [("view", H + 10, {"item_id": "v2", "watch_seconds": 9.5}), ("purchase", H + 20, {"item_id": "v2"})],
            # an impression before publication is ignored
            "f": [("view", -60, {"watch_seconds": 10})],
            # the data reaches past every video's first 24 hours (v3's end: 37 h)
            "z": [("impression", 38 * H, {"item_id": "v9"})],
        },
    )
    return store


def _covered(store, first: dt.datetime, last: dt.datetime) -> None:
    """Impressions (counted by no outcome) at ``first`` and ``last``: the data covers the hours between."""
    insert_events(store, {"zz": [("impression", first, {"item_id": "x"}), ("impression", last, {"item_id": "x"})]})


def test_first_24_hour_outcomes_per_video_hand_computed(catalog):
    r = compute_timing(catalog, SH, outcome="views")
    v = r.videos.set_index("video_id")
    assert list(r.videos["video_id"]) == ["v1", "v2", "v3"]
    assert v.loc["v1", ["views", "rated_views", "complete_views", "clicks", "purchases"]].tolist() == [4, 4, 2, 1, 1]
    assert v.loc["v2", ["views", "complete_views", "purchases"]].tolist() == [1, 1, 1]
    assert v.loc["v3", ["views", "purchases"]].tolist() == [0, 0]
    assert (v.loc["v1", "weekday"], v.loc["v1", "hour"]) == (0, 20)
    assert (v.loc["v3", "weekday"], v.loc["v3", "hour"]) == (1, 9)


def test_publish_cell_follows_the_configured_zone(catalog):
    utc = compute_timing(catalog, Filters(timezone="UTC"), outcome="views").videos.set_index("video_id")
    assert (utc.loc["v1", "weekday"], utc.loc["v1", "hour"]) == (0, 12)
    assert (utc.loc["v3", "weekday"], utc.loc["v3", "hour"]) == (1, 1)


def test_filters_choose_videos_by_publish_day_and_category(catalog):
    tuesday = Filters(date_from=dt.date(2026, 1, 6), date_to=dt.date(2026, 1, 6))
    assert list(compute_timing(catalog, tuesday).videos["video_id"]) == ["v3"]
    career = Filters(categories=("career",))
    assert list(compute_timing(catalog, career).videos["video_id"]) == ["v1", "v3"]


def test_cells_rank_by_the_shrunk_value(catalog):
    r = compute_timing(catalog, SH, outcome="ctr")
    best = r.best()
    # CTR raw: v1 1/4 (Mon 20), v2 0/1 (Mon 21); v3 has no views: no trials, not ranked
    assert [(int(x.weekday), int(x.hour)) for x in best.itertuples()] == [(0, 20), (0, 21)]
    assert best["raw"].tolist() == [0.25, 0.0]
    cells = r.cells.set_index(["weekday", "hour"])
    assert np.isnan(cells.loc[(1, 9), "rank"]) and cells.loc[(1, 9), "videos"] == 1
    assert (best["ci_low"] <= best["shrunk"]).all() and (best["shrunk"] <= best["ci_high"]).all()


def test_creator_frequency_and_correlation(catalog):
    r = compute_timing(catalog, SH, outcome="views")
    c = r.creators.set_index("creator")
    # publish days span 5..6 Jan (2 days) -> at least one week
    assert c.loc["ann", "videos"] == 2 and c.loc["ann", "videos_per_week"] == 2.0
    assert c.loc["ann", "outcome"] == 2.0  # (4 + 0) / 2 views per video
    assert r.frequency_correlation is None  # two creators are too few


def test_audience_activity_by_local_weekday_and_hour(catalog):
    act = compute_timing(catalog, SH).activity.set_index(["weekday", "hour"])
    assert len(act) == 168
    assert act.loc[(0, 19), "views"] == 1  # f's view at 19:59
    assert act.loc[(0, 20), "views"] == 4 and act.loc[(0, 20), "viewers"] == 4
    assert act.loc[(1, 21), "views"] == 1  # b's second view, Tuesday 21:00
    # the data spans Mon 5 .. Tue 6 Jan: one Monday, one Tuesday, no other weekday
    assert act.loc[(0, 20), "days"] == 1 and act.loc[(3, 0), "days"] == 0


def test_no_videos_still_shows_activity(store):
    insert_events(store, {"a": [("view", 0)]})
    r = compute_timing(store, SH)
    assert r.status == "no_videos" and r.video_count == 0
    assert int(r.activity["views"].sum()) == 1
    assert r.best().empty


def test_bad_outcome_is_refused(store):
    with pytest.raises(BadInput) as info:
        compute_timing(store, SH, outcome="likes")
    assert info.value.code == "bad_outcome"


# -- empirical Bayes: golden numbers computed by hand -----------------------------------------


def test_beta_prior_method_of_moments_golden():
    # cells k = (3, 7) of n = (20, 20): m = 10/40 = 0.25; raw rates 0.15, 0.35 (sample variance
    # 0.02); binomial noise 0.1875 * mean(1/20) = 0.009375; between 0.010625;
    # alpha + beta = 0.1875 / 0.010625 - 1 = 16.647
    prior = fit_beta_prior(np.array([3, 7]), np.array([20, 20]))
    strength = 0.1875 / 0.010625 - 1
    a, b = 0.25 * strength, 0.75 * strength
    assert prior.alpha == pytest.approx(a) and prior.beta == pytest.approx(b)
    post, lo, hi = shrink_rates([3, 7], [20, 20], prior)
    assert post[0] == pytest.approx((a + 3) / (strength + 20))
    # the interval is scipy's Beta quantile of the posterior
    assert lo[0] == pytest.approx(stats.beta.ppf(0.05, a + 3, b + 17))
    assert hi[1] == pytest.approx(stats.beta.ppf(0.95, a + 7, b + 13))


def test_beta_prior_strength_stays_between_one_trial_and_all_trials():
    # k = (0, 1) of n = (1, 1): the moments say alpha + beta = 0; floored at one trial
    assert fit_beta_prior(np.array([0, 1]), np.array([1, 1])).strength == 1.0


def test_beta_prior_without_variation_is_worth_all_trials():
    prior = fit_beta_prior(np.array([5, 5]), np.array([10, 10]))
    assert prior.strength == 20 and prior.mean == 0.5
    zero = fit_beta_prior(np.array([0, 0]), np.array([3, 4]))
    assert zero == BetaPrior(0.5, 7.0)
    assert fit_beta_prior(np.array([0]), np.array([0])) is None


def test_normal_prior_method_of_moments_golden():
    # cell means (10, 20) over (4, 1) videos, within variance 16: prior mean 60/5 = 12;
    # variance of the means 50 minus mean noise (16/4 + 16/1)/2 = 10 -> tau^2 = 40
    prior = fit_normal_prior(np.array([10.0, 20.0]), np.array([4, 1]), 16.0)
    assert prior == NormalPrior(12.0, 40.0, 16.0)
    post, lo, hi = shrink_means([10.0, 20.0], [4, 1], prior)
    assert post == pytest.approx([40 / 44 * 10 + 4 / 44 * 12, 40 / 56 * 20 + 16 / 56 * 12])
    sd0 = (1 / (1 / 40 + 4 / 16)) ** 0.5
    assert hi[0] - post[0] == pytest.approx(stats.norm.ppf(0.95) * sd0)


# -- laws -------------------------------------------------------------------------------------

_cells = st.lists(st.tuples(st.integers(0, 50), st.integers(1, 50)), min_size=1, max_size=20).map(
    lambda cs: (np.array([min(k, n) for k, n in cs]), np.array([n for _, n in cs]))
)


@settings(max_examples=200, deadline=None)
@given(cells=_cells)
def test_shrunk_rate_lies_between_raw_rate_and_prior_mean(cells):
    k, n = cells
    prior = fit_beta_prior(k, n)
    post, lo, hi = shrink_rates(k, n, prior)
    raw = k / n
    tol = 1e-12
    assert np.all(np.minimum(raw, prior.mean) - tol <= post) and np.all(post <= np.maximum(raw, prior.mean) + tol)
    assert np.all((0 <= lo) & (lo <= hi) & (hi <= 1)) and np.all((0 <= post) & (post <= 1))  # rates in [0, 1]
    unimodal = (prior.alpha + k >= 1) & (prior.beta + n - k >= 1)
    assert np.all(((lo <= post + tol) & (post <= hi + tol))[unimodal])


@settings(max_examples=200, deadline=None)
@given(
    means=st.lists(st.floats(0, 1e5, allow_nan=False), min_size=1, max_size=20),
    videos=st.lists(st.integers(1, 30), min_size=20, max_size=20),
    within=st.floats(0, 1e6, allow_nan=False),
)
def test_shrunk_mean_lies_between_raw_mean_and_prior_mean(means, videos, within):
    x = np.array(means)
    v = np.array(videos[: len(means)])
    prior = fit_normal_prior(x, v, within)
    post, lo, hi = shrink_means(x, v, prior)
    tol = 1e-6 * max(1.0, float(np.abs(x).max()))
    assert np.all(np.minimum(x, prior.mean) - tol <= post) and np.all(post <= np.maximum(x, prior.mean) + tol)
    assert np.all(lo <= post + tol) and np.all(post <= hi + tol)


def test_completion_and_ctr_cells_are_rates(catalog):
    for outcome in ("completion", "ctr"):
        cells = compute_timing(catalog, SH, outcome=outcome).cells
        ranked = cells[cells["rank"].notna()]
        for col in ("raw", "shrunk", "ci_low", "ci_high"):
            assert ranked[col].between(0, 1).all()


def test_publish_hour_across_a_daylight_saving_change(store):
    # 2026-03-09 04:30 UTC is Monday 00:30 in New York (EDT); 2026-03-02 05:30 UTC is Monday 00:30 (EST)
    insert_items(
        store,
        [
            {"item_id": "v1", "kind": "video", "published_at": dt.datetime(2026, 3, 9, 4, 30)},
            {"item_id": "v2", "kind": "video", "published_at": dt.datetime(2026, 3, 2, 5, 30)},
        ],
    )
    insert_events(store, {"a": [("view", dt.datetime(2026, 3, 9, 5))]})
    _covered(store, dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 11))
    v = compute_timing(store, Filters(timezone="America/New_York")).videos
    assert v[["weekday", "hour"]].values.tolist() == [[0, 0], [0, 0]]


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_timing_json(catalog, capsys):
    import json

    from analytics.cli.main import main

    catalog.close()  # the command opens the file itself
    assert main(["--db", str(catalog.path), "--json", "timing", "--outcome", "ctr"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok" and out["videos"] == 3 and out["outcome"] == "ctr"
    assert [(c["weekday"], c["hour"]) for c in out["best"]] == [(0, 20), (0, 21)]
    assert out["best"][0]["raw"] == 0.25
    assert len(out["activity"]) == 168
    assert set(out["prior"]) == {"mean", "alpha", "beta", "strength"}
    assert out["verdict"] == "no_clear_best" and out["average"] == out["prior"]["mean"]


def test_cli_timing_text(catalog, capsys):
    from analytics.cli.main import main

    catalog.close()  # the command opens the file itself
    assert main(["--db", str(catalog.path), "timing", "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("no clear best time: no publish time's 90% interval lies above the average ")
    assert lines[1].startswith("publish times ranked by views in the first 24 h (3 videos; times in Asia/Shanghai")
    assert lines[3].split()[:4] == ["1", "Mon", "20:00", "1"]


def test_cli_timing_bad_top(catalog, capsys):
    from analytics.cli.main import main

    catalog.close()  # the command opens the file itself
    assert main(["--db", str(catalog.path), "timing", "--top", "0"]) == 2
    assert "--top must be at least 1" in capsys.readouterr().err


def test_videos_without_views_cannot_be_ranked(store):
    insert_items(store, [{"item_id": "v1", "kind": "video", "published_at": T0}])
    insert_events(store, {"a": [("like", 60)]})
    _covered(store, T0, T0 + dt.timedelta(days=2))
    r = compute_timing(store, SH, outcome="ctr")
    assert r.status == "no_outcomes" and r.video_count == 1 and r.best().empty


_event = st.tuples(
    st.sampled_from(["view", "click", "like", "purchase"]),
    st.sampled_from(["v1", "v2", "c1"]),
    st.integers(-6, 40),  # hours after T0
    st.sampled_from(["a", "b", "c"]),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(_event, min_size=1, max_size=15))
def test_first_24_hour_counts_match_a_reference(store, events):
    with store.cursor() as cur:
        cur.execute("DELETE FROM events")
        cur.execute("DELETE FROM items")
    published = {"v1": T0, "v2": T0 + dt.timedelta(hours=10)}
    insert_items(
        store,
        [{"item_id": v, "kind": "video", "course_id": "c1", "duration_seconds": 10, "published_at": p} for v, p in published.items()],
    )
    journeys: dict[str, list] = {}
    for i, (etype, item, hours, user) in enumerate(events):
        extra = {"item_id": item, "course_id": "c1" if etype == "purchase" else None, "watch_seconds": 10.0}
        journeys.setdefault(user, []).append((etype, hours * H + i, extra))
    insert_events(store, journeys)
    _covered(store, T0 - dt.timedelta(hours=7), T0 + dt.timedelta(hours=50))
    got = compute_timing(store, SH).videos.set_index("video_id")
    for video, pub in published.items():
        start = (pub - T0).total_seconds()
        in_window = [
            (e, it, h * H + i, u) for i, (e, it, h, u) in enumerate(events) if start <= h * H + i < start + 24 * H
        ]
        views = [x for x in in_window if x[0] == "view" and x[1] == video]
        clicks = [x for x in in_window if x[0] == "click" and x[1] == video]
        first_view = {}
        for _, _, t, u in views:
            first_view[u] = min(t, first_view.get(u, t))
        buyers = {u for e, it, t, u in in_window if e == "purchase" and u in first_view and t >= first_view[u]}
        assert got.loc[video, "views"] == len(views)
        assert got.loc[video, "complete_views"] == len(views)  # every view watched 10 of 10 s
        assert got.loc[video, "clicks"] == len(clicks)
        assert got.loc[video, "purchases"] == len(buyers)


# -- naming a best time only when it clears the average --------------------------------------------


def _result(ci_low: float, mean: float = 10.0):
    import pandas as pd

    from analytics.metrics.timing import TimingResult

    cells = pd.DataFrame({"weekday": [3, 1], "hour": [19, 8], "videos": [5, 5], "raw": [14.0, 9.0],
                          "shrunk": [13.7, 9.5], "ci_low": [ci_low, 7.0], "ci_high": [16.0, 12.0], "rank": [1.0, 2.0]})
    return TimingResult("ok", "views", "Asia/Shanghai", prior={"mean": mean}, cells=cells)


@pytest.mark.parametrize("ci_low, verdict", [(10.5, "clear_best"), (10.0, "no_clear_best"), (9.2, "no_clear_best")])
def test_a_best_time_is_named_only_when_its_interval_lies_above_the_average(ci_low, verdict):
    assert _result(ci_low).verdict == verdict


def test_no_verdict_without_a_ranking(store):
    from analytics.metrics.timing import TimingResult

    assert TimingResult("no_videos", "views", "UTC").verdict is None


def test_a_cell_far_above_the_rest_is_a_clear_best(store):
    """Six Thursday 19:00 videos reach 40 viewers each, twelve others 4 each: not luck."""
    items, journeys = [], {}
    for i in range(18):
        strong = i < 6
        at = T0 + dt.timedelta(days=3 + 7 * (i % 6), hours=-1 if strong else 1 + i)  # Thu 19:00 Shanghai vs others
        items.append({"item_id": f"v{i}", "kind": "video", "published_at": at})
        for u in range(40 if strong else 4):
            journeys.setdefault(f"u{i}_{u}", []).append(("view", at + dt.timedelta(minutes=5), {"item_id": f"v{i}"}))
    insert_items(store, items)
    insert_events(store, journeys)
    _covered(store, T0, T0 + dt.timedelta(days=60))
    r = compute_timing(store, SH, outcome="views")
    top = r.best(1).iloc[0]
    assert (int(top.weekday), int(top.hour)) == (3, 19)
    assert r.verdict == "clear_best" and top.ci_low > r.average


def test_videos_whose_first_24_hours_the_data_does_not_cover_are_left_out_not_counted_as_zero(store):
    """A video published before the first event, or less than a day before the last, has outcomes the
    data cannot tell (its window is cut): it is left out and counted, never ranked with zeros."""
    insert_items(store, [
        {"item_id": "early", "kind": "video", "published_at": T0 - dt.timedelta(days=3)},
        {"item_id": "mid", "kind": "video", "published_at": T0 + dt.timedelta(hours=1)},
        {"item_id": "late", "kind": "video", "published_at": T0 + dt.timedelta(days=4)},
    ])
    insert_events(store, {"a": [("view", 2 * H, {"item_id": "mid"}), ("view", 4 * 86400 + H, {"item_id": "late"})],
                          "b": [("view", 0, {"item_id": "early"}), ("like", 4 * 86400 + 2 * H)]})
    r = compute_timing(store, SH, outcome="views")
    assert list(r.videos["video_id"]) == ["mid"] and r.unobserved == 2
    assert r.to_dict()["unobserved_videos"] == 2
    store.query("DELETE FROM items WHERE item_id = 'mid'")
    gone = compute_timing(store, SH, outcome="views")
    assert (gone.status, gone.unobserved, gone.video_count) == ("not_covered", 2, 0)
    from analytics.cli.commands.timing import render

    assert "do not cover" not in render(gone, 5) and "does not cover the first 24 hours" in render(gone, 5)
    assert "2 videos left out: the data does not cover their first 24 hours" in render(r, 5)
