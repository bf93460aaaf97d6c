"""Similarity heatmaps and similar-items lists from the trained ALS model.

Three matrices, all computed from a :class:`analytics.recsys.recommend.TrainedModel`'s factors:

* **item x item** — cosine similarity of the item factors, ``cos(y_i, y_j) = y_i·y_j / (|y_i| |y_j|)``,
  in [-1, 1] (1 on the diagonal);
* **user x user** — cosine similarity of the user factors, same formula and range;
* **user x item** — the model's scores ``x_u · y_i`` (unbounded; higher means more likely to engage).

A heatmap draws at most ``cap`` rows and ``cap`` columns (:data:`DEFAULT_CAP` = 200, so at most
40,000 cells) to keep the browser responsive; the rows kept are the most active users / the items
with the most users, and the result says how many were left out.

Similar-items lists use the cosine of the item factors (implicit's ``similar_items``) for items
with at least ``min_interactions`` users. An item with fewer users (or none: an item only in the
catalog) gets content-based neighbours instead — TF-IDF cosine over title, tags and category
(:mod:`analytics.recsys.content`) — and every entry says which source it came from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from analytics.errors import BadInput, NotFound
from analytics.recsys.content import ContentIndex
from analytics.recsys.recommend import TrainedModel

#: Most rows and most columns a heatmap draws (the page states it).
DEFAULT_CAP = 200

#: Items with fewer users than this get content-based neighbours.
MIN_INTERACTIONS = 5

HeatmapKind = Literal["item_item", "user_user", "user_item"]
ItemChoice = Literal["top", "category", "selection"]
Source = Literal["als", "content"]


# --------------------------------------------------------------------------------------------
# cosine
# --------------------------------------------------------------------------------------------
def cosine_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarity between the rows of ``a`` and the rows of ``b`` (default ``a``).

    Same convention as ``sklearn.metrics.pairwise.cosine_similarity``: a zero row has similarity
    0 with everything. Values are clipped to [-1, 1] against rounding; float64.
    """
    a = np.asarray(a, dtype=np.float64)
    b = a if b is None else np.asarray(b, dtype=np.float64)

    def unit(m: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(m, axis=1)
        norms[norms == 0] = 1.0
        return m / norms[:, None]

    ua = unit(a)
    ub = ua if b is a else unit(b)
    return np.clip(ua @ ub.T, -1.0, 1.0)


# --------------------------------------------------------------------------------------------
# heatmaps
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Heatmap:
    """One matrix to draw: ``values[r, c]`` for ``row_ids[r]`` x ``col_ids[c]``.

    ``status``: ``ok`` or ``empty`` (nothing selected). ``capped`` is true when more rows or
    columns were asked for than ``cap``; ``total_rows``/``total_cols`` count what was asked.
    ``seen[r, c]`` (user x item only) is true where the user already interacted with the item.
    """

    kind: HeatmapKind
    status: Literal["ok", "empty"]
    row_ids: tuple[str, ...]
    col_ids: tuple[str, ...]
    row_labels: tuple[str, ...]  # distinct axis labels: titles for items (see _item_labels), ids for users
    col_labels: tuple[str, ...]
    values: np.ndarray
    cap: int
    total_rows: int
    total_cols: int
    seen: np.ndarray | None = None

    @property
    def capped(self) -> bool:
        return self.total_rows > len(self.row_ids) or self.total_cols > len(self.col_ids)

    @property
    def cells(self) -> int:
        return len(self.row_ids) * len(self.col_ids)

    def to_frame(self):
        """Long form: one row per cell (``row``, ``row_label``, ``col``, ``col_label``, ``value``)."""
        import pandas as pd

        r, c = np.indices(self.values.shape)
        rows, cols = np.asarray(self.row_ids, dtype=object), np.asarray(self.col_ids, dtype=object)
        rl, cl = np.asarray(self.row_labels, dtype=object), np.asarray(self.col_labels, dtype=object)
        df = pd.DataFrame({
            "row": rows[r.ravel()] if rows.size else [],
            "row_label": rl[r.ravel()] if rl.size else [],
            "col": cols[c.ravel()] if cols.size else [],
            "col_label": cl[c.ravel()] if cl.size else [],
            "value": self.values.ravel(),
        })
        if self.seen is not None:
            df["seen"] = self.seen.ravel()
        return df

    def to_wide(self):
        """The matrix as a table: ``row``, ``row_label``, then one column per column id."""
        import pandas as pd

        df = pd.DataFrame(self.values, columns=list(self.col_ids))
        df.insert(0, "row_label", list(self.row_labels))
        df.insert(0, "row", list(self.row_ids))
        return df

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "status": self.status, "rows": list(self.row_ids), "cols": list(self.col_ids),
            "values": self.values.tolist(), "cap": self.cap, "capped": self.capped,
            "total_rows": self.total_rows, "total_cols": self.total_cols,
        }


def _check_cap(cap: int) -> int:
    if not isinstance(cap, (int, np.integer)) or cap < 1:
        raise BadInput(f"the heatmap cap must be a whole number >= 1, got {cap!r}", code="bad_cap", value=cap)
    return int(cap)


def item_users(model: TrainedModel) -> np.ndarray:
    """Number of users with a stored interaction, per item column of the model."""
    return np.bincount(model.user_items.indices, minlength=len(model.item_ids))


def user_activity(model: TrainedModel) -> np.ndarray:
    """Number of items each user (row) interacted with."""
    return np.diff(model.user_items.indptr)


def _by_count(ids: np.ndarray, counts: np.ndarray) -> list[str]:
    """Ids ordered by count (descending), then id (ascending)."""
    order = np.lexsort((np.asarray(ids, dtype=str), -counts))
    return [str(ids[i]) for i in order]


def choose_items(model: TrainedModel, choice: ItemChoice = "top", n: int = DEFAULT_CAP, category: str | None = None,
                 selection: Sequence[str] = ()) -> list[str]:
    """The model's items to show: ``top`` ``n`` by users, every item of ``category``, or ``selection``.

    Within a category the most-used items come first. Selected ids the model does not know raise
    :class:`NotFound` (such an item has no factors).
    """
    if choice == "top":
        return _by_count(model.item_ids, item_users(model))[: max(int(n), 0)]
    if choice == "category":
        if not category:
            raise BadInput("choose a category", code="no_category")
        counts = item_users(model)
        keep = np.array([(model.catalog.get(str(i)) or {}).get("category") == category for i in model.item_ids], dtype=bool)
        return _by_count(model.item_ids[keep], counts[keep])
    if choice == "selection":
        chosen = list(dict.fromkeys(str(s) for s in selection))
        missing = [s for s in chosen if s not in model.item_index]
        if missing:
            raise NotFound(f"item(s) not in the model (no usable interactions): {', '.join(missing[:5])}",
                           code="unknown_item", items=missing)
        return chosen
    raise BadInput(f"unknown item choice {choice!r}; use top, category or selection", code="bad_choice", value=choice)


def choose_users(model: TrainedModel, n: int = DEFAULT_CAP, selection: Sequence[str] = ()) -> list[str]:
    """``selection`` (checked against the model) or the ``n`` most active users."""
    if selection:
        chosen = list(dict.fromkeys(str(s) for s in selection))
        missing = [s for s in chosen if s not in model.user_index]
        if missing:
            raise NotFound(f"user(s) not in the model: {', '.join(missing[:5])}", code="unknown_user", users=missing)
        return chosen
    return _by_count(model.user_ids, user_activity(model))[: max(int(n), 0)]


def _index(index: dict[str, int], key: str, what: str) -> int:
    try:
        return index[key]
    except KeyError:
        raise NotFound(f"{what} {key!r} is not in the model", code=f"unknown_{what}", **{what: key}) from None


def _item_labels(model: TrainedModel, items: Sequence[str]) -> tuple[str, ...]:
    """One distinct label per item, for axes: its title; ``title (id)`` when another item shares the
    title; the id when it has none."""
    titles = [model.title(i) for i in items]
    shared = Counter(t for t in titles if t)
    return tuple(i if not t else f"{t} ({i})" if shared[t] > 1 else t for i, t in zip(items, titles))


def item_heatmap(model: TrainedModel, items: Sequence[str], cap: int = DEFAULT_CAP) -> Heatmap:
    """Item x item cosine similarity of the item factors for ``items`` (the first ``cap`` kept)."""
    cap = _check_cap(cap)
    total = len(items)
    items = [str(i) for i in items[:cap]]
    cols = [_index(model.item_index, i, "item") for i in items]
    values = cosine_matrix(model.item_factors[cols]) if cols else np.zeros((0, 0))
    labels = _item_labels(model, items)
    return Heatmap("item_item", "ok" if items else "empty", tuple(items), tuple(items), labels, labels,
                   values, cap, total, total)


def user_heatmap(model: TrainedModel, users: Sequence[str], cap: int = DEFAULT_CAP) -> Heatmap:
    """User x user cosine similarity of the user factors for ``users`` (the first ``cap`` kept)."""
    cap = _check_cap(cap)
    total = len(users)
    users = [str(u) for u in users[:cap]]
    rows = [_index(model.user_index, u, "user") for u in users]
    values = cosine_matrix(model.user_factors[rows]) if rows else np.zeros((0, 0))
    return Heatmap("user_user", "ok" if users else "empty", tuple(users), tuple(users), tuple(users), tuple(users),
                   values, cap, total, total)


def user_item_heatmap(model: TrainedModel, users: Sequence[str], items: Sequence[str], cap: int = DEFAULT_CAP) -> Heatmap:
    """Scores ``x_u · y_i`` (stored factors) for ``users`` x ``items``, each axis cut to ``cap``."""
    cap = _check_cap(cap)
    total_rows, total_cols = len(users), len(items)
    users = [str(u) for u in users[:cap]]
    items = [str(i) for i in items[:cap]]
    if not users or not items:
        return Heatmap("user_item", "empty", tuple(users), tuple(items), tuple(users), _item_labels(model, items),
                       np.zeros((len(users), len(items))), cap, total_rows, total_cols, np.zeros((len(users), len(items)), bool))
    rows = [_index(model.user_index, u, "user") for u in users]
    cols = [_index(model.item_index, i, "item") for i in items]
    values = model.scores(users, items)
    seen = model.user_items[rows][:, cols].toarray() > 0
    return Heatmap("user_item", "ok", tuple(users), tuple(items), tuple(users), _item_labels(model, items),
                   values, cap, total_rows, total_cols, seen)


# --------------------------------------------------------------------------------------------
# similar-items lists
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimilarEntry:
    item: str
    score: float  # cosine: of item factors (als, [-1, 1]) or of TF-IDF vectors (content, [0, 1])
    title: str | None
    source: Source


@dataclass(frozen=True)
class SimilarItems:
    """The neighbours of one item.

    ``source`` is ``als`` (enough interactions) or ``content`` (a cold item: fewer than
    ``min_interactions`` users, marked as such). ``status``: ``ok``, ``no_neighbours`` (a cold item
    whose catalog text matches nothing) or ``no_catalog`` (a cold item without any catalog text).
    """

    item: str
    title: str | None
    source: Source
    status: Literal["ok", "no_neighbours", "no_catalog"]
    interactions: int  # users who interacted with the item (0 when the model does not know it)
    min_interactions: int
    items: tuple[SimilarEntry, ...]

    @property
    def cold(self) -> bool:
        return self.source == "content"

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item, "title": self.title, "source": self.source, "cold": self.cold, "status": self.status,
            "interactions": self.interactions, "min_interactions": self.min_interactions,
            "items": [{"rank": n, "item": e.item, "title": e.title, "score": e.score, "source": e.source}
                      for n, e in enumerate(self.items, 1)],
        }

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.to_dict()["items"], columns=["rank", "item", "title", "score", "source"])


def similar_items(model: TrainedModel, content: ContentIndex | None, item_id: str, k: int = 10,
                  min_interactions: int = MIN_INTERACTIONS) -> SimilarItems:
    """The ``k`` items most similar to ``item_id``; content-based when the item is cold.

    ``content`` is the catalog's TF-IDF index (:func:`analytics.recsys.content.build_content_index`); it
    is only used for cold items and may be ``None`` when none are expected. An id neither in the
    model nor in the catalog raises :class:`NotFound`.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise BadInput("k must be a whole number >= 1", code="bad_k", value=k)
    item_id = str(item_id).strip()
    if not item_id:
        raise BadInput("enter an item id", code="no_item")
    j = model.item_index.get(item_id)
    n_users = int(item_users(model)[j]) if j is not None else 0
    in_catalog = content is not None and item_id in content.item_index
    title = model.title(item_id)
    if title is None and in_catalog:
        title = content.titles[content.item_index[item_id]]
    if j is not None and n_users >= min_interactions:
        found = model.similar_items(item_id, int(k))
        entries = tuple(SimilarEntry(s.id, float(s.score), model.title(s.id), "als") for s in found)
        return SimilarItems(item_id, title, "als", "ok", n_users, min_interactions, entries)
    if not in_catalog:
        if j is None:
            raise NotFound(f"item {item_id!r} is neither in the model nor in the catalog", code="unknown_item", item=item_id)
        return SimilarItems(item_id, title, "content", "no_catalog", n_users, min_interactions, ())
    if content.status != "ok":
        return SimilarItems(item_id, title, "content", "no_catalog", n_users, min_interactions, ())
    found = content.similar_items(item_id, int(k))
    entries = tuple(SimilarEntry(s.item, float(s.score), s.title, "content") for s in found)
    return SimilarItems(item_id, title, "content", "ok" if entries else "no_neighbours", n_users, min_interactions, entries)


def item_choices(model: TrainedModel, content: ContentIndex | None) -> list[str]:
    """Every item id a similar-items list can be asked for: the model's items, then catalog-only ones."""
    known = _by_count(model.item_ids, item_users(model))
    extra = sorted(set(map(str, content.item_ids)) - set(known)) if content is not None else []
    return known + extra
