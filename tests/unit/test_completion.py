"""Video completion: hand-computed fixtures and laws (curves never increase, rates in [0, 1])."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.errors import BadInput, NotFound
from analytics.metrics.completion import (
    curve_from_counts,
    length_bucket,
    retention_curve,
    retention_percent,
    video_completion,
)
from analytics.query.filters import Filters
from tests.helpers import insert_events, insert_items


@pytest.fixture
def two_creators(store):
    """Hand-made views; expected numbers are worked out next to each row."""
    insert_items(
        store,
        [
            {"item_id": "a1", "kind": "video", "title": "A one", "creator": "ann", "duration_seconds": 20.0},
            {"item_id": "a2", "kind": "video", "title": "A two", "creator": "ann", "duration_seconds": 10.0},
            {"item_id": "a3", "kind": "video", "title": "A long", "creator": "ann", "duration_seconds": 100.0},
            {"item_id": "b1", "kind": "video", "title": "B one", "creator": "bob", "duration_seconds": 0.0},
        ],
    )
    insert_events(
        store,
        {
            # a1 (20 s): ratios 0.1 (2 s, not hooked), 0.5, 0.95 (complete), 1.0 (40 s replay: capped)
            "u1": [("view", 0, {"item_id": "a1", "watch_seconds": 2.0}), ("like", 1, {"item_id": "a1"})],
            "u2": [("view", 0, {"item_id": "a1", "watch_seconds": 10.0})],
            "u3": [("view", 0, {"item_id": "a1", "watch_seconds": 19.0})],
            "u4": [("view", 0, {"item_id": "a1", "watch_seconds": 40.0})],
            # a1 without a watch time: counted, no ratio, not hooked
            "u5": [("view", 0, {"item_id": "a1"})],
            # a2 (10 s): 0.3 and 0.9 (complete)
            "u6": [("view", 0, {"item_id": "a2", "watch_seconds": 3.0}), ("view", 5, {"item_id": "a2", "watch_seconds": 9.0})],
            # a3 (100 s, other bucket): 0.05, hooked (5 s)
            "u7": [("view", 0, {"item_id": "a3", "watch_seconds": 5.0, "channel": "kuaishou"})],
            # b1: length 0 in the catalog, and no video_seconds -> unusable; 4 s -> hooked
            "u8": [("view", 0, {"item_id": "b1", "watch_seconds": 4.0, "channel": "kuaishou"})],
        },
        channel="douyin",
    )
    return store


def test_summary_counts_and_rates_by_hand(two_creators):
    r = video_completion(two_creators, min_views=1)
    s = r.summary
    assert r.status == "ok"
    assert (s.views, s.views_with_watch_time, s.usable_views) == (9, 8, 7)
    assert (s.views_without_duration, s.views_without_watch_time, s.capped_views) == (1, 1, 1)
    # hooked: a1 10/19/40 s, a2 3/9 s, a3 5 s, b1 4 s -> 7 of 8 with a watch time
    assert s.hooked_views == 7 and s.hook_rate == pytest.approx(7 / 8)
    # complete: a1 0.95, 1.0; a2 0.9 -> 3 of 7 usable
    assert s.complete_views == 3 and s.completion_rate == pytest.approx(3 / 7)
    assert s.avg_percent_watched == pytest.approx((0.1 + 0.5 + 0.95 + 1.0 + 0.3 + 0.9 + 0.05) / 7)


def test_per_video_and_per_creator_rows(two_creators):
    r = video_completion(two_creators, min_views=1)
    a1 = r.videos.set_index("item_id").loc["a1"]
    assert (a1.views, a1.usable_views, a1.hooked_views, a1.complete_views) == (5, 4, 3, 2)
    assert a1.hook_rate == pytest.approx(3 / 4) and a1.completion_rate == pytest.approx(0.5)
    assert a1.avg_percent_watched == pytest.approx((0.1 + 0.5 + 0.95 + 1.0) / 4)
    assert a1.length_bucket == "<30s" and a1.title == "A one" and a1.creator == "ann"
    b1 = r.videos.set_index("item_id").loc["b1"]
    assert b1.usable_views == 0 and math.isnan(b1.completion_rate) and b1.hook_rate == 1.0
    assert b1.length_bucket is None or pd.isna(b1.length_bucket)
    creators = r.creators.set_index("creator")
    assert creators.loc["ann", "videos"] == 3 and creators.loc["ann", "usable_views"] == 7
    assert creators.loc["ann", "completion_rate"] == pytest.approx(3 / 7)
    assert creators.loc["bob", "views_without_duration"] == 1


def test_rankings_by_hook_and_hold_respect_min_views(two_creators):
    r = video_completion(two_creators, min_views=2)
    # eligible: a1 (4 usable) and a2 (2 usable); a2 hooks 2/2, holds 0.6; a1 hooks 3/4, holds 0.6375
    assert list(r.ranked("hook").item_id) == ["a2", "a1"]
    assert list(r.ranked("hold").item_id) == ["a1", "a2"]
    assert r.videos.set_index("item_id").loc["a3"].hook_rank != r.videos.set_index("item_id").loc["a3"].hook_rank


def test_histogram_counts_usable_views_and_puts_one_in_last_bin(two_creators):
    h = video_completion(two_creators).histogram
    assert len(h) == 20 and h.views.sum() == 7
    assert h.share.sum() == pytest.approx(1.0)
    by_start = h.set_index("bin_start").views
    assert by_start[0.95] == 2  # 0.95 and the capped 1.0
    assert by_start[0.9] == 1 and by_start[0.0] == 0 and by_start[0.05] == 1 and by_start[0.1] == 1


def test_creator_and_channel_filters(two_creators):
    r = video_completion(two_creators, creator="bob")
    assert list(r.videos.item_id) == ["b1"] and r.status == "no_usable_views"
    k = video_completion(two_creators, Filters(channels=("kuaishou",)))
    assert set(k.videos.item_id) == {"a3", "b1"}


def test_empty_store_is_a_status_not_an_error(store):
    r = video_completion(store)
    assert r.status == "no_views" and r.summary.hook_rate is None and r.videos.empty
    assert r.histogram.views.sum() == 0


def test_min_views_must_be_positive(store):
    with pytest.raises(BadInput):
        video_completion(store, min_views=0)


def test_retention_curve_by_hand_and_typical_curve_of_same_bucket(two_creators):
    c = retention_curve(two_creators, "a1", step=10)
    assert c.status == "ok" and c.length_bucket == "<30s" and c.usable_views == 4
    share = dict(zip(c.curve.percent, c.curve.share))
    # ratios 0.1, 0.5, 0.95, 1.0
    assert share[0] == 1.0 and share[10] == 1.0 and share[20] == 0.75 and share[50] == 0.75
    assert share[60] == 0.5 and share[90] == 0.5 and share[100] == 0.25
    # peers: a2 only (a3 is >= 60 s); a2 ratios 0.3, 0.9
    assert list(c.peers.item_id) == ["a2"]
    typical = dict(zip(c.curve.percent, c.curve.typical_share))
    assert typical[30] == 1.0 and typical[40] == 0.5 and typical[90] == 0.5 and typical[100] == 0.0


def test_retention_curve_without_peers_or_durations(two_creators):
    assert retention_curve(two_creators, "a3").status == "no_peers"
    b1 = retention_curve(two_creators, "b1")
    assert b1.status == "no_usable_views" and b1.views_without_duration == 1 and b1.curve.share.isna().all()
    with pytest.raises(NotFound):
        retention_curve(two_creators, "zz")
    with pytest.raises(BadInput):
        retention_curve(two_creators, "a1", step=7)


def test_video_seconds_on_the_event_wins_over_catalog(store):
    insert_items(store, [{"item_id": "v1", "creator": "c", "duration_seconds": 100.0}])
    insert_events(store, {"u": [("view", 0, {"watch_seconds": 9.0, "video_seconds": 10.0})]})
    r = video_completion(store)
    assert r.summary.complete_views == 1 and r.videos.length_bucket[0] == "<30s"


def test_duplicate_catalog_rows_do_not_double_count(store):
    insert_items(store, [{"item_id": "v1", "creator": "old", "duration_seconds": 10.0}])
    with store.transaction() as cur:
        cur.execute("INSERT INTO items (item_id, creator, duration_seconds, upload_id) VALUES ('v1', 'new', 10.0, 5)")
    insert_events(store, {"u": [("view", 0, {"watch_seconds": 9.0})]})
    r = video_completion(store)
    assert r.summary.views == 1 and r.videos.creator[0] == "new"


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [(None, None), (0, None), (-1, None), (29.9, "<30s"), (30, "30-60s"), (59.99, "30-60s"), (60, "60-180s"),
     (180, ">=180s"), (float("nan"), None)],
)
def test_length_buckets(seconds, bucket):
    assert length_bucket(seconds) == bucket


def test_curve_from_counts_by_hand():
    c = curve_from_counts(pd.Series({0: 1, 50: 2, 100: 1}), step=50)
    assert list(c.percent) == [0, 50, 100] and list(c.share) == [1.0, 0.75, 0.25]


# -- laws ----------------------------------------------------------------------------------------

ratios = st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), min_size=1, max_size=40)


_DUCKDB = None


@settings(max_examples=40, deadline=None)
@given(ratios)
def test_retention_percent_counts_a_view_at_p_exactly_when_ratio_reaches_p(values):
    import ibis

    global _DUCKDB
    _DUCKDB = _DUCKDB or ibis.duckdb.connect()
    t = ibis.memtable({"r": values})
    got = _DUCKDB.execute(t.mutate(p=retention_percent(t.r)))
    for r, p in zip(got.r, got.p):
        assert 0 <= p <= 100
        assert p / 100 <= r
        assert p == 100 or (p + 1) / 100 > r


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.integers(0, 100), st.integers(0, 50), min_size=1), st.sampled_from([1, 5, 10, 25]))
def test_curves_never_increase_and_start_at_one(counts, step):
    c = curve_from_counts(pd.Series(counts), step)
    if sum(counts.values()) == 0:
        assert c.share.isna().all()
        return
    assert c.share.iloc[0] == 1.0
    assert (np.diff(c.share.to_numpy()) <= 0).all()
    assert ((c.share >= 0) & (c.share <= 1)).all()


view_rows = st.lists(
    st.tuples(
        st.sampled_from(["v1", "v2", "v3", "v4"]),
        st.one_of(st.none(), st.floats(min_value=0, max_value=120, allow_nan=False)),
        st.one_of(st.none(), st.sampled_from([0.0, 2.0, 15.0, 45.0, 90.0])),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(view_rows)
def test_rates_lie_in_unit_interval_and_match_pandas(store, rows):
    with store.transaction() as cur:
        cur.execute("DELETE FROM events")
        cur.execute("DELETE FROM items")
    insert_items(store, [{"item_id": v, "creator": "c" if v != "v4" else None, "duration_seconds": 15.0} for v in ("v1", "v2", "v4")])
    insert_events(
        store,
        {f"u{i}": [("view", i, {"item_id": v, "watch_seconds": w, "video_seconds": d})] for i, (v, w, d) in enumerate(rows)},
    )
    r = video_completion(store, min_views=1)
    catalog = {"v1": 15.0, "v2": 15.0, "v4": 15.0}
    df = pd.DataFrame(rows, columns=["item", "watch", "video"])
    length = [d if d and d > 0 else catalog.get(v) for v, d in zip(df.item, df.video)]
    df["length"] = length
    has_watch = df.watch.notna()
    usable = has_watch & df.length.notna()
    ratio = (df.watch / df.length).clip(upper=1.0)
    hooked = has_watch & (df.watch >= np.minimum(3.0, df.length.fillna(3.0)))
    s = r.summary
    assert s.views == len(df) and s.usable_views == int(usable.sum())
    assert s.hooked_views == int(hooked.sum())
    assert s.complete_views == int((ratio[usable] >= 0.9).sum())
    for rate in (s.hook_rate, s.completion_rate, s.avg_percent_watched):
        assert rate is None or 0 <= rate <= 1
    for col in ("hook_rate", "completion_rate", "avg_percent_watched"):
        vals = r.videos[col].dropna()
        assert ((vals >= 0) & (vals <= 1)).all()
    assert r.histogram.views.sum() == s.usable_views
    for item in r.videos.item_id[r.videos.usable_views > 0][:1]:  # the most viewed; its peers give the typical
        curve = retention_curve(store, item, step=5)
        diffs = np.diff(curve.curve.share.to_numpy())
        assert (diffs <= 1e-12).all()
        typical = curve.curve.typical_share.dropna().to_numpy()
        assert (np.diff(typical) <= 1e-12).all() and ((typical >= 0) & (typical <= 1)).all()


def test_shared_watch_ratio_is_missing_without_a_watch_time(store):
    """analytics.query.definitions: a view with a length but no watch time is not "fully watched"."""
    from analytics.query.definitions import views_with_ratio

    insert_events(store, {"u": [("view", 0, {"video_seconds": 10.0}), ("view", 1, {"watch_seconds": 5.0, "video_seconds": 10.0})]})
    ratios = store.execute(views_with_ratio(store.table("events"), store.table("items")).order_by("event_time")).watch_ratio
    assert math.isnan(ratios[0]) and ratios[1] == 0.5


def test_cli_prints_json_for_videos_curve_and_courses(two_creators, capsys):
    import json

    from analytics.cli.main import main

    db = str(two_creators.path)
    two_creators.close()
    assert main(["--db", db, "--json", "completion", "--video", "a1", "--step", "50", "--min-views", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["hook_rate"] == pytest.approx(7 / 8)
    assert [v["item_id"] for v in out["videos"]][:1] == ["a1"]
    assert [p["share"] for p in out["curve"]["curve"]] == [1.0, 0.75, 0.25]
    assert main(["--db", db, "--json", "completion", "--courses"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "no_courses"
    assert main(["--db", db, "completion", "--video", "nope"]) == 2
    assert capsys.readouterr().err.strip() == "reelytics: error: there is no view of video 'nope'"
    assert main(["--db", db, "completion", "--creator", "ann"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("hook rate 85.7%")
