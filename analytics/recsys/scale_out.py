"""Recommendations when the events live on Spark: two ways to train, one model interface.

``kind="als"`` (the default, :data:`MODEL_KINDS`): the interaction matrix is aggregated where the
events are (the portable ibis query :func:`analytics.recsys.recommend.interaction_weights`, on
DuckDB or on Spark), collected to this process as a sparse COO matrix (one row per user-item pair,
not per event) and trained with ``implicit`` (on the GPU when CUDA is there, else the CPU), exactly
as on DuckDB.

``kind="spark-als"``: the same interaction weights are computed on Spark and Spark ML's
``ALS(implicitPrefs=True)`` trains there (:func:`analytics.store.spark_ml.fit_spark_als`); its
confidence ``1 + alpha * w`` is the implicit model's. The item factors it learns are kept; the user
factors are then re-solved once, exactly, against them (Hu et al. 2008, eq. 4, the final pass the
implicit model also makes), so that every serving path (top-N for one user or all users, the
already-seen and kind exclusions, explanations that add up to the score, users folded in) is the
one of :class:`analytics.recsys.recommend.TrainedModel`. Spark ML scales the regularization by
each user's and item's number of interactions (ALS-WR) while implicit does not: the same
``regularization`` weighs more there. BM25/TF-IDF re-weighting is not available on Spark.

Both return a :class:`TrainedModel` with the same output shape; the serving side (the matrix of
seen items and the factors) lives in this process either way.
"""

from __future__ import annotations

import time
from typing import Literal

from analytics.errors import BadInput, StorageError
from analytics.progress import Progress, no_progress, scaled
from analytics.query.filters import Filters
from analytics.recsys.recommend import (
    AlsParams,
    TrainedModel,
    als_with_factors,
    build_matrix,
    catalog_rows,
    exact_user_pass,
    interaction_weights,
    matrix_from_pairs,
    require_interactions,
    source_events,
    threads_for,
    train,
    utc_now,
)
from analytics.recsys.tuning import TuneSettings, search
from analytics.store.spark_ml import fit_spark_als

ModelKind = Literal["als", "spark-als"]
MODEL_KINDS: tuple[str, ...] = ("als", "spark-als")


def check_model_kind(kind: str) -> ModelKind:
    """``kind`` if it is one of :data:`MODEL_KINDS`; :class:`BadInput` otherwise."""
    if kind not in MODEL_KINDS:
        raise BadInput(f"unknown model {kind!r}; use {' or '.join(MODEL_KINDS)}", code="bad_model_kind", value=kind)
    return kind  # type: ignore[return-value]


def train_on_source(source, params: AlsParams | None = None, kind: ModelKind = "als", filters: Filters | None = None,
                    progress: Progress = no_progress, tune: TuneSettings | None = None) -> TrainedModel:
    """A model of ``kind`` trained on the events of ``source`` (a DuckDB store or a Spark source),
    ready to serve (the catalog read from the source); it is not saved.

    With ``tune`` (``als`` only) the parameters it does not fix are first chosen by
    :func:`analytics.recsys.tuning.search` on the collected matrix. Raises :class:`BadInput` for an
    unknown kind, for ``spark-als`` off Spark, tuned or with a re-weighting, and
    :class:`analytics.errors.NotFound` when there are no interactions to learn from.
    """
    params = params or AlsParams()
    if check_model_kind(kind) == "als":
        progress(0.0, "building_matrix")
        matrix = build_matrix(source, params, filters)
        tuning = None
        if tune is not None:
            found = search(matrix, params, tune, scaled(progress, 0.0, 0.8))
            params, tuning = found.params, found.to_dict()
        return _serving(source, train(matrix, params, progress, tuning=tuning))
    if params.weighting != "none":
        raise BadInput("Spark ML ALS takes the summed weights as they are: use --weighting none", code="bad_als_params",
                       value=params.weighting)
    if tune is not None:
        raise BadInput("Spark ML ALS is trained with the given values (its regularization is scaled per user and "
                       "item, so a search made with implicit does not carry over): use --no-tune",
                       code="bad_tune")
    progress(0.0, "training_spark")
    start = time.perf_counter()
    weights = interaction_weights(source, source_events(source, filters), params)
    fitted = fit_spark_als(source, weights, rank=params.factors, iterations=params.iterations,
                           regularization=params.regularization, alpha=params.alpha, seed=params.seed)
    matrix = matrix_from_pairs(fitted.pairs)
    require_interactions(matrix)
    if fitted.user_ids != list(matrix.user_ids) or fitted.item_ids != list(matrix.item_ids):
        raise StorageError("Spark numbered the users or items unlike the interaction matrix", code="spark_ids")
    user_items = matrix.confidence(params)
    als = als_with_factors(params, fitted.user_factors, fitted.item_factors, matrix.nnz)
    exact_user_pass(user_items, als, params, threads_for(params, matrix.nnz))
    progress(1.0, "trained")
    return _serving(source, TrainedModel(params=params, device="spark", fingerprint="", matrix=matrix,
                                         user_items=user_items, als=als, trained_at=utc_now(),
                                         train_seconds=time.perf_counter() - start))


def _serving(source, model: TrainedModel) -> TrainedModel:
    """``model`` with the source it folds new users in from and the catalog it filters kinds with."""
    model.store = source
    model.set_catalog(catalog_rows(source))
    return model
