"""Content-based similarity: TF-IDF over each catalog item's title, tags and category.

Used as the content-based baseline of the recommender evaluation and for items with too few
interactions for ALS (the Similarity page). Each item becomes a bag of tokens:

* the title's Latin words (lower-cased) and, for Chinese text, overlapping character bigrams
  (no word segmenter is needed; bigrams are the usual choice for Chinese retrieval);
* each comma-separated tag as one token ``tag:<tag>`` (ASCII and full-width commas, 、 and ; split);
* the category as one token ``category:<category>``.

Vectors are scikit-learn TF-IDF (smooth idf, sublinear tf) with L2 normalisation, so the dot
product of two item vectors is their cosine similarity, in [0, 1].
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from analytics.errors import NotFound
from analytics.store.storage import Store

_LATIN = re.compile(r"[0-9a-z]+(?:[-'][0-9a-z]+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_TAG_SPLIT = re.compile(r"[,，、;；|]")


def item_tokens(title: str | None, tags: str | None, category: str | None) -> list[str]:
    """The tokens of one item (see the module docstring)."""
    tokens: list[str] = []
    text = (title or "").lower()
    tokens += _LATIN.findall(text)
    for run in _CJK.findall(text):
        tokens += [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
    for tag in _TAG_SPLIT.split(tags or ""):
        tag = tag.strip().lower().lstrip("#")
        if tag:
            tokens.append(f"tag:{tag}")
    if category and str(category).strip():
        tokens.append(f"category:{str(category).strip().lower()}")
    return tokens


@dataclass(frozen=True)
class SimilarItem:
    item: str
    score: float  # cosine similarity in [0, 1]
    title: str | None = None


@dataclass(frozen=True)
class ContentIndex:
    """TF-IDF vectors of catalog items (rows follow ``item_ids``)."""

    item_ids: np.ndarray
    titles: tuple[str | None, ...]
    vectors: sp.csr_matrix  # items x terms, rows L2-normalised (all-zero for items without text)
    terms: tuple[str, ...]
    item_index: dict[str, int] = field(repr=False, compare=False)

    @property
    def status(self) -> str:
        """``ok`` or ``no_catalog`` (no item has a title, tag or category)."""
        return "ok" if self.vectors.nnz else "no_catalog"

    def _row(self, item_id: str) -> int:
        try:
            return self.item_index[str(item_id)]
        except KeyError:
            raise NotFound(f"item {item_id!r} is not in the catalog", code="unknown_item", item=item_id) from None

    def similar_items(self, item_id: str, k: int = 10, min_score: float = 0.0) -> list[SimilarItem]:
        """The ``k`` catalog items most similar to ``item_id`` by TF-IDF cosine (itself left out)."""
        i = self._row(item_id)
        sims = np.asarray((self.vectors @ self.vectors[i].T).todense()).ravel()
        sims[i] = -1.0
        k = min(k, len(sims) - 1)
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.lexsort((top, -sims[top]))]
        return [SimilarItem(str(self.item_ids[j]), float(sims[j]), self.titles[j]) for j in top if sims[j] > min_score]

    def similarity(self, item_ids: Sequence[str]) -> np.ndarray:
        """Cosine similarity matrix between ``item_ids`` (items without text have 0 everywhere)."""
        rows = [self._row(i) for i in item_ids]
        v = self.vectors[rows]
        return np.asarray((v @ v.T).todense())

    def aligned(self, item_ids: Sequence[str]) -> sp.csr_matrix:
        """Vectors in the order of ``item_ids``; items missing from the catalog get an empty row."""
        rows, cols = [], []
        for n, item in enumerate(item_ids):
            j = self.item_index.get(str(item))
            if j is not None:
                rows.append(n)
                cols.append(j)
        pick = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(item_ids), len(self.item_ids)))
        return (pick @ self.vectors).tocsr()

    def profile_scores(self, user_items: sp.csr_matrix, item_ids: Sequence[str]) -> np.ndarray:
        """Content scores of every item in ``item_ids`` for each row of ``user_items`` (same columns).

        A user's profile is the weighted sum of the vectors of the items in their row, L2-normalised;
        the score of an item is the cosine between profile and item vector.
        """
        vectors = self.aligned(item_ids)
        profiles = (user_items @ vectors).tocsr()
        norms = np.sqrt(np.asarray(profiles.multiply(profiles).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        profiles = sp.diags(1.0 / norms) @ profiles
        return np.asarray((profiles @ vectors.T).todense(), dtype=np.float32)


def content_index_from_rows(item_ids: Sequence[str], titles: Sequence[str | None], tags: Sequence[str | None],
                            categories: Sequence[str | None]) -> ContentIndex:
    """Build the TF-IDF index from parallel lists (one entry per item)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [item_tokens(t, g, c) for t, g, c in zip(titles, tags, categories)]
    ids = np.asarray([str(i) for i in item_ids], dtype=object)
    index = {k: n for n, k in enumerate(ids)}
    if not any(docs):
        return ContentIndex(ids, tuple(titles), sp.csr_matrix((len(ids), 0), dtype=np.float32), (), index)
    vectorizer = TfidfVectorizer(analyzer=lambda tokens: tokens, sublinear_tf=True, norm="l2", dtype=np.float32)
    vectors = vectorizer.fit_transform(docs).tocsr()
    return ContentIndex(ids, tuple(titles), vectors, tuple(vectorizer.get_feature_names_out()), index)


def build_content_index(store: Store) -> ContentIndex:
    """The TF-IDF index of the store's catalog (one row per distinct item id)."""
    res = store.query(
        "SELECT item_id, any_value(title), string_agg(DISTINCT tags, ','), any_value(category) "
        "FROM items WHERE item_id IS NOT NULL GROUP BY item_id ORDER BY item_id"
    )
    cols = list(zip(*res.rows)) if res.rows else [(), (), (), ()]
    return content_index_from_rows(*cols)


def similar_by_content(store: Store, item_id: str, k: int = 10) -> list[SimilarItem]:
    """Items most similar to ``item_id`` by title, tags and category (cosine of TF-IDF vectors)."""
    return build_content_index(store).similar_items(item_id, k)


def history_scores(index: ContentIndex, history: Mapping[str, float], item_ids: Sequence[str]) -> np.ndarray:
    """Content scores of ``item_ids`` for one history (catalog item -> weight; other items are ignored).

    The profile is the weighted sum of the history items' vectors, L2-normalised; each score is the
    cosine between the profile and the item's vector (0 for items without catalog text).
    """
    picked = [(index.item_index[str(i)], float(w)) for i, w in history.items() if str(i) in index.item_index and w > 0]
    if not picked or index.vectors.shape[1] == 0:
        return np.zeros(len(item_ids), dtype=np.float32)
    rows = np.array([r for r, _ in picked])
    weights = np.array([w for _, w in picked], dtype=np.float32)
    profile = sp.csr_matrix(weights[None, :]) @ index.vectors[rows]
    norm = float(np.sqrt(profile.multiply(profile).sum())) or 1.0
    return np.asarray((index.aligned(item_ids) @ (profile / norm).T).todense(), dtype=np.float32).ravel()
