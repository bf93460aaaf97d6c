"""The recommender core: matrix weights, training, explanations, saving, devices, serving."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import analytics.recsys.recommend as rec
from analytics.errors import BadInput, NotFound
from analytics.query.filters import Filters
from analytics.recsys.models import get_model
from analytics.recsys.recommend import (
    AlsParams,
    InteractionMatrix,
    build_matrix,
    user_panel,
)
from tests.helpers import insert_events, insert_items

SMALL = AlsParams(factors=4, iterations=20, regularization=0.1, alpha=5.0)
X_ITEMS = [f"x{i}" for i in range(6)]
Y_ITEMS = [f"y{i}" for i in range(6)]


def checkerboard(store):
    """Two tastes: users a0..a11 view x-items, b0..b11 view y-items; user n skips item n % 6 of its block.

    The known answer: every user's top recommendation is the one item of its own block it has not seen.
    """
    journeys = {}
    for block, items in (("a", X_ITEMS), ("b", Y_ITEMS)):
        for n in range(12):
            skipped = items[n % 6]
            journeys[f"{block}{n}"] = [
                ("view", 60 * j, {"item_id": item, "watch_seconds": 50.0, "video_seconds": 60.0})
                for j, item in enumerate(items)
                if item != skipped
            ]
    insert_events(store, journeys)
    insert_items(
        store,
        [{"item_id": i, "title": f"Excel lesson {i}", "category": "office", "kind": "course" if i == "x0" else "video",
          "price": 99.0 if i == "x0" else None} for i in X_ITEMS]
        + [{"item_id": i, "title": f"Yoga class {i}", "category": "fitness", "kind": "video"} for i in Y_ITEMS],
    )


@pytest.fixture(autouse=True)
def _fresh_cache():
    rec.clear_cache()
    yield
    rec.clear_cache()


@pytest.fixture
def board(store):
    checkerboard(store)
    return store


# -- the matrix ----------------------------------------------------------------------------
def test_event_weights_follow_the_definition(store):
    insert_events(
        store,
        {
            "u": [
                ("impression", 0, {"item_id": "i1"}),
                ("view", 1, {"item_id": "i1", "watch_seconds": 15.0, "video_seconds": 60.0}),  # 0.25
                ("view", 2, {"item_id": "i2", "watch_seconds": 90.0, "video_seconds": 60.0}),  # capped at 1
                ("view", 3, {"item_id": "i3", "watch_seconds": 10.0}),  # unknown length: 0.5
                ("purchase", 4, {"item_id": "i4", "revenue": 99}),
                ("purchase", 5, {"item_id": "i5", "revenue": 99}),
                ("refund", 6, {"item_id": "i5", "revenue": 99}),  # takes the purchase back
                ("like", 7, {"item_id": "i6"}),
                ("impression", 8, {"item_id": "i7"}),  # impressions alone make no interaction
            ]
        },
    )
    m = build_matrix(store, AlsParams())
    got = {m.item_ids[j]: float(v) for j, v in zip(m.weights.indices, m.weights.data)}
    assert got == pytest.approx({"i1": 0.25, "i2": 1.0, "i3": 0.5, "i4": 8.0, "i6": 2.0})
    assert list(m.user_ids) == ["u"]


def test_catalog_duration_is_used_when_the_event_has_no_length(store):
    insert_events(store, {"u": [("view", 0, {"item_id": "i1", "watch_seconds": 30.0})]})
    insert_items(store, [{"item_id": "i1", "duration_seconds": 120.0}])
    assert build_matrix(store).weights.data.tolist() == pytest.approx([0.25])


def test_time_decay_halves_the_weight_per_half_life(store):
    day = 86400
    insert_events(store, {"u": [("like", 0, {"item_id": "old"}), ("like", 2 * day, {"item_id": "new"})]})
    m = build_matrix(store, AlsParams(half_life_days=2.0))
    got = {m.item_ids[j]: float(v) for j, v in zip(m.weights.indices, m.weights.data)}
    assert got == pytest.approx({"old": 1.0, "new": 2.0})


def test_custom_weights_and_filters(store):
    insert_events(store, {"u": [("like", 0, {"item_id": "i1", "channel": "douyin"}),
                                ("share", 0, {"item_id": "i2", "channel": "bilibili"})]})
    m = build_matrix(store, AlsParams(weights={"like": 5}), Filters(channels=("douyin",)))
    assert list(m.item_ids) == ["i1"] and m.weights.data.tolist() == [5.0]


@pytest.mark.parametrize("weighting", ["bm25", "tfidf"])
def test_reweighting_keeps_the_pattern_and_stays_positive(board, weighting):
    m = build_matrix(board)
    w = rec.apply_weighting(m.weights, weighting)
    assert (w != 0).toarray().tolist() == (m.weights != 0).toarray().tolist()
    assert (w.data > 0).all()


def test_confidence_is_one_plus_alpha_times_weight():
    m = InteractionMatrix.from_arrays(["u", "u"], ["a", "b"], [0.5, 2.0])
    assert m.confidence(AlsParams(alpha=4.0)).data.tolist() == pytest.approx([3.0, 9.0])


@given(st.lists(st.tuples(st.sampled_from("uvwxyz"), st.sampled_from("abcde"), st.floats(0.01, 100)), min_size=1))
def test_matrix_sums_duplicate_pairs_and_maps_ids_both_ways(triples):
    users, items, weights = zip(*triples)
    m = InteractionMatrix.from_arrays(list(users), list(items), list(weights))
    expected: dict[tuple[str, str], float] = {}
    for u, i, w in triples:
        expected[(u, i)] = expected.get((u, i), 0.0) + w
    dense = m.weights.toarray()
    for (u, i), w in expected.items():
        assert dense[m.user_index[u], m.item_index[i]] == pytest.approx(w, rel=1e-5)
    assert m.nnz == len(expected)
    assert all(m.user_ids[m.user_index[u]] == u for u in users)
    assert list(m.item_ids) == sorted(set(items))


@pytest.mark.parametrize(
    "kwargs",
    [{"factors": 0}, {"iterations": 0}, {"alpha": 0}, {"regularization": -1}, {"weights": {"watch": 1}},
     {"gpu": "maybe"}, {"half_life_days": 0}, {"weighting": "idf"}],
)
def test_bad_parameters_are_bad_input(kwargs):
    with pytest.raises(BadInput):
        AlsParams(**kwargs)


# -- training and serving ------------------------------------------------------------------
def test_checkerboard_recommends_the_one_missing_item_of_the_users_block(board):
    model = get_model(board, SMALL)
    for block, items in (("a", X_ITEMS), ("b", Y_ITEMS)):
        for n in range(12):
            top = model.recommend(f"{block}{n}", k=1)
            assert [r.item for r in top] == [items[n % 6]]


def test_explanations_sum_to_the_score(board):
    model = get_model(board, SMALL)
    for r in model.recommend("a1", k=4, explain_top=100):
        # the score is the stored factor's; the contributions decompose the exact re-solve (float32 apart)
        assert sum(c.contribution for c in r.because) == pytest.approx(r.score, rel=1e-4, abs=1e-6)
        explained = model.explain("a1", r.item)
        assert explained.score == pytest.approx(r.score, rel=1e-4)
        assert sum(c.contribution for c in explained.contributions) == pytest.approx(explained.score, rel=1e-9)
        assert {c.item for c in explained.contributions} == set(X_ITEMS) - {"x1"}
    top = model.recommend("a1", k=1)[0]
    assert top.reasons and all(c.contribution > 0 for c in top.reasons)
    assert len({c.item for c in top.because}) == len(top.because)  # distinct items
    assert top.reasons[0].title.startswith("Excel lesson")
    assert "because_text" not in top.to_dict()  # the library returns data; the CLI and the page word it


def test_every_path_scores_alike(board):
    # recommend --user, recommend --all, audiences and the page all read the same stored factors
    from analytics.recsys.audiences import item_audience

    model = get_model(board, SMALL)
    table = model.recommend_all(3).to_pandas()
    for user in ("a0", "a7", "b3"):
        one = model.recommend(user, 3)
        batch = table[table["user"] == user]
        assert [r.item for r in one] == batch["item"].tolist()
        np.testing.assert_allclose([r.score for r in one], batch["score"].to_numpy(), rtol=1e-5, atol=1e-6)
        panel = user_panel(board, model, user, 3)
        assert [(r.item, r.score) for r in panel.recommendations] == [(r.item, r.score) for r in one]
    audience = item_audience(board, model, "x2", k=2)
    for member in audience.users:
        np.testing.assert_allclose(member.score, model.scores([member.user], ["x2"])[0, 0], rtol=1e-5)
        mine = {r.item: r.score for r in model.recommend(member.user, 12)}
        np.testing.assert_allclose(member.score, mine["x2"], rtol=1e-5, atol=1e-6)


def test_stored_user_factors_are_the_exact_solve(board):
    model = get_model(board, SMALL)
    for user in ("a0", "b5"):
        np.testing.assert_allclose(model.user_factors[model.user_index[user]], model.user_factor(user), rtol=1e-4, atol=1e-5)


def test_exact_user_factor_matches_implicit_recalculate_user(board):
    model = get_model(board, SMALL)
    row = model.history_row("b3")
    np.testing.assert_allclose(model.user_factor("b3"), model.als.recalculate_user(0, row), rtol=1e-3, atol=1e-5)


def test_saving_and_loading_gives_identical_recommendations(board):
    trained = get_model(board, SMALL)
    assert not trained.loaded
    files = sorted(p.name for p in (board.data_dir / "models").iterdir())
    assert files == [f"als-{trained.fingerprint}.json", f"als-{trained.fingerprint}.npz"]
    rec.clear_cache()
    loaded = get_model(board, SMALL)
    assert loaded.loaded and loaded.fingerprint == trained.fingerprint
    np.testing.assert_array_equal(loaded.item_factors, trained.item_factors)
    for user in ("a0", "b5"):
        assert loaded.recommend(user, 5) == trained.recommend(user, 5)
    assert loaded.recommend_all(3).equals(trained.recommend_all(3))
    with np.load(board.data_dir / "models" / f"als-{trained.fingerprint}.npz", allow_pickle=False) as data:
        assert "user_factors" in data  # readable without pickle


def test_model_is_reused_until_data_or_parameters_change(board):
    first = get_model(board, SMALL)
    assert get_model(board, SMALL) is first
    assert get_model(board, AlsParams(**{**SMALL.to_dict(), "gpu": "off"})).fingerprint == first.fingerprint
    other = get_model(board, AlsParams(**{**SMALL.to_dict(), "factors": 3}))
    assert other.fingerprint != first.fingerprint
    insert_events(board, {"a0": [("like", 999, {"item_id": "x0"})]})
    assert get_model(board, SMALL).fingerprint != first.fingerprint


def test_training_is_deterministic_with_the_seed(board):
    a = rec.train(build_matrix(board), SMALL)
    b = rec.train(build_matrix(board), SMALL)
    np.testing.assert_array_equal(a.user_factors, b.user_factors)


def test_progress_is_reported_per_iteration(board):
    seen = []
    get_model(board, SMALL, progress=lambda f, step="", **values: seen.append((f, step, values)))
    iterations = [values for f, step, values in seen if step == "als_iteration"]
    assert iterations == [{"iteration": i, "iterations": SMALL.iterations} for i in range(1, SMALL.iterations + 1)]
    assert seen[-1][0] == 1.0


def test_filters_on_recommendations(board):
    model = get_model(board, SMALL)
    assert [r.item for r in model.recommend("a0", 12, only_purchasable=True)] == ["x0"]
    assert model.recommend("a3", 12, only_purchasable=True) == []  # a3 has seen x0 already
    assert {r.item for r in model.recommend("a3", 12, category="fitness")} == set(Y_ITEMS)
    with_seen = model.recommend("a3", 12, filter_seen=False)
    assert len(with_seen) == 12 and {r.item for r in with_seen} == set(X_ITEMS + Y_ITEMS)
    assert model.recommend("a0", 50) and len(model.recommend("a0", 50)) == 7  # 12 items - 5 seen


def test_unseen_user_is_folded_in_from_their_events(board):
    model = get_model(board, SMALL)
    insert_events(board, {"newbie": [("view", 5000, {"item_id": "y0", "watch_seconds": 60.0, "video_seconds": 60.0}),
                                     ("like", 5001, {"item_id": "y1"})]})
    recs = model.recommend("newbie", 3)
    assert {r.item for r in recs} <= set(Y_ITEMS) - {"y0", "y1"}
    panel = user_panel(board, model, "newbie", 3)
    assert panel.status == "cold_start" and len(panel.recommendations) == 3
    assert panel.history["item"].tolist() == ["y1", "y0"]
    assert user_panel(board, model, "nobody", 3).status == "unknown_user"
    direct = model.recommend("someone", 2, history={"x1": 1.0, "x2": 1.0})
    assert {r.item for r in direct} <= set(X_ITEMS)


def test_history_watch_ratio_follows_the_shared_definition(store):
    # the ratio of analytics.query.definitions: NULL without a watch time, the catalog length when the event has none
    insert_items(store, [{"item_id": "c1", "title": "Catalog length", "duration_seconds": 100.0}])
    insert_events(store, {"u": [
        ("view", 0, {"item_id": "c1", "watch_seconds": 25.0}),  # catalog length -> 0.25
        ("view", 60, {"item_id": "c1", "watch_seconds": None, "video_seconds": 50.0}),  # no watch time -> NULL
        ("view", 120, {"item_id": "v9", "watch_seconds": 80.0, "video_seconds": 40.0}),  # capped at 1
        ("like", 180, {"item_id": "c1"}),
    ]})
    history = rec.user_history(store, "u", timezone="UTC")
    assert history["event_type"].tolist() == ["like", "view", "view", "view"]
    ratios = history["watch_ratio"].tolist()
    assert np.isnan(ratios[0]) and ratios[1] == 1.0 and np.isnan(ratios[2]) and ratios[3] == pytest.approx(0.25)
    assert history["title"].tolist()[-1] == "Catalog length"


def test_user_panel_history_is_in_local_time(board):
    model = get_model(board, SMALL)
    panel = user_panel(board, model, "a1", 3, timezone="Asia/Shanghai")
    assert panel.status == "ok"
    assert str(panel.history["time"].iloc[-1]) == "2026-01-05 20:00:00"  # T0 is 12:00 UTC
    with pytest.raises(BadInput):
        user_panel(board, model, "  ", 3)


def test_similar_items_audience_and_scores(board):
    model = get_model(board, SMALL)
    assert {s.id for s in model.similar_items("x0", 5)} == set(X_ITEMS) - {"x0"}
    scores = model.item_scores("x2")
    assert scores.shape == (24,) and scores[model.user_index["a2"]] > scores[model.user_index["b2"]]
    s = model.scores(["a0", "b0"], ["x0", "y0"])
    assert s.shape == (2, 2) and s[0, 0] > s[0, 1] and s[1, 1] > s[1, 0]
    with pytest.raises(NotFound):
        model.similar_items("zzz")
    with pytest.raises(NotFound):
        model.scores(["ghost"], ["x0"])


def test_recommend_all_matches_bare_implicit(board):
    model = get_model(board, SMALL)
    table = model.recommend_all(2).to_pandas()
    assert list(table.columns) == ["user", "rank", "item", "score"]
    assert len(table) == 24 * 2
    ids, scores = model.als.recommend(np.arange(24), model.user_items, N=2)
    first = table[table["user"] == model.user_ids[0]]
    assert first["item"].tolist() == [model.item_ids[i] for i in ids[0]]
    assert first["score"].to_numpy() == pytest.approx(scores[0])


def test_no_interactions_is_not_found(store):
    insert_events(store, {"u": [("impression", 0)]})
    with pytest.raises(NotFound, match="no interactions"):
        get_model(store, SMALL)


# -- devices --------------------------------------------------------------------------------
def test_gpu_on_without_cuda_is_a_clear_error(board, monkeypatch):
    import implicit.gpu

    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", False)
    with pytest.raises(BadInput, match="CUDA is not available"):
        get_model(board, AlsParams(factors=4, gpu="on"))
    model = get_model(board, AlsParams(factors=4, gpu="auto"))
    assert model.device == "cpu" and model.summary()["device"] == "cpu"


def test_use_gpu_is_always_passed_explicitly(board, monkeypatch):
    import implicit.als

    calls = []
    real = implicit.als.AlternatingLeastSquares

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(implicit.als, "AlternatingLeastSquares", spy)
    rec.train(build_matrix(board), AlsParams(factors=4, gpu="off"))
    assert calls and calls[0]["use_gpu"] is False


def test_gpu_failure_falls_back_to_cpu_in_auto_mode(board, monkeypatch):
    import implicit.gpu

    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", True)
    real = rec._new_als

    def flaky(params, use_gpu, num_threads=0):
        if use_gpu:
            raise RuntimeError("CUDA driver error")
        return real(params, use_gpu, num_threads)

    monkeypatch.setattr(rec, "_new_als", flaky)
    model = rec.train(build_matrix(board), AlsParams(factors=4, gpu="auto"))
    assert model.device == "cpu" and "CUDA driver error" in model.device_note
    with pytest.raises(BadInput, match="GPU training failed"):
        rec.train(build_matrix(board), AlsParams(factors=4, gpu="on"))


def test_search_users(board):
    model = get_model(board, SMALL)
    assert rec.search_users(model, "A1")[:3] == ["a1", "a10", "a11"]
    assert rec.search_users(model, "", limit=2) == ["a0", "a1"]
    assert rec.search_users(model, "zzz") == []


@pytest.fixture(scope="module")
def board_model(tmp_path_factory):
    from analytics.store.storage import Store

    s = Store(tmp_path_factory.mktemp("board") / "b.duckdb")
    checkerboard(s)
    model = get_model(s, SMALL)
    yield model
    s.close()


@given(st.dictionaries(st.sampled_from(X_ITEMS + Y_ITEMS), st.floats(0.05, 20.0), min_size=1, max_size=6),
       st.integers(1, 12))
def test_law_contributions_add_up_to_the_score_for_any_history(board_model, history, k):
    recs = board_model.recommend("visitor", k, history=history, explain_top=100)
    assert len(recs) == min(k, 12 - len(history))
    assert not {r.item for r in recs} & set(history)
    for r in recs:
        assert sum(c.contribution for c in r.because) == pytest.approx(r.score, rel=1e-7, abs=1e-9)
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)


def test_only_the_newest_models_are_kept_and_a_broken_file_is_retrained(board):
    for factors in (2, 3, 4, 5):
        get_model(board, AlsParams(factors=factors, iterations=2))
    assert len(list((board.data_dir / "models").glob("als-*.json"))) == 3
    model = get_model(board, SMALL)
    (board.data_dir / "models" / f"als-{model.fingerprint}.npz").write_bytes(b"not a model")
    rec.clear_cache()
    again = get_model(board, SMALL)
    assert not again.loaded and again.recommend("a0", 1)[0].item == "x0"
