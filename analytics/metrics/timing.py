"""Best time to post: outcomes of videos by publish weekday x hour, shrunk so sparse cells do not win by luck.

Definitions (docs/metrics.md "Timing" repeats them for people):

* **Videos**: catalog items of kind ``video`` (or without a kind) with a ``published_at``. The date
  filter keeps videos published on those local days; the category filter uses the video's category;
  channel / campaign filters apply to the events counted.
* **Publish cell**: local weekday (Monday = 0) x local hour of ``published_at`` in the configured zone.
* **Covered videos**: only videos whose first 24 hours the data covers are ranked, by the rule that
  says which days are complete (:func:`~analytics.query.localtime.covered_span`: from the first event
  less an hour to the last event plus an hour). The others' outcomes are unknown, not zero; they are
  left out and counted.
* **Outcomes in the first 24 hours** (events with ``published_at <= event_time < published_at + 24 h``):
  ``views`` (view events of the video), ``completion`` (complete views / views with a usable length,
  see :mod:`analytics.query.definitions`), ``ctr`` (clicks on the video / views), ``purchases`` (viewers of
  the video in that window who then bought, in the same window, the course it promotes, or the video
  itself: one per buyer).
* **Shrinkage (empirical Bayes)**. Rates: beta-binomial; each cell pools its videos' trials and
  successes, the Beta prior is fitted across cells by the method of moments (between-cell variance of the
  raw rates minus the binomial noise), the cell's posterior is ``Beta(a + successes, b + failures)``.
  Counts (views, purchases per video): normal-normal; the prior mean and between-cell variance ``tau^2``
  by the method of moments, the cell's sampling variance ``sigma^2 / videos`` from the pooled
  within-cell variance. Posterior means lie between the cell's raw value and the prior mean; cells are
  ranked by the posterior mean and shown with a 90% credible interval.
* **Clear best time**: the top-ranked cell is named as the best time to post only when its credible
  interval lies wholly above the average over all cells (its lower bound exceeds the prior mean);
  otherwise the verdict is ``no_clear_best``: the top cells differ from the average by no more than
  noise, and naming one would be advice built on luck.
* **Audience activity**: view events and distinct viewers by local weekday x hour of the event, and
  views per calendar day of that weekday in the range.
* **Posting frequency**: per creator, videos per week over the span of publish days in the selection,
  against the creator's outcome (mean per video for counts, pooled rate for rates); Spearman rank
  correlation across creators.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd

from analytics.errors import BadInput
from analytics.lazy import LazyModule
from analytics.query.definitions import (
    is_complete,
    latest_items,
    length_seconds,
    watch_ratio,
)
from analytics.query.filters import Filters, filtered_events
from analytics.query.localtime import covered_span, local_time, utc_offsets

stats = LazyModule("scipy.stats")

Outcome = Literal["views", "completion", "ctr", "purchases"]
Verdict = Literal["clear_best", "no_clear_best"]
OUTCOMES: tuple[str, ...] = ("views", "completion", "ctr", "purchases")
RATE_OUTCOMES: dict[str, tuple[str, str]] = {
    "completion": ("complete_views", "rated_views"),
    "ctr": ("clicks", "views"),
}
COUNT_OUTCOMES: tuple[str, ...] = ("views", "purchases")
CREDIBLE_LEVEL = 0.9
#: A Beta prior is worth at least one trial (alpha + beta >= 1), so posteriors never pile up at 0 or 1.
MIN_PRIOR_STRENGTH = 1.0
WEEKDAYS = 7
HOURS = 24


# -- empirical Bayes --------------------------------------------------------------------------


@dataclass(frozen=True)
class BetaPrior:
    """Beta(alpha, beta) prior for rates, fitted by the method of moments."""

    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def strength(self) -> float:
        """alpha + beta: how many trials of evidence the prior is worth."""
        return self.alpha + self.beta


@dataclass(frozen=True)
class NormalPrior:
    """Normal(mean, tau^2) prior over cell means, with the pooled within-cell variance ``sigma2``."""

    mean: float
    tau2: float
    sigma2: float


def fit_beta_prior(successes: np.ndarray, trials: np.ndarray) -> BetaPrior | None:
    """Method-of-moments Beta prior across cells (beta-binomial).

    m = sum(k) / sum(n); the between-cell variance is the variance of the raw rates k/n (weighted
    equally) minus the mean binomial noise m(1 - m) * mean(1/n); alpha + beta = m(1-m)/var - 1.
    The prior is never worth more than all the data: alpha + beta is capped at the total number of
    trials (which is also its value when the cells vary no more than binomial noise), and is at
    least :data:`MIN_PRIOR_STRENGTH`.
    Returns ``None`` without any trials.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    keep = n > 0
    k, n = k[keep], n[keep]
    if n.size == 0:
        return None
    total = float(n.sum())
    m = float(k.sum() / total)
    if m <= 0.0 or m >= 1.0:
        # every trial failed (or every one succeeded): nothing varies; a prior worth all the trials,
        # kept inside (0, 1) so that posteriors stay proper
        return BetaPrior(0.5, total) if m <= 0 else BetaPrior(total, 0.5)
    p = k / n
    var_raw = float(p.var(ddof=1)) if p.size > 1 else 0.0
    var_between = var_raw - m * (1 - m) * float(np.mean(1.0 / n))
    strength = m * (1 - m) / var_between - 1.0 if var_between > 0 else total
    strength = min(max(strength, MIN_PRIOR_STRENGTH), max(total, MIN_PRIOR_STRENGTH))
    return BetaPrior(m * strength, (1 - m) * strength)


def fit_normal_prior(cell_means: np.ndarray, cell_videos: np.ndarray, within_var: float) -> NormalPrior | None:
    """Method-of-moments normal prior over cell means (normal-normal model).

    mean = video-weighted mean of the cell means; tau^2 = variance of the cell means minus the mean
    sampling variance sigma^2 / videos, floored at sigma^2 / all videos (the prior is never worth
    more than all the videos together; also its value when the cells vary no more than noise).
    """
    x = np.asarray(cell_means, dtype=float)
    v = np.asarray(cell_videos, dtype=float)
    keep = v > 0
    x, v = x[keep], v[keep]
    if v.size == 0:
        return None
    mean = float((x * v).sum() / v.sum())
    sigma2 = max(float(within_var), 0.0)
    var_raw = float(x.var(ddof=1)) if x.size > 1 else 0.0
    tau2 = var_raw - float(np.mean(sigma2 / v))
    floor = max(sigma2 / float(v.sum()), 1e-12 * max(1.0, mean * mean))
    return NormalPrior(mean, max(tau2, floor), sigma2)


def shrink_rates(successes, trials, prior: BetaPrior, level: float = CREDIBLE_LEVEL):
    """Posterior mean and equal-tailed credible interval of each cell's rate (arrays in [0, 1])."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    a = prior.alpha + k
    b = prior.beta + (n - k)
    tail = (1 - level) / 2
    return a / (a + b), stats.beta.ppf(tail, a, b), stats.beta.ppf(1 - tail, a, b)


def shrink_means(cell_means, cell_videos, prior: NormalPrior, level: float = CREDIBLE_LEVEL):
    """Posterior mean and credible interval of each cell's mean per video (normal-normal)."""
    x = np.asarray(cell_means, dtype=float)
    v = np.asarray(cell_videos, dtype=float)
    noise = np.where(v > 0, prior.sigma2 / np.maximum(v, 1), np.inf)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        weight = np.where(v > 0, prior.tau2 / (prior.tau2 + noise), 0.0)
        post_var = np.where(v > 0, prior.tau2 * noise / (prior.tau2 + noise), prior.tau2)
    post = weight * np.nan_to_num(x) + (1 - weight) * prior.mean
    z = stats.norm.ppf(1 - (1 - level) / 2)
    sd = np.sqrt(post_var)
    return post, post - z * sd, post + z * sd


def _clip_counts(lo, hi):
    """Counts cannot be negative: clip a normal interval at 0."""
    return np.maximum(lo, 0.0), np.maximum(hi, 0.0)


# -- queries ----------------------------------------------------------------------------------


def _videos(source, filters: Filters, offsets_for):
    items = latest_items(source.table("items"))
    vids = items.filter(
        (items.kind == "video") | items.kind.isnull(),
        items.published_at.notnull(),
    )
    if filters.categories:
        vids = vids.filter(vids.category.isin(list(filters.categories)))
    span = source.execute(vids.aggregate(lo=vids.published_at.min(), hi=vids.published_at.max())).iloc[0]
    if pd.isna(span["lo"]):
        return None
    offsets = offsets_for(pd.Timestamp(span["lo"]).to_pydatetime(), pd.Timestamp(span["hi"]).to_pydatetime())
    local = local_time(vids.published_at, offsets)
    vids = vids.mutate(local_published=local, local_day=local.date())
    preds = []
    if filters.date_from is not None:
        preds.append(vids.local_day >= filters.date_from)
    if filters.date_to is not None:
        preds.append(vids.local_day <= filters.date_to)
    if preds:
        vids = vids.filter(*preds)
    return vids.select(
        video_id=vids.item_id,
        creator=vids.creator,
        promoted_course=vids.course_id,
        catalog_seconds=vids.duration_seconds,
        published_at=vids.published_at,
        local_published=vids.local_published,
        weekday=vids.local_published.date().day_of_week.index(),
        hour=vids.local_published.hour(),
    )


def video_outcomes(source, filters: Filters):
    """One row per video with its publish cell and first-24-hour outcomes (an ibis expression), or None.
    ``observed``: whether the data covers the video's first 24 hours (:func:`~analytics.query.localtime.covered_span`,
    the rule that says which days are complete); the outcomes of the others are unknown, not zero."""
    vids = _videos(source, filters, lambda lo, hi: utc_offsets(filters.timezone, lo, hi))
    if vids is None:
        return None
    ev = filtered_events(source, replace(filters, date_from=None, date_to=None, categories=()))
    # project early: the join would otherwise carry every column (props included) of millions of rows
    counted = ev.filter(ev.event_type.isin(["view", "click"])).select(
        "event_time", "user_id", "event_type", "item_id", "watch_seconds", "video_seconds"
    )
    w = counted.inner_join(vids, counted.item_id == vids.video_id)
    w = w.filter(w.event_time >= w.published_at, w.event_time < w.published_at + ibis.interval(hours=24))
    ratio = watch_ratio(w.watch_seconds, length_seconds(w.video_seconds, w.catalog_seconds))
    is_view = w.event_type == "view"
    per_video = w.group_by("video_id").aggregate(
        views=is_view.sum(),
        rated_views=(is_view & ratio.notnull()).sum(),
        complete_views=(is_view & is_complete(ratio).fill_null(False)).sum(),
        clicks=(w.event_type == "click").sum(),
    )
    # purchases: viewers in the window who then bought the promoted course (or the video) in it
    buys = ev.filter(ev.event_type == "purchase").select(
        buyer=ev.user_id, bought_at=ev.event_time, bought_item=ev.item_id, bought_course=ev.course_id
    )
    # only viewers who bought something can count: a semi-join keeps the view side small
    viewers = (
        w.filter(is_view, w.user_id.isin(buys.buyer))
        .group_by("video_id", "user_id")
        .aggregate(first_view=w.event_time.min())
    )
    viewers = viewers.inner_join(
        vids.select("video_id", "promoted_course", "published_at"), "video_id"
    )
    pb = viewers.inner_join(buys, viewers.user_id == buys.buyer)
    pb = pb.filter(
        pb.bought_at >= pb.first_view,
        pb.bought_at < pb.published_at + ibis.interval(hours=24),
        (pb.bought_course == pb.promoted_course)
        | (pb.bought_item == pb.promoted_course)
        | (pb.bought_item == pb.video_id),
    )
    purchases = pb.group_by("video_id").aggregate(purchases=pb.user_id.nunique())
    out = vids.left_join(per_video, "video_id").left_join(purchases, "video_id")
    covered = covered_span(source.span())
    if covered is None:
        observed = ibis.literal(False)
    else:
        observed = (out.published_at >= covered[0]) & (out.published_at + ibis.interval(hours=24) <= covered[1])
    out = out.select(
        "video_id",
        "creator",
        "local_published",
        "weekday",
        "hour",
        observed=observed,
        views=out.views.fill_null(0),
        rated_views=out.rated_views.fill_null(0),
        complete_views=out.complete_views.fill_null(0),
        clicks=out.clicks.fill_null(0),
        purchases=out.purchases.fill_null(0),
    )
    return out


def audience_activity(source, filters: Filters) -> pd.DataFrame:
    """Views and distinct viewers by local weekday x hour of the event (all 168 cells)."""

    lo, hi = source.span()
    cells = pd.DataFrame(
        [(d, h) for d in range(WEEKDAYS) for h in range(HOURS)], columns=["weekday", "hour"]
    )
    if hi is None:
        return cells.assign(views=0, viewers=0, days=0, views_per_day=0.0)
    offsets = utc_offsets(filters.timezone, lo, hi)
    ev = filtered_events(source, filters)
    ev = ev.filter(ev.event_type == "view")
    local = local_time(ev.event_time, offsets)
    ev = ev.mutate(weekday=local.date().day_of_week.index(), hour=local.hour(), local_day=local.date())
    agg = ev.group_by("weekday", "hour").aggregate(views=ev.count(), viewers=ev.user_id.nunique())
    span = source.execute(ev.aggregate(first=ev.local_day.min(), last=ev.local_day.max())).iloc[0]
    df = source.execute(agg)
    out = cells.merge(df, on=["weekday", "hour"], how="left").fillna({"views": 0, "viewers": 0})
    out["views"] = out["views"].astype(int)
    out["viewers"] = out["viewers"].astype(int)
    days = np.zeros(WEEKDAYS, dtype=int)
    if not pd.isna(span["first"]):
        first = pd.Timestamp(span["first"]).date()
        last = pd.Timestamp(span["last"]).date()
        first = max(first, filters.date_from) if filters.date_from else first
        last = min(last, filters.date_to) if filters.date_to else last
        for i in range((last - first).days + 1):
            days[(first + dt.timedelta(days=i)).weekday()] += 1
    out["days"] = days[out["weekday"].to_numpy()]
    out["views_per_day"] = np.where(out["days"] > 0, out["views"] / np.maximum(out["days"], 1), 0.0)
    return out


# -- result -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimingResult:
    """Best time to post for one outcome.

    ``cells``: one row per publish weekday x hour with videos, ``trials``/``successes`` (rates) or
    ``total`` (counts), ``raw`` (None without videos), ``shrunk`` (posterior mean), ``ci_low``/``ci_high``
    (90% credible interval) and ``rank`` (1 = best; only cells with videos are ranked).
    ``activity``: audience activity by weekday x hour. ``creators``: posting frequency vs outcome.
    ``videos``: one row per video (the export).
    """

    status: Literal["ok", "no_videos", "not_covered", "no_outcomes"]
    outcome: str
    timezone: str
    prior: dict[str, float] = field(default_factory=dict)
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    activity: pd.DataFrame = field(default_factory=pd.DataFrame)
    creators: pd.DataFrame = field(default_factory=pd.DataFrame)
    videos: pd.DataFrame = field(default_factory=pd.DataFrame)
    frequency_correlation: float | None = None
    frequency_p_value: float | None = None
    credible_level: float = CREDIBLE_LEVEL
    #: videos left out because the data does not cover their first 24 hours (published before the data
    #: begins, or less than a day before it ends): their outcomes are unknown, not zero
    unobserved: int = 0

    @property
    def is_rate(self) -> bool:
        return self.outcome in RATE_OUTCOMES

    @property
    def video_count(self) -> int:
        return int(len(self.videos))

    def best(self, n: int = 5) -> pd.DataFrame:
        """The ``n`` best-ranked publish cells."""
        if self.cells.empty:
            return self.cells
        ranked = self.cells[self.cells["rank"].notna()].sort_values("rank")
        return ranked.head(n).reset_index(drop=True)

    @property
    def average(self) -> float | None:
        """The average over all cells (the prior mean the cells are shrunk toward); None without one."""
        return self.prior.get("mean")

    @property
    def verdict(self) -> Verdict | None:
        """``clear_best`` when the top-ranked cell's credible interval lies above :attr:`average`
        (``ci_low > average``), else ``no_clear_best``; None unless the status is ``ok``."""
        if self.status != "ok" or self.average is None:
            return None
        top = self.best(1).iloc[0]
        return "clear_best" if top["ci_low"] > self.average else "no_clear_best"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "outcome": self.outcome,
            "timezone": self.timezone,
            "videos": self.video_count,
            "unobserved_videos": self.unobserved,
            "credible_level": self.credible_level,
            "verdict": self.verdict,
            "average": self.average,
            "prior": self.prior,
            "best": self.best(),
            "cells": self.cells[self.cells["videos"] > 0] if not self.cells.empty else [],
            "activity": self.activity,
            "creators": self.creators,
            "frequency_correlation": self.frequency_correlation,
            "frequency_p_value": self.frequency_p_value,
        }


def _cells_frame(videos: pd.DataFrame, outcome: str) -> tuple[pd.DataFrame, dict[str, float]]:
    grid = pd.DataFrame([(d, h) for d in range(WEEKDAYS) for h in range(HOURS)], columns=["weekday", "hour"])
    if outcome in RATE_OUTCOMES:
        succ_col, trial_col = RATE_OUTCOMES[outcome]
        agg = videos.groupby(["weekday", "hour"], as_index=False).agg(
            videos=("video_id", "count"), successes=(succ_col, "sum"), trials=(trial_col, "sum")
        )
        cells = grid.merge(agg, on=["weekday", "hour"], how="left").fillna({"videos": 0, "successes": 0, "trials": 0})
        k, n = cells["successes"].to_numpy(float), cells["trials"].to_numpy(float)
        prior = fit_beta_prior(k, n)
        cells["raw"] = np.where(n > 0, k / np.maximum(n, 1), np.nan)
        if prior is None:
            cells["shrunk"] = cells["ci_low"] = cells["ci_high"] = np.nan
            info: dict[str, float] = {}
        else:
            post, lo, hi = shrink_rates(k, n, prior)
            cells["shrunk"], cells["ci_low"], cells["ci_high"] = post, lo, hi
            info = {"mean": prior.mean, "alpha": prior.alpha, "beta": prior.beta, "strength": prior.strength}
        has = cells["trials"] > 0
    else:
        agg = videos.groupby(["weekday", "hour"], as_index=False).agg(
            videos=("video_id", "count"), total=(outcome, "sum"), raw=(outcome, "mean")
        )
        cells = grid.merge(agg, on=["weekday", "hour"], how="left").fillna({"videos": 0, "total": 0})
        x = cells["raw"].to_numpy(float)
        v = cells["videos"].to_numpy(float)
        # pooled within-cell variance of the per-video outcome
        dev = videos[outcome].astype(float) - videos.groupby(["weekday", "hour"])[outcome].transform("mean")
        dof = len(videos) - int((v > 0).sum())
        within = float((dev**2).sum() / dof) if dof > 0 else float(videos[outcome].astype(float).var(ddof=0) or 0.0)
        prior = fit_normal_prior(np.nan_to_num(x), v, within)
        if prior is None:
            cells["shrunk"] = cells["ci_low"] = cells["ci_high"] = np.nan
            info = {}
        else:
            post, lo, hi = shrink_means(x, v, prior)
            lo, hi = _clip_counts(lo, hi)
            cells["shrunk"], cells["ci_low"], cells["ci_high"] = post, lo, hi
            info = {"mean": prior.mean, "tau2": prior.tau2, "sigma2": prior.sigma2}
        has = cells["videos"] > 0
    cells["videos"] = cells["videos"].astype(int)
    cells["rank"] = np.where(has, cells["shrunk"].where(has).rank(ascending=False, method="min"), np.nan)
    return cells, info


def _creators_frame(videos: pd.DataFrame, outcome: str) -> tuple[pd.DataFrame, float | None, float | None]:
    vids = videos[videos["creator"].notna()]
    if vids.empty:
        empty = pd.DataFrame({"creator": pd.Series(dtype=object), "videos": pd.Series(dtype=int),
                              "videos_per_week": pd.Series(dtype=float), "outcome": pd.Series(dtype=float)})
        return empty, None, None
    days = pd.to_datetime(vids["local_published"]).dt.normalize()
    span_days = (days.max() - days.min()).days + 1
    weeks = max(span_days / 7.0, 1.0)
    if outcome in RATE_OUTCOMES:
        succ_col, trial_col = RATE_OUTCOMES[outcome]
        g = vids.groupby("creator", as_index=False).agg(
            videos=("video_id", "count"), s=(succ_col, "sum"), n=(trial_col, "sum")
        )
        g["outcome"] = np.where(g["n"] > 0, g["s"] / g["n"].where(g["n"] > 0, 1), np.nan)
        g = g.drop(columns=["s", "n"])
    else:
        g = vids.groupby("creator", as_index=False).agg(videos=("video_id", "count"), outcome=(outcome, "mean"))
    g["videos_per_week"] = g["videos"] / weeks
    g = g[["creator", "videos", "videos_per_week", "outcome"]].sort_values("videos_per_week", ascending=False)
    usable = g.dropna(subset=["outcome"])
    rho = p = None
    if len(usable) >= 3 and usable["videos_per_week"].nunique() > 1 and usable["outcome"].nunique() > 1:
        res = stats.spearmanr(usable["videos_per_week"], usable["outcome"])
        rho, p = float(res.statistic), float(res.pvalue)
        if math.isnan(rho):
            rho = p = None
    return g.reset_index(drop=True), rho, p


def compute_timing(source, filters: Filters, *, outcome: Outcome = "views") -> TimingResult:
    """Best time to post judged by ``outcome`` (definitions in the module docstring).

    Args:
        source: a :class:`~analytics.store.storage.Store` or an ibis source.
        filters: date range = videos published on those local days (activity: events on them);
            category = the video's category; channel / campaign = events counted. Zone: ``filters.timezone``.
        outcome: ``views`` / ``purchases`` (per video, first 24 h; normal-normal shrinkage) or
            ``completion`` / ``ctr`` (rates in [0, 1]; beta-binomial shrinkage).

    Returns:
        :class:`TimingResult`; status ``no_videos`` when no published video matches (the audience
        activity is still filled in), ``not_covered`` when videos match but the data covers the
        first 24 hours of none (:attr:`TimingResult.unobserved` counts those left out, in every
        status), ``no_outcomes`` when no cell can be ranked (for rates: no video has a view in its
        first 24 hours).
    """
    if outcome not in OUTCOMES:
        raise BadInput(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}", code="bad_outcome", value=outcome)
    activity = audience_activity(source, filters)
    expr = video_outcomes(source, filters)
    videos = source.execute(expr) if expr is not None else pd.DataFrame()
    observed = videos["observed"].astype(bool) if not videos.empty else None
    unobserved = 0 if observed is None else int((~observed).sum())
    if unobserved:
        videos = videos[observed]
    if videos.empty:
        status = "not_covered" if unobserved else "no_videos"
        return TimingResult(status, outcome, filters.timezone, activity=activity, unobserved=unobserved)
    videos = videos.drop(columns="observed").sort_values(["local_published", "video_id"]).reset_index(drop=True)
    for col in ("weekday", "hour", "views", "rated_views", "complete_views", "clicks", "purchases"):
        videos[col] = videos[col].astype(int)
    cells, prior = _cells_frame(videos, outcome)
    creators, rho, p = _creators_frame(videos, outcome)
    return TimingResult(
        "ok" if cells["rank"].notna().any() else "no_outcomes",
        outcome,
        filters.timezone,
        prior=prior,
        cells=cells,
        activity=activity,
        creators=creators,
        videos=videos,
        frequency_correlation=rho,
        frequency_p_value=p,
        unobserved=unobserved,
    )
