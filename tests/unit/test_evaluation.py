"""Offline evaluation: metric definitions, the time split, baselines, the search, the sample data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score, roc_auc_score

from analytics.errors import BadInput
from analytics.evaluation import (
    MODELS,
    SplitSettings,
    evaluate,
    popularity_scorer,
    ranking_metrics,
    search_params,
    split_interactions,
    user_metrics,
)
from analytics.recommend import AlsParams, InteractionMatrix
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
    result = evaluate(store, k=5)
    assert result.status == "not_enough_data" and result.message
    assert result.to_dict()["models"] == {}


def test_bad_options(store):
    with pytest.raises(BadInput):
        evaluate(store, k=0)
    with pytest.raises(BadInput):
        evaluate(store, models=["als", "random"])
    with pytest.raises(BadInput):
        SplitSettings("weeks")


@pytest.fixture(scope="module")
def sample_results(sample_db, tmp_path_factory):
    import shutil

    from analytics.store.storage import Store

    path = tmp_path_factory.mktemp("eval") / "sample.duckdb"
    shutil.copy(sample_db, path)
    store = Store(path)
    try:
        yield {
            "days": evaluate(store, k=10, search=True),
            "defaults": evaluate(store, k=10, models=("als", "popularity")),
            "last_k": evaluate(store, k=10, split=SplitSettings("last_k"), search=True, models=("als", "popularity")),
        }
    finally:
        store.close()


def test_als_beats_popularity_by_30_percent_on_the_sample(sample_results):
    result = sample_results["days"]
    assert result.status == "ok"
    assert {m.model for m in result.models} == set(MODELS)
    assert result.lift("ndcg_at_k") >= 0.30, result.table().to_string()
    assert sample_results["last_k"].lift("ndcg_at_k") >= 0.30, sample_results["last_k"].table().to_string()
    for m in result.models:
        for name in ("precision_at_k", "recall_at_k", "map_at_k", "ndcg_at_k", "auc", "coverage"):
            assert 0.0 <= m.get(name) <= 1.0


def test_als_with_default_parameters_still_beats_popularity_on_the_sample(sample_results):
    # defaults (64 factors, regularization 0.05) overfit a catalogue this small; the search fixes that
    assert sample_results["defaults"].lift("ndcg_at_k") > 0.0


def test_search_reports_what_it_tried_and_picks_the_best(sample_results):
    search = sample_results["days"].search
    assert search.status == "ok" and len(search.trials) == 12
    best = max(search.trials, key=lambda t: t.ndcg_at_k)
    assert (search.best.factors, search.best.regularization, search.best.alpha) == (best.factors, best.regularization, best.alpha)
    assert sample_results["days"].params == search.best
    doc = sample_results["days"].to_dict()
    assert set(doc["models"]) == set(MODELS) and doc["search"]["best"]["factors"] == best.factors


def test_search_validation_never_sees_the_test_period(sample_store):
    outer = split_interactions(sample_store, SplitSettings())
    result = search_params(sample_store, k=5, grid={"factors": (8,), "regularization": (1.0,), "alpha": (1.0,)}, outer=outer)
    assert result.validation["last_event"] < outer.description["cutoff"]
    assert result.best == AlsParams(factors=8, regularization=1.0, alpha=1.0)
