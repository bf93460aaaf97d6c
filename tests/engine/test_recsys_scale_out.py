"""Recommendations from events on Spark: the interaction matrix aggregated on Spark is the DuckDB one,
and Spark ML's ALS serves through the same model interface as the implicit one (shape, exclusions)."""

import numpy as np
import pytest

from analytics.errors import BadInput
from analytics.recsys.recommend import AlsParams, build_matrix
from analytics.recsys.scale_out import train_on_source

PARAMS = AlsParams(factors=8, iterations=2, regularization=0.1, alpha=2.0, gpu="off")


def _same_matrix(a, b) -> None:
    assert list(a.user_ids) == list(b.user_ids) and list(a.item_ids) == list(b.item_ids)
    assert (a.weights.indptr == b.weights.indptr).all() and (a.weights.indices == b.weights.indices).all()
    assert a.weights.dtype == b.weights.dtype == np.float32
    assert (a.weights.data == b.weights.data).all()


def test_the_matrix_aggregated_on_spark_is_the_duckdb_one(sample_engines):
    duck, spark = sample_engines
    params = AlsParams(half_life_days=30.0)  # with the decay: both engines age events the same way
    a = build_matrix(duck, params)
    assert a.nnz > 1000
    _same_matrix(a, build_matrix(spark, params))


def _seen(model, user):
    row = model.user_items[model.user_index[user]]
    return {str(model.item_ids[j]) for j in row.indices}


def test_spark_ml_als_serves_like_the_implicit_model(sample_engines):
    duck, spark = sample_engines
    implicit_model = train_on_source(duck, PARAMS)
    spark_model = train_on_source(spark, PARAMS, kind="spark-als")
    assert spark_model.device == "spark"
    _same_matrix(spark_model.matrix, implicit_model.matrix)  # the weights Spark ML trained on
    assert list(spark_model.user_ids) == list(implicit_model.user_ids)
    assert list(spark_model.item_ids) == list(implicit_model.item_ids)
    assert spark_model.user_factors.shape == implicit_model.user_factors.shape
    assert np.abs(spark_model.item_factors).sum() > 0  # learnt on Spark, not left at zero

    a, b = implicit_model.recommend_all(k=5), spark_model.recommend_all(k=5)
    assert a.schema == b.schema
    assert a.num_rows == b.num_rows == 5 * len(spark_model.user_ids)
    for model, table in ((implicit_model, a), (spark_model, b)):
        rows = table.to_pylist()
        assert all(r["item"] not in _seen(model, r["user"]) for r in rows)  # already-seen items excluded

    for model in (implicit_model, spark_model):
        user = str(model.user_ids[0])
        recs = model.recommend(user, k=5, only_purchasable=True)
        assert recs and all(model.catalog[r.item]["purchasable"] for r in recs)
        assert not {r.item for r in recs} & _seen(model, user)
        # explanations add up to the score and a batch score equals the single-user one
        top = model.recommend(user, k=1)[0]
        assert model.explain(user, top.item).score == pytest.approx(top.score, rel=1e-4, abs=1e-6)
        table_row = next(r for r in model.recommend_all(k=1).to_pylist() if r["user"] == user)
        assert table_row["item"] == top.item


def test_spark_ml_als_needs_spark_and_plain_weights(store):
    for kind, params, code in (("spark-als", PARAMS, "not_spark"), ("spark-als", AlsParams(weighting="bm25"), "bad_als_params"),
                               ("spark", PARAMS, "bad_model_kind")):
        with pytest.raises(BadInput) as refused:
            train_on_source(store, params, kind=kind)
        assert refused.value.code == code
