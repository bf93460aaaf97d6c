"""Offline evaluation of the recommender on a time-based split, against baselines.

Split (:class:`SplitSettings`): ``days`` holds out every interaction after a cutoff (the last
``holdout_days``; by default the last 20% of the data's span, at least one day) and trains on what
came before; ``last_k`` holds out each user's ``k`` most recent items (users with more than ``k``
items only). A held-out (user, item) pair is *relevant* when its summed weight is positive, both
user and item exist in the training matrix and the user had not interacted with the item before
(we measure discovery, not repetition). Items seen in training are never recommended.

Metrics at ``k``, averaged over users with at least one relevant item (binary relevance):

* ``precision_at_k`` = hits / k, in [0, 1]
* ``recall_at_k`` = hits / |relevant|, in [0, 1]
* ``map_at_k`` = (1 / min(k, |relevant|)) * sum over ranks i <= k of precision@i * rel_i, in [0, 1]
* ``ndcg_at_k`` = DCG / IDCG with DCG = sum rel_i / log2(i + 1) (Järvelin & Kekäläinen 2002), in [0, 1]
* ``auc``: probability that a relevant item is scored above a non-relevant unseen one (ties count
  half), over the whole catalog, in [0, 1]; 0.5 is random
* ``coverage``: share of the training items that appear in anybody's top-k, in [0, 1]
* ``novelty``: mean self-information -log2(p_i) of recommended items, p_i = share of training users
  who interacted with item i (Zhou et al., PNAS 2010); higher is less obvious

Models: ``als`` (this project's ALS), ``popularity`` (items by number of training users),
``item_knn`` (cosine item-item, ``implicit.nearest_neighbours.CosineRecommender``, K=100) and
``content`` (TF-IDF profile of the user's items, :mod:`analytics.content`; only with a catalog).
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from scipy.stats import rankdata

from analytics.access import Principal, require
from analytics.errors import BadInput
from analytics.progress import Progress, no_progress
from analytics.query.filters import Filters, filtered_events
from analytics.recommend import (
    AlsParams,
    InteractionMatrix,
    fit_als,
    matrix_from_events,
    newest_event_time,
    resolve_device,
    restricting,
    summed_weights,
)
from analytics.store.storage import Store

SplitMode = Literal["days", "last_k"]
MODELS: tuple[str, ...] = ("als", "popularity", "item_knn", "content")
METRICS: tuple[str, ...] = ("precision_at_k", "recall_at_k", "map_at_k", "ndcg_at_k", "auc", "coverage", "novelty")

#: The default hyper-parameter grid of :func:`search_params`.
DEFAULT_GRID: dict[str, tuple] = {"factors": (32, 64), "regularization": (0.05, 1.0, 10.0), "alpha": (1.0, 5.0)}


@dataclass(frozen=True)
class SplitSettings:
    mode: SplitMode = "days"
    holdout_days: float | None = None  # None: the period holding the latest 20% of events
    last_k: int = 1

    def __post_init__(self) -> None:
        if self.mode not in ("days", "last_k"):
            raise BadInput("the split must be 'days' or 'last_k'", code="bad_split", value=self.mode)
        if self.holdout_days is not None and self.holdout_days <= 0:
            raise BadInput("the held-out period must be > 0 days", code="bad_split", value=self.holdout_days)
        if self.last_k < 1:
            raise BadInput("last_k must be >= 1", code="bad_split", value=self.last_k)


@dataclass(frozen=True)
class Split:
    train: InteractionMatrix
    test: dict[int, np.ndarray]  # training user row -> relevant training item columns
    cutoff: dt.datetime | None
    description: dict[str, Any] = field(default_factory=dict)

    @property
    def test_users(self) -> int:
        return len(self.test)


def _arrow_pairs(table: pa.Table) -> tuple[list, list, np.ndarray]:
    return table["user_id"], table["item_id"], table["weight"].to_numpy()


def _relevant(train: InteractionMatrix, users, items) -> dict[int, np.ndarray]:
    seen = train.weights
    out: dict[int, set[int]] = {}
    for u, i in zip(users.to_pylist() if hasattr(users, "to_pylist") else users,
                    items.to_pylist() if hasattr(items, "to_pylist") else items):
        r, c = train.user_index.get(u), train.item_index.get(i)
        if r is None or c is None:
            continue
        out.setdefault(r, set()).add(c)
    result = {}
    for r, cols in out.items():
        row = seen.indices[seen.indptr[r]:seen.indptr[r + 1]]
        fresh = np.setdiff1d(np.fromiter(cols, dtype=np.int64), row)
        if fresh.size:
            result[r] = np.sort(fresh)
    return result


def split_interactions(store: Store, settings: SplitSettings = SplitSettings(), params: AlsParams = AlsParams(),
                       filters: Filters | None = None, until: dt.datetime | None = None, skip_last: int = 0) -> Split:
    """Split the store's interactions into a training matrix and relevant held-out items.

    ``until`` (days mode) and ``skip_last`` (last_k mode) first drop the outer test period, which is
    how the validation split of :func:`search_params` is made inside the training data.
    """
    backend = store
    filters = restricting(filters)
    events = filtered_events(backend, filters) if filters else backend.table("events")
    if until is not None:
        events = events.filter(events.event_time < until)
    bounds = events.aggregate(first=events.event_time.min(), last=events.event_time.max()).to_pyarrow().to_pylist()[0]
    first, last = bounds["first"], bounds["last"]
    empty = InteractionMatrix.from_arrays([], [], [])
    if first is None:
        return Split(empty, {}, None, {"mode": settings.mode, "reason": "no events"})
    if settings.mode == "days":
        if settings.holdout_days is not None:
            holdout = settings.holdout_days
            cutoff = last - dt.timedelta(days=holdout)
        else:  # the period holding the latest 20% of events: robust to a few stray timestamps
            q = events.aggregate(q=events.event_time.epoch_seconds().quantile(0.8)).to_pyarrow().to_pylist()[0]["q"]
            cutoff = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=float(q))
            if cutoff > last - dt.timedelta(days=1) and last - first > dt.timedelta(days=2):
                cutoff = last - dt.timedelta(days=1)  # hold out at least one day when there is room
            holdout = round((last - cutoff).total_seconds() / 86400, 2)
        train = matrix_from_events(backend, events.filter(events.event_time < cutoff), params)
        later = events.filter(events.event_time >= cutoff)
        held = summed_weights(backend, later, params).select("user_id", "item_id").to_pyarrow()
        test = _relevant(train, held["user_id"], held["item_id"])
        desc = {"mode": "days", "holdout_days": holdout, "cutoff": cutoff.isoformat(sep=" "),
                "first_event": first.isoformat(sep=" "), "last_event": last.isoformat(sep=" ")}
        return Split(train, test, cutoff, desc)
    import ibis

    k = settings.last_k
    ref = newest_event_time(events) if params.half_life_days is not None else None
    agg = summed_weights(backend, events, params, ref)
    agg = agg.mutate(
        rn=ibis.row_number().over(group_by=agg.user_id, order_by=[ibis.desc(agg.last_time), agg.item_id]),
        n=agg.item_id.count().over(group_by=agg.user_id),
    )
    table = agg.select("user_id", "item_id", "weight", "rn", "n").to_pyarrow()
    rn = table["rn"].to_numpy()
    n = table["n"].to_numpy()
    is_test = (rn >= skip_last) & (rn < skip_last + k) & (n > skip_last + k)
    is_train = rn >= skip_last + k
    is_train |= (rn >= skip_last) & (n <= skip_last + k)
    tr = table.filter(pa.array(is_train))
    te = table.filter(pa.array(is_test))
    train = InteractionMatrix.from_arrays(*_arrow_pairs(tr))
    test = _relevant(train, te["user_id"], te["item_id"])
    return Split(train, test, None, {"mode": "last_k", "last_k": k, "first_event": first.isoformat(sep=" "),
                                      "last_event": last.isoformat(sep=" ")})


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------
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

    def get(self, metric: str) -> float:
        return float(getattr(self, metric))


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
                    test: dict[int, np.ndarray], k: int, batch_size: int = 512) -> ModelMetrics:
    """Score every test user with ``scorer`` (rows -> dense user x item scores) and average the metrics."""
    start = time.perf_counter()
    n_users, n_items = train.shape
    popularity = np.asarray((train > 0).sum(axis=0)).ravel()
    self_info = -np.log2(np.maximum(popularity, 1) / max(n_users, 1))
    users = np.array(sorted(test), dtype=np.int64)
    sums = dict.fromkeys(("precision_at_k", "recall_at_k", "map_at_k", "ndcg_at_k"), 0.0)
    auc_sum, auc_n, novelty_sum, novelty_n = 0.0, 0, 0.0, 0
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
        ranks = rankdata(scores, axis=1)  # seen items (-inf) take the lowest ranks
        n_seen = np.diff(seen.indptr)
        for n, u in enumerate(rows):
            finite = np.isfinite(top_scores[n])
            ranked = top[n][finite]
            m = user_metrics(ranked, test[u], k)
            for key in sums:
                sums[key] += m[key]
            recommended[ranked] = True
            novelty_sum += self_info[ranked].sum()
            novelty_n += ranked.size
            n_pos = len(test[u])
            n_neg = n_items - n_seen[n] - n_pos
            if n_neg > 0:
                cand_ranks = ranks[n, test[u]] - n_seen[n]
                auc_sum += (cand_ranks.sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
                auc_n += 1
    n = max(len(users), 1)
    return ModelMetrics(
        model=name,
        precision_at_k=sums["precision_at_k"] / n,
        recall_at_k=sums["recall_at_k"] / n,
        map_at_k=sums["map_at_k"] / n,
        ndcg_at_k=sums["ndcg_at_k"] / n,
        auc=auc_sum / auc_n if auc_n else float("nan"),
        coverage=recommended.sum() / n_items if n_items else 0.0,
        novelty=novelty_sum / novelty_n if novelty_n else float("nan"),
        users=len(users),
        seconds=time.perf_counter() - start,
    )


# --------------------------------------------------------------------------------------------
# scorers
# --------------------------------------------------------------------------------------------
def als_scorer(train: InteractionMatrix, params: AlsParams, progress: Progress = no_progress):
    als = fit_als(train.confidence(params), params, resolve_device(params.gpu), progress)
    U, V = als.user_factors, als.item_factors
    return lambda rows: U[rows] @ V.T


def popularity_scorer(train: InteractionMatrix):
    pop = np.asarray((train.weights > 0).sum(axis=0), dtype=np.float64).ravel()
    return lambda rows: np.tile(pop, (len(rows), 1))


def item_knn_scorer(train: InteractionMatrix, neighbours: int = 100):
    from implicit.nearest_neighbours import CosineRecommender

    knn = CosineRecommender(K=max(1, min(neighbours, train.shape[1])), num_threads=1)
    with warnings.catch_warnings():  # implicit normalises to COO and then warns that it wants CSR
        warnings.simplefilter("ignore")
        knn.fit(train.weights, show_progress=False)
    sim = knn.similarity.tocsr()
    W = train.weights
    return lambda rows: (W[rows] @ sim).toarray()


def content_scorer(store: Store, train: InteractionMatrix):
    """A TF-IDF profile scorer, or ``None`` when fewer than half the training items have catalog text."""
    from analytics.content import build_content_index

    index = build_content_index(store)
    if index.status != "ok":
        return None
    covered = sum(1 for i in train.item_ids if i in index.item_index)
    if covered < 0.5 * len(train.item_ids):
        return None
    vectors = index.aligned(train.item_ids)
    W = train.weights

    def score(rows):
        profiles = (W[rows] @ vectors).tocsr()
        norms = np.sqrt(np.asarray(profiles.multiply(profiles).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return (sp.diags(1.0 / norms) @ profiles @ vectors.T).toarray()

    return score


# --------------------------------------------------------------------------------------------
# evaluation and search
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchTrial:
    factors: int
    regularization: float
    alpha: float
    ndcg_at_k: float
    seconds: float


@dataclass(frozen=True)
class SearchResult:
    status: Literal["ok", "not_enough_data"]
    k: int
    trials: tuple[SearchTrial, ...]
    best: AlsParams
    validation: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "k": self.k,
            "validation": self.validation,
            "trials": [t.__dict__ for t in self.trials],
            "best": {"factors": self.best.factors, "regularization": self.best.regularization, "alpha": self.best.alpha},
        }


@dataclass(frozen=True)
class EvaluationResult:
    status: Literal["ok", "not_enough_data"]
    k: int
    split: dict[str, Any]
    models: tuple[ModelMetrics, ...]
    params: AlsParams
    message: str = ""
    search: SearchResult | None = None
    train_users: int = 0
    train_items: int = 0
    train_interactions: int = 0

    def metrics_of(self, model: str) -> ModelMetrics:
        for m in self.models:
            if m.model == model:
                return m
        raise KeyError(model)

    def lift(self, metric: str = "ndcg_at_k", model: str = "als", baseline: str = "popularity") -> float:
        """Relative improvement of ``model`` over ``baseline`` on ``metric`` (0.3 = 30% better)."""
        base = self.metrics_of(baseline).get(metric)
        return self.metrics_of(model).get(metric) / base - 1.0 if base else float("inf")

    def table(self):
        import pandas as pd

        return pd.DataFrame([{**{"model": m.model}, **{x: m.get(x) for x in METRICS}, "users": m.users} for m in self.models])

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "k": self.k,
            "split": self.split,
            "train": {"users": self.train_users, "items": self.train_items, "interactions": self.train_interactions},
            "params": {"factors": self.params.factors, "regularization": self.params.regularization,
                       "alpha": self.params.alpha, "iterations": self.params.iterations},
            "models": {m.model: {**{x: m.get(x) for x in METRICS}, "users": m.users} for m in self.models},
            "search": self.search.to_dict() if self.search else None,
        }


def _sample_users(test: dict[int, np.ndarray], max_users: int | None, seed: int) -> dict[int, np.ndarray]:
    if max_users is None or len(test) <= max_users:
        return test
    rng = np.random.default_rng(seed)
    keep = rng.choice(np.array(sorted(test)), size=max_users, replace=False)
    return {int(u): test[int(u)] for u in sorted(keep)}


def _not_enough(split: Split) -> str | None:
    if split.train.nnz == 0:
        return "no interactions before the held-out period; use a shorter held-out period or more data"
    if split.train.shape[0] < 2 or split.train.shape[1] < 2:
        return "at least two users and two items are needed to evaluate"
    if not split.test:
        return ("no user has a new item in the held-out period that also appears in the training period; "
                "use a longer held-out period or more data")
    return None


def search_params(store: Store, k: int = 10, grid: dict[str, Sequence] | None = None,
                  split: SplitSettings = SplitSettings(), base: AlsParams = AlsParams(),
                  filters: Filters | None = None, max_users: int | None = 5000,
                  progress: Progress = no_progress, outer: Split | None = None) -> SearchResult:
    """Grid search over factors x regularization x alpha, picking the best NDCG@k on a validation split.

    The validation split is made inside the training period of the evaluation split (the same rule
    applied again), so the held-out test data is never used to choose parameters.
    """
    grid = {**DEFAULT_GRID, **(grid or {})}
    outer = outer or split_interactions(store, split, base, filters)
    if split.mode == "days":
        inner = split_interactions(store, split, base, filters, until=outer.cutoff) if outer.cutoff else outer
    else:
        inner = split_interactions(store, split, base, filters, skip_last=split.last_k)
    reason = _not_enough(inner)
    if reason:
        return SearchResult("not_enough_data", k, (), base, {**inner.description, "reason": reason})
    test = _sample_users(inner.test, max_users, seed=1)
    combos = list(itertools.product(grid["factors"], grid["regularization"], grid["alpha"]))
    trials = []
    for n, (f, reg, alpha) in enumerate(combos):
        params = replace(base, factors=int(f), regularization=float(reg), alpha=float(alpha))
        start = time.perf_counter()
        scorer = als_scorer(inner.train, params)
        m = ranking_metrics("als", scorer, inner.train.weights, test, k)
        trials.append(SearchTrial(int(f), float(reg), float(alpha), m.ndcg_at_k, time.perf_counter() - start))
        progress((n + 1) / len(combos), f"tried {n + 1}/{len(combos)}")
    best = max(trials, key=lambda t: (t.ndcg_at_k, -t.factors))
    best_params = replace(base, factors=best.factors, regularization=best.regularization, alpha=best.alpha)
    return SearchResult("ok", k, tuple(trials), best_params, {**inner.description, "users": len(test)})


def evaluate(store: Store, k: int = 10, split: SplitSettings = SplitSettings(), params: AlsParams = AlsParams(),
             filters: Filters | None = None, search: bool = False, models: Sequence[str] = MODELS,
             max_users: int | None = 10_000, seed: int = 0, progress: Progress | None = None,
             actor: Principal | None = None) -> EvaluationResult:
    """Evaluate ALS against the baselines at ``k`` on a time-based split of the store's events.

    With ``search=True`` the ALS parameters are first chosen by :func:`search_params`.
    ``max_users`` caps the number of test users scored (a seeded random sample). Evaluating trains
    models: ``actor`` needs the ``train`` permission (:mod:`analytics.access`).
    """
    require(actor, "train")
    progress = progress or no_progress
    if k < 1:
        raise BadInput("k must be >= 1", code="bad_k", value=k)
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise BadInput(f"unknown model(s) {', '.join(unknown)}; use {', '.join(MODELS)}", code="bad_model")
    resolve_device(params.gpu)
    progress(0.0, "splitting")
    outer = split_interactions(store, split, params, filters)
    reason = _not_enough(outer)
    if reason:
        return EvaluationResult("not_enough_data", k, outer.description, (), params, reason)
    found = None
    if search:
        found = search_params(store, k, split=split, base=params, filters=filters, outer=outer,
                              progress=lambda f, m="": progress(0.1 + 0.5 * f, m))
        if found.status == "ok":
            params = found.best
    test = _sample_users(outer.test, max_users, seed)
    results = []
    for n, name in enumerate(models):
        progress(0.6 + 0.4 * n / len(models), f"evaluating {name}")
        if name == "als":
            scorer = als_scorer(outer.train, params)
        elif name == "popularity":
            scorer = popularity_scorer(outer.train)
        elif name == "item_knn":
            scorer = item_knn_scorer(outer.train)
        else:
            scorer = content_scorer(store, outer.train)
            if scorer is None:
                continue
        results.append(ranking_metrics(name, scorer, outer.train.weights, test, k))
    progress(1.0, "evaluated")
    return EvaluationResult(
        "ok", k, {**outer.description, "test_users": len(test)}, tuple(results), params, search=found,
        train_users=outer.train.shape[0], train_items=outer.train.shape[1], train_interactions=outer.train.nnz,
    )
