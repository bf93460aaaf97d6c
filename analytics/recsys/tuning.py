"""Self-tuning of the ALS recommender: factors, regularization, alpha and the re-weighting.

The search runs on a *validation split carved from the training data*: each user's items are held
out at random with probability 20% (:func:`analytics.recsys.ranking.holdout_random`, seeded, users
with one item stay whole), ALS is fitted on the rest and scored by NDCG@k on the held-out items of
up to :data:`VALIDATION_USERS` users (seen items never recommended). The final model is then
trained on all the data with the best values.

Candidates, in order (values fixed by the caller are kept in every candidate):

1. the given parameters (so the search can only improve on them on the validation split);
2. a few anchors that do well on typical implicit data (:data:`ANCHORS`);
3. then, alternately, a random point of the space and a perturbation of the best so far:
   factors in :data:`FACTORS`; regularization log-uniform on 0.01–100 (implicit's loss is not
   normalised by the number of interactions, so useful values span four decades); alpha
   log-uniform on 0.1–100; weighting none / BM25 / TF-IDF.

The search stops after :data:`MAX_TRIALS` trials or when the next trial would overrun the time
budget (:data:`DEFAULT_BUDGET_SECONDS` by default; the first trial always runs). On small data it
therefore tries every candidate and is deterministic (seeded); on large data the budget decides.

:func:`tuned_params` saves the search under ``<data folder>/models/tune-<key>.json`` and reuses it
while the data version, the filters and the fixed parameters are the same.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from analytics.access import Principal, require
from analytics.errors import BadInput
from analytics.progress import Progress, no_progress
from analytics.query.filters import Filters
from analytics.recsys.ranking import (
    als_scorer,
    holdout_random,
    ranking_metrics,
    sample_users,
)
from analytics.recsys.recommend import (
    MODEL_FORMAT,
    AlsParams,
    InteractionMatrix,
    build_matrix,
    restricting,
)
from analytics.store.storage import Store

TUNED: tuple[str, ...] = ("factors", "regularization", "alpha", "weighting")
DEFAULT_BUDGET_SECONDS = 60.0
MAX_TRIALS = 30
VALIDATION_FRACTION = 0.2
VALIDATION_USERS = 3000
FACTORS: tuple[int, ...] = (16, 32, 64, 128, 192)
REGULARIZATION_RANGE = (0.01, 100.0)
ALPHA_RANGE = (0.1, 100.0)
WEIGHTINGS: tuple[str, ...] = ("none", "bm25", "tfidf")
#: Starting points tried after the given parameters: (factors, regularization, alpha, weighting).
ANCHORS: tuple[tuple[int, float, float, str], ...] = (
    (64, 1.0, 5.0, "none"),
    (64, 10.0, 5.0, "bm25"),
    (128, 30.0, 10.0, "bm25"),
    (32, 0.3, 2.0, "tfidf"),
    (128, 5.0, 1.0, "none"),
)
#: Bumped when the search changes (saved searches are then redone).
SEARCH_FORMAT = 1


@dataclass(frozen=True)
class TuneSettings:
    """``budget_seconds``: ``None`` means :data:`DEFAULT_BUDGET_SECONDS` and that any saved search
    for the same data is reused; a number reruns a saved search made with another budget.
    ``fixed``: the names in :data:`TUNED` whose given values are kept."""

    budget_seconds: float | None = None
    fixed: frozenset[str] = frozenset()
    max_trials: int = MAX_TRIALS
    k: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "fixed", frozenset(self.fixed))
        unknown = sorted(self.fixed - set(TUNED))
        if unknown:
            raise BadInput(f"cannot fix {', '.join(unknown)}; use {', '.join(TUNED)}", code="bad_tune", value=unknown)
        if self.budget_seconds is not None and not self.budget_seconds > 0:
            raise BadInput("the tuning budget must be > 0 seconds", code="bad_tune", value=self.budget_seconds)
        if self.max_trials < 1 or self.k < 1:
            raise BadInput("max_trials and k must be >= 1", code="bad_tune")

    @property
    def budget(self) -> float:
        return DEFAULT_BUDGET_SECONDS if self.budget_seconds is None else float(self.budget_seconds)


@dataclass(frozen=True)
class Trial:
    factors: int
    regularization: float
    alpha: float
    weighting: str
    ndcg: float
    seconds: float


@dataclass(frozen=True)
class TuningResult:
    """``status``: ``ok``, or ``not_enough_data`` (no user has two items: the given values are kept)."""

    status: Literal["ok", "not_enough_data"]
    params: AlsParams
    k: int
    validation_ndcg: float | None
    given_ndcg: float | None  # the given parameters' score (the first trial)
    trials: tuple[Trial, ...]
    budget_seconds: float
    seconds: float
    stopped: Literal["trials", "budget", "no_data"]
    validation_users: int
    fixed: tuple[str, ...] = ()
    reused: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        p = self.params
        return {
            "status": self.status, "k": self.k, "validation_ndcg": self.validation_ndcg, "given_ndcg": self.given_ndcg,
            "chosen": {"factors": p.factors, "regularization": p.regularization, "alpha": p.alpha, "weighting": p.weighting},
            "trials": [t.__dict__ for t in self.trials], "budget_seconds": self.budget_seconds,
            "seconds": round(self.seconds, 3), "stopped": self.stopped, "validation_users": self.validation_users,
            "fixed": list(self.fixed), "validation": f"random {VALIDATION_FRACTION:.0%} of each user's items",
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], base: AlsParams) -> "TuningResult":
        params = replace(base, **{k: d["chosen"][k] for k in TUNED})
        return cls(d["status"], params, d["k"], d["validation_ndcg"], d["given_ndcg"],
                   tuple(Trial(**t) for t in d["trials"]), d["budget_seconds"], d["seconds"], d["stopped"],
                   d["validation_users"], tuple(d["fixed"]), reused=True)


def _candidates(base: AlsParams, fixed: frozenset[str], rng: np.random.Generator, best):
    """Yield candidate ``(factors, regularization, alpha, weighting)``; ``best()`` is the best so far."""

    def pin(c):
        given = (base.factors, base.regularization, base.alpha, base.weighting)
        return tuple(given[n] if name in fixed else c[n] for n, name in enumerate(TUNED))

    def log_uniform(lo, hi):
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))

    yield pin((base.factors, base.regularization, base.alpha, base.weighting))
    for anchor in ANCHORS:
        yield pin(anchor)
    while True:
        yield pin((int(rng.choice(FACTORS)), log_uniform(*REGULARIZATION_RANGE), log_uniform(*ALPHA_RANGE),
                   str(rng.choice(WEIGHTINGS))))
        f, reg, alpha, weighting = best()
        at = FACTORS.index(f) if f in FACTORS else 2
        yield pin((
            FACTORS[int(np.clip(at + rng.integers(-1, 2), 0, len(FACTORS) - 1))],
            float(np.clip(reg * np.exp(rng.normal(0, 1.0)), *REGULARIZATION_RANGE)),
            float(np.clip(alpha * np.exp(rng.normal(0, 0.7)), *ALPHA_RANGE)),
            weighting if rng.random() < 0.8 else str(rng.choice(WEIGHTINGS)),
        ))


def search(matrix: InteractionMatrix, base: AlsParams = AlsParams(), settings: TuneSettings = TuneSettings(),
           progress: Progress = no_progress) -> TuningResult:
    """Choose the parameters not in ``settings.fixed`` by NDCG@k on a validation split of ``matrix``."""
    start = time.perf_counter()
    fixed = tuple(sorted(settings.fixed))
    train, valid = holdout_random(matrix, VALIDATION_FRACTION, seed=base.seed)
    valid = sample_users(valid, VALIDATION_USERS, seed=base.seed)
    if not valid or matrix.shape[1] < 2:
        return TuningResult("not_enough_data", base, settings.k, None, None, (), settings.budget, 0.0, "no_data", 0, fixed)
    rng = np.random.default_rng(base.seed)
    trials: list[Trial] = []
    seen: set[tuple] = set()
    per_factor_seconds: list[float] = []  # trial seconds / factors: the cost model for the next trial

    def best():
        t = max(trials, key=lambda t: t.ndcg)
        return t.factors, t.regularization, t.alpha, t.weighting

    stopped: Literal["trials", "budget"] = "trials"
    for candidate in _candidates(base, settings.fixed, rng, best):
        if len(trials) >= settings.max_trials:
            break
        key = (candidate[0], round(math.log(max(candidate[1], 1e-12)), 1), round(math.log(candidate[2]), 1), candidate[3])
        if key in seen:
            continue
        seen.add(key)
        elapsed = time.perf_counter() - start
        if trials and elapsed + np.median(per_factor_seconds) * candidate[0] > settings.budget:
            stopped = "budget"
            break
        f, reg, alpha, weighting = candidate
        params = replace(base, factors=int(f), regularization=float(reg), alpha=float(alpha), weighting=weighting)
        t0 = time.perf_counter()
        m = ranking_metrics("als", als_scorer(train, params), train.weights, valid, settings.k, auc=False)
        seconds = time.perf_counter() - t0
        per_factor_seconds.append(seconds / f)
        trials.append(Trial(int(f), float(reg), float(alpha), weighting, float(m.ndcg_at_k), seconds))
        progress(min(len(trials) / settings.max_trials, (time.perf_counter() - start) / settings.budget),
                 "tuning", trial=len(trials), k=settings.k, best=max(t.ndcg for t in trials))
    f, reg, alpha, weighting = best()
    chosen = replace(base, factors=f, regularization=reg, alpha=alpha, weighting=weighting)
    progress(1.0, "tuned")
    return TuningResult("ok", chosen, settings.k, max(t.ndcg for t in trials), trials[0].ndcg, tuple(trials),
                        settings.budget, time.perf_counter() - start, stopped, len(valid), fixed)


def search_key(store: Store, base: AlsParams, settings: TuneSettings, filters: Filters | None = None) -> str:
    """Hash of what a saved search depends on: data version, table sizes, filters, the untuned and fixed parameters."""
    filters = restricting(filters)
    counts = store.query("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM items)").rows[0]
    given = base.key_dict()
    for name in set(TUNED) - settings.fixed:
        given.pop(name)
    payload = {
        "format": [MODEL_FORMAT, SEARCH_FORMAT], "data": store.data_version(), "rows": list(counts),
        "filters": filters.describe() if filters else None, "params": given, "fixed": sorted(settings.fixed),
        "max_trials": settings.max_trials, "k": settings.k,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def tuned_params(store: Store, base: AlsParams = AlsParams(), settings: TuneSettings = TuneSettings(),
                 filters: Filters | None = None, progress: Progress = no_progress,
                 actor: Principal | None = None) -> TuningResult:
    """The search for the store's data: the saved one while the data is unchanged, else run and saved.

    Reusing a saved search needs no permission; running one trains models: ``actor`` needs the
    ``train`` permission (:mod:`analytics.access`)."""
    folder = store.data_dir / "models"
    path = folder / f"tune-{search_key(store, base, settings, filters)}.json"
    if path.exists():
        try:
            saved = TuningResult.from_dict(json.loads(path.read_text()), base)
        except (OSError, ValueError, KeyError, TypeError):
            saved = None
        if saved is not None and (settings.budget_seconds is None or saved.budget_seconds == settings.budget):
            progress(1.0, "reused_search")
            return saved
    require(actor, "train")
    progress(0.0, "building_matrix")
    result = search(build_matrix(store, base, filters), base, settings, progress)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result.to_dict()))
    os.replace(tmp, path)
    olds = sorted(folder.glob("tune-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[8:]
    for old in olds:
        old.unlink(missing_ok=True)
    return result
