"""Offline evaluation of the recommender against baselines, with confidence intervals over users.

Protocols (:class:`SplitSettings`, ``mode``):

* ``random`` — each user's items are held out at random with probability ``fraction`` (default
  25%, stratified per user: ``round(fraction * n)`` of a user's ``n`` items, at most ``n - 1``, users
  with one item stay in training; seeded). This is the protocol of public benchmark tables
  (e.g. a 75/25 stratified split). Every held-out pair is relevant.
* ``last_k`` — each user's ``k`` most recent items (users with more than ``k`` items only).
* ``days`` — every interaction after a cutoff (the last ``holdout_days``; by default the period
  holding the latest 20% of events, at least one day). It *refuses* (status
  ``too_few_test_users``) when fewer than ``min_test_users`` (200) users have a new item after the
  cutoff: averages over so few users say little.
* ``auto`` (the default) — ``days`` when the time split leaves at least ``min_test_users`` test
  users and at least 10% of the training users; otherwise ``random``. The choice and why are in
  ``split["chosen"]``.

For ``last_k`` and ``days`` a held-out (user, item) pair is relevant when its summed weight is
positive, both user and item exist in the training matrix and the user had not interacted with the
item before (we measure discovery, not repetition). Items seen in training are never recommended.

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

**Uncertainty.** The first five metrics are means of per-user values; their 95% interval is the
normal approximation ``mean ± 1.96 · sd / sqrt(users)`` over those per-user values, clipped to
[0, 1]. Two models are
compared *paired* (the same test users): the interval of the mean per-user difference. The
``winner`` is the model with the highest NDCG@k; it wins *clearly* when the paired interval of its
lead over the runner-up lies above 0.

Models: ``als`` (this project's ALS; by default tuned by :mod:`analytics.recsys.tuning` on a validation
split carved from the training part only, exactly as ``train`` does), ``popularity`` (items by
number of training users), ``item_knn`` (cosine item-item, ``implicit.nearest_neighbours.CosineRecommender``,
K=100), ``content`` (TF-IDF profile of the user's items, :mod:`analytics.recsys.content`; only when at
least half the items have catalog text) and ``ease`` (EASE^R, Steck, "Embarrassingly Shallow
Autoencoders for Sparse Data", WWW 2019: closed form ``B = I - P · diag(1 / diag(P))``,
``P = (XᵀX + λI)⁻¹`` on the binary matrix, diagonal 0; λ chosen from :data:`EASE_LAMBDAS` by NDCG@k
on a validation split of the training part; skipped, with the reason, when the item×item matrices
need more than ``ease_memory_bytes``, 1 GiB by default: 8,192 items).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from analytics.access import Principal, require
from analytics.errors import BadInput
from analytics.progress import Progress, no_progress, scaled
from analytics.query.filters import Filters
from analytics.recsys.ranking import (
    USER_METRICS,
    ModelMetrics,
    als_scorer,
    holdout_random,
    normal_interval,
    ranking_metrics,
    sample_users,
)
from analytics.recsys.recommend import (
    AlsParams,
    InteractionMatrix,
    matrix_from_events,
    newest_event_time,
    resolve_device,
    source_events,
    summed_weights,
)
from analytics.store.storage import Store

if TYPE_CHECKING:
    from analytics.recsys.tuning import TuneSettings, TuningResult

Protocol = Literal["auto", "random", "last_k", "days"]
PROTOCOLS: tuple[str, ...] = ("auto", "random", "last_k", "days")
MODELS: tuple[str, ...] = ("als", "popularity", "item_knn", "content", "ease")
METRICS: tuple[str, ...] = ("precision_at_k", "recall_at_k", "map_at_k", "ndcg_at_k", "auc", "coverage", "novelty")
#: Metrics that are means over users (and so have an interval).
MIN_TEST_USERS = 200
#: The λ values tried for EASE^R.
EASE_LAMBDAS: tuple[float, ...] = (10.0, 50.0, 200.0, 500.0, 2000.0)
EASE_MEMORY_BYTES = 2**30


@dataclass(frozen=True)
class SplitSettings:
    mode: Protocol = "auto"
    holdout_days: float | None = None  # days: None = the period holding the latest 20% of events
    last_k: int = 1
    fraction: float = 0.25  # random: share of each user's items held out
    seed: int = 0
    min_test_users: int = MIN_TEST_USERS

    def __post_init__(self) -> None:
        if self.mode not in PROTOCOLS:
            raise BadInput(f"the split must be one of {', '.join(PROTOCOLS)}", code="bad_split", value=self.mode)
        if self.holdout_days is not None and self.holdout_days <= 0:
            raise BadInput("the held-out period must be > 0 days", code="bad_split", value=self.holdout_days)
        if self.last_k < 1:
            raise BadInput("last_k must be >= 1", code="bad_split", value=self.last_k)
        if not 0 < self.fraction < 1:
            raise BadInput("the held-out fraction must be between 0 and 1", code="bad_split", value=self.fraction)
        if self.min_test_users < 1:
            raise BadInput("the minimum number of test users must be >= 1", code="bad_split", value=self.min_test_users)


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


def _events(store: Store, filters: Filters | None):
    return store, source_events(store, filters)


def split_interactions(store: Store, settings: SplitSettings = SplitSettings(), params: AlsParams = AlsParams(),
                       filters: Filters | None = None) -> Split:
    """Split the store's interactions by ``settings.mode`` (``auto`` resolved by :func:`choose_split`)."""
    if settings.mode == "auto":
        return choose_split(store, settings, params, filters)
    source, events = _events(store, filters)
    bounds = source.to_arrow(events.aggregate(first=events.event_time.min(), last=events.event_time.max())).to_pylist()[0]
    first, last = bounds["first"], bounds["last"]
    if first is None:
        return Split(InteractionMatrix.from_arrays([], [], []), {}, None, {"mode": settings.mode})
    span = {"first_event": first.isoformat(sep=" "), "last_event": last.isoformat(sep=" ")}
    if settings.mode == "random":
        full = matrix_from_events(source, events, params)
        train, test = holdout_random(full, settings.fraction, settings.seed)
        return Split(train, test, None, {"mode": "random", "fraction": settings.fraction, "seed": settings.seed, **span})
    if settings.mode == "days":
        if settings.holdout_days is not None:
            holdout = settings.holdout_days
            cutoff = last - dt.timedelta(days=holdout)
        else:  # the period holding the latest 20% of events: robust to a few stray timestamps
            q = source.to_arrow(events.aggregate(q=events.event_time.epoch_seconds().quantile(0.8))).to_pylist()[0]["q"]
            cutoff = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=float(q))
            if cutoff > last - dt.timedelta(days=1) and last - first > dt.timedelta(days=2):
                cutoff = last - dt.timedelta(days=1)  # hold out at least one day when there is room
            holdout = round((last - cutoff).total_seconds() / 86400, 2)
        train = matrix_from_events(source, events.filter(events.event_time < cutoff), params)
        later = events.filter(events.event_time >= cutoff)
        held = source.to_arrow(summed_weights(source, later, params).select("user_id", "item_id"))
        test = _relevant(train, held["user_id"], held["item_id"])
        return Split(train, test, cutoff, {"mode": "days", "holdout_days": holdout, "cutoff": cutoff.isoformat(sep=" "), **span})
    import ibis

    k = settings.last_k
    ref = newest_event_time(source, events) if params.half_life_days is not None else None
    agg = summed_weights(source, events, params, ref)
    agg = agg.mutate(
        rn=ibis.row_number().over(group_by=agg.user_id, order_by=[ibis.desc(agg.last_time), agg.item_id]),
        n=agg.item_id.count().over(group_by=agg.user_id),
    )
    table = source.to_arrow(agg.select("user_id", "item_id", "weight", "rn", "n"))
    rn = table["rn"].to_numpy()
    n = table["n"].to_numpy()
    is_test = (rn < k) & (n > k)
    tr = table.filter(pa.array(~is_test))
    te = table.filter(pa.array(is_test))
    train = InteractionMatrix.from_arrays(*_arrow_pairs(tr))
    test = _relevant(train, te["user_id"], te["item_id"])
    return Split(train, test, None, {"mode": "last_k", "last_k": k, **span})


def choose_split(store: Store, settings: SplitSettings = SplitSettings(), params: AlsParams = AlsParams(),
                 filters: Filters | None = None) -> Split:
    """The ``auto`` protocol: the time split when it leaves enough test users, else the random one.

    "Enough": at least ``settings.min_test_users`` and at least 10% of the training users. The
    choice is recorded in ``description["chosen"]`` as ``{"why": code, "time_test_users": n, ...}``.
    """
    days = split_interactions(store, replace(settings, mode="days"), params, filters)
    n, users = days.test_users, days.train.shape[0]
    facts = {"time_test_users": n, "minimum": settings.min_test_users, "training_users": users}
    if n >= settings.min_test_users and n >= 0.1 * users:
        return replace(days, description={**days.description, "chosen": {"why": "time_split_has_enough_users", **facts}})
    chosen = split_interactions(store, replace(settings, mode="random"), params, filters)
    return replace(chosen, description={**chosen.description, "chosen": {"why": "time_split_too_few_users", **facts}})


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """``model`` minus ``other`` on ``metric``, paired over the same test users, with its 95% interval."""

    model: str
    other: str
    metric: str
    difference: float
    ci_low: float
    ci_high: float

    @property
    def verdict(self) -> Literal["better", "worse", "unclear"]:
        if self.ci_low > 0:
            return "better"
        if self.ci_high < 0:
            return "worse"
        return "unclear"

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "other": self.other, "metric": self.metric, "difference": self.difference,
                "ci_low": self.ci_low, "ci_high": self.ci_high, "verdict": self.verdict}


def compare(a: ModelMetrics, b: ModelMetrics, metric: str = "ndcg_at_k") -> Comparison:
    """Paired difference of two models scored on the same test users."""
    diff = a.per_user[metric] - b.per_user[metric]
    low, high = normal_interval(diff)
    finite = diff[np.isfinite(diff)]
    return Comparison(a.model, b.model, metric, float(finite.mean()) if finite.size else float("nan"), low, high)


# --------------------------------------------------------------------------------------------
# scorers
# --------------------------------------------------------------------------------------------


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
    from analytics.recsys.content import build_content_index

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


def ease_fits(n_items: int, memory_bytes: int = EASE_MEMORY_BYTES) -> bool:
    """Whether EASE^R's two dense item x item float64 matrices fit in ``memory_bytes``."""
    return 2 * 8 * n_items * n_items <= memory_bytes


def ease_weights(binary: sp.csr_matrix, lam: float) -> np.ndarray:
    """EASE^R item-item weights: ``B = I - P · diag(1 / diag(P))`` with ``P = (XᵀX + λI)⁻¹``, diagonal 0.

    ``P`` comes from a Cholesky factorisation (LAPACK ``potrf``/``potri``), computed in place: one
    dense item x item matrix plus blocks.
    """
    from scipy.linalg import lapack

    G = (binary.T @ binary).toarray().astype(np.float64).T  # symmetric: the Fortran-ordered view is G itself
    G[np.diag_indices_from(G)] += lam
    c, info = lapack.dpotrf(G, lower=False, overwrite_a=True, clean=False)
    if info == 0:
        P, info = lapack.dpotri(c, lower=False, overwrite_c=True)
    if info != 0:  # XᵀX + λI is positive definite for λ > 0; only rounding can get here
        raise BadInput("EASE^R: the item x item matrix could not be inverted", code="ease_failed", value=lam)
    n, block = P.shape[0], 1024
    for start in range(0, n, block):  # potri fills the upper triangle: mirror it
        end = min(start + block, n)
        P[start:end, :start] = P[:start, start:end].T
        diagonal = P[start:end, start:end]
        P[start:end, start:end] = np.triu(diagonal) + np.triu(diagonal, 1).T
    P /= -np.diag(P)
    np.fill_diagonal(P, 0.0)
    return P


def ease_scorer(train: InteractionMatrix, k: int = 10, seed: int = 0) -> tuple[Callable, float]:
    """EASE^R scorer and its λ, chosen from :data:`EASE_LAMBDAS` by NDCG@k on a random validation split."""
    X = (train.weights > 0).astype(np.float32).tocsr()
    inner, valid = holdout_random(InteractionMatrix.from_csr(train.user_ids, train.item_ids, X), 0.2, seed)
    valid = sample_users(valid, 2000, seed)
    Xi = inner.weights
    lam = EASE_LAMBDAS[0]
    if valid:
        found = []
        for value in EASE_LAMBDAS:
            B = ease_weights(Xi, value)
            found.append((ranking_metrics("ease", lambda rows, B=B: Xi[rows] @ B, Xi, valid, k, auc=False).ndcg_at_k, -value))
        lam = -max(found)[1]
    B = ease_weights(X, lam)
    return (lambda rows: X[rows] @ B), lam


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvaluationResult:
    """``status``: ``ok``, ``not_enough_data`` or ``too_few_test_users``; ``reason`` is a code with
    ``details`` (its numbers) when not ``ok``. ``skipped`` maps a baseline left out to its reason
    (``{"reason": code, ...}``)."""

    status: Literal["ok", "not_enough_data", "too_few_test_users"]
    k: int
    split: dict[str, Any]
    models: tuple[ModelMetrics, ...]
    params: AlsParams
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    tuning: "TuningResult | None" = None
    skipped: dict[str, dict[str, Any]] = field(default_factory=dict)
    ease_lambda: float | None = None
    train_users: int = 0
    train_items: int = 0
    train_interactions: int = 0

    def metrics_of(self, model: str) -> ModelMetrics:
        for m in self.models:
            if m.model == model:
                return m
        raise KeyError(model)

    def compare(self, model: str = "als", other: str = "popularity", metric: str = "ndcg_at_k") -> Comparison:
        """``model`` minus ``other`` on ``metric``, paired over the test users, with its 95% interval."""
        return compare(self.metrics_of(model), self.metrics_of(other), metric)

    def winner(self, metric: str = "ndcg_at_k") -> Comparison | None:
        """The best model on ``metric`` against the runner-up (``verdict`` ``better``: a clear win)."""
        ranked = sorted(self.models, key=lambda m: -np.nan_to_num(m.get(metric), nan=-1.0))
        if len(ranked) < 2:
            return None
        return compare(ranked[0], ranked[1], metric)

    def table(self):
        import pandas as pd

        rows = []
        for m in self.models:
            row = {"model": m.model, **{x: m.get(x) for x in METRICS}, "users": m.users}
            low, high = m.interval("ndcg_at_k")
            rows.append({**row, "ndcg_ci_low": low, "ndcg_ci_high": high})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        winner = self.winner() if self.models else None
        return {
            "status": self.status,
            "reason": self.reason,
            "details": self.details,
            "k": self.k,
            "split": self.split,
            "train": {"users": self.train_users, "items": self.train_items, "interactions": self.train_interactions},
            "params": {"factors": self.params.factors, "regularization": self.params.regularization,
                       "alpha": self.params.alpha, "weighting": self.params.weighting, "iterations": self.params.iterations},
            "interval": "95%, normal approximation over per-user values",
            "models": {m.model: {**{x: m.get(x) for x in METRICS}, "users": m.users,
                                 "ci95": {x: list(m.interval(x)) for x in USER_METRICS}} for m in self.models},
            "winner": winner.to_dict() if winner else None,
            "skipped": self.skipped,
            "ease_lambda": self.ease_lambda,
            "tuning": self.tuning.to_dict() if self.tuning else None,
        }


def _not_enough(split: Split) -> tuple[str, str, dict[str, Any]] | None:
    """``(status, reason code, details)`` when the split cannot be evaluated, else ``None``."""
    if split.train.nnz == 0:
        return "not_enough_data", "no_training_interactions", {}
    if split.train.shape[0] < 2 or split.train.shape[1] < 2:
        return "not_enough_data", "too_small", {"users": split.train.shape[0], "items": split.train.shape[1]}
    if not split.test:
        return "not_enough_data", "no_test_users", {"mode": split.description.get("mode")}
    return None


def evaluate(store: Store, k: int = 10, split: SplitSettings = SplitSettings(), params: AlsParams = AlsParams(),
             filters: Filters | None = None, tune: "TuneSettings | None" = None, models: Sequence[str] = MODELS,
             max_users: int | None = 10_000, seed: int = 0, progress: Progress | None = None,
             ease_memory_bytes: int = EASE_MEMORY_BYTES, actor: Principal | None = None) -> EvaluationResult:
    """Evaluate ALS against the baselines at ``k`` under the ``split`` protocol.

    With ``tune`` the ALS parameters are chosen by :func:`analytics.recsys.tuning.search` on a validation
    split of the training part (the held-out part is never seen), as ``train`` does on all data.
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
    problem = _not_enough(outer)
    if problem:
        return EvaluationResult(problem[0], k, outer.description, (), params, problem[1], problem[2])
    if outer.description["mode"] == "days" and outer.test_users < split.min_test_users:
        return EvaluationResult("too_few_test_users", k, {**outer.description, "test_users": outer.test_users}, (), params,
                                "too_few_test_users", {"test_users": outer.test_users, "minimum": split.min_test_users})
    found = None
    if tune is not None and "als" in models:
        from analytics.recsys.tuning import search

        found = search(outer.train, params, tune, progress=scaled(progress, 0.05, 0.5))
        params = found.params
    test = sample_users(outer.test, max_users, seed)
    results, skipped, lam = [], {}, None
    for n, name in enumerate(models):
        progress(0.5 + 0.5 * n / len(models), "evaluating", model=name)
        if name == "als":
            scorer = als_scorer(outer.train, params)
        elif name == "popularity":
            scorer = popularity_scorer(outer.train)
        elif name == "item_knn":
            scorer = item_knn_scorer(outer.train)
        elif name == "content":
            scorer = content_scorer(store, outer.train)
            if scorer is None:
                skipped[name] = {"reason": "too_little_catalog_text"}
                continue
        else:
            items = outer.train.shape[1]
            if not ease_fits(items, ease_memory_bytes):
                skipped[name] = {"reason": "too_many_items", "items": items,
                                 "max_items": math.isqrt(ease_memory_bytes // 16),
                                 "memory_mb": round(ease_memory_bytes / 2**20)}
                continue
            scorer, lam = ease_scorer(outer.train, k, seed)
        results.append(ranking_metrics(name, scorer, outer.train.weights, test, k))
    progress(1.0, "evaluated")
    return EvaluationResult(
        "ok", k, {**outer.description, "test_users": len(test)}, tuple(results), params, tuning=found,
        skipped=skipped, ease_lambda=lam, train_users=outer.train.shape[0], train_items=outer.train.shape[1],
        train_interactions=outer.train.nnz,
    )
