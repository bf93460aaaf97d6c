"""Item -> audience: the users most likely to engage with a course or video, as a target list.

Scores are the ALS model's ``x_u · y_i`` from :meth:`analytics.recsys.recommend.TrainedModel.item_scores`,
the same stored factors that every recommendation path scores with. Users who already interacted with the
item are left out by default (they need no promotion).

**Expected conversion** of a user is calibrated from history, by score decile: every user in the
model is ranked by score for the item and cut into ten equal groups (decile 1 = highest scores;
fewer groups when there are fewer than ten users); a group's rate is the share of its users who
already *converted* on the item — bought it (``purchase`` on the item) when the item is sold
(course, e-book, live, consult, or priced), engaged with it at all (any interaction the model
counts) otherwise. A candidate's expected conversion is its decile's rate. It is an in-sample
calibration (the users who converted also shaped the factors), so read it as an optimistic
estimate for ranking and sizing, not a forecast. ``expected_conversions`` is the sum over the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from analytics.errors import BadInput, NotFound
from analytics.query.filters import Filters, filtered_events
from analytics.recsys.recommend import TrainedModel
from analytics.store.storage import Store

DECILES = 10

Outcome = Literal["purchase", "engagement"]


@dataclass(frozen=True)
class AudienceMember:
    rank: int
    user: str
    score: float  # x_u · y_i
    decile: int  # 1 = the highest-scoring tenth of all users in the model
    expected_conversion: float  # in [0, 1]: the historical conversion rate of the decile


@dataclass(frozen=True)
class DecileRate:
    decile: int
    users: int
    converted: int
    score_min: float
    score_max: float

    @property
    def conversion_rate(self) -> float:
        return self.converted / self.users if self.users else 0.0


@dataclass(frozen=True)
class Audience:
    """The target list for one item.

    ``status``: ``ok``, or ``nobody_left`` when every user in the model already interacted with it.
    ``pool`` counts the candidates (users in the model, minus the engaged ones when excluded).
    """

    item: str
    title: str | None
    kind: str | None
    outcome: Outcome
    status: Literal["ok", "nobody_left"]
    users: tuple[AudienceMember, ...]
    pool: int
    model_users: int
    converted: int  # users in the model who converted on the item
    calibration: tuple[DecileRate, ...]
    exclude_engaged: bool

    @property
    def size(self) -> int:
        return len(self.users)

    @property
    def expected_conversions(self) -> float:
        return float(sum(m.expected_conversion for m in self.users))

    @property
    def base_rate(self) -> float:
        """Share of all users in the model who converted on the item, in [0, 1]."""
        return self.converted / self.model_users if self.model_users else 0.0

    @property
    def expected_rate(self) -> float:
        """Mean expected conversion over the list, in [0, 1]."""
        return self.expected_conversions / self.size if self.size else 0.0

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(
            [{"rank": m.rank, "user": m.user, "score": m.score, "decile": m.decile,
              "expected_conversion": m.expected_conversion} for m in self.users],
            columns=["rank", "user", "score", "decile", "expected_conversion"],
        )

    def calibration_frame(self):
        import pandas as pd

        return pd.DataFrame(
            [{"decile": d.decile, "users": d.users, "converted": d.converted, "conversion_rate": d.conversion_rate,
              "score_min": d.score_min, "score_max": d.score_max} for d in self.calibration],
            columns=["decile", "users", "converted", "conversion_rate", "score_min", "score_max"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item, "title": self.title, "kind": self.kind, "outcome": self.outcome, "status": self.status,
            "size": self.size, "pool": self.pool, "model_users": self.model_users, "converted": self.converted,
            "base_rate": self.base_rate, "expected_conversions": self.expected_conversions,
            "expected_rate": self.expected_rate, "exclude_engaged": self.exclude_engaged,
            "users": [{"rank": m.rank, "user": m.user, "score": m.score, "decile": m.decile,
                       "expected_conversion": m.expected_conversion} for m in self.users],
            "calibration": [{"decile": d.decile, "users": d.users, "converted": d.converted,
                             "conversion_rate": d.conversion_rate, "score_min": d.score_min, "score_max": d.score_max}
                            for d in self.calibration],
        }


def score_deciles(scores: np.ndarray, groups: int = DECILES) -> np.ndarray:
    """Decile (1 = highest) of each score: users sorted by score (ties by position) cut into equal groups.

    With ``n`` users, position ``p`` (0-based, best first) falls in group ``1 + p * g // n`` where
    ``g = min(groups, n)``, so group sizes differ by at most one.
    """
    n = len(scores)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    g = min(groups, n)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    out = np.empty(n, dtype=np.int64)
    out[order] = 1 + (np.arange(n) * g) // n
    return out


def calibrate(scores: np.ndarray, converted: np.ndarray, groups: int = DECILES) -> tuple[np.ndarray, tuple[DecileRate, ...]]:
    """Deciles of ``scores`` and each decile's conversion (``converted`` is a boolean per user)."""
    deciles = score_deciles(scores, groups)
    converted = np.asarray(converted, dtype=bool)
    rates = []
    for d in range(1, int(deciles.max(initial=0)) + 1):
        in_d = deciles == d
        s = scores[in_d]
        rates.append(DecileRate(d, int(in_d.sum()), int(converted[in_d].sum()), float(s.min()), float(s.max())))
    return deciles, tuple(rates)


def _buyers(store: Store | None, item_id: str, filters: Filters | None = None) -> set[str]:
    """Users with a purchase of ``item_id`` among the (filtered) events."""
    if store is None:
        return set()
    source = store
    events = filtered_events(source, filters) if filters else source.table("events")
    bought = events.filter(events.event_type == "purchase", events.item_id == item_id, events.user_id.notnull())
    return {str(u) for u in source.to_arrow(bought.select("user_id").distinct())["user_id"].to_pylist()}


def item_audience(store: Store | None, model: TrainedModel, item_id: str, k: int = 100,
                  exclude_engaged: bool = True, filters: Filters | None = None) -> Audience:
    """The ``k`` users most likely to engage with ``item_id`` with their expected conversion.

    ``store`` supplies the purchases of a sold item (the model's own store when ``None``), within
    ``filters`` when given (pass the filters the model was trained with). Raises
    :class:`NotFound` for an item the model does not know and :class:`BadInput` for ``k < 1``.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise BadInput("k must be a whole number >= 1", code="bad_k", value=k)
    item_id = str(item_id).strip()
    j = model.item_index.get(item_id)
    if j is None:
        raise NotFound(f"item {item_id!r} is not in the model (no usable interactions)", code="unknown_item", item=item_id)
    store = store or model.store
    facts = model.catalog.get(item_id) or {}
    outcome: Outcome = "purchase" if facts.get("purchasable") else "engagement"
    scores = model.item_scores(item_id)  # the scores every other path uses
    engaged = np.zeros(len(model.user_ids), dtype=bool)
    engaged[model.user_items[:, j].nonzero()[0]] = True
    if outcome == "purchase":
        buyers = _buyers(store, item_id, filters)
        converted = np.array([str(u) in buyers for u in model.user_ids], dtype=bool)
    else:
        converted = engaged
    deciles, rates = calibrate(scores, converted)
    rate_of = {r.decile: r.conversion_rate for r in rates}
    candidates = np.flatnonzero(~engaged) if exclude_engaged else np.arange(len(model.user_ids))
    top = np.array([], dtype=np.int64)
    if candidates.size:
        n = min(int(k), candidates.size)
        top = candidates[np.argpartition(-scores[candidates], n - 1)[:n]]
        top = top[np.lexsort((top, -scores[top]))]
    members = tuple(
        AudienceMember(n, str(model.user_ids[u]), float(scores[u]), int(deciles[u]), float(rate_of[int(deciles[u])]))
        for n, u in enumerate(top, 1)
    )
    return Audience(
        item=item_id, title=facts.get("title"), kind=facts.get("kind"), outcome=outcome,
        status="ok" if members else "nobody_left", users=members, pool=int(candidates.size),
        model_users=len(model.user_ids), converted=int(converted.sum()), calibration=rates,
        exclude_engaged=exclude_engaged,
    )
