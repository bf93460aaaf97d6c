"""User segments: profile features per user, k-means with k chosen by silhouette, segments described by their traits.

Features (one ibis query over the filtered events joined to the catalog; impressions are not
activity and are left out; users with no other event are left out):

=====================  ====================================================================
``active_days``        distinct local days with an event
``watch_minutes``      total ``watch_seconds`` of views / 60
``views``              view events
``like_rate``          likes / views (like frequency; 0 without views)
``interaction_rate``   (likes + comments + shares) / views, as in the metric glossary (0 without views)
``purchases``          purchase events
``revenue``            revenue of purchases (descriptive, not clustered)
``active_hours``       distinct local hours of the day (0-23) with an event
``peak_hour``          the local hour with most events (ties: the earliest; descriptive)
``favourite_category`` the catalog category with most events (ties: first by name; descriptive)
=====================  ====================================================================

Local time is event time shifted by the time zone's UTC offset at the newest event (exact for
zones without daylight saving, such as the default Asia/Shanghai).

Clustering: the six behaviour features of :data:`CLUSTER_FEATURES` (counts and minutes through
``log1p`` to tame long tails), standardised to mean 0 and standard deviation 1 and clipped to [-3, 3]; scikit-learn
``KMeans`` (``n_init=10``, fixed seed) for each k in 2..8 (at most distinct users - 1); the k with
the highest mean silhouette (computed on a seeded sample of at most :data:`SILHOUETTE_SAMPLE`
users) wins, smaller k on ties; with more than :data:`FIT_SAMPLE` users the k are compared on a
seeded sample and only the winner is fitted on everyone. Segments are numbered by size, largest first.

Each segment is described relative to all users: the standardised centroid of a feature is its
*z*; features with ``|z| >= 0.5`` are traits (feature, direction ``high`` / ``low``, *z*),
strongest first. The library names nothing: the dashboard's ``segment_text`` composes each name
from the two strongest traits ("heavy watchers who rarely buy") and the description from the
numbers, in English or Chinese.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from analytics.config import parse_timezone
from analytics.errors import BadInput
from analytics.query.filters import Filters, filtered_events
from analytics.store.storage import Source

CLUSTER_FEATURES = ("active_days", "watch_minutes", "like_rate", "interaction_rate", "purchases", "active_hours")
LOG_FEATURES = ("active_days", "watch_minutes", "purchases", "active_hours")
FEATURE_COLUMNS = ("active_days", "watch_minutes", "views", "like_rate", "interaction_rate", "purchases", "revenue",
                   "active_hours", "peak_hour", "favourite_category")
K_RANGE = (2, 8)
MIN_USERS = 10
TRAIT_Z = 0.5
CLIP_Z = 3.0
SILHOUETTE_SAMPLE = 5_000
FIT_SAMPLE = 20_000
SEED = 42

#: The numeric features each segment reports as means, against all users.
DESCRIBED_FEATURES = ("active_days", "watch_minutes", "views", "like_rate", "interaction_rate", "purchases", "revenue",
                      "active_hours")


# --------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------
def _utc_offset_seconds(source: Source, events, timezone: str) -> int:
    zone = parse_timezone(timezone)
    newest = source.execute(events.event_time.max())
    if newest is None or str(newest) == "NaT":
        when = dt.datetime.now(dt.timezone.utc)
    else:
        when = (newest.to_pydatetime() if hasattr(newest, "to_pydatetime") else newest).replace(tzinfo=dt.timezone.utc)
    return int(when.astimezone(zone).utcoffset().total_seconds())


def feature_query(source, events, offset_seconds: int):
    """ibis: one row per user with the features of the module docstring (portable expression)."""
    import ibis

    ev = events.filter(events.user_id.notnull(), events.event_type != "impression")
    local = ev.event_time + ibis.interval(seconds=int(offset_seconds))
    ev = ev.mutate(local_day=local.date(), local_hour=local.hour())
    items = source.table("items")
    cats = items.filter(items.item_id.notnull(), items.category.notnull())
    cats = cats.group_by("item_id").aggregate(category=cats.category.min())
    joined = ev.left_join(cats, ev.item_id == cats.item_id).select(
        "user_id", "event_type", "watch_seconds", "revenue", "local_day", "local_hour", "category")

    t = joined.event_type
    is_view = t == "view"
    base = joined.group_by("user_id").aggregate(
        active_days=joined.local_day.nunique(),
        views=is_view.sum().cast("int64"),
        watch_seconds=joined.watch_seconds.sum(where=is_view),
        likes=(t == "like").sum().cast("int64"),
        engagements=t.isin(["like", "comment", "share"]).sum().cast("int64"),
        purchases=(t == "purchase").sum().cast("int64"),
        revenue=joined.revenue.cast("float64").sum(where=t == "purchase"),
        active_hours=joined.local_hour.nunique(),
    )

    def favourite(column: str, out: str):
        c = joined.filter(joined[column].notnull()).group_by(["user_id", column]).aggregate(n=ibis._.count())
        w = ibis.window(group_by=c.user_id, order_by=[ibis.desc(c.n), c[column]])
        c = c.mutate(rn=ibis.row_number().over(w))
        return c.filter(c.rn == 0).select(user_key=c.user_id, **{out: c[column]})

    fav_cat = favourite("category", "favourite_category")
    fav_hour = favourite("local_hour", "peak_hour")
    out = base.left_join(fav_cat, base.user_id == fav_cat.user_key).drop("user_key")
    out = out.left_join(fav_hour, out.user_id == fav_hour.user_key).drop("user_key")
    views = out.views.cast("float64")
    return out.select(
        "user_id",
        "active_days",
        watch_minutes=(out.watch_seconds.fill_null(0) / 60.0).cast("float64"),
        views=out.views,
        like_rate=ibis.ifelse(out.views > 0, out.likes.cast("float64") / views, 0.0),
        interaction_rate=ibis.ifelse(out.views > 0, out.engagements.cast("float64") / views, 0.0),
        purchases=out.purchases,
        revenue=out.revenue.fill_null(0.0),
        active_hours=out.active_hours,
        peak_hour=out.peak_hour,
        favourite_category=out.favourite_category,
    ).order_by("user_id")


def user_features(source: Source, filters: Filters | None = None):
    """The per-user feature table (a pandas DataFrame, one row per user, sorted by user id)."""
    filters = filters or Filters()
    events = filtered_events(source, filters)
    offset = _utc_offset_seconds(source, events, filters.timezone)
    df = source.execute(feature_query(source, events, offset))
    for col in ("active_days", "views", "purchases", "active_hours"):
        df[col] = df[col].astype("int64")
    for col in ("watch_minutes", "like_rate", "interaction_rate", "revenue"):
        df[col] = df[col].astype("float64")
    df["peak_hour"] = df["peak_hour"].astype("Int64")
    return df.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# clustering
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trait:
    """A feature (one of :data:`CLUSTER_FEATURES`) on which a segment stands out from all users."""

    feature: str
    z: float  # standardised centroid: > 0 above all users' mean, |z| >= TRAIT_Z

    @property
    def direction(self) -> Literal["high", "low"]:
        return "high" if self.z > 0 else "low"

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "direction": self.direction, "z": self.z}


@dataclass(frozen=True)
class Segment:
    """One segment: its size, means of :data:`DESCRIBED_FEATURES` and traits, strongest first."""

    segment: int  # 1 = largest
    size: int
    share: float  # of all users, in [0, 1]
    means: dict[str, float]  # raw feature means of the segment
    traits: tuple[Trait, ...]
    favourite_category: str | None
    peak_hour: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment, "size": self.size, "share": self.share,
            "means": self.means, "traits": [t.to_dict() for t in self.traits],
            "favourite_category": self.favourite_category, "peak_hour": self.peak_hour,
        }


@dataclass(frozen=True)
class Segmentation:
    """Segments of the users. ``status``: ``ok``, ``not_enough_users`` (fewer than ``MIN_USERS``) or
    ``no_variation`` (fewer than three distinct feature profiles)."""

    status: Literal["ok", "not_enough_users", "no_variation"]
    users_total: int
    k: int
    chosen_by: Literal["silhouette", "given", "none"]
    silhouette: float | None
    silhouette_by_k: tuple[tuple[int, float], ...]
    segments: tuple[Segment, ...]
    overall: dict[str, float]
    users: Any = field(repr=False, compare=False)  # DataFrame: user_id, segment, features

    def to_dict(self, include_users: bool = False) -> dict[str, Any]:
        d = {
            "status": self.status, "users": self.users_total, "k": self.k, "chosen_by": self.chosen_by,
            "silhouette": self.silhouette,
            "silhouette_by_k": [{"k": k, "silhouette": s} for k, s in self.silhouette_by_k],
            "overall": self.overall, "segments": [s.to_dict() for s in self.segments],
        }
        if include_users:
            d["assignments"] = self.users.to_dict(orient="records")
        return d

    def table(self):
        """One row per segment: number, size, share and the feature means."""
        import pandas as pd

        return pd.DataFrame([
            {"segment": s.segment, "users": s.size, "share": s.share, **s.means,
             "favourite_category": s.favourite_category, "peak_hour": s.peak_hour}
            for s in self.segments
        ])


def cluster_matrix(features) -> np.ndarray:
    """The standardised matrix k-means sees (rows users, columns :data:`CLUSTER_FEATURES`)."""
    from sklearn.preprocessing import StandardScaler

    x = np.column_stack([
        np.log1p(np.maximum(features[c].to_numpy(dtype=np.float64), 0)) if c in LOG_FEATURES
        else features[c].to_numpy(dtype=np.float64)
        for c in CLUSTER_FEATURES
    ])
    # clipped at +-3 so that a handful of extreme users (one view, one like: a like rate of 1)
    # do not get a segment of their own
    return np.clip(StandardScaler().fit_transform(x), -CLIP_Z, CLIP_Z)


def choose_k(x: np.ndarray, k_range: tuple[int, int] = K_RANGE, seed: int = SEED,
             sample: int = SILHOUETTE_SAMPLE, fit_sample: int = FIT_SAMPLE,
             ) -> tuple[int, tuple[tuple[int, float], ...], dict[int, np.ndarray]]:
    """Fit k-means for each k in ``k_range`` and return (best k, silhouette per k, labels per k).

    With more than ``fit_sample`` users the k are compared on a seeded sample of that many users
    and only the chosen k is then fitted on everyone (its silhouette is recomputed on all labels).
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    distinct = len(np.unique(np.round(x, 9), axis=0))
    lo, hi = k_range
    hi = min(hi, distinct - 1)
    sampled = len(x) > fit_sample
    xs = x[np.sort(np.random.default_rng(seed).choice(len(x), fit_sample, replace=False))] if sampled else x
    scores, labels = [], {}
    size = sample if len(xs) > sample else None
    # one thread: on a busy machine OpenMP/BLAS threads slow small k-means fits down many times over
    with threadpool_limits(1):
        for k in range(lo, hi + 1):
            lab = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(xs)
            if len(np.unique(lab)) < 2:
                continue
            s = float(silhouette_score(xs, lab, sample_size=size, random_state=seed))
            scores.append((k, round(s, 12)))
            labels[k] = lab
        if not scores:
            return 0, (), {}
        best = max(scores, key=lambda ks: (ks[1], -ks[0]))[0]
        if sampled:
            lab = KMeans(n_clusters=best, n_init=10, random_state=seed).fit_predict(x)
            s = float(silhouette_score(x, lab, sample_size=min(sample, len(x)), random_state=seed))
            scores = [(k, round(s, 12)) if k == best else (k, v) for k, v in scores]
            labels = {best: lab}
    return best, tuple(scores), labels


def _mode(values) -> Any:
    s = values.dropna()
    if s.empty:
        return None
    counts = s.value_counts()
    top = counts[counts == counts.max()].index
    return sorted(top)[0]


def segment_users(source: Source, filters: Filters | None = None, k: int | None = None, seed: int = SEED,
                  k_range: tuple[int, int] = K_RANGE) -> Segmentation:
    """Cluster the users into segments with their traits (see the module docstring).

    ``k`` fixes the number of segments (2..20); ``None`` picks it by silhouette in ``k_range``.
    """
    if k is not None and (not isinstance(k, (int, np.integer)) or not 2 <= k <= 20):
        raise BadInput(f"the number of segments must be between 2 and 20, got {k!r}", code="bad_k", value=k)
    features = user_features(source, filters)
    return segment_features(features, k=k, seed=seed, k_range=k_range)


def segment_features(features, k: int | None = None, seed: int = SEED, k_range: tuple[int, int] = K_RANGE) -> Segmentation:
    """Cluster an already computed feature table (the work of :func:`segment_users`)."""
    n = len(features)
    overall = {f: float(features[f].mean()) if n else 0.0 for f in DESCRIBED_FEATURES}
    empty = features.assign(segment=np.zeros(n, dtype=np.int64))
    if n < MIN_USERS:
        return Segmentation("not_enough_users", n, 0, "none", None, (), (), overall, empty)
    x = cluster_matrix(features)
    distinct = len(np.unique(np.round(x, 9), axis=0))
    if distinct < 3 or (k is not None and distinct <= k):
        return Segmentation("no_variation", n, 0, "none", None, (), (), overall, empty)
    if k is None:
        best, by_k, labels_by_k = choose_k(x, k_range, seed)
        if not best:
            return Segmentation("no_variation", n, 0, "none", None, (), (), overall, empty)
        labels, chosen_by = labels_by_k[best], "silhouette"
    else:
        best, by_k, labels_by_k = choose_k(x, (k, k), seed)
        if not best:
            return Segmentation("no_variation", n, 0, "none", None, (), (), overall, empty)
        labels, chosen_by = labels_by_k[best], "given"
    score = dict(by_k)[best]
    # number segments by size (largest first), ties by the smallest member position
    uniq = np.unique(labels)
    order = sorted(uniq, key=lambda c: (-(labels == c).sum(), int(np.flatnonzero(labels == c)[0])))
    renumber = {int(c): n_ + 1 for n_, c in enumerate(order)}
    seg = np.array([renumber[int(c)] for c in labels], dtype=np.int64)
    segments = []
    for s in range(1, len(order) + 1):
        members = seg == s
        part = features[members]
        centroid = x[members].mean(axis=0)
        traits = tuple(sorted((Trait(f, float(z)) for f, z in zip(CLUSTER_FEATURES, centroid) if abs(z) >= TRAIT_Z),
                              key=lambda t: -abs(t.z)))
        means = {f: float(part[f].mean()) for f in DESCRIBED_FEATURES}
        cat = _mode(part["favourite_category"])
        hour = _mode(part["peak_hour"])
        hour = int(hour) if hour is not None else None
        size = int(members.sum())
        segments.append(Segment(s, size, size / n, means, traits, cat, hour))
    users = features.assign(segment=seg)[["user_id", "segment", *FEATURE_COLUMNS]]
    return Segmentation("ok", n, best, chosen_by, score, by_k, tuple(segments), overall, users)
