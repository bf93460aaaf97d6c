"""Self-tuning: the validation split, the search, fixed values, the budget, reuse of a saved search."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analytics.errors import BadInput
from analytics.recsys.models import get_model
from analytics.recsys.ranking import holdout_random
from analytics.recsys.recommend import (
    AlsParams,
    InteractionMatrix,
    build_matrix,
    clear_cache,
)
from analytics.recsys.tuning import TuneSettings, search, tuned_params
from tests.helpers import insert_events
from tests.unit.test_recommend import SMALL, _fresh_cache, board  # noqa: F401 (fixtures)

FEW = TuneSettings(max_trials=4)


def test_search_keeps_the_best_trial_and_starts_from_the_given_values(board):
    matrix = build_matrix(board)
    result = search(matrix, SMALL, FEW)
    assert result.status == "ok" and len(result.trials) == 4 and result.stopped == "trials"
    first = result.trials[0]
    assert (first.factors, first.regularization, first.alpha, first.weighting) == (4, 0.1, 5.0, "none")
    assert result.given_ndcg == first.ndcg
    best = max(result.trials, key=lambda t: t.ndcg)
    assert result.validation_ndcg == best.ndcg >= result.given_ndcg
    p = result.params
    assert (p.factors, p.regularization, p.alpha, p.weighting) == (best.factors, best.regularization, best.alpha, best.weighting)
    assert p.iterations == SMALL.iterations and p.seed == SMALL.seed  # untuned values are kept
    again = search(matrix, SMALL, FEW)
    assert again.trials == tuple(t.__class__(**{**t.__dict__, "seconds": a.seconds}) for t, a in zip(result.trials, again.trials))


def test_fixed_values_stay_in_every_trial(board):
    result = search(build_matrix(board), SMALL, TuneSettings(max_trials=6, fixed=frozenset({"factors", "weighting"})))
    assert {t.factors for t in result.trials} == {4} and {t.weighting for t in result.trials} == {"none"}
    assert len({(t.regularization, t.alpha) for t in result.trials}) == 6


def test_regularization_is_searched_on_a_log_scale_from_001_to_100(board):
    result = search(build_matrix(board), SMALL, TuneSettings(max_trials=30))
    regs = np.array([t.regularization for t in result.trials[1:]])
    assert regs.min() >= 0.01 and regs.max() <= 100.0
    assert regs.min() < 0.1 and regs.max() > 10.0  # four decades are explored


def test_the_budget_stops_the_search_after_the_first_trial(board):
    result = search(build_matrix(board), SMALL, TuneSettings(budget_seconds=1e-9))
    assert len(result.trials) == 1 and result.stopped == "budget" and result.params == SMALL


def test_not_enough_data_keeps_the_given_values():
    one_each = InteractionMatrix.from_arrays(["u", "v"], ["a", "b"], [1.0, 1.0])
    result = search(one_each, SMALL, FEW)
    assert result.status == "not_enough_data" and result.params == SMALL and not result.trials


def test_validation_split_holds_out_a_share_of_each_user(board):
    matrix = build_matrix(board)
    train, held = holdout_random(matrix, 0.2, seed=3)
    assert train.nnz + sum(len(v) for v in held.values()) == matrix.nnz
    for row, cols in held.items():
        assert len(cols) == 1  # round(0.2 * 5) of each user's five items
        assert not set(cols) & set(train.weights[row].indices)
        assert set(cols) <= set(matrix.weights[row].indices)
    assert holdout_random(matrix, 0.2, seed=3)[1].keys() == held.keys()


def test_saved_search_is_reused_until_the_data_changes(board):
    first = tuned_params(board, SMALL, FEW)
    assert not first.reused
    again = tuned_params(board, SMALL, FEW)
    assert again.reused and again.params == first.params and again.validation_ndcg == first.validation_ndcg
    assert tuned_params(board, SMALL, TuneSettings(max_trials=4, budget_seconds=30)).reused is False  # another budget
    insert_events(board, {"a0": [("like", 999, {"item_id": "x0"})]})
    assert not tuned_params(board, SMALL, FEW).reused


def test_tuned_model_stores_and_shows_the_chosen_values(board):
    model = get_model(board, SMALL, tune=FEW)
    assert model.tuning["status"] == "ok" and len(model.tuning["trials"]) == 4
    chosen = model.tuning["chosen"]
    assert (model.params.factors, model.params.regularization, model.params.alpha, model.params.weighting) == (
        chosen["factors"], chosen["regularization"], chosen["alpha"], chosen["weighting"])
    doc = json.loads((board.data_dir / "models" / f"als-{model.fingerprint}.json").read_text())
    assert doc["tuning"]["validation_ndcg"] == model.tuning["validation_ndcg"]
    clear_cache()
    loaded = get_model(board, SMALL, tune=FEW)
    assert loaded.loaded and loaded.fingerprint == model.fingerprint and loaded.tuning == model.tuning
    assert get_model(board, SMALL).tuning is None  # --no-tune: the given values


def test_bad_settings_are_bad_input():
    with pytest.raises(BadInput):
        TuneSettings(fixed=frozenset({"iterations"}))
    with pytest.raises(BadInput):
        TuneSettings(budget_seconds=0)


def test_the_search_falls_back_to_the_cpu_like_training(board, monkeypatch):
    import implicit.gpu

    import analytics.recsys.recommend as rec

    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", False)
    with pytest.raises(BadInput, match="CUDA is not available"):
        get_model(board, AlsParams(factors=4, gpu="on"), tune=FEW)  # refused before any search
    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", True)
    real = rec._new_als
    devices = []

    def flaky(params, use_gpu, num_threads=0):
        devices.append(use_gpu)
        if use_gpu:
            raise RuntimeError("CUDA driver error")
        return real(params, use_gpu, num_threads)

    monkeypatch.setattr(rec, "_new_als", flaky)
    result = search(build_matrix(board), AlsParams(**{**SMALL.to_dict(), "gpu": "auto"}), FEW)
    assert result.status == "ok" and len(result.trials) == 4
    assert devices.count(True) == 4 and devices.count(False) == 4  # each trial tried the GPU, then ran on the CPU
