"""Item -> audience: ranking, exclusion of engaged users, decile calibration of expected conversion, CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import analytics.recsys.recommend as rec
from analytics.cli.main import main
from analytics.errors import BadInput, NotFound
from analytics.query.filters import Filters
from analytics.recsys.audiences import calibrate, item_audience, score_deciles
from analytics.recsys.models import get_model
from analytics.recsys.recommend import AlsParams
from tests.helpers import insert_events
from tests.unit.test_recommend import checkerboard

PARAMS = AlsParams(factors=4, iterations=20, regularization=0.1, alpha=5.0, gpu="off")
FAST = ["--factors", "4", "--iterations", "20", "--regularization", "0.1", "--alpha", "5", "--gpu", "off", "--no-tune"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    rec.clear_cache()
    yield
    rec.clear_cache()


@pytest.fixture
def board(store):
    checkerboard(store)
    # a1 and a2 bought the course x0 (they had viewed it); the matrix counts the purchases too
    insert_events(store, {u: [("purchase", 3600, {"item_id": "x0", "revenue": 99.0})] for u in ("a1", "a2")})
    return store


@pytest.fixture
def model(board):
    return get_model(board, PARAMS)


# -- deciles ------------------------------------------------------------------------------------
def test_deciles_by_hand():
    assert score_deciles(np.arange(20, 0, -1)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10]
    assert score_deciles(np.array([0.1, 0.9, 0.5])).tolist() == [3, 1, 2]  # fewer users than ten: one per group
    assert score_deciles(np.array([])).tolist() == []
    deciles, rates = calibrate(np.arange(20, 0, -1, dtype=float), np.array([True] * 3 + [False] * 17))
    assert [(r.decile, r.users, r.converted) for r in rates[:3]] == [(1, 2, 2), (2, 2, 1), (3, 2, 0)]
    assert rates[1].conversion_rate == 0.5 and rates[0].score_max == 20 and rates[0].score_min == 19


@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=300))
def test_deciles_are_balanced_and_follow_the_score(scores):
    s = np.array(scores)
    d = score_deciles(s)
    sizes = np.bincount(d)[1:]
    assert len(sizes) == min(10, len(s)) and sizes.max() - sizes.min() <= 1
    order = np.argsort(-s, kind="stable")
    assert (np.diff(d[order]) >= 0).all()  # a higher score never sits in a later decile


# -- audiences ----------------------------------------------------------------------------------
def test_course_audience_prefers_the_same_taste_and_skips_engaged_users(model, board):
    res = item_audience(board, model, "x0", k=5)
    assert res.outcome == "purchase" and res.kind == "course" and res.title == "Excel lesson x0"
    # a0 and a6 are the only x-block users who never touched x0; all 12 b-users never did either
    assert {m.user for m in res.users[:2]} == {"a0", "a6"}
    assert res.pool == 14 and res.size == 5 and res.model_users == 24
    assert [m.rank for m in res.users] == [1, 2, 3, 4, 5]
    assert all(res.users[i].score >= res.users[i + 1].score for i in range(4))
    engaged = {u for u in model.user_ids if model.user_items[model.user_index[u], model.item_index["x0"]] > 0}
    assert not engaged & {m.user for m in res.users}
    scores = model.item_scores("x0")  # the one scoring path
    np.testing.assert_allclose([m.score for m in res.users], [scores[model.user_index[m.user]] for m in res.users])


def test_expected_conversion_is_the_decile_rate(model, board):
    res = item_audience(board, model, "x0", k=24, exclude_engaged=False)
    assert res.converted == 2 and res.base_rate == pytest.approx(2 / 24)
    assert sum(r.users for r in res.calibration) == 24 and sum(r.converted for r in res.calibration) == 2
    rates = {r.decile: r.conversion_rate for r in res.calibration}
    for m in res.users:
        assert m.expected_conversion == rates[m.decile]
    assert res.expected_conversions == pytest.approx(sum(r.converted for r in res.calibration))  # every user listed
    assert 0.0 <= res.expected_rate <= 1.0
    table = res.to_frame()
    assert list(table.columns) == ["rank", "user", "score", "decile", "expected_conversion"] and len(table) == 24


def test_purchases_outside_the_filters_do_not_count(model, board):
    # both purchases are at T0 + 1 h = 2026-01-05 20:00 in Asia/Shanghai
    later = Filters(date_from=dt.date(2026, 1, 6))
    assert item_audience(board, model, "x0", k=3, filters=later).converted == 0
    same_day = Filters(date_from=dt.date(2026, 1, 5), date_to=dt.date(2026, 1, 5))
    assert item_audience(board, model, "x0", k=3, filters=same_day).converted == 2


def test_free_video_converts_by_engagement(model, board):
    res = item_audience(board, model, "y1", k=3)
    assert res.outcome == "engagement" and res.converted == 10 and res.pool == 14
    assert {m.user for m in res.users[:2]} == {"b1", "b7"}  # the two y-users who skipped y1 come first


def test_nobody_left_unknown_item_and_bad_k(store):
    insert_events(store, {u: [("view", 0, {"item_id": "v1", "watch_seconds": 10.0, "video_seconds": 20.0}),
                              ("view", 60, {"item_id": "v2" if u != "u3" else "v3", "watch_seconds": 10.0,
                                            "video_seconds": 20.0})] for u in ("u1", "u2", "u3")})
    m = get_model(store, PARAMS)
    res = item_audience(store, m, "v1", k=10)
    assert res.status == "nobody_left" and res.size == 0 and res.pool == 0 and res.expected_rate == 0.0
    assert item_audience(store, m, "v1", k=10, exclude_engaged=False).size == 3
    with pytest.raises(NotFound):
        item_audience(store, m, "nope")
    with pytest.raises(BadInput):
        item_audience(store, m, "v1", k=0)


# -- CLI ----------------------------------------------------------------------------------------
def test_audience_command_json_csv_and_errors(board, capsys):
    path = str(board.path)
    board.close()
    assert main(["--db", path, "--json", "audience", "--item", "x0", "--k", "4", *FAST]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["item"] == "x0" and doc["size"] == 4 and doc["outcome"] == "purchase" and doc["pool"] == 14
    assert {u["user"] for u in doc["users"][:2]} == {"a0", "a6"}
    assert [u["rank"] for u in doc["users"]] == [1, 2, 3, 4]
    assert set(doc["users"][0]) == {"rank", "user", "score", "decile", "expected_conversion"}
    assert len(doc["calibration"]) == 10
    assert main(["--db", path, "audience", "--item", "x0", "--k", "3", "--csv", *FAST]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 3 and list(rows[0]) == ["rank", "user", "score", "decile", "expected_conversion"]
    assert main(["--db", path, "audience", "--item", "x0", "--k", "2", *FAST]) == 0
    out = capsys.readouterr().out
    assert "audience for x0 Excel lesson x0: 2 of 14 candidate users" in out
    assert out.splitlines()[2].split() == ["Rank", "User", "Score", "Decile", "Expected", "conversion"]
    assert main(["--db", path, "audience", "--item", "ghost", *FAST]) == 2
    assert "item 'ghost' is not in the model" in capsys.readouterr().err
