"""Spark ML's implicit-feedback ALS run where the data is: on the Spark engine of an :class:`IbisSource`.

The store owns every engine session; this is the one place that hands a query's rows to Spark ML.
It returns plain arrays (ids in sorted order and their factors), so the recommender never sees a
Spark object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from analytics.errors import BadInput
from analytics.store.storage import IbisSource, Source


@dataclass(frozen=True)
class SparkAlsFactors:
    """Factors learnt by Spark ML, rows in the sorted order of the ids (the interaction matrix's order)."""

    pairs: pa.Table  # the ratings as collected: user_id, item_id, weight
    user_ids: list[str]
    item_ids: list[str]
    user_factors: np.ndarray  # float32, users x rank
    item_factors: np.ndarray  # float32, items x rank


def spark_session(source: Source):
    """The SparkSession behind ``source``; :class:`BadInput` when the source is not on Spark."""
    backend = source._backend() if isinstance(source, IbisSource) else None
    session = getattr(backend, "_session", None)
    if session is None:
        raise BadInput("Spark ML ALS needs the Spark engine (--engine spark)", code="not_spark", engine=source.engine)
    return session


def fit_spark_als(source: Source, ratings, *, rank: int, iterations: int, regularization: float, alpha: float,
                  seed: int) -> SparkAlsFactors:
    """Fit ``pyspark.ml.recommendation.ALS(implicitPrefs=True)`` on the ibis table ``ratings``
    (``user_id``, ``item_id``, ``weight`` > 0, one row per pair), on the source's Spark engine; the
    rows are computed once (cached on Spark) and also returned as collected (``pairs``).

    Users and items are numbered on Spark by their ids in ascending order (``StringIndexer``,
    ``alphabetAsc``), the order of :class:`analytics.recsys.recommend.InteractionMatrix`. Spark's
    confidence is ``1 + alpha * weight`` (Hu et al. 2008), as the implicit model's.
    """
    session = spark_session(source)
    from pyspark.ml.feature import StringIndexer
    from pyspark.ml.recommendation import ALS

    with source._engine_errors():
        df = session.sql(source._backend().compile(ratings.select("user_id", "item_id", "weight"))).cache()
        pairs = df.toArrow()
        if pairs.num_rows == 0:
            df.unpersist()
            empty = np.zeros((0, int(rank)), dtype=np.float32)
            return SparkAlsFactors(pairs, [], [], empty, empty)
        indexers = [StringIndexer(inputCol=c, outputCol=f"{c}_n", stringOrderType="alphabetAsc").fit(df)
                    for c in ("user_id", "item_id")]
        rows = df
        for indexer in indexers:
            rows = indexer.transform(rows)
        rows = rows.selectExpr("CAST(user_id_n AS INT) AS u", "CAST(item_id_n AS INT) AS i", "CAST(weight AS FLOAT) AS w")
        als = ALS(rank=int(rank), maxIter=int(iterations), regParam=float(regularization), alpha=float(alpha),
                  implicitPrefs=True, seed=int(seed), userCol="u", itemCol="i", ratingCol="w", nonnegative=False)
        model = als.fit(rows)
        users = _factors(model.userFactors, len(indexers[0].labels), rank)
        items = _factors(model.itemFactors, len(indexers[1].labels), rank)
        df.unpersist()
    return SparkAlsFactors(pairs, list(indexers[0].labels), list(indexers[1].labels), users, items)


def _factors(frame, n: int, rank: int) -> np.ndarray:
    """A Spark ML factor frame (``id``, ``features``) as a dense array, row ``id`` at position ``id``."""
    table = frame.toArrow()
    out = np.zeros((n, int(rank)), dtype=np.float32)
    ids = table["id"].to_numpy()
    flat = table["features"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    out[ids] = flat.reshape(len(ids), int(rank))
    return out
