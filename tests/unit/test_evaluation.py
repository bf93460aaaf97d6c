"""Offline evaluation: metric definitions, the protocols, intervals, baselines (EASE^R included), the sample data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score, roc_auc_score

from analytics.errors import BadInput
from analytics.recsys.evaluation import (
    MODELS,
    SplitSettings,
    compare,
    ease_weights,
    evaluate,
    popularity_scorer,
    split_interactions,
)
from analytics.recsys.ranking import (
    holdout_random,
    normal_interval,
    ranking_metrics,
    user_metrics,
)
from analytics.recsys.recommend import InteractionMatrix
from analytics.recsys.tuning import TuneSettings
from tests.helpers import insert_events

DAY = 86400


def test_user_metrics_by_hand():
    # ranked 1,2,3,4; relevant {2, 4}: hits at ranks 2 and 4
    m = user_metrics([1, 2, 3, 4], [2, 4], k=4)
    assert m["precision_at_k"] == 0.5
    assert m["recall_at_k"] == 1.0
    assert m["map_at_k"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert m["ndcg_at_k"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    # k smaller than the relevant set: the ideal is capped at k
    m = user_metrics([7, 8], [7, 8, 9], k=2)
    assert m == {"precision_at_k": 1.0, "recall_at_k": pytest.approx(2 / 3), "map_at_k": 1.0, "ndcg_at_k": 1.0}
    # a short list counts the missing places as misses
    assert user_metrics([5], [5], k=3)["precision_at_k"] == pytest.approx(1 / 3)


@given(st.permutations(list(range(8))), st.sets(st.integers(0, 7), min_size=1), st.integers(1, 8))
def test_ndcg_matches_scikit_learn(order, relevant, k):
    # provenance: sklearn.metrics.ndcg_score with binary gains is the independent reference
    scores = np.zeros(8)
    scores[list(order)] = np.arange(8, 0, -1)  # order[0] ranked first
    truth = np.array([[1.0 if i in relevant else 0.0 for i in range(8)]])
    ours = user_metrics(list(order), relevant, k)
    assert ours["ndcg_at_k"] == pytest.approx(ndcg_score(truth, scores[None, :], k=k))
    assert 0.0 <= ours["map_at_k"] <= 1.0 and 0.0 <= ours["precision_at_k"] <= 1.0


def test_ranking_metrics_on_a_literal_case():
    # 3 users x 5 items; user 0 saw item 0, user 1 saw items 1 and 2, user 2 saw item 4
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 1]], dtype=np.float32))
    scores = np.array([[9, 5, 4, 3, 1], [1, 9, 8, 2, 3], [1, 2, 3, 4, 5]], dtype=float)
    test = {0: np.array([3]), 1: np.array([0, 3])}
    m = ranking_metrics("fixed", lambda rows: scores[rows], train, test, k=2)
    # user 0: candidates 1,2,3,4 -> top2 = [1, 2], no hit; user 1: candidates 0,3,4 -> [4, 3], hit at 2
    assert m.precision_at_k == pytest.approx((0 + 0.5) / 2)
    assert m.recall_at_k == pytest.approx((0 + 0.5) / 2)
    assert m.ndcg_at_k == pytest.approx((0 + (1 / math.log2(3)) / (1 + 1 / math.log2(3))) / 2)
    auc0 = roc_auc_score([0, 0, 1, 0], scores[0, [1, 2, 3, 4]])
    auc1 = roc_auc_score([1, 1, 0], scores[1, [0, 3, 4]])
    assert m.auc == pytest.approx((auc0 + auc1) / 2)
    assert m.coverage == pytest.approx(4 / 5)  # items 1, 2, 3, 4
    pop = np.array([1, 1, 1, 0, 1])  # training users per item
    info = -np.log2(np.maximum(pop, 1) / 3)
    assert m.novelty == pytest.approx(np.mean(info[[1, 2, 4, 3]]))
    assert m.users == 2


def test_popularity_scorer_counts_users_not_weights():
    m = InteractionMatrix.from_arrays(["u", "u", "v"], ["a", "b", "b"], [50.0, 1.0, 1.0])
    assert popularity_scorer(m)(np.array([0])).tolist() == [[1.0, 2.0]]


def _two_week_store(store):
    journeys = {}
    for n in range(30):
        group = "x" if n % 2 else "y"
        journeys[f"u{n}"] = [
            ("like", day * DAY + n, {"item_id": f"{group}{(n + day) % 5}"}) for day in range(14)
        ]
    insert_events(store, journeys)


def test_days_split_holds_out_the_last_days(store):
    _two_week_store(store)
    split = split_interactions(store, SplitSettings("days", holdout_days=3))
    assert split.description["holdout_days"] == 3
    assert split.train.nnz > 0
    # every relevant item is new for the user and known to the training matrix
    for u, cols in split.test.items():
        seen = set(split.train.weights[u].indices)
        assert not seen & set(cols.tolist())


def test_last_k_split_partitions_each_users_pairs(store):
    insert_events(store, {
        "u": [("like", t, {"item_id": f"i{t}"}) for t in range(5)],
        "v": [("like", 0, {"item_id": "i0"}), ("like", 1, {"item_id": "i1"})],
        "w": [("like", 9, {"item_id": "i4"})],  # a single item stays in training
    })
    split = split_interactions(store, SplitSettings("last_k", last_k=2))
    train = {(split.train.user_ids[r], split.train.item_ids[c]) for r, c in zip(*split.train.weights.nonzero())}
    assert train == {("u", "i0"), ("u", "i1"), ("u", "i2"), ("v", "i0"), ("v", "i1"), ("w", "i4")}
    test = {split.train.user_ids[u]: sorted(split.train.item_ids[c] for c in cols) for u, cols in split.test.items()}
    assert test == {"u": ["i4"]}  # i3 never appears in training, so it cannot be scored


@settings(max_examples=15)
@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]),
                       st.lists(st.tuples(st.sampled_from(["i1", "i2", "i3", "i4", "i5"]), st.integers(0, 20)),
                                min_size=1, max_size=6), min_size=1),
       st.integers(1, 3))
def test_last_k_split_train_plus_held_out_is_the_input(tmp_path_factory, journeys, k):
    from analytics.store.storage import Store

    store = Store(tmp_path_factory.mktemp("split") / "s.duckdb")
    try:
        insert_events(store, {u: [("like", t, {"item_id": i}) for i, t in evs] for u, evs in journeys.items()})
        split = split_interactions(store, SplitSettings("last_k", last_k=k))
        pairs = {(u, i) for u, evs in journeys.items() for i, _ in evs}
        train = {(split.train.user_ids[r], split.train.item_ids[c]) for r, c in zip(*split.train.weights.nonzero())}
        held = {(u, i) for u, evs in journeys.items() for i in {i for i, _ in evs}
                if len({i for i, _ in evs}) > k and (u, i) not in train}
        assert train | held == pairs and not train & held
        assert all(len({i for i, _ in evs} - {i for (uu, i) in train if uu == u}) <= k for u, evs in journeys.items())
    finally:
        store.close()


def test_not_enough_data_is_a_status(store):
    insert_events(store, {"u": [("like", 0, {"item_id": "a"})]})
    result = evaluate(store, k=5, split=SplitSettings("random"))
    assert result.status == "not_enough_data" and result.reason == "too_small"
    assert result.details == {"users": 1, "items": 1}
    assert result.to_dict()["models"] == {}


def test_time_split_refuses_with_too_few_test_users_and_auto_falls_back_to_random(store):
    # item i<d> appears on day d and each user likes it 0-3 days later: 30 users, below 200 test users
    insert_events(store, {f"u{n}": [("like", (d + n % 4) * DAY + n, {"item_id": f"i{d}"}) for d in range(14)] for n in range(30)})
    refused = evaluate(store, k=3, split=SplitSettings("days"), models=("popularity",))
    assert refused.status == "too_few_test_users" and refused.reason == "too_few_test_users"
    assert refused.details == {"test_users": refused.split["test_users"], "minimum": 200} and refused.details["test_users"] > 0
    auto = split_interactions(store, SplitSettings())
    assert auto.description["mode"] == "random"
    assert auto.description["chosen"]["why"] == "time_split_too_few_users"
    assert auto.description["chosen"]["time_test_users"] == refused.details["test_users"]
    lenient = split_interactions(store, SplitSettings(min_test_users=5))
    assert lenient.description["mode"] == "days" and lenient.description["chosen"]["why"] == "time_split_has_enough_users"


def test_random_split_is_stratified_per_user_and_seeded():
    users = [f"u{n}" for n in range(20) for _ in range(n % 9 + 1)]
    items = [f"i{m}" for n in range(20) for m in range(n % 9 + 1)]
    matrix = InteractionMatrix.from_arrays(users, items, np.ones(len(users)))
    train, test = holdout_random(matrix, 0.25, seed=5)
    for row in range(matrix.shape[0]):
        n = matrix.weights[row].nnz
        held = test.get(row, np.array([], dtype=int))
        assert len(held) == (min(int(np.floor(0.25 * n + 0.5)), n - 1) if n >= 2 else 0)
        assert sorted(set(held) | set(train.weights[row].indices)) == sorted(matrix.weights[row].indices)
    again = holdout_random(matrix, 0.25, seed=5)[1]
    assert all(np.array_equal(again[r], test[r]) for r in test) and again.keys() == test.keys()
    assert any(not np.array_equal(holdout_random(matrix, 0.25, seed=6)[1].get(r, []), test[r]) for r in test)


def test_intervals_are_normal_over_users_and_comparisons_are_paired():
    values = np.array([0.0, 1.0, 0.5, 0.25, np.nan])
    low, high = normal_interval(values)
    v = values[:4]
    half = 1.959963984540054 * v.std(ddof=1) / 2
    assert (low, high) == pytest.approx((v.mean() - half, v.mean() + half))
    train = sp.csr_matrix(np.zeros((4, 6), dtype=np.float32))
    test = {u: np.array([u]) for u in range(4)}
    good = ranking_metrics("good", lambda rows: np.eye(6)[rows] * 10 + 1, train, test, k=1)
    bad = ranking_metrics("bad", lambda rows: np.tile(np.arange(6, 0, -1.0), (len(rows), 1)), train, test, k=1)
    assert good.ndcg_at_k == 1.0 and bad.ndcg_at_k == 0.25  # bad always puts item 0 first
    c = compare(good, bad)
    assert c.difference == pytest.approx(0.75) and c.model == "good" and c.other == "bad"
    assert c.ci_low == pytest.approx(0.75 - 1.959963984540054 * 0.5 / 2)
    assert good.interval("ndcg_at_k") == (1.0, 1.0)


def test_ease_is_steck_closed_form():
    # B = I - P diag(1/diag P), P = (XᵀX + λI)⁻¹: the minimiser of ||X - XB||² + λ||B||² with diag(B) = 0
    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((30, 8)) < 0.4).astype(np.float32))
    lam = 5.0
    B = ease_weights(X, lam)
    assert np.allclose(np.diag(B), 0.0)
    G = (X.T @ X).toarray() + lam * np.eye(8)
    # per column j, the constrained least squares: B[:, j] restricted to i != j solves (G without j) b = (XᵀX)[:, j]
    XtX = (X.T @ X).toarray()
    for j in range(8):
        keep = [i for i in range(8) if i != j]
        expected = np.linalg.solve(G[np.ix_(keep, keep)], XtX[keep, j])
        assert np.allclose(B[keep, j], expected, atol=1e-8)


def test_ease_is_skipped_with_its_reason_when_the_item_matrix_does_not_fit(store):
    _two_week_store(store)
    result = evaluate(store, k=3, split=SplitSettings("random"), models=("popularity", "ease"), ease_memory_bytes=1000)
    assert [m.model for m in result.models] == ["popularity"]
    assert result.skipped["ease"] == {"reason": "too_many_items", "items": 10, "max_items": 7, "memory_mb": 0}
    ran = evaluate(store, k=3, split=SplitSettings("random"), models=("popularity", "ease"))
    assert [m.model for m in ran.models] == ["popularity", "ease"] and ran.ease_lambda in (10.0, 50.0, 200.0, 500.0, 2000.0)


def test_bad_options(store):
    with pytest.raises(BadInput):
        evaluate(store, k=0)
    with pytest.raises(BadInput):
        evaluate(store, models=["als", "random"])
    with pytest.raises(BadInput):
        SplitSettings("weeks")
    with pytest.raises(BadInput):
        SplitSettings("random", fraction=1.0)


QUICK_TUNE = TuneSettings(max_trials=6)


@pytest.fixture(scope="module")
def sample_results(sample_db, tmp_path_factory):
    import shutil

    from analytics.store.storage import Store

    path = tmp_path_factory.mktemp("eval") / "sample.duckdb"
    shutil.copy(sample_db, path)
    store = Store(path)
    try:
        yield {
            "auto": evaluate(store, k=10, tune=QUICK_TUNE),
            "last_k": evaluate(store, k=10, split=SplitSettings("last_k"), tune=QUICK_TUNE, models=("als", "popularity")),
        }
    finally:
        store.close()


def test_als_beats_popularity_clearly_on_the_sample(sample_results):
    result = sample_results["auto"]
    assert result.status == "ok"
    assert result.split["mode"] == "random" and result.split["chosen"]["why"] == "time_split_too_few_users"  # 300 users
    assert {m.model for m in result.models} == set(MODELS)
    for name in ("auto", "last_k"):
        c = sample_results[name].compare("als", "popularity")
        assert c.verdict == "better" and c.difference > 0.3 * sample_results[name].metrics_of("popularity").ndcg_at_k, \
            sample_results[name].table().to_string()
    for m in result.models:
        for name in ("precision_at_k", "recall_at_k", "map_at_k", "ndcg_at_k", "auc", "coverage"):
            assert 0.0 <= m.get(name) <= 1.0
        low, high = m.interval("ndcg_at_k")
        assert low <= m.ndcg_at_k <= high


def test_the_winner_is_stated_with_its_interval(sample_results):
    result = sample_results["auto"]
    win = result.winner()
    best = max(result.models, key=lambda m: m.ndcg_at_k)
    assert win.model == best.model and win.difference >= 0
    doc = result.to_dict()
    assert doc["winner"]["model"] == best.model and doc["winner"]["verdict"] in ("better", "unclear")
    assert set(doc["models"]["als"]["ci95"]) == {"precision_at_k", "recall_at_k", "map_at_k", "ndcg_at_k", "auc"}


def test_als_is_tuned_on_the_training_part_only(sample_results):
    result = sample_results["auto"]
    tuning = result.tuning
    assert tuning.status == "ok" and len(tuning.trials) == 6
    assert result.params == tuning.params
    # the validation users are the training part's users holding out 20% of their training items
    assert tuning.validation_users <= result.train_users
