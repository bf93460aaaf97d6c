"""Held-out ranking quality: a seeded per-user holdout, ranking metrics with intervals over users,
and the ALS scorer; shared by the evaluation of models and the search of their parameters."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from analytics.errors import BadInput
from analytics.progress import Progress, no_progress
from analytics.recsys.recommend import (
    AlsParams,
    InteractionMatrix,
    fit_on_device,
)

if TYPE_CHECKING:
    pass

Protocol = Literal["auto", "random", "last_k", "days"]

Z95 = 1.959963984540054
USER_METRICS: tuple[str, ...] = ("precision_at_k", "recall_at_k", "map_at_k", "ndcg_at_k", "auc")


def holdout_random(matrix: InteractionMatrix, fraction: float = 0.25, seed: int = 0) -> tuple[InteractionMatrix, dict[int, np.ndarray]]:
    """Hold out ``round(fraction * n)`` (at most ``n - 1``) random items of each user with ``n >= 2`` items.

    Returns the training matrix (same rows and columns) and the held-out columns per user row.
    """
    W = matrix.weights.tocsr()
    counts = np.diff(W.indptr)
    rows = np.repeat(np.arange(W.shape[0]), counts)
    order = np.lexsort((np.random.default_rng(seed).random(W.nnz), rows))
    position = np.empty(W.nnz, dtype=np.int64)
    position[order] = np.arange(W.nnz) - W.indptr[rows]  # rows is sorted, so rows[order] == rows
    n_test = np.where(counts >= 2, np.minimum(np.floor(fraction * counts + 0.5), counts - 1), 0).astype(np.int64)
    held = position < n_test[rows]
    keep = ~held
    train = sp.csr_matrix((W.data[keep], W.indices[keep], np.concatenate([[0], np.cumsum(counts - n_test)])),
                          shape=W.shape, dtype=np.float32)
    test_rows, test_cols = rows[held], W.indices[held]
    bounds = np.flatnonzero(np.diff(test_rows)) + 1
    test = {int(r[0]): np.sort(c) for r, c in zip(np.split(test_rows, bounds), np.split(test_cols, bounds)) if r.size}
    return InteractionMatrix.from_csr(matrix.user_ids, matrix.item_ids, train), test


def normal_interval(values: np.ndarray) -> tuple[float, float]:
    """95% normal-approximation interval of the mean of ``values`` (NaNs left out); NaNs below 2 values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan"), float("nan")
    half = Z95 * v.std(ddof=1) / math.sqrt(v.size)
    return float(v.mean() - half), float(v.mean() + half)


@dataclass(frozen=True)
class ModelMetrics:
    model: str
    precision_at_k: float
    recall_at_k: float
    map_at_k: float
    ndcg_at_k: float
    auc: float
    coverage: float
    novelty: float
    users: int
    seconds: float
    per_user: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)  # USER_METRICS, test-user order

    def get(self, metric: str) -> float:
        return float(getattr(self, metric))

    def interval(self, metric: str) -> tuple[float, float]:
        """95% interval over users of a metric in :data:`USER_METRICS`, clipped to the metric's range [0, 1]."""
        low, high = normal_interval(self.per_user[metric])
        return max(low, 0.0), min(high, 1.0)


def user_metrics(ranked: Sequence[int], relevant: Sequence[int], k: int) -> dict[str, float]:
    """Precision, recall, AP and NDCG at ``k`` of one ranked list against a set of relevant ids."""
    rel = set(int(r) for r in relevant)
    hits = np.array([int(i) in rel for i in list(ranked)[:k]] + [False] * max(0, k - len(ranked)), dtype=float)
    n_rel = len(rel)
    if n_rel == 0:
        raise BadInput("a user without relevant items cannot be scored", code="no_relevant")
    positions = np.arange(1, k + 1)
    precision_at_i = np.cumsum(hits) / positions
    discounts = 1.0 / np.log2(positions + 1)
    ideal = discounts[: min(k, n_rel)].sum()
    return {
        "precision_at_k": hits.sum() / k,
        "recall_at_k": hits.sum() / n_rel,
        "map_at_k": float((precision_at_i * hits).sum() / min(k, n_rel)),
        "ndcg_at_k": float((hits * discounts).sum() / ideal),
    }


def ranking_metrics(name: str, scorer: Callable[[np.ndarray], np.ndarray], train: sp.csr_matrix,
                    test: dict[int, np.ndarray], k: int, batch_size: int = 512, auc: bool = True) -> ModelMetrics:
    """Score every test user with ``scorer`` (rows -> dense user x item scores) and average the metrics.

    ``auc=False`` skips the AUC (a full ranking per user), e.g. while tuning.
    """
    start = time.perf_counter()
    n_users, n_items = train.shape
    popularity = np.asarray((train > 0).sum(axis=0)).ravel()
    self_info = -np.log2(np.maximum(popularity, 1) / max(n_users, 1))
    users = np.array(sorted(test), dtype=np.int64)
    per_user = {m: np.full(len(users), np.nan) for m in USER_METRICS}
    novelty_sum, novelty_n = 0.0, 0
    recommended = np.zeros(n_items, dtype=bool)
    kk = min(k, n_items)
    for b in range(0, len(users), batch_size):
        rows = users[b:b + batch_size]
        scores = np.asarray(scorer(rows), dtype=np.float64)
        seen = train[rows]
        r_idx, c_idx = seen.nonzero()
        scores[r_idx, c_idx] = -np.inf
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        top_scores = np.take_along_axis(top_scores, order, axis=1)
        ranks = rankdata(scores, axis=1) if auc else None  # seen items (-inf) take the lowest ranks
        n_seen = np.diff(seen.indptr)
        for n, u in enumerate(rows):
            at = b + n
            finite = np.isfinite(top_scores[n])
            ranked = top[n][finite]
            for key, value in user_metrics(ranked, test[u], k).items():
                per_user[key][at] = value
            recommended[ranked] = True
            novelty_sum += self_info[ranked].sum()
            novelty_n += ranked.size
            n_pos = len(test[u])
            n_neg = n_items - n_seen[n] - n_pos
            if auc and n_neg > 0:
                cand_ranks = ranks[n, test[u]] - n_seen[n]
                per_user["auc"][at] = (cand_ranks.sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)

    def mean(metric: str) -> float:
        v = per_user[metric]
        v = v[np.isfinite(v)]
        return float(v.mean()) if v.size else float("nan")

    return ModelMetrics(
        model=name,
        precision_at_k=mean("precision_at_k"),
        recall_at_k=mean("recall_at_k"),
        map_at_k=mean("map_at_k"),
        ndcg_at_k=mean("ndcg_at_k"),
        auc=mean("auc"),
        coverage=recommended.sum() / n_items if n_items else 0.0,
        novelty=novelty_sum / novelty_n if novelty_n else float("nan"),
        users=len(users),
        seconds=time.perf_counter() - start,
        per_user=per_user,
    )


def als_scorer(train: InteractionMatrix, params: AlsParams, progress: Progress = no_progress):
    als = fit_on_device(train.confidence(params), params, progress)[0]
    U, V = als.user_factors, als.item_factors
    return lambda rows: U[rows] @ V.T


def sample_users(test: dict[int, np.ndarray], max_users: int | None, seed: int) -> dict[int, np.ndarray]:
    if max_users is None or len(test) <= max_users:
        return test
    rng = np.random.default_rng(seed)
    keep = rng.choice(np.array(sorted(test)), size=max_users, replace=False)
    return {int(u): test[int(u)] for u in sorted(keep)}
