"""User segments: features by hand and against a plain-SQL reference, k by silhouette, traits, statuses, CLI."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import silhouette_score

from analytics.cli.main import main
from analytics.errors import BadInput
from analytics.query.filters import Filters
from analytics.recsys.segments import (
    CLUSTER_FEATURES,
    choose_k,
    cluster_matrix,
    segment_features,
    segment_users,
    user_features,
)
from tests.helpers import insert_events, insert_items


def _view(item, watch, video=60.0):
    return {"item_id": item, "watch_seconds": watch, "video_seconds": video}


# -- features -----------------------------------------------------------------------------------
def test_features_by_hand(store):
    # T0 is 12:00 UTC = 20:00 in Asia/Shanghai; 4 h later is 00:01 the next local day
    insert_events(store, {
        "alice": [
            ("view", 0, _view("vid1", 30.0)),
            ("view", 3600, _view("vid1", 60.0)),
            ("like", 3660, {"item_id": "yoga1"}),
            ("share", 3700, {"item_id": "yoga1"}),
            ("purchase", 4 * 3600 + 60, {"item_id": "c1", "revenue": 99.0}),
            ("impression", 3 * 86400, {"item_id": "vid1"}),  # not activity: no extra day
        ],
        "bob": [("view", 0, _view("yoga1", 10.0, 20.0))],
        "carol": [("impression", 0, {"item_id": "vid1"})],  # impressions only: not a profile
        "dave": [("like", 0, {"item_id": "nocat"})],
    })
    insert_items(store, [
        {"item_id": "vid1", "category": "code", "kind": "video"},
        {"item_id": "c1", "category": "code", "kind": "course"},
        {"item_id": "yoga1", "category": "fitness", "kind": "video"},
    ])
    f = user_features(store).set_index("user_id")
    assert list(f.index) == ["alice", "bob", "dave"]
    a = f.loc["alice"]
    assert (a.active_days, a.views, a.purchases, a.active_hours, a.peak_hour) == (2, 2, 1, 3, 21)
    assert a.watch_minutes == pytest.approx(1.5) and a.like_rate == pytest.approx(0.5)
    assert a.interaction_rate == pytest.approx(1.0) and a.revenue == pytest.approx(99.0)
    assert a.favourite_category == "code"  # 3 events on code items, 2 on fitness
    b = f.loc["bob"]
    assert (b.active_days, b.views, b.purchases, b.active_hours, b.peak_hour) == (1, 1, 0, 1, 20)
    assert b.watch_minutes == pytest.approx(10 / 60) and b.like_rate == 0 and b.favourite_category == "fitness"
    d = f.loc["dave"]
    assert d.views == 0 and d.like_rate == 0 and d.interaction_rate == 0 and pd.isna(d.favourite_category)
    # in UTC alice's purchase is on the same day as her views
    assert user_features(store, Filters(timezone="UTC")).set_index("user_id").loc["alice"].active_days == 1


def test_features_match_a_plain_sql_reference(sample_store):
    ours = user_features(sample_store).set_index("user_id")
    ref = sample_store.query(
        "WITH e AS (SELECT *, timezone('Asia/Shanghai', event_time::TIMESTAMPTZ)::TIMESTAMP AS lt FROM events "
        "WHERE user_id IS NOT NULL AND event_type <> 'impression') "
        "SELECT user_id, count(DISTINCT lt::DATE) AS active_days, "
        "coalesce(sum(watch_seconds) FILTER (WHERE event_type = 'view'), 0) / 60 AS watch_minutes, "
        "count(*) FILTER (WHERE event_type = 'view') AS views, count(*) FILTER (WHERE event_type = 'purchase') AS purchases, "
        "count(DISTINCT hour(lt)) AS active_hours, "
        "CASE WHEN count(*) FILTER (WHERE event_type = 'view') > 0 THEN "
        "count(*) FILTER (WHERE event_type = 'like')::DOUBLE / count(*) FILTER (WHERE event_type = 'view') "
        "ELSE 0 END AS like_rate "
        "FROM e GROUP BY user_id ORDER BY user_id"
    ).df().set_index("user_id")
    assert len(ours) == len(ref) > 250
    for col in ref.columns:
        np.testing.assert_allclose(ours[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-9, err_msg=col)


# -- clustering ---------------------------------------------------------------------------------
def _groups(seed: int = 0, n: int = 20) -> pd.DataFrame:
    """Three planted behaviours: one-off light viewers, heavy daily watchers, buyers."""
    rng = np.random.default_rng(seed)
    rows = []
    for group, (days, watch, like, inter, buys, hours) in enumerate(
        [(1, 2, 0.0, 0.0, 0, 1), (12, 150, 0.02, 0.03, 0, 9), (5, 20, 0.01, 0.01, 3, 4)]
    ):
        for i in range(n):
            rows.append({
                "user_id": f"g{group}_{i:02d}", "active_days": days,
                "watch_minutes": watch * rng.uniform(0.9, 1.1), "views": days * 3, "like_rate": like,
                "interaction_rate": inter, "purchases": buys, "revenue": buys * 99.0,
                "active_hours": hours, "peak_hour": 20, "favourite_category": "code",
            })
    return pd.DataFrame(rows)


def test_planted_groups_are_found_and_named():
    result = segment_features(_groups())
    assert result.status == "ok" and result.k == 3 and result.chosen_by == "silhouette"
    assert [s.size for s in result.segments] == [20, 20, 20]
    by_group = result.users.assign(group=result.users.user_id.str[:2]).groupby("group").segment.nunique()
    assert (by_group == 1).all()  # each planted group lands in one segment
    buyers = next(s for s in result.segments if s.means["purchases"] == 3)
    assert (buyers.traits[0].feature, buyers.traits[0].direction) == ("purchases", "high")
    light = next(s for s in result.segments if s.means["watch_minutes"] < 5)
    assert light.traits[0].z < 0 and light.traits[0].direction == "low"
    assert all(abs(t.z) >= 0.5 for s in result.segments for t in s.traits)
    assert all([abs(t.z) for t in s.traits] == sorted((abs(t.z) for t in s.traits), reverse=True) for s in result.segments)
    assert light.to_dict()["traits"][0] == {"feature": light.traits[0].feature, "direction": "low", "z": light.traits[0].z}
    assert result.silhouette == max(s for _, s in result.silhouette_by_k)
    assert [k for k, _ in result.silhouette_by_k] == list(range(2, 9))


def test_silhouette_is_scikit_learns_and_the_result_is_deterministic():
    f = _groups(seed=1)
    x = cluster_matrix(f)
    best, by_k, labels = choose_k(x)
    assert dict(by_k)[best] == pytest.approx(silhouette_score(x, labels[best]), abs=1e-9)
    first, second = segment_features(f), segment_features(f)
    assert first.users.segment.tolist() == second.users.segment.tolist()
    assert [s.traits for s in first.segments] == [s.traits for s in second.segments]
    assert x.shape == (60, len(CLUSTER_FEATURES)) and np.abs(x).max() <= 3.0


def test_a_given_k_and_the_statuses():
    fixed = segment_features(_groups(), k=2)
    assert fixed.status == "ok" and fixed.k == 2 and fixed.chosen_by == "given" and len(fixed.segments) == 2
    assert sum(s.size for s in fixed.segments) == 60 and fixed.segments[0].size >= fixed.segments[1].size
    few = segment_features(_groups(n=3))
    assert few.status == "not_enough_users" and few.users_total == 9 and few.segments == ()
    same = segment_features(pd.concat([_groups(n=1).iloc[[0]]] * 12, ignore_index=True))
    assert same.status == "no_variation"
    with pytest.raises(BadInput):
        segment_users(None, k=1)


def test_sample_segments(sample_store):
    result = segment_users(sample_store)
    assert result.status == "ok" and 2 <= result.k <= 8
    assert sum(s.size for s in result.segments) == result.users_total == len(result.users)
    assert sum(s.share for s in result.segments) == pytest.approx(1.0)
    table = result.table()
    assert list(table["segment"]) == list(range(1, result.k + 1))


def test_segments_command(sample_store, capsys):
    path = str(sample_store.path)
    sample_store.close()
    assert main(["--db", path, "--json", "segments", "--k", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "ok" and doc["k"] == 3 and doc["chosen_by"] == "given" and len(doc["segments"]) == 3
    assert {"name", "name_zh", "size", "share", "means", "traits", "description", "description_zh"} <= set(doc["segments"][0])
    assert len({s["name"] for s in doc["segments"]}) == 3 and all(s["name"] != s["name_zh"] for s in doc["segments"])
    assert all(s["description_zh"].startswith(f"{s['size']:,} 人（") for s in doc["segments"])
    assert main(["--db", path, "segments", "--k", "3", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == doc["users"] and list(rows[0])[:3] == ["user_id", "segment", "segment_name"]
    names = {str(s["segment"]): s["name"] for s in doc["segments"]}
    assert all(r["segment_name"] == names[r["segment"]] for r in rows) and "watch_minutes" in rows[0]
    assert main(["--db", path, "segments", "--k", "3", "--csv", "--lang", "zh"]) == 0
    zh = {r["segment_name"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert zh == {s["name_zh"] for s in doc["segments"]}
    assert main(["--db", path, "segments", "--k", "3"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith(f"3 segments of {doc['users']:,} users as asked (silhouette ")
    assert text[1] == f"1. {doc['segments'][0]['name']} — {doc['segments'][0]['description']}"
    assert main(["--db", path, "segments", "--k", "1"]) == 2
    assert "between 2 and 20" in capsys.readouterr().err


def test_k_compared_on_a_sample_then_fitted_on_everyone():
    x = cluster_matrix(_groups(seed=2))
    best, by_k, labels = choose_k(x, fit_sample=30)
    assert best == 3 and list(labels) == [3] and len(labels[3]) == 60
    assert dict(by_k)[3] == pytest.approx(silhouette_score(x, labels[3]), abs=1e-9)
    assert len(np.unique(labels[3][:20])) == len(np.unique(labels[3][20:40])) == 1
