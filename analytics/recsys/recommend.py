"""Recommendations with implicit-feedback ALS: interaction matrix, training, model store, serving.

The interaction matrix ``user_items`` (rows are users, columns items) holds the *confidence*
``c_ui = 1 + alpha * w_ui`` of Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback
Datasets" (ICDM 2008, eq. 2 with linear scaling), where ``w_ui`` sums the weights of the user's
events on the item:

* each event type has a weight (:data:`DEFAULT_WEIGHTS`: a purchase counts most, an impression not
  at all, a refund takes a purchase back); a view counts ``weight["view"] * watch ratio``
  (:func:`analytics.query.definitions.views_with_ratio`; :data:`UNKNOWN_WATCH_RATIO` when the video length
  is unknown);
* optionally an event of age ``a`` days (before the newest event) counts ``0.5 ** (a / half_life)``;
* optionally the summed weights are re-weighted with BM25 or TF-IDF (``implicit.nearest_neighbours``),
  damping very active users and very popular items;
* pairs whose summed weight is not positive are left out.

Training uses ``implicit.als.AlternatingLeastSquares`` (conjugate-gradient solver, Takács et al.,
RecSys 2011) on the GPU when ``implicit.gpu.HAS_CUDA`` and the caller allows it, else on the CPU,
always with ``use_gpu`` passed explicitly, a fixed seed and BLAS pinned to one thread. The model is
saved without pickle (factors and matrix in an ``.npz``, parameters, fingerprint and id maps in a
``.json``) under ``<data folder>/models/`` and reused while the data and the parameters are the same.

After implicit's iterations (each solves users, then items) one more exact least-squares pass
re-solves every user factor against the final item factors (Hu et al., eq. 4), so the stored user
factors are exactly what a single user's re-solve gives. Every path then scores with the stored
factors: one user (:meth:`TrainedModel.recommend`), every user (:meth:`TrainedModel.recommend_all`),
audiences (:meth:`TrainedModel.item_scores`) and the page; a user unseen at training time is folded
in with the same exact solve. The per-item contributions of :meth:`TrainedModel.explain` (Hu et al.,
section 5) add up to the score.

By default the factors, regularization, alpha and the re-weighting are chosen by
:mod:`analytics.recsys.tuning` on a validation split of the training data (``get_model(..., tune=...)``);
the chosen values and the validation score are saved with the model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from analytics.errors import BadInput, NotFound, StorageError
from analytics.progress import Progress, no_progress
from analytics.query.definitions import PRODUCT_KINDS
from analytics.query.filters import Filters, filtered_events
from analytics.store.schema import EVENT_TYPES
from analytics.store.storage import Store

if TYPE_CHECKING:
    pass

GpuMode = Literal["auto", "on", "off"]
Weighting = Literal["none", "bm25", "tfidf"]

#: Weight of one event of each type in ``w_ui`` (a view is further multiplied by its watch ratio).
DEFAULT_WEIGHTS: dict[str, float] = {
    "impression": 0.0,
    "view": 1.0,
    "like": 2.0,
    "comment": 2.0,
    "share": 3.0,
    "follow": 1.0,
    "favorite": 3.0,
    "click": 2.0,
    "add_to_cart": 4.0,
    "purchase": 8.0,
    "refund": -8.0,
    "lesson_start": 2.0,
    "lesson_complete": 3.0,
}

#: Watch ratio assumed for a view whose video length is unknown.
UNKNOWN_WATCH_RATIO = 0.5

#: Bumped whenever the saved files or the matrix definition change (old models are then retrained).
MODEL_FORMAT = 2

#: Item kinds that are sold (a video is free to watch); an item with a price > 0 is sold too.


# --------------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlsParams:
    """Everything that decides a trained model (and so its cache key, except ``gpu``/``num_threads``).

    ``weights`` may be given as a mapping; it is stored as sorted ``(event_type, weight)`` pairs with
    every canonical type present (missing ones take :data:`DEFAULT_WEIGHTS`).
    """

    factors: int = 64
    iterations: int = 15
    regularization: float = 0.05
    alpha: float = 2.0
    seed: int = 42
    weights: Any = None
    half_life_days: float | None = None
    weighting: Weighting = "none"
    gpu: GpuMode = "auto"
    num_threads: int = 0  # implicit's own threads; 0 = auto (one for small matrices, else all cores)

    def __post_init__(self) -> None:
        given = dict(self.weights) if self.weights else {}
        unknown = sorted(set(given) - set(EVENT_TYPES))
        if unknown:
            raise BadInput(
                f"unknown event type(s) in weights: {', '.join(unknown)}; use {', '.join(EVENT_TYPES)}",
                code="bad_weights",
                value=unknown,
            )
        merged = {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in given.items()}}
        object.__setattr__(self, "weights", tuple(sorted(merged.items())))
        checks = [
            (isinstance(self.factors, (int, np.integer)) and self.factors >= 1, "factors must be a whole number >= 1"),
            (isinstance(self.iterations, (int, np.integer)) and self.iterations >= 1, "iterations must be a whole number >= 1"),
            (self.regularization >= 0, "regularization must be >= 0"),
            (self.alpha > 0, "alpha must be > 0"),
            (self.half_life_days is None or self.half_life_days > 0, "the half-life must be > 0 days (or none)"),
            (self.weighting in ("none", "bm25", "tfidf"), "weighting must be none, bm25 or tfidf"),
            (self.gpu in ("auto", "on", "off"), "gpu must be auto, on or off"),
            (max(merged.values()) > 0, "at least one event type needs a positive weight"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadInput(message, code="bad_als_params")

    @property
    def weight_of(self) -> dict[str, float]:
        return dict(self.weights)

    @property
    def bm25(self) -> bool:
        return self.weighting == "bm25"

    def key_dict(self) -> dict[str, Any]:
        """The parameters that change the trained factors (the device choice does not)."""
        d = self.to_dict()
        d.pop("gpu")
        d.pop("num_threads")
        return d

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["weights"] = dict(self.weights)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "AlsParams":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


# --------------------------------------------------------------------------------------------
# interaction matrix
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InteractionMatrix:
    """Summed event weights ``w_ui`` with the raw id <-> row/column maps (the one place they live)."""

    user_ids: np.ndarray  # row order (object array of str)
    item_ids: np.ndarray  # column order
    weights: sp.csr_matrix  # users x items, float32, > 0 where stored
    user_index: dict[str, int] = field(repr=False, compare=False)
    item_index: dict[str, int] = field(repr=False, compare=False)

    @classmethod
    def from_arrays(cls, users, items, weights, user_ids=None, item_ids=None) -> "InteractionMatrix":
        """Build from parallel arrays of (user, item, weight); ids sorted unless given.

        Pairs whose user or item is not in given ``user_ids``/``item_ids`` are left out.
        """
        w = np.asarray(weights, dtype=np.float32)
        r, user_ids = _codes(users, user_ids)
        c, item_ids = _codes(items, item_ids)
        keep = (r >= 0) & (c >= 0)
        if not keep.all():
            r, c, w = r[keep], c[keep], w[keep]
        matrix = sp.csr_matrix((w, (r, c)), shape=(len(user_ids), len(item_ids)), dtype=np.float32)
        matrix.sum_duplicates()
        matrix.sort_indices()
        return cls.from_csr(user_ids, item_ids, matrix)

    @classmethod
    def from_csr(cls, user_ids: Sequence[str], item_ids: Sequence[str], weights: sp.csr_matrix) -> "InteractionMatrix":
        u = np.asarray(list(user_ids), dtype=object)
        i = np.asarray(list(item_ids), dtype=object)
        return cls(u, i, weights, {k: n for n, k in enumerate(u)}, {k: n for n, k in enumerate(i)})

    @property
    def shape(self) -> tuple[int, int]:
        return self.weights.shape

    @property
    def nnz(self) -> int:
        return int(self.weights.nnz)

    def confidence(self, params: AlsParams) -> sp.csr_matrix:
        """``c_ui = 1 + alpha * w'_ui`` where ``w'`` is ``w`` after the optional BM25/TF-IDF weighting."""
        w = apply_weighting(self.weights, params.weighting)
        c = w.copy()
        c.data = (1.0 + params.alpha * c.data).astype(np.float32)
        return c


def _codes(values, ids=None) -> tuple[np.ndarray, list[str]]:
    """Row/column numbers of ``values`` and the id list they index (sorted ids unless ``ids`` given).

    One hashing pass (dictionary encoding) plus a sort of the distinct ids; -1 for values not in ``ids``.
    """
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(list(values), type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], pa.string())
    arr = arr.cast(pa.string())
    if ids is not None:
        id_list = [str(i) for i in ids]
        codes = pc.index_in(arr, value_set=pa.array(id_list, pa.string()))
        return np.asarray(codes.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64), id_list
    encoded = pc.dictionary_encode(arr)
    dictionary = encoded.dictionary
    order = np.asarray(pc.sort_indices(dictionary))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return rank[indices], dictionary.take(pa.array(order)).to_pylist()


def apply_weighting(weights: sp.csr_matrix, weighting: Weighting) -> sp.csr_matrix:
    """BM25 (K1=100, B=0.8) or TF-IDF re-weighting with items as documents, users as terms.

    Values are floored at 1e-3 so a re-weighted positive never turns into a "dislike".
    """
    if weighting == "none" or weights.nnz == 0:
        return weights
    from implicit.nearest_neighbours import bm25_weight, tfidf_weight

    item_users = weights.T.tocoo()
    reweighted = bm25_weight(item_users, K1=100, B=0.8) if weighting == "bm25" else tfidf_weight(item_users)
    out = sp.csr_matrix(reweighted.T, dtype=np.float32)
    out.data = np.maximum(out.data, 1e-3).astype(np.float32)
    out.sort_indices()
    return out


def event_weights(source, events, params: AlsParams, reference_time: dt.datetime | None = None):
    """ibis: one row per event of ``events`` with its weight (``user_id``, ``item_id``, ``event_time``, ``weight``)."""
    import ibis

    from analytics.query.definitions import views_with_ratio

    w = params.weight_of
    items = source.table("items")
    views = views_with_ratio(events, items)
    views = views.select(
        "user_id",
        "item_id",
        "event_time",
        weight=(ibis.coalesce(views.watch_ratio, UNKNOWN_WATCH_RATIO) * w["view"]).cast("float64"),
    )
    others = events.filter(events.event_type != "view", events.event_type.isin([k for k, v in w.items() if v != 0 and k != "view"]))
    others = others.select(
        "user_id",
        "item_id",
        "event_time",
        weight=others.event_type.substitute({k: v for k, v in w.items() if k != "view"}, else_=0.0).cast("float64"),
    )
    rows = views.union(others) if w["view"] != 0 else others
    rows = rows.filter(rows.user_id.notnull(), rows.item_id.notnull())
    if params.half_life_days is not None and reference_time is not None:
        ref = ibis.literal(reference_time.timestamp() if reference_time.tzinfo else reference_time.replace(tzinfo=dt.timezone.utc).timestamp())
        age_days = (ref - rows.event_time.epoch_seconds().cast("float64")) / 86400.0
        rows = rows.mutate(weight=rows.weight * (ibis.literal(0.5) ** (age_days.clip(lower=0) / params.half_life_days)))
    return rows


def summed_weights(source, events, params: AlsParams, reference_time: dt.datetime | None = None):
    """ibis: ``w_ui`` per (user_id, item_id) with ``last_time``, keeping positive sums only."""
    rows = event_weights(source, events, params, reference_time)
    agg = rows.group_by(["user_id", "item_id"]).aggregate(weight=rows.weight.sum(), last_time=rows.event_time.max())
    return agg.filter(agg.weight > 0)


def newest_event_time(source, events) -> dt.datetime | None:
    value = source.scalar(events.event_time.max())
    if value is None or (hasattr(value, "__class__") and str(value) == "NaT"):
        return None
    return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value


def interaction_weights(source, events, params: AlsParams):
    """ibis: ``user_id``, ``item_id``, ``weight`` (``w_ui`` > 0) of an events expression, decay relative
    to its newest event; the one query every engine runs for the interaction matrix."""
    ref = newest_event_time(source, events) if params.half_life_days is not None else None
    return summed_weights(source, events, params, ref).select("user_id", "item_id", "weight")


def matrix_from_pairs(table: pa.Table) -> InteractionMatrix:
    """The :class:`InteractionMatrix` of collected (``user_id``, ``item_id``, ``weight``) rows."""
    return InteractionMatrix.from_arrays(table["user_id"], table["item_id"], table["weight"].to_numpy())


def matrix_from_events(source, events, params: AlsParams) -> InteractionMatrix:
    """The :class:`InteractionMatrix` of an ibis events expression, aggregated on the source's engine."""
    return matrix_from_pairs(source.to_arrow(interaction_weights(source, events, params)))


def source_events(source, filters: Filters | None):
    """The events ``filters`` restrict (every event when they restrict nothing), as ibis."""
    filters = restricting(filters)
    return filtered_events(source, filters) if filters else source.table("events")


def build_matrix(source, params: AlsParams = AlsParams(), filters: Filters | None = None) -> InteractionMatrix:
    """The interaction matrix of a source's events (restricted by ``filters`` when given), aggregated on
    its engine (DuckDB, or Spark for an :class:`analytics.store.storage.IbisSource`) and collected as COO."""
    return matrix_from_events(source, source_events(source, filters), params)


# --------------------------------------------------------------------------------------------
# devices and training
# --------------------------------------------------------------------------------------------
def has_cuda() -> bool:
    import implicit.gpu

    return bool(implicit.gpu.HAS_CUDA)


def resolve_device(gpu: GpuMode) -> Literal["cpu", "gpu"]:
    """``gpu="on"`` without CUDA is an error; ``"auto"`` uses the GPU only when CUDA is there."""
    cuda = has_cuda()
    if gpu == "on" and not cuda:
        raise BadInput(
            "GPU training was requested but CUDA is not available to the implicit library on this machine; "
            "use --gpu auto (falls back to the CPU) or --gpu off",
            code="no_cuda",
        )
    return "gpu" if gpu in ("on", "auto") and cuda else "cpu"


#: Below this many interactions one thread fits faster than several (thread start-up and
#: spinning dominate; measured about 13x faster on a 240 x 133 matrix on a busy 2-core machine).
SMALL_MATRIX_NNZ = 100_000


def threads_for(params: AlsParams, nnz: int) -> int:
    """implicit's ``num_threads`` for a matrix with ``nnz`` interactions."""
    if params.num_threads:
        return params.num_threads
    return 1 if nnz < SMALL_MATRIX_NNZ else 0


def _new_als(params: AlsParams, use_gpu: bool, num_threads: int = 0):
    import implicit.als

    kwargs = dict(
        factors=params.factors,
        regularization=params.regularization,
        alpha=1.0,  # the confidence 1 + alpha * w is already in the matrix
        iterations=params.iterations,
        random_state=params.seed,
        calculate_training_loss=False,
        use_gpu=use_gpu,
    )
    if not use_gpu:
        kwargs["num_threads"] = num_threads
    return implicit.als.AlternatingLeastSquares(**kwargs)


def fit_als(user_items: sp.csr_matrix, params: AlsParams, device: str, progress: Progress = no_progress):
    """Fit implicit's ALS on ``user_items`` (confidences) and return a CPU model.

    The user factors are then re-solved exactly against the final item factors (one exact
    least-squares pass, implicit's ``least_squares``), so that batch and single-user scores agree.
    """
    from threadpoolctl import threadpool_limits

    n = params.iterations
    threads = threads_for(params, user_items.nnz)

    def callback(iteration: int, elapsed: float, loss: Any) -> None:
        progress((iteration + 1) / n, "als_iteration", iteration=iteration + 1, iterations=n)

    with threadpool_limits(1, "blas"):  # implicit checks the BLAS threads when the model is built
        model = _new_als(params, use_gpu=device == "gpu", num_threads=threads)
        model.fit(user_items, show_progress=False, callback=callback)
        if device == "gpu":
            model = model.to_cpu()
        exact_user_pass(user_items, model, params, threads)
    return model


def exact_user_pass(user_items: sp.csr_matrix, als, params: AlsParams, threads: int = 1) -> None:
    """Re-solve every user factor of ``als`` exactly against its item factors (Hu et al. 2008, eq. 4)."""
    from implicit.cpu._als import least_squares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        least_squares(user_items, als.user_factors, als.item_factors, params.regularization, num_threads=threads)


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Contribution:
    """How much one item of the user's history adds to a score (Hu et al. 2008, section 5)."""

    item: str
    contribution: float
    title: str | None = None


@dataclass(frozen=True)
class Recommendation:
    item: str
    score: float
    because: tuple[Contribution, ...] = ()
    title: str | None = None
    category: str | None = None

    @property
    def reasons(self) -> tuple[Contribution, ...]:
        """The history items that pull this item up (positive contributions, largest first; distinct items)."""
        return tuple(c for c in self.because if c.contribution > 0)

    def reason_names(self, n: int = 3) -> list[str]:
        """Display names of the first ``n`` :attr:`reasons`: the title, with the item id when two share a title
        (different items can carry the same title), or the id when there is no title."""
        reasons = self.reasons[:n]
        titles = [c.title for c in reasons]
        return [c.title if c.title and titles.count(c.title) == 1 else (f"{c.title} ({c.item})" if c.title else c.item)
                for c in reasons]

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "title": self.title,
            "score": self.score,
            "because": [{"item": c.item, "title": c.title, "contribution": c.contribution} for c in self.because],
        }


@dataclass(frozen=True)
class Explanation:
    user: str
    item: str
    score: float
    contributions: tuple[Contribution, ...]  # every history item, largest first; they sum to score


@dataclass(frozen=True)
class ScoredId:
    """An item (for similar items) with its score."""

    id: str
    score: float


class TrainedModel:
    """A trained (or loaded) ALS model with its id maps, matrix and catalog facts."""

    def __init__(self, *, params: AlsParams, device: str, fingerprint: str, matrix: InteractionMatrix,
                 user_items: sp.csr_matrix, als, trained_at: str, train_seconds: float,
                 loaded: bool = False, device_note: str | None = None, tuning: dict[str, Any] | None = None) -> None:
        self.params = params
        self.device = device
        self.device_note = device_note
        self.fingerprint = fingerprint
        self.matrix = matrix
        self.user_ids = matrix.user_ids
        self.item_ids = matrix.item_ids
        self.user_index = matrix.user_index
        self.item_index = matrix.item_index
        self.user_items = user_items
        self._als = als
        self.trained_at = trained_at
        self.train_seconds = train_seconds
        self.loaded = loaded
        self.tuning = tuning  # how the parameters were chosen (analytics.recsys.tuning.TuningResult.to_dict), or None
        self.store: Store | None = None
        self.catalog: dict[str, dict[str, Any]] = {}
        self._YtY: np.ndarray | None = None

    # -- facts ---------------------------------------------------------------------------
    @property
    def user_factors(self) -> np.ndarray:
        return self._als.user_factors

    @property
    def item_factors(self) -> np.ndarray:
        return self._als.item_factors

    @property
    def als(self):
        """The underlying ``implicit.cpu.als.AlternatingLeastSquares``."""
        return self._als

    def summary(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "device": self.device,
            "device_note": self.device_note,
            "users": len(self.user_ids),
            "items": len(self.item_ids),
            "interactions": int(self.user_items.nnz),
            "params": self.params.to_dict(),
            "trained_at": self.trained_at,
            "train_seconds": round(self.train_seconds, 3),
            "loaded_from_disk": self.loaded,
            "tuning": self.tuning,
        }

    def set_catalog(self, rows: Iterable[Mapping[str, Any]]) -> None:
        catalog = {}
        for r in rows:
            price = r.get("price")
            catalog[str(r["item_id"])] = {
                "title": r.get("title"),
                "category": r.get("category"),
                "kind": r.get("kind"),
                "purchasable": (r.get("kind") in PRODUCT_KINDS) or (price is not None and float(price) > 0),
            }
        self.catalog = catalog

    def title(self, item: str) -> str | None:
        return (self.catalog.get(item) or {}).get("title")

    def _item_row(self, item_id: str) -> int:
        try:
            return self.item_index[str(item_id)]
        except KeyError:
            raise NotFound(f"item {item_id!r} is not in the model (no usable interactions)", code="unknown_item", item=item_id) from None

    def _user_row(self, user_id: str) -> int:
        try:
            return self.user_index[str(user_id)]
        except KeyError:
            raise NotFound(f"user {user_id!r} is not in the model", code="unknown_user", user=user_id) from None

    # -- per-user factors ----------------------------------------------------------------
    @property
    def YtY(self) -> np.ndarray:
        if self._YtY is None:
            Y = self.item_factors.astype(np.float64)
            self._YtY = Y.T @ Y
        return self._YtY

    def history_row(self, user_id: str, history: Mapping[str, float] | None = None) -> sp.csr_matrix:
        """The user's confidence row: from the matrix for a known user, else from ``history``/the store."""
        if history is None and str(user_id) in self.user_index:
            u = self.user_index[str(user_id)]
            return self.user_items[u]
        if history is None:
            history = self._history_from_store(str(user_id))
        cols, vals = [], []
        for item, w in history.items():
            j = self.item_index.get(str(item))
            if j is not None and w > 0:
                cols.append(j)
                vals.append(w)
        if not cols:
            raise NotFound(
                f"user {user_id!r} has no events on items the model knows; nothing to recommend from",
                code="unknown_user",
                user=user_id,
            )
        row = sp.csr_matrix((np.asarray(vals, np.float32), (np.zeros(len(cols), np.int32), np.asarray(cols, np.int32))),
                            shape=(1, len(self.item_ids)), dtype=np.float32)
        row.sum_duplicates()
        row.data = (1.0 + self.params.alpha * row.data).astype(np.float32)
        return row

    def _history_from_store(self, user_id: str) -> dict[str, float]:
        if self.store is None:
            return {}
        source = self.store
        events = source.table("events")
        events = events.filter(events.user_id == user_id)
        agg = summed_weights(source, events, self.params, newest_event_time(source, events) if self.params.half_life_days else None)
        df = source.to_arrow(agg.select("item_id", "weight"))
        return dict(zip(df["item_id"].to_pylist(), df["weight"].to_pylist()))

    def _solve(self, row: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Exact least-squares user factor for a confidence row: ``(A, x_u, history cols, confidences)``.

        ``A = YᵀY + Yᵀ(Cᵘ - I)Y + λI`` and ``x_u = A⁻¹ YᵀCᵘp(u)`` (Hu et al. 2008, eq. 4).
        """
        cols = row.indices
        conf = row.data.astype(np.float64)
        Yh = self.item_factors[cols].astype(np.float64)
        A = self.YtY + Yh.T @ ((conf - 1.0)[:, None] * Yh) + self.params.regularization * np.eye(self.YtY.shape[0])
        x = np.linalg.solve(A, Yh.T @ conf)
        return A, x, cols, conf

    def user_factor(self, user_id: str, history: Mapping[str, float] | None = None) -> np.ndarray:
        """The user's factor re-solved exactly (works for users unseen at training time)."""
        return self._solve(self.history_row(user_id, history))[1]

    # -- serving -------------------------------------------------------------------------
    def candidate_mask(self, only_purchasable: bool = False, category: str | None = None) -> np.ndarray:
        """Boolean per item column: allowed by the purchasable/category filters."""
        mask = np.ones(len(self.item_ids), dtype=bool)
        if only_purchasable or category:
            for j, item in enumerate(self.item_ids):
                facts = self.catalog.get(item)
                if only_purchasable and not (facts and facts["purchasable"]):
                    mask[j] = False
                if category and not (facts and facts["category"] == category):
                    mask[j] = False
        return mask

    def item_scores(self, item_id: str) -> np.ndarray:
        """Every model user's score ``x_u · y_i`` for one item (the audience of an item)."""
        j = self._item_row(item_id)
        return (self.user_factors @ self.item_factors[j]).astype(np.float64)

    def recommend(self, user_id: str, k: int = 10, filter_seen: bool = True, only_purchasable: bool = False,
                  category: str | None = None, history: Mapping[str, float] | None = None,
                  explain_top: int = 3) -> list[Recommendation]:
        """Top-``k`` items for one user with scores ``x_u · y_i`` and the items that explain them.

        A known user is scored with the stored factor, the same numbers as :meth:`recommend_all`.
        A user unseen at training time is folded in from ``history`` (item -> weight) or, when
        omitted, from their events in the store (``recalculate_user`` semantics). ``because`` lists
        up to ``explain_top`` distinct history items, largest contribution first.
        """
        if k < 1:
            raise BadInput("k must be >= 1", code="bad_k", value=k)
        row = self.history_row(user_id, history)
        A, x, cols, conf = self._solve(row)
        if history is None and str(user_id) in self.user_index:  # the stored factor, as implicit's batch top-N
            scores = (self.item_factors @ self.user_factors[self.user_index[str(user_id)]]).astype(np.float64)
        else:  # folded in: the exact solve (its contributions add up to these scores)
            scores = self.item_factors.astype(np.float64) @ x
        allowed = self.candidate_mask(only_purchasable, category)
        if filter_seen:
            allowed[cols] = False
        candidates = np.flatnonzero(allowed)
        if candidates.size == 0:
            return []
        k = min(k, candidates.size)
        top = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        top = top[np.lexsort((top, -scores[top]))]
        # contributions s_ij * c_j with s_ij = (A^-1 y_i) · y_j; each column sums to the exact score.
        W = np.linalg.solve(A, self.item_factors[top].astype(np.float64).T)
        contrib = conf[:, None] * (self.item_factors[cols].astype(np.float64) @ W)
        out = []
        for n, j in enumerate(top):
            order = np.argsort(-contrib[:, n], kind="stable")[:explain_top]
            because = tuple(
                Contribution(str(self.item_ids[cols[m]]), float(contrib[m, n]), self.title(self.item_ids[cols[m]]))
                for m in order
            )
            item = str(self.item_ids[j])
            facts = self.catalog.get(item) or {}
            out.append(Recommendation(item, float(scores[j]), because, facts.get("title"), facts.get("category")))
        return out

    def explain(self, user_id: str, item_id: str, history: Mapping[str, float] | None = None) -> Explanation:
        """Every history item's contribution to the user's score for ``item_id`` (they sum to it)."""
        j = self._item_row(item_id)
        A, x, cols, conf = self._solve(self.history_row(user_id, history))
        w = np.linalg.solve(A, self.item_factors[j].astype(np.float64))
        contrib = conf * (self.item_factors[cols].astype(np.float64) @ w)
        order = np.argsort(-contrib, kind="stable")
        parts = tuple(Contribution(str(self.item_ids[cols[m]]), float(contrib[m]), self.title(self.item_ids[cols[m]])) for m in order)
        return Explanation(str(user_id), str(item_id), float(contrib.sum()), parts)

    def recommend_all(self, k: int = 10, filter_seen: bool = True, batch_size: int | None = None) -> "pa.Table":
        """Top-``k`` for every user from the stored factors: a table ``user, rank, item, score``."""
        if k < 1:
            raise BadInput("k must be >= 1", code="bad_k", value=k)
        n_users = len(self.user_ids)
        k = min(k, len(self.item_ids))
        batch_size = batch_size or max(n_users, 1)  # implicit batches internally; one call is fastest
        ids_parts, score_parts = [], []
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            for start in range(0, n_users, batch_size):
                userids = np.arange(start, min(start + batch_size, n_users))
                ids, scores = self._als.recommend(userids, self.user_items[userids], N=k,
                                                  filter_already_liked_items=filter_seen)
                ids_parts.append(ids)
                score_parts.append(scores)
        if not ids_parts:
            return pa.table({"user": pa.array([], pa.string()), "rank": pa.array([], pa.int32()),
                             "item": pa.array([], pa.string()), "score": pa.array([], pa.float32())})
        ids = np.vstack(ids_parts)
        scores = np.vstack(score_parts)
        valid = (ids >= 0) & np.isfinite(scores) & (scores > -1e30)
        users = np.repeat(np.arange(n_users), ids.shape[1]).reshape(ids.shape)
        ranks = np.tile(np.arange(1, ids.shape[1] + 1, dtype=np.int32), (n_users, 1))
        user_arr = pa.array(self.user_ids, pa.string())
        item_arr = pa.array(self.item_ids, pa.string())
        return pa.table({
            "user": user_arr.take(pa.array(users[valid])),
            "rank": pa.array(ranks[valid]),
            "item": item_arr.take(pa.array(ids[valid])),
            "score": pa.array(scores[valid].astype(np.float32)),
        })

    def similar_items(self, item_id: str, k: int = 10) -> list[ScoredId]:
        """Items whose factors are closest by cosine similarity (the item itself left out)."""
        j = self._item_row(item_id)
        ids, scores = self._als.similar_items(j, N=min(k + 1, len(self.item_ids)))
        return [ScoredId(str(self.item_ids[i]), float(s)) for i, s in zip(ids, scores) if i != j][:k]

    def scores(self, user_ids: Sequence[str], item_ids: Sequence[str]) -> np.ndarray:
        """Matrix of ``x_u · y_i`` (rows ``user_ids``, columns ``item_ids``) from the stored factors."""
        rows = [self._user_row(u) for u in user_ids]
        cols = [self._item_row(i) for i in item_ids]
        return self.user_factors[rows].astype(np.float64) @ self.item_factors[cols].astype(np.float64).T


# --------------------------------------------------------------------------------------------
# training, saving, loading
# --------------------------------------------------------------------------------------------
def restricting(filters: Filters | None) -> Filters | None:
    """``filters`` if it restricts anything, else ``None`` (so "all data" has one cache key)."""
    if filters is None:
        return None
    d = filters.describe()
    return filters if any(d[k] for k in ("from", "to", "channel", "campaign", "category")) else None


def data_fingerprint(store: Store, params: AlsParams, filters: Filters | None = None) -> str:
    """A short hash of the data version, the table sizes, the filters and the training parameters."""
    filters = restricting(filters)
    counts = store.query("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM items)").rows[0]
    payload = {
        "format": MODEL_FORMAT,
        "data": store.data_version(),
        "rows": list(counts),
        "filters": filters.describe() if filters else None,
        "params": params.key_dict(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fit_on_device(user_items: sp.csr_matrix, params: AlsParams, progress: Progress = no_progress):
    """:func:`fit_als` on the device ``params.gpu`` asks for: ``(model, device, note)``.

    A GPU that fails mid-way: ``"auto"`` retries on the CPU (``note`` says so), ``"on"`` is an error.
    """
    device = resolve_device(params.gpu)
    try:
        return fit_als(user_items, params, device, progress), device, None
    except Exception as exc:
        if device != "gpu":
            raise
        if params.gpu == "on":
            raise BadInput(f"GPU training failed: {exc}; use --gpu auto or off", code="gpu_failed") from exc
        return fit_als(user_items, params, "cpu", progress), "cpu", f"GPU training failed ({exc}); trained on the CPU instead"


def train(matrix: InteractionMatrix, params: AlsParams = AlsParams(), progress: Progress = no_progress,
          fingerprint: str = "", tuning: dict[str, Any] | None = None) -> TrainedModel:
    """Train ALS on an interaction matrix; the device follows ``params.gpu`` (see :func:`resolve_device`)."""
    require_interactions(matrix)
    user_items = matrix.confidence(params)
    progress(0.0, "training")
    start = time.perf_counter()
    als, device, note = fit_on_device(user_items, params, progress)
    seconds = time.perf_counter() - start
    progress(1.0, "trained")
    return TrainedModel(
        params=params, device=device, fingerprint=fingerprint, matrix=matrix, user_items=user_items, als=als,
        trained_at=utc_now(), train_seconds=seconds, device_note=note, tuning=tuning,
    )


def require_interactions(matrix: InteractionMatrix) -> None:
    """:class:`NotFound` when ``matrix`` holds no interaction to learn from."""
    if matrix.nnz == 0:
        raise NotFound(
            "there are no interactions to learn from (only impressions, or no events in the selected period)",
            code="no_interactions",
        )


def utc_now() -> str:
    """The time a model is trained: naive UTC, to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def model_paths(models_dir: Path, fingerprint: str) -> tuple[Path, Path]:
    return models_dir / f"als-{fingerprint}.npz", models_dir / f"als-{fingerprint}.json"


def save_model(model: TrainedModel, models_dir: Path, keep: int = 3) -> Path:
    """Write ``als-<fingerprint>.npz`` (factors, matrix) and ``.json`` (metadata); returns the JSON path.

    Files are written under temporary names and renamed, the JSON last, so a reader never sees half
    a model. Only the ``keep`` newest models stay on disk.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    npz, meta = model_paths(models_dir, model.fingerprint)
    tmp_npz = npz.with_name(npz.stem + ".tmp.npz")
    ui = model.user_items
    np.savez(tmp_npz, user_factors=model.user_factors, item_factors=model.item_factors,
             indptr=ui.indptr, indices=ui.indices, data=ui.data, shape=np.asarray(ui.shape))
    os.replace(tmp_npz, npz)
    doc = {
        "format": MODEL_FORMAT,
        "fingerprint": model.fingerprint,
        "params": model.params.to_dict(),
        "device": model.device,
        "device_note": model.device_note,
        "trained_at": model.trained_at,
        "train_seconds": model.train_seconds,
        "user_ids": [str(u) for u in model.user_ids],
        "item_ids": [str(i) for i in model.item_ids],
        "weights_sha256": hashlib.sha256(model.matrix.weights.data.tobytes()).hexdigest(),
        "tuning": model.tuning,
    }
    tmp_meta = meta.with_suffix(".json.tmp")
    tmp_meta.write_text(json.dumps(doc, ensure_ascii=False))
    os.replace(tmp_meta, meta)
    olds = sorted(models_dir.glob("als-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[keep:]
    for old in olds:
        for p in model_paths(models_dir, old.stem.removeprefix("als-")):
            p.unlink(missing_ok=True)
    return meta


def als_with_factors(params: AlsParams, user_factors: np.ndarray, item_factors: np.ndarray, nnz: int):
    """An ``implicit.cpu.als.AlternatingLeastSquares`` holding given factors (it serves, it is not fitted)."""
    import implicit.cpu.als
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        als = implicit.cpu.als.AlternatingLeastSquares(
            factors=params.factors, regularization=params.regularization, alpha=1.0,
            iterations=params.iterations, random_state=params.seed, num_threads=threads_for(params, nnz),
        )
    als.user_factors, als.item_factors = user_factors, item_factors
    return als


def load_model(meta_path: Path) -> TrainedModel:
    """Rebuild a saved model (no pickle): ``implicit.cpu.als.AlternatingLeastSquares`` with its factors."""
    try:
        doc = json.loads(Path(meta_path).read_text())
        if doc.get("format") != MODEL_FORMAT:
            raise ValueError(f"format {doc.get('format')} is not {MODEL_FORMAT}")
        npz, _ = model_paths(Path(meta_path).parent, doc["fingerprint"])
        with np.load(npz, allow_pickle=False) as data:
            shape = tuple(int(v) for v in data["shape"])
            user_items = sp.csr_matrix((data["data"], data["indices"], data["indptr"]), shape=shape)
            user_factors, item_factors = data["user_factors"], data["item_factors"]
    except (OSError, ValueError, KeyError) as exc:
        raise StorageError(f"the saved model {Path(meta_path).name} cannot be read: {exc}", code="bad_model") from exc
    params = AlsParams.from_dict(doc["params"])
    als = als_with_factors(params, user_factors, item_factors, user_items.nnz)
    weights = user_items.copy()
    weights.data = ((weights.data - 1.0) / params.alpha).astype(np.float32)  # w after any re-weighting
    matrix = InteractionMatrix.from_csr(doc["user_ids"], doc["item_ids"], weights)
    return TrainedModel(params=params, device=doc["device"], fingerprint=doc["fingerprint"], matrix=matrix,
                        user_items=user_items, als=als, trained_at=doc["trained_at"],
                        train_seconds=float(doc["train_seconds"]), loaded=True, device_note=doc.get("device_note"),
                        tuning=doc.get("tuning"))


_CACHE: OrderedDict[tuple[str, str], TrainedModel] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def catalog_rows(source) -> list[dict[str, Any]]:
    """The catalog facts a model serves with (kind, title, category, price), on any engine."""
    items = source.table("items")
    rows = items.filter(items.item_id.notnull()).select("item_id", "kind", "title", "category", "price")
    return source.to_arrow(rows).to_pylist()


def saved_model(store: Store, params: AlsParams = AlsParams(), filters: Filters | None = None) -> TrainedModel | None:
    """The model for the current data and parameters if one is in memory or on disk, else ``None``."""
    fp = data_fingerprint(store, params, filters)
    key = (str(store.path), fp)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    _, meta = model_paths(store.data_dir / "models", fp)
    if not meta.exists():
        return None
    try:
        model = load_model(meta)
    except StorageError:
        return None
    return _remember(store, key, model)


def _remember(store: Store, key: tuple[str, str], model: TrainedModel) -> TrainedModel:
    model.store = store
    model.set_catalog(catalog_rows(store))
    with _CACHE_LOCK:
        _CACHE[key] = model
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return model




def clear_cache() -> None:
    """Forget models kept in memory (they stay on disk)."""
    with _CACHE_LOCK:
        _CACHE.clear()


# --------------------------------------------------------------------------------------------
# the page's view of one user
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserPanel:
    """What the Recommendations page shows for one user.

    ``status``: ``ok`` (known user), ``cold_start`` (unseen at training time, folded in from their
    events), ``unknown_user`` (no usable events) or ``nothing_left`` (every candidate filtered out).
    """

    user: str
    status: Literal["ok", "cold_start", "unknown_user", "nothing_left"]
    recommendations: tuple[Recommendation, ...]
    history: Any  # pandas DataFrame: time (local), event_type, item, title, watch_ratio, revenue


def user_history(store: Store, user_id: str, timezone: str = "Asia/Shanghai", limit: int = 200):
    """The user's latest events, newest first, with local times, item titles and the watch ratio of
    views (:func:`analytics.query.definitions.views_with_ratio`; NULL when it cannot be computed), a DataFrame."""
    import ibis
    import pandas as pd

    from analytics.config import parse_timezone
    from analytics.query.definitions import latest_items, views_with_ratio

    parse_timezone(timezone)
    source = store
    events = source.table("events")
    events = events.filter(events.user_id == str(user_id)).mutate(_row=ibis.row_number())
    items = source.table("items")
    views = views_with_ratio(events, items).select("_row", "watch_ratio")
    catalog = latest_items(items).select(item=items.item_id, title=items.title)
    rows = events.left_join(views, "_row").left_join(catalog, events.item_id == catalog.item)
    rows = rows.order_by([ibis.desc(rows.event_time), rows._row]).limit(int(limit))
    table = rows.select(
        time=rows.event_time, event_type=rows.event_type, item=rows.item_id, title=rows.title,
        watch_ratio=rows.watch_ratio, revenue=rows.revenue,
    )
    df = source.execute(table)
    if len(df):  # local wall-clock time in the configured zone, as every page shows times
        df["time"] = pd.to_datetime(df["time"]).dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None)
    return df


def user_panel(store: Store, model: TrainedModel, user_id: str, k: int = 10, filter_seen: bool = True,
               only_purchasable: bool = False, category: str | None = None,
               timezone: str = "Asia/Shanghai") -> UserPanel:
    """Recommendations (with explanations) and history for one user, as the page shows them."""
    user_id = str(user_id).strip()
    if not user_id:
        raise BadInput("enter a user id", code="no_user")
    history = user_history(store, user_id, timezone)
    known = user_id in model.user_index
    try:
        recs = model.recommend(user_id, k, filter_seen=filter_seen, only_purchasable=only_purchasable, category=category)
    except NotFound:
        return UserPanel(user_id, "unknown_user", (), history)
    if not recs:
        return UserPanel(user_id, "nothing_left", (), history)
    return UserPanel(user_id, "ok" if known else "cold_start", tuple(recs), history)


def search_users(model: TrainedModel, text: str, limit: int = 50) -> list[str]:
    """User ids containing ``text`` (case-insensitive), exact match first; all users' first ids when empty."""
    text = (text or "").strip().lower()
    if not text:
        return [str(u) for u in model.user_ids[:limit]]
    exact = [str(u) for u in model.user_ids if str(u).lower() == text]
    rest = [str(u) for u in model.user_ids if text in str(u).lower() and str(u).lower() != text]
    return (exact + rest)[:limit]
