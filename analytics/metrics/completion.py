"""Video completion: watch-ratio distribution, hook, completion, hold and audience-retention curves.

Definitions (glossary: docs/metrics.md, "Video and course completion"; the building blocks
``watch_ratio``, ``is_complete`` and ``is_hooked`` come from :mod:`analytics.query.definitions`):

* a view is *usable* for ratio metrics when both its watch time and the video length are known and
  the length is positive; other views are counted (``views_without_duration``,
  ``views_without_watch_time``) and left out of every ratio metric, never silently dropped.
* **hook rate** = hooked views / views with a known watch time (the hook needs seconds only, so a
  view without a usable length still counts: still watching after 3 s).
* **completion rate** = views with watch ratio >= 0.9 / usable views.
* **average percent watched** (the *hold*) = mean capped watch ratio over usable views, in [0, 1].
* **capped views** = usable views whose watch time exceeded the length (replays); their ratio is 1.
* **audience-retention curve** at percent ``p`` = share of usable views whose watch ratio >= p/100,
  for p = 0, step, ..., 100. It starts at 1 and never increases.
* **creator's typical curve** = the point-wise median of the curves of the creator's *other* videos
  in the same length bucket (< 30 s, 30-60 s, 60-180 s, >= 180 s; a video's length is the mean
  length of its usable views). The median of non-increasing curves is non-increasing.

Queries are ibis expressions over the source's source (portable to other engines); only small
per-video aggregates come back to pandas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd

from analytics.errors import BadInput, NotFound
from analytics.query.definitions import (
    is_complete,
    is_hooked,
    latest_items,
    views_with_ratio,
)
from analytics.query.filters import Filters, filtered_events
from analytics.store.storage import Source

Status = Literal["ok", "no_views", "no_usable_views"]
CurveStatus = Literal["ok", "no_usable_views", "no_peers", "no_creator"]
RankBy = Literal["hook", "hold"]

#: Length buckets for "videos of similar length": (label, lower bound inclusive, upper bound exclusive).
LENGTH_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<30s", 0.0, 30.0),
    ("30-60s", 30.0, 60.0),
    ("60-180s", 60.0, 180.0),
    (">=180s", 180.0, math.inf),
)
HISTOGRAM_BINS = 20  # watch-ratio histogram bins of 5 percentage points; 1.0 falls in the last bin


def length_bucket(seconds: float | None) -> str | None:
    """The length bucket label of a video ``seconds`` long (None when the length is unknown)."""
    if seconds is None or not np.isfinite(seconds) or seconds <= 0:
        return None
    for label, low, high in LENGTH_BUCKETS:
        if low <= seconds < high:
            return label
    return None  # pragma: no cover - the buckets cover (0, inf)


def retention_percent(watch_ratio):
    """ibis integer: the largest ``p`` in 0..100 with ``p / 100 <= watch_ratio`` (NULL stays NULL).

    ``floor(ratio * 100)`` alone is off by one where ``ratio * 100`` rounds across an integer
    (``0.29 * 100 == 28.999999999999996``), so the floor is corrected against ``p / 100`` itself:
    a view then counts at ``p`` exactly when ``watch_ratio >= p / 100``.
    """
    return _exact_floor(watch_ratio, 100)


def _exact_floor(watch_ratio, parts: int):
    """ibis integer: the largest ``k`` in 0..parts with ``k / parts <= watch_ratio``."""
    base = (watch_ratio * parts).floor()
    corrected = ibis.ifelse(
        watch_ratio >= (base + 1) / float(parts),
        base + 1,
        ibis.ifelse(watch_ratio < base / float(parts), base - 1, base),
    )
    return corrected.clip(lower=0, upper=parts).cast("int64")


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompletionSummary:
    """Counts behind the headline rates; the rates are properties in [0, 1] (None without data)."""

    views: int = 0
    views_with_watch_time: int = 0
    usable_views: int = 0
    views_without_duration: int = 0
    views_without_watch_time: int = 0
    capped_views: int = 0
    hooked_views: int = 0
    complete_views: int = 0
    watch_ratio_sum: float = 0.0

    @property
    def hook_rate(self) -> float | None:
        return self.hooked_views / self.views_with_watch_time if self.views_with_watch_time else None

    @property
    def completion_rate(self) -> float | None:
        return self.complete_views / self.usable_views if self.usable_views else None

    @property
    def avg_percent_watched(self) -> float | None:
        return self.watch_ratio_sum / self.usable_views if self.usable_views else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "views": self.views,
            "views_with_watch_time": self.views_with_watch_time,
            "usable_views": self.usable_views,
            "views_without_duration": self.views_without_duration,
            "views_without_watch_time": self.views_without_watch_time,
            "capped_views": self.capped_views,
            "hooked_views": self.hooked_views,
            "complete_views": self.complete_views,
            "hook_rate": self.hook_rate,
            "completion_rate": self.completion_rate,
            "avg_percent_watched": self.avg_percent_watched,
        }


#: Count columns of the per-video and per-creator tables, summed when rolling up.
_COUNTS = (
    "views",
    "views_with_watch_time",
    "usable_views",
    "views_without_duration",
    "views_without_watch_time",
    "capped_views",
    "hooked_views",
    "complete_views",
    "watch_ratio_sum",
)


@dataclass(frozen=True)
class VideoCompletion:
    """Per-video and per-creator completion under some filters.

    ``videos`` has one row per video: item_id, title, creator, length_seconds, length_bucket, the
    counts of :class:`CompletionSummary`, hook_rate, completion_rate, avg_percent_watched, and
    hook_rank / hold_rank (1 = best; NaN below ``min_views`` usable views). ``creators`` has the same
    counts and rates per creator. ``histogram`` has bin_start, bin_end, views, share over usable views.
    """

    status: Status
    summary: CompletionSummary
    videos: pd.DataFrame
    creators: pd.DataFrame
    histogram: pd.DataFrame
    min_views: int
    creator: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)

    def ranked(self, by: RankBy, top: int | None = None) -> pd.DataFrame:
        """Videos with at least ``min_views`` usable views, best first by hook rate or by hold."""
        col = {"hook": "hook_rank", "hold": "hold_rank"}[by]
        out = self.videos[self.videos[col].notna()].sort_values(col)
        return out.head(top) if top else out

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "filters": self.filters,
            "creator": self.creator,
            "min_views": self.min_views,
            "summary": self.summary.to_dict(),
            "videos": self.videos,
            "creators": self.creators,
            "histogram": self.histogram,
        }


@dataclass(frozen=True)
class RetentionCurve:
    """A video's audience-retention curve beside its creator's typical curve.

    ``curve`` has columns percent (0..100), share (this video) and typical_share (NaN when there
    are no peer videos). ``peers`` lists the peer videos used for the typical curve.
    """

    status: CurveStatus
    item_id: str
    title: str | None
    creator: str | None
    length_seconds: float | None
    length_bucket: str | None
    usable_views: int
    views_without_duration: int
    curve: pd.DataFrame
    peers: pd.DataFrame
    filters: dict[str, Any] = field(default_factory=dict)

    @property
    def peer_videos(self) -> int:
        return len(self.peers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "item_id": self.item_id,
            "title": self.title,
            "creator": self.creator,
            "length_seconds": self.length_seconds,
            "length_bucket": self.length_bucket,
            "usable_views": self.usable_views,
            "views_without_duration": self.views_without_duration,
            "peer_videos": self.peer_videos,
            "curve": self.curve,
            "peers": self.peers,
            "filters": self.filters,
        }


# -- queries -------------------------------------------------------------------------------------


def catalog(source):
    """The ``items`` table with one row per item_id (the latest upload wins), as an ibis table."""
    return latest_items(source.table("items"))


def _flagged_views(source, filters: Filters, item_ids=None):
    """Filtered views (ibis) with length, watch_ratio and per-view flags; only the columns needed.

    ``item_ids`` (an ibis column or a list) restricts the views to those videos.
    """
    events = filtered_events(source, filters)
    if item_ids is not None:
        events = events.filter(events.item_id.isin(item_ids))
    events = events.select("event_type", "item_id", "watch_seconds", "video_seconds")
    items = catalog(source).select("item_id", "duration_seconds")
    views = views_with_ratio(events, items)
    has_watch = views.watch_seconds.notnull()
    # A view without a watch time has no ratio, whatever the length (never "fully watched").
    ratio = ibis.ifelse(has_watch, views.watch_ratio, ibis.null("float64"))
    views = views.mutate(watch_ratio=ratio)
    return views.mutate(
        has_watch=has_watch,
        usable=views.watch_ratio.notnull(),
        no_duration=views.length_seconds.isnull(),
        hooked=(has_watch & is_hooked(views.watch_seconds, views.length_seconds)).fill_null(False),
        complete=is_complete(views.watch_ratio).fill_null(False),
        capped=(views.watch_ratio.notnull() & (views.watch_seconds > views.length_seconds)).fill_null(False),
    )


def _counts(views) -> dict[str, Any]:
    """ibis aggregates: the additive counts of :data:`_COUNTS` plus the length sum for the mean length.

    Counts use ``count(column)`` (non-NULL values) where a flag is just "is known", and
    ``count(where=...)`` (SQL ``FILTER``) otherwise: several times faster on DuckDB than summing
    casted booleans. The "without" counts are derived from these in :func:`_typed_counts`.
    """
    return dict(
        views=views.count(),
        views_with_watch_time=views.watch_seconds.count(),
        usable_views=views.watch_ratio.count(),
        views_with_duration=views.length_seconds.count(),
        capped_views=views.count(where=views.capped),
        hooked_views=views.count(where=views.hooked),
        complete_views=views.count(where=views.complete),
        watch_ratio_sum=views.watch_ratio.sum(),
        length_sum=views.length_seconds.sum(where=views.usable),
    )


def _per_video(views) -> Any:
    """ibis aggregate: per video the additive counts (so the overall summary is their sum)."""
    return views.group_by(views.item_id).aggregate(**_counts(views))


def _histogram_counts(views) -> Any:
    """ibis aggregate: usable views per watch-ratio bin (``bin`` 0 .. HISTOGRAM_BINS - 1)."""
    usable = views.filter(views.usable)
    bin_ = _exact_floor(usable.watch_ratio, HISTOGRAM_BINS).clip(upper=HISTOGRAM_BINS - 1)
    return usable.group_by(bin=bin_).aggregate(views=usable.count())


def _typed_counts(df: pd.DataFrame) -> pd.DataFrame:
    for col in ("watch_ratio_sum", "length_sum"):
        df[col] = df[col].fillna(0.0).astype(float)
    for col in ("views", "views_with_watch_time", "usable_views", "views_with_duration", "capped_views",
                "hooked_views", "complete_views"):
        df[col] = df[col].fillna(0).astype("int64")
    df["views_without_duration"] = df["views"] - df.pop("views_with_duration")
    df["views_without_watch_time"] = df["views"] - df["views_with_watch_time"]
    return df


def _mean_length(df: pd.DataFrame) -> pd.Series:
    """Mean usable length per row (NaN without usable views)."""
    return pd.Series(np.where(df.usable_views > 0, df.length_sum / df.usable_views.clip(lower=1), np.nan), index=df.index)


def _add_rates(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        df["hook_rate"] = np.where(df.views_with_watch_time > 0, df.hooked_views / df.views_with_watch_time, np.nan)
        df["completion_rate"] = np.where(df.usable_views > 0, df.complete_views / df.usable_views, np.nan)
        df["avg_percent_watched"] = np.where(df.usable_views > 0, df.watch_ratio_sum / df.usable_views, np.nan)
    return df


#: Significant decimals of a rate when ranking: rates equal in exact arithmetic tie on every engine
#: (engines add a sum's terms in different orders, so its last bits differ).
RANK_DECIMALS = 12


def _rank(df: pd.DataFrame, rate: str, eligible: pd.Series) -> pd.Series:
    """Dense 1-based rank by ``rate`` to :data:`RANK_DECIMALS` decimals (higher first; ties broken by
    more views, then item id)."""
    order = df[eligible]
    order = order.assign(_rate=order[rate].round(RANK_DECIMALS))  # (the eligible rows' own: an empty frame takes any index)
    order = order.sort_values(["_rate", "usable_views", "item_id"], ascending=[False, False, True])
    ranks = pd.Series(np.nan, index=df.index)
    ranks[order.index] = np.arange(1, len(order) + 1, dtype=float)
    return ranks


def _meta(source, item_ids: list[str] | None = None) -> pd.DataFrame:
    """item_id, title, creator from the catalog (optionally only ``item_ids``)."""
    items = catalog(source)
    if item_ids is not None:
        items = items.filter(items.item_id.isin(item_ids))
    return source.execute(items.select("item_id", "title", "creator"))


def _creator_items(source, creator: str):
    items = catalog(source)
    return items.filter(items.creator == creator).item_id


def video_completion(
    source: Source,
    filters: Filters | None = None,
    *,
    creator: str | None = None,
    min_views: int = 5,
) -> VideoCompletion:
    """Completion per video and per creator, the overall summary and the watch-ratio histogram.

    Args:
        source: the event source.
        filters: shared filters (date range, channel, campaign, category) applied to the views.
        creator: keep only videos of this catalog creator.
        min_views: usable views a video needs to be ranked by hook and hold (>= 1).

    Returns a :class:`VideoCompletion`; status ``no_views`` when no view matches, and
    ``no_usable_views`` when views exist but none has both a watch time and a usable length.
    Rates are in [0, 1]; see the module docstring for the formulas.
    """
    filters = filters or Filters()
    if min_views < 1:
        raise BadInput(f"min_views must be at least 1, got {min_views}", code="bad_min_views", value=min_views)
    views = _flagged_views(source, filters, _creator_items(source, creator) if creator else None)
    per_video = _typed_counts(source.execute(_per_video(views)))
    summary = CompletionSummary(**{c: (float if c == "watch_ratio_sum" else int)(per_video[c].sum()) for c in _COUNTS})
    bins = source.execute(_histogram_counts(views))
    counts = np.zeros(HISTOGRAM_BINS, dtype="int64")
    counts[bins["bin"].astype(int).to_numpy()] = bins["views"].to_numpy()
    histogram = _histogram(counts, summary.usable_views)

    meta = _meta(source)
    videos = _add_rates(per_video.merge(meta, on="item_id", how="left"))
    videos["length_seconds"] = _mean_length(videos)
    videos["length_bucket"] = [length_bucket(s) for s in videos["length_seconds"]]
    eligible = videos.usable_views >= min_views
    videos["hook_rank"] = _rank(videos, "hook_rate", eligible)
    videos["hold_rank"] = _rank(videos, "avg_percent_watched", eligible)
    video_cols = ["item_id", "title", "creator", "length_seconds", "length_bucket", *_COUNTS,
                  "hook_rate", "completion_rate", "avg_percent_watched", "hook_rank", "hold_rank"]
    videos = videos[video_cols].sort_values(["views", "item_id"], ascending=[False, True]).reset_index(drop=True)
    for col in ("title", "creator"):
        videos[col] = videos[col].astype(object).where(videos[col].notna(), None)

    keyed = videos.assign(creator=videos.creator.fillna(""))
    creators = keyed.groupby("creator", as_index=False)[list(_COUNTS)].sum()
    creators.insert(1, "videos", keyed.groupby("creator").size().values)
    creators = _add_rates(creators).sort_values(["views", "creator"], ascending=[False, True]).reset_index(drop=True)
    creators["creator"] = creators["creator"].replace("", None)

    if summary.views == 0:
        status: Status = "no_views"
    elif summary.usable_views == 0:
        status = "no_usable_views"
    else:
        status = "ok"
    return VideoCompletion(status, summary, videos, creators, histogram, min_views, creator, filters.describe())


def _histogram(counts: np.ndarray, usable: int) -> pd.DataFrame:
    """Usable views per watch-ratio bin of width 1/HISTOGRAM_BINS (1.0 falls in the last bin)."""
    bins = np.arange(HISTOGRAM_BINS)
    return pd.DataFrame({
        "bin_start": bins / HISTOGRAM_BINS,
        "bin_end": (bins + 1) / HISTOGRAM_BINS,
        "views": counts,
        "share": counts / usable if usable else np.full(HISTOGRAM_BINS, np.nan),
    })


def curve_from_counts(counts: pd.Series, step: int = 1) -> pd.DataFrame:
    """A retention curve from usable views per :func:`retention_percent` value.

    ``counts`` maps p (0..100) to the number of views whose largest reached percent is p; the share
    at p is the number of views reaching at least p over all of them. Returns percent and share.
    """
    percents = np.arange(0, 101, step)
    full = np.zeros(101, dtype=float)
    for p, n in counts.items():
        full[int(p)] += float(n)
    total = full.sum()
    reaching = full[::-1].cumsum()[::-1]  # reaching[p] = views with percent >= p
    share = reaching[percents] / total if total else np.full(len(percents), np.nan)
    return pd.DataFrame({"percent": percents, "share": share})


def retention_curve(
    source: Source,
    item_id: str,
    filters: Filters | None = None,
    *,
    step: int = 1,
) -> RetentionCurve:
    """The audience-retention curve of one video and its creator's typical curve.

    Args:
        source: the event source.
        item_id: the video.
        filters: shared filters applied to the views (of the video and of its peers).
        step: percent step of the curve (1, 2, 4, 5, 10, 20, 25 or 50: divisors of 100).

    Returns a :class:`RetentionCurve`: share of usable views still watching at each percent (starts
    at 1, never increases) and the point-wise median curve of the creator's other videos in the same
    length bucket. Raises :class:`NotFound` when the video has no view at all (in any period).
    One scan of the events of the creator's videos.
    """
    filters = filters or Filters()
    if step < 1 or 100 % step:
        raise BadInput(f"the curve step must divide 100, got {step}", code="bad_step", value=step)
    meta = _meta(source, [item_id])
    title = meta.title.iloc[0] if len(meta) else None
    creator = meta.creator.iloc[0] if len(meta) else None
    title = None if pd.isna(title) else title
    creator = None if pd.isna(creator) else creator

    if creator is not None:
        scope_ids = _meta(source).query("creator == @creator").item_id.tolist()
        scope_ids = sorted(set(scope_ids) | {item_id})
    else:
        scope_ids = [item_id]
    views = _flagged_views(source, filters, scope_ids)
    views = views.mutate(pct=retention_percent(views.watch_ratio))
    counts = _typed_counts(source.execute(views.group_by(["item_id", "pct"]).aggregate(**_counts(views))))
    per_item = counts.groupby("item_id")[list(_COUNTS) + ["length_sum"]].sum()
    if item_id not in per_item.index:
        events = source.table("events")
        if source.scalar(events.filter((events.item_id == item_id) & (events.event_type == "view")).count()) == 0:
            raise NotFound(f"there is no view of video {item_id!r}", code="no_video", item_id=item_id)
    per_item["length_seconds"] = _mean_length(per_item)
    per_item["length_bucket"] = [length_bucket(v) for v in per_item["length_seconds"]]
    usable = counts[counts.pct.notna()]

    def curve_of(item: str) -> pd.DataFrame:
        rows = usable[usable.item_id == item]
        return curve_from_counts(pd.Series(rows.views.to_numpy(), index=rows.pct.astype(int).to_numpy()), step)

    own = per_item.loc[item_id] if item_id in per_item.index else None
    own_length = float(own.length_seconds) if own is not None and pd.notna(own.length_seconds) else None
    own_bucket = own.length_bucket if own is not None else None
    own_usable = int(own.usable_views) if own is not None else 0
    own_missing = int(own.views_without_duration) if own is not None else 0

    curve = curve_of(item_id)
    if own_bucket is not None:
        peer_rows = per_item[(per_item.index != item_id) & (per_item.usable_views > 0) & (per_item.length_bucket == own_bucket)]
    else:
        peer_rows = per_item.iloc[0:0]
    peer_curves = [curve_of(pid)["share"].to_numpy() for pid in peer_rows.index]
    curve["typical_share"] = np.median(np.vstack(peer_curves), axis=0) if peer_curves else np.nan
    peers = (
        peer_rows.reset_index()[["item_id", "length_seconds", "usable_views"]]
        .sort_values("item_id")
        .reset_index(drop=True)
    )

    if own_usable == 0:
        status: CurveStatus = "no_usable_views"
    elif creator is None:
        status = "no_creator"
    elif not peer_curves:
        status = "no_peers"
    else:
        status = "ok"
    return RetentionCurve(
        status, item_id, title, creator, own_length, own_bucket, own_usable, own_missing, curve, peers,
        filters.describe(),
    )


@dataclass(frozen=True)
class VideoReport:
    """What the Videos page shows: completion tables, the chosen video's curve, the creators to pick from.

    ``curve`` is None when no video has a usable view; ``video`` is the video it belongs to.
    """

    completion: VideoCompletion
    curve: RetentionCurve | None
    creators: tuple[str, ...]

    @property
    def video(self) -> str | None:
        return self.curve.item_id if self.curve is not None else None

    @property
    def curve_videos(self) -> tuple[str, ...]:
        """Videos with at least one usable view (those a curve can be drawn for), most viewed first."""
        v = self.completion.videos
        return tuple(v.item_id[v.usable_views > 0])

    def to_dict(self) -> dict[str, Any]:
        return {"completion": self.completion, "curve": self.curve, "creators": list(self.creators)}


def video_report(
    source: Source,
    filters: Filters | None = None,
    *,
    creator: str | None = None,
    video: str | None = None,
    min_views: int = 5,
    step: int = 1,
) -> VideoReport:
    """:func:`video_completion` plus the retention curve of ``video`` (default: the most viewed video
    with usable views; a video outside the selection is replaced by that default) and the catalog's
    video creators."""
    filters = filters or Filters()
    completion = video_completion(source, filters, creator=creator, min_views=min_views)
    items = catalog(source)
    named = items.filter(items.creator.notnull() & (items.kind.isnull() | (items.kind == "video")))
    creators = tuple(sorted(source.execute(named.select("creator").distinct())["creator"].tolist()))
    v = completion.videos
    candidates = v.item_id[v.usable_views > 0].tolist()
    if video not in candidates:
        video = candidates[0] if candidates else None
    curve = retention_curve(source, video, filters, step=step) if video is not None else None
    return VideoReport(completion, curve, creators)
