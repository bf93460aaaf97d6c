"""A/B experiments: per-user data from events or from an uploaded table, checks, and the analysis.

Two sources, one analysis:

* **From events** (:func:`analyse_events`). The experiment is the ``events.variant`` column.
  *Exposure*: a user is exposed when at least one of their events in the filtered period carries a
  variant; their *first exposure* is the earliest such event. A user whose events carry two or more
  variants is excluded from every metric and counted (warning ``multi_variant_users``). Outcomes are
  the user's events at or after the first exposure (same channel / campaign / category filters,
  followed to the end of the data, like retention). Metrics:

  ========================  ==========  =========================================================
  ``conversion``            proportion  exposed users with a purchase / exposed users
  ``ctr``                   ratio       clicks / views, pooled over the arm's users who viewed
                                        (delta-method variance per user, not per event)
  ``completion``            ratio       complete views (watch ratio >= 0.9, analytics.query.definitions)
                                        / views with a usable length, pooled per arm
  ``d1_retention``          proportion  any event on local day first-exposure-day + 1
  ``d7_retention``          proportion  ... + 7; users whose day n is after the data's last local
                                        day are not eligible (as ``retention.day_n_retention``)
  ``watch_time``            mean        seconds watched per exposed user (views, 0 if none)
  ``revenue_per_user``      mean        purchase revenue minus refunded amounts per exposed user
  ========================  ==========  =========================================================

* **From a table** (:func:`analyse_table`): one row per user with a variant column and any number
  of metric columns; a column whose values are all 0/1 (or booleans, or the words true/false,
  yes/no in English or Chinese) is a proportion, any other
  numeric column is continuous (mean per user). Repeated rows of one user in one variant are
  combined: 0/1 columns by maximum ("converted in any row"), continuous columns by sum; users in
  several variants are excluded and counted.

Checks: sample-ratio mismatch against the intended split (chi-square, flag p < 0.001); minimum data
per arm (``min_users`` users and ``min_conversions`` conversions / non-zero values / numerator
events) before any verdict; a warning when variants look assigned per video rather than per user.
Several variants or metrics: Holm (default) or Benjamini-Hochberg adjusted p-values.

Results hold numbers, statuses and codes with their parameters (:class:`Notice`, :class:`Reason`,
:class:`Verdict`); the sentences are the dashboard's (``dashboard/experiment_text.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import ibis
import numpy as np
import pandas as pd

from analytics.config import parse_timezone
from analytics.errors import BadInput
from analytics.experiments import stats as abstats
from analytics.ingest.mapping import guess_column
from analytics.query.definitions import is_complete, views_with_ratio
from analytics.query.filters import Filters, filtered_events

MetricKind = Literal["proportion", "mean", "ratio"]
#: "partial": some metrics have enough data and some do not.
Status = Literal["ok", "partial", "not_enough_data", "no_experiment"]

MIN_USERS = 50
MIN_CONVERSIONS = 5
SRM_THRESHOLD = 0.001
#: Text a 0/1 metric column may hold instead of numbers (exports write booleans as words).
#: The Chinese words for yes and no are written as escapes: this module holds no wording.
BOOLEAN_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "\u662f": 1.0, "\u5426": 0.0, "y": 1.0, "n": 0.0}
#: Variant names taken as the control when none is given (else the first variant A-Z); the
#: escapes are the Chinese for "control group" and "control".
CONTROL_NAMES = ("control", "\u5bf9\u7167\u7ec4", "\u5bf9\u7167", "baseline", "A", "a")
#: Share of exposed users seen in several variants above which assignment is evidently not per user.
CROSSOVER_WARN_SHARE = 0.05


@dataclass(frozen=True)
class EventMetric:
    """A metric computed from events: its name, kind and definition (see the module docstring)."""

    name: str
    kind: MetricKind
    definition: str


EVENT_METRICS: dict[str, EventMetric] = {
    m.name: m
    for m in (
        EventMetric("conversion", "proportion", "exposed users with a purchase at or after exposure / exposed users"),
        EventMetric("ctr", "ratio", "clicks / views after exposure, pooled per arm (delta method per user)"),
        EventMetric("completion", "ratio", "views watched >= 90% / views with a usable length, pooled per arm"),
        EventMetric("d1_retention", "proportion", "exposed users with any event on local day exposure + 1 / eligible users"),
        EventMetric("d7_retention", "proportion", "exposed users with any event on local day exposure + 7 / eligible users"),
        EventMetric("watch_time", "mean", "seconds watched after exposure per exposed user"),
        EventMetric("revenue_per_user", "mean", "purchase revenue minus refunds after exposure per exposed user"),
    )
}

ALIASES = {
    "conversion_rate": "conversion",
    "purchase": "conversion",
    "click_through_rate": "ctr",
    "completion_rate": "completion",
    "d1": "d1_retention",
    "d7": "d7_retention",
    "retention_d1": "d1_retention",
    "retention_d7": "d7_retention",
    "watch_time_per_user": "watch_time",
    "watch_seconds": "watch_time",
    "revenue": "revenue_per_user",
    "arpu": "revenue_per_user",
}


def resolve_metric(name: str) -> str:
    """The canonical event-metric name for ``name`` (aliases allowed) or :class:`BadInput`."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in EVENT_METRICS:
        raise BadInput(
            f"unknown experiment metric {name!r}; use one of {', '.join(EVENT_METRICS)}",
            code="bad_metric",
            value=name,
        )
    return key


# -- results -------------------------------------------------------------------------------------
NoticeCode = Literal[
    "srm", "multi_variant_users", "not_randomised_by_user", "multiple_testing",
    "rows_without_variant", "no_user_column", "repeated_rows",
]
#: Every warning code the analysis can emit (each has its sentence in the dashboard's i18n).
NOTICE_CODES: tuple[str, ...] = get_args(NoticeCode)


@dataclass(frozen=True)
class Notice:
    """A warning or caveat: its code and the plain values (numbers, names, flags) it rests on.

    ``srm``: ``variants``, ``observed``, ``expected`` (users per variant), ``p_value``, ``threshold``.
    ``multi_variant_users``: ``excluded`` of ``users`` (``share`` in [0, 1]) and the ``source``
    (``events``: exposed users; ``table``: rows of a table). ``not_randomised_by_user``: ``share`` and
    ``per_video`` (every video carries a single variant). ``multiple_testing``: ``comparisons``.
    ``rows_without_variant`` and ``repeated_rows``: ``rows``. ``no_user_column``: nothing.
    """

    code: NoticeCode
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}


ReasonCode = Literal["too_few_users", "too_few_conversions", "too_few_nonzero_values", "too_few_events"]
#: Every reason for a missing verdict (each has its wording in the dashboard's i18n).
REASON_CODES: tuple[str, ...] = get_args(ReasonCode)


@dataclass(frozen=True)
class Reason:
    """Why a comparison has no verdict: an arm holds ``count`` users (or conversions, non-zero
    values, numerator events) where the guard needs ``need``; ``of_control``: the control's data fell short."""

    code: ReasonCode
    count: int
    need: int
    of_control: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a user table: a value column, or numerator and denominator for a ratio."""

    name: str
    kind: MetricKind
    column: str
    denominator: str | None = None


@dataclass(frozen=True)
class UserData:
    """Per-user rows (``user_id``, ``variant`` and metric columns) ready for analysis."""

    frame: pd.DataFrame
    metrics: tuple[MetricSpec, ...]
    source: Literal["events", "table"]
    excluded_users: int = 0
    repeated_rows: int = 0
    notices: tuple[Notice, ...] = ()
    covariate: str | None = None


@dataclass(frozen=True)
class ArmResult:
    """One variant on one metric. Lift and intervals are against the control (None on the control).

    ``lift`` is relative (``value / control - 1``) with ``ci_low``/``ci_high`` its delta-method
    interval; ``diff`` is absolute with ``diff_ci_low``/``diff_ci_high``. Probabilities in [0, 1].
    ``expected_loss`` is in the metric's units: what choosing this variant gives up on average.
    """

    variant: str
    is_control: bool
    status: Literal["control", "ok", "not_enough_data"]
    n: int
    value: float | None
    count: float | None  # conversions / numerator total / non-zero values
    lift: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    diff: float | None = None
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    p_value: float | None = None
    p_value_adjusted: float | None = None
    chance_to_beat_control: float | None = None
    chance_to_be_best: float | None = None
    expected_loss: float | None = None
    reason: Reason | None = None

    def significant(self, alpha: float) -> bool:
        return self.p_value_adjusted is not None and self.p_value_adjusted < alpha

    def to_dict(self) -> dict[str, Any]:
        keys = (
            "variant", "n", "value", "lift", "ci_low", "ci_high", "p_value", "chance_to_beat_control",
            "expected_loss", "p_value_adjusted", "diff", "diff_ci_low", "diff_ci_high", "chance_to_be_best",
            "count", "is_control", "status",
        )
        return {**{k: getattr(self, k) for k in keys}, "reason": self.reason.to_dict() if self.reason else None}


@dataclass(frozen=True)
class MetricResult:
    """All variants on one metric."""

    metric: str
    kind: MetricKind
    test: str
    status: Literal["ok", "not_enough_data"]
    arms: tuple[ArmResult, ...]
    posteriors: tuple[tuple[str, abstats.Posterior], ...]
    winsorized_at: float | None = None
    cuped_theta: float | None = None

    def arm(self, variant: str) -> ArmResult:
        return next(a for a in self.arms if a.variant == variant)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"metric": self.metric, **a.to_dict()} for a in self.arms])

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "kind": self.kind,
            "test": self.test,
            "status": self.status,
            "winsorized_at": self.winsorized_at,
            "cuped_theta": self.cuped_theta,
            "variants": [a.to_dict() for a in self.arms],
            "posteriors": [
                {"variant": v, "distribution": p.kind, "a": p.a, "b": p.b, "mean": p.mean, "sd": p.sd}
                for v, p in self.posteriors
            ],
        }


VerdictStatus = Literal["control", "higher", "lower", "no_difference", "not_enough_data"]
#: Every verdict status (each has its sentence in the dashboard's i18n, except the control's).
VERDICT_STATUSES: tuple[str, ...] = get_args(VerdictStatus)


@dataclass(frozen=True)
class Verdict:
    """What one arm on one metric supports, with the numbers it rests on.

    ``status``: ``higher`` / ``lower`` (by the sign of the difference) when ``p_value`` is below
    ``1 - confidence``, ``no_difference`` when it is not, ``not_enough_data`` with ``reason``, and
    ``control`` for the control. ``p_value`` is adjusted with ``correction`` over ``comparisons``
    when ``p_adjusted``. ``effect`` with ``ci_low``/``ci_high`` (an interval at ``confidence``, per
    comparison) is the relative lift when ``relative`` (0.12 = +12%), else the absolute difference
    (when the control's value is 0). ``value`` and ``control_value`` are the two arms' values.
    """

    metric: str
    kind: MetricKind
    variant: str
    control: str
    status: VerdictStatus
    value: float | None
    control_value: float | None
    relative: bool = True
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float = 0.95
    p_value: float | None = None
    p_adjusted: bool = False
    correction: abstats.Correction = "holm"
    comparisons: int = 0
    chance_to_beat_control: float | None = None
    reason: Reason | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ExperimentResult:
    """The analysis of one experiment: checks, a result per metric and the verdicts (:attr:`verdicts`)."""

    source: Literal["events", "table"]
    status: Status
    control: str | None
    variants: tuple[str, ...]
    sizes: tuple[int, ...]
    srm: abstats.SrmCheck | None
    metrics: tuple[MetricResult, ...]
    correction: abstats.Correction
    alpha: float
    notices: tuple[Notice, ...]
    excluded_users: int
    repeated_rows: int

    @property
    def comparisons(self) -> int:
        """Variant-against-control comparisons tested: the family the correction adjusts over."""
        return sum(a.p_value is not None for m in self.metrics for a in m.arms[1:])

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        """One :class:`Verdict` per metric and arm (the control first), in the order of :attr:`metrics`."""
        comparisons = self.comparisons
        adjusted = comparisons > 1 and self.correction != "none"
        out = []
        for m in self.metrics:
            control = m.arms[0]
            for arm in m.arms:
                common = dict(
                    metric=m.metric, kind=m.kind, variant=arm.variant, control=control.variant,
                    value=arm.value, control_value=control.value, confidence=1 - self.alpha,
                    correction=self.correction, comparisons=comparisons, reason=arm.reason,
                )
                if arm.is_control or arm.status == "not_enough_data":
                    out.append(Verdict(status="control" if arm.is_control else "not_enough_data", **common))
                    continue
                relative = arm.lift is not None
                status = (
                    ("higher" if (arm.diff or 0) > 0 else "lower") if arm.significant(self.alpha) else "no_difference"
                )
                out.append(Verdict(
                    status=status, relative=relative,
                    effect=arm.lift if relative else arm.diff,
                    ci_low=arm.ci_low if relative else arm.diff_ci_low,
                    ci_high=arm.ci_high if relative else arm.diff_ci_high,
                    p_value=arm.p_value_adjusted, p_adjusted=adjusted,
                    chance_to_beat_control=arm.chance_to_beat_control, **common,
                ))
        return tuple(out)

    @property
    def srm_flagged(self) -> bool:
        return bool(self.srm and self.srm.flagged)

    def to_frame(self) -> pd.DataFrame:
        """One row per metric and variant (for tables and exports)."""
        if not self.metrics:
            return pd.DataFrame(columns=["metric", "variant", "n", "value"])
        return pd.concat([m.to_frame() for m in self.metrics], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        first = self.metrics[0] if self.metrics else None
        return {
            "status": self.status,
            "source": self.source,
            "metric": first.metric if first else None,
            "control": self.control,
            "variants": [a.to_dict() for a in first.arms] if first else [],
            "srm_p_value": self.srm.p_value if self.srm else None,
            "srm_flagged": self.srm_flagged,
            "srm": None
            if self.srm is None
            else {
                "observed": dict(zip(self.variants, self.srm.observed)),
                "expected": dict(zip(self.variants, self.srm.expected)),
                "chi2": self.srm.chi2,
                "p_value": self.srm.p_value,
                "threshold": self.srm.threshold,
            },
            "warnings": [n.to_dict() for n in self.notices],
            "excluded_users": self.excluded_users,
            "repeated_rows": self.repeated_rows,
            "correction": self.correction,
            "alpha": self.alpha,
            "metrics": [m.to_dict() for m in self.metrics],
            "comparisons": self.comparisons,
            "verdicts": [v.to_dict() for v in self.verdicts],
        }


@dataclass(frozen=True)
class Options:
    """Analysis settings, parsed once at the boundary.

    ``split``: intended share per variant (name -> weight, or weights in the order control first,
    then the other variants A-Z; None means an equal split).
    ``winsorize``: cap continuous metrics at this pooled upper quantile (e.g. 0.99), or None.
    ``ci_se``: standard error of the proportion-difference interval ("unpooled" Wald, or "pooled").
    """

    alpha: float = 0.05
    correction: abstats.Correction = "holm"
    split: Mapping[str, float] | Sequence[float] | None = None
    winsorize: float | None = None
    min_users: int = MIN_USERS
    min_conversions: int = MIN_CONVERSIONS
    ci_se: abstats.CiSe = "unpooled"

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5:
            raise BadInput(f"alpha must lie between 0 and 0.5, got {self.alpha}", code="bad_alpha")
        if self.correction not in ("holm", "bh", "none"):
            raise BadInput(
                f"unknown correction {self.correction!r}; use holm, bh or none", code="bad_correction"
            )
        if self.winsorize is not None and not 0.5 < self.winsorize < 1:
            raise BadInput(
                f"the winsorising quantile must lie between 0.5 and 1 (e.g. 0.99), got {self.winsorize}",
                code="bad_winsorize",
            )
        shares = [] if self.split is None else self.split.values() if isinstance(self.split, Mapping) else self.split
        if any((not math.isfinite(float(w))) or float(w) <= 0 for w in shares):
            raise BadInput("every share of the intended split must be a positive number", code="bad_split")
        if self.min_users < 2 or self.min_conversions < 0:
            raise BadInput("the minimum users per arm must be at least 2", code="bad_minimum")
        if self.ci_se not in ("unpooled", "pooled"):
            raise BadInput("ci_se must be unpooled or pooled", code="bad_ci_se")


def parse_split(text: str | None) -> dict[str, float] | list[float] | None:
    """Parse ``"control=50,treatment=50"`` (or ``"50,50"``: in the order control, then others A-Z)."""
    if not text:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if all("=" in p for p in parts):
            return {k.strip(): float(v) for k, v in (p.split("=", 1) for p in parts)}
        if any("=" in p for p in parts):
            raise ValueError
        return [float(p) for p in parts]
    except ValueError as exc:
        raise BadInput(
            f"cannot read the split {text!r}; write name=share pairs such as control=50,treatment=50",
            code="bad_split",
        ) from exc


# -- from events ---------------------------------------------------------------------------------
def list_variants(source, filters: Filters) -> list[tuple[str, int]]:
    """Variants in the filtered events with their distinct users, most users first."""
    ev = filtered_events(source, filters)
    ev = ev.filter(ev.variant.notnull() & (ev.variant != ""))
    df = source.execute(ev.group_by("variant").aggregate(users=ev.user_id.nunique()))
    df = df.sort_values(["users", "variant"], ascending=[False, True])
    return [(str(v), int(u)) for v, u in zip(df["variant"], df["users"])]


def _num(expr):
    return ibis.coalesce(expr.cast("float64"), 0.0)


def user_data_from_events(source, filters: Filters, metrics: Sequence[str]) -> UserData:
    """Per-user metric values of the users exposed to a variant in the filtered period.

    Args:
        source: a :class:`~analytics.store.storage.Store` (or an ibis source).
        filters: the period chooses exposures; channel / campaign / category filters apply to all
            events; outcomes are followed to the end of the data.
        metrics: names from :data:`EVENT_METRICS` (aliases allowed).

    Returns:
        :class:`UserData` with one row per singly-exposed user; ratio metrics have ``<m>__num`` and
        ``<m>__den`` columns, retention has NaN for users not yet eligible.
    """
    from analytics.query.localtime import local_time, utc_offsets

    names = list(dict.fromkeys(resolve_metric(m) for m in metrics))
    if not names:
        raise BadInput("name at least one metric", code="no_metric")
    ev_all = filtered_events(source, filters.all_dates())
    ev = filtered_events(source, filters)
    exposed = ev.filter(ev.variant.notnull() & (ev.variant != ""))
    per_user = exposed.group_by("user_id").aggregate(
        n_variants=exposed.variant.nunique(), arm=exposed.variant.min(), first_exposure=exposed.event_time.min()
    )
    counts = source.execute(per_user.aggregate(
        users=per_user.count(), crossed=(per_user.n_variants > 1).cast("int64").sum()
    )).iloc[0]
    users_total = int(counts["users"] or 0)
    crossed = int(counts["crossed"] or 0) if users_total else 0
    per_item = exposed.group_by("item_id").aggregate(nv=exposed.variant.nunique())
    items = source.execute(per_item.aggregate(items=per_item.count(), single=(per_item.nv == 1).cast("int64").sum())).iloc[0]

    notices: list[Notice] = []
    if crossed:
        share = crossed / users_total
        notices.append(Notice(
            "multi_variant_users", {"excluded": crossed, "users": users_total, "share": share, "source": "events"}
        ))
        n_items, single = int(items["items"] or 0), int(items["single"] or 0)
        per_video = n_items >= 2 and single == n_items
        if share >= CROSSOVER_WARN_SHARE and (per_video or share >= 0.2):
            notices.append(Notice("not_randomised_by_user", {"share": share, "per_video": per_video}))

    users = per_user.filter(per_user.n_variants == 1).select("user_id", "arm", "first_exposure")
    post = ev_all.inner_join(users, "user_id")
    post = post.filter(post.event_time >= post.first_exposure)
    et = post.event_type
    aggs: dict[str, Any] = {}
    if "conversion" in names:
        aggs["conversion"] = ibis.ifelse(et == "purchase", 1, 0).max()
    if "ctr" in names:
        aggs["ctr__num"] = ibis.ifelse(et == "click", 1, 0).sum()
        aggs["ctr__den"] = ibis.ifelse(et == "view", 1, 0).sum()
    if "watch_time" in names:
        aggs["watch_time"] = ibis.ifelse(et == "view", _num(post.watch_seconds), 0.0).sum()
    if "revenue_per_user" in names:
        money = _num(post.revenue)
        # a refund's amount is its absolute value (docs/metrics.md "Net revenue")
        aggs["revenue_per_user"] = ibis.cases((et == "purchase", money), (et == "refund", -money.abs()), else_=0.0).sum()
    retention_days = [n for n, m in ((1, "d1_retention"), (7, "d7_retention")) if m in names]
    data_end = None
    if retention_days:
        lo, hi = source.span()
        offsets = utc_offsets(filters.timezone, lo, hi)
        post = post.mutate(
            local_day=local_time(post.event_time, offsets).date(),
            exposure_day=local_time(post.first_exposure, offsets).date(),
        )
        aggs["exposure_day"] = post.exposure_day.min()
        for n in retention_days:
            aggs[f"d{n}_retention"] = ibis.ifelse(post.local_day.delta(post.exposure_day, unit="day") == n, 1, 0).max()
        if hi is not None:  # outcomes are followed to the data's last local day
            zone = parse_timezone(filters.timezone)
            data_end = hi.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()
    aggs["_events"] = post.count()
    frame = post.group_by(["user_id", "arm"]).aggregate(**aggs)
    if "completion" in names:
        views = views_with_ratio(post, source.table("items"))
        comp = views.group_by("user_id").aggregate(
            completion__num=ibis.ifelse(is_complete(views.watch_ratio), 1, 0).sum(),
            completion__den=views.watch_ratio.notnull().cast("int64").sum(),
        )
        frame = frame.left_join(comp, "user_id").drop("user_id_right")
    df = source.execute(frame).rename(columns={"arm": "variant"}).drop(columns="_events")
    if "completion" in names:
        df[["completion__num", "completion__den"]] = df[["completion__num", "completion__den"]].fillna(0)
    for n in retention_days:
        col = f"d{n}_retention"
        day = pd.to_datetime(df["exposure_day"]).dt.date
        eligible = day.map(lambda d: data_end is not None and d + dt.timedelta(days=n) <= data_end)
        df[col] = df[col].astype(float).where(eligible.astype(bool))
    if retention_days:
        df = df.drop(columns="exposure_day")
    specs = []
    for name in names:
        kind = EVENT_METRICS[name].kind
        if kind == "ratio":
            specs.append(MetricSpec(name, kind, f"{name}__num", f"{name}__den"))
        else:
            specs.append(MetricSpec(name, kind, name))
    df = df.sort_values("user_id", kind="stable").reset_index(drop=True)
    return UserData(df, tuple(specs), "events", excluded_users=crossed, notices=tuple(notices))


def analyse_events(
    source,
    filters: Filters,
    metrics: Sequence[str] = ("conversion",),
    control: str | None = None,
    options: Options | None = None,
) -> ExperimentResult:
    """Analyse the experiment recorded in ``events.variant`` (see the module docstring).

    Returns a result with ``status="no_experiment"`` when no filtered event carries a variant and
    ``"not_enough_data"`` when a guard fails; raises :class:`BadInput` for an unknown metric or control.
    """
    data = user_data_from_events(source, filters, metrics)
    options = options or Options()
    if data.frame.empty or data.frame["variant"].nunique() < 2:
        # no variant at all, or a single one (named in ``variants``)
        found = sorted(data.frame["variant"].unique().tolist()) if not data.frame.empty else []
        return ExperimentResult(
            "events", "no_experiment", control, tuple(found), tuple(int((data.frame["variant"] == v).sum()) for v in found),
            None, (), options.correction, options.alpha, data.notices, data.excluded_users, 0,
        )
    return analyse(data, control, options)


# -- from a table --------------------------------------------------------------------------------
def read_result_table(source: str | Path | bytes | pd.DataFrame, name: str | None = None) -> pd.DataFrame:
    """Read a user-level result table (CSV in any encoding an upload reads, Excel or Parquet) with pandas.

    These tables are small (one row per user), so they are read in Python and never handed to the
    database. ``name`` gives the file name (for its extension) when ``source`` is bytes.
    """
    if isinstance(source, pd.DataFrame):
        return source.copy()
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise BadInput(f"there is no file {path.name!r}", code="no_file", path=str(path))
        data, name = path.read_bytes(), name or path.name
    else:
        data = source
    suffix = Path(name or "table.csv").suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            return pd.read_excel(io.BytesIO(data))
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(io.BytesIO(data))
        from analytics.ingest.readers import detect_encoding

        encoding = detect_encoding(data, complete=True)  # as an upload's: UTF-8, GBK/GB18030, Windows-1252, UTF-16
        return pd.read_csv(io.BytesIO(data), encoding=encoding, sep=None, engine="python")
    except BadInput:
        raise
    except Exception as exc:  # pandas raises many types for a malformed file
        raise BadInput(f"cannot read the table {name or ''}: {exc}".strip(), code="bad_table") from exc


def _is_boolean_words(values: pd.Series) -> bool:
    words = values.dropna().astype(str).str.strip().str.lower()
    return not words.empty and bool(words.isin(list(BOOLEAN_WORDS)).all())


#: Targets of the header mapping that name an identifier: never a metric.
_ID_TARGETS = frozenset({"user_id", "item_id", "course_id"})


def _guessed(columns: Sequence[Any], target: str) -> str | None:
    """The column whose header the ingest mapping reads as ``target`` (the best score, then the leftmost)."""
    scored = [(guess_column(str(c), "events"), str(c)) for c in columns]
    hits = [(g.confidence, -i, c) for i, (g, c) in enumerate(scored) if g.target == target]
    return max(hits)[2] if hits else None


#: A text column read as the variant when no header names one: this many distinct labels at most,
#: each on this share of the rows at least (an A/B test has a few arms, each with its users).
VARIANT_MAX_ARMS, VARIANT_MIN_SHARE = 8, 0.01


def guess_variant_column(table: pd.DataFrame) -> str | None:
    """The variant column: the one named as the ingest mapping names one (``variant``, ``group``,
    ``test group``, ``实验组`` ...); else the only text column, other than an identifier, that holds
    2 to :data:`VARIANT_MAX_ARMS` labels, each on :data:`VARIANT_MIN_SHARE` of the rows or more
    (Cookie Cats' ``version``: ``gate_30`` / ``gate_40``); else ``None``."""
    named = _guessed(table.columns, "variant")
    if named is not None:
        return named
    found = []
    for c in table.columns:
        values = table[c]
        if (_unnamed(c) or pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
                or _is_boolean_words(values) or guess_column(str(c), "events").target in _ID_TARGETS):
            continue
        shares = _variant_labels(values).dropna().value_counts(normalize=True)
        if 2 <= len(shares) <= VARIANT_MAX_ARMS and shares.min() >= VARIANT_MIN_SHARE:
            found.append(str(c))
    return found[0] if len(found) == 1 else None


def guess_user_column(columns: Sequence[Any]) -> str | None:
    """The user id column named as the ingest mapping names one (``user_id``, ``userid``, ``uid``, ``用户ID`` ...)."""
    return _guessed(columns, "user_id")


def _unnamed(column: Any) -> bool:
    """A column with no header (pandas names it ``Unnamed: N``), such as a saved row index."""
    return re.fullmatch(r"Unnamed: \d+", str(column).strip()) is not None


def metric_columns(table: pd.DataFrame, exclude: Sequence[str | None] = ()) -> list[str]:
    """Columns usable as metrics: numeric, boolean, or holding only true/false-like words; never an
    identifier (a header the ingest mapping reads as a user, item or course id) nor a column without
    a header."""
    skip = {str(c) for c in exclude if c is not None}
    return [
        str(c) for c in table.columns
        if str(c) not in skip and not _unnamed(c) and guess_column(str(c), "events").target not in _ID_TARGETS
        and (pd.api.types.is_numeric_dtype(table[c]) or _is_boolean_words(table[c]))
    ]


def _variant_labels(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values) and bool((values.dropna() % 1 == 0).all()):
        values = values.astype("Int64")  # 0/1 read as 0.0/1.0 because of an empty cell
    return values.astype("string").str.strip()


def variant_values(table: pd.DataFrame, variant_col: str) -> list[str]:
    """The distinct variant labels of ``variant_col`` (as the analysis will name them), A-Z."""
    labels = _variant_labels(table[variant_col]).dropna()
    return sorted(v for v in labels.unique().tolist() if v)


def _is_binary(values: pd.Series) -> bool:
    present = values.dropna()
    return not present.empty and bool(present.isin([0, 1]).all())


def user_data_from_table(
    table: pd.DataFrame,
    variant_col: str | None,
    metric_cols: Sequence[str] | None = None,
    user_col: str | None = None,
    covariate_col: str | None = None,
) -> UserData:
    """Check and tidy a user-level result table.

    Args:
        table: one row per user (repeated rows are combined, see the module docstring).
        variant_col: the column naming each row's variant (``None``: :func:`guess_variant_column`).
        metric_cols: metric columns (default: :func:`metric_columns` other than user, variant, covariate).
        user_col: the user id column (default: :func:`guess_user_column`; ``""``, or no such column:
            every row is a user).
        covariate_col: a pre-period covariate for CUPED (continuous metrics only).

    Raises :class:`BadInput` for missing or non-numeric columns and fewer than two variants.
    """
    df = table.copy()
    df.columns = [str(c).strip() for c in df.columns]
    if variant_col is None:
        variant_col = guess_variant_column(df)
        if variant_col is None:
            raise BadInput(
                "no column of the table is named like a variant (variant, group, arm, 实验组 ...), and no single "
                "text column holds a few arms; "
                f"name it (--variant-col); its columns are {', '.join(df.columns)}",
                code="no_variant_column",
            )
    if user_col is None:
        user_col = guess_user_column(df.columns)
    user_col = user_col or None
    for col, option in ((variant_col, "variant"), (user_col, "user"), (covariate_col, "covariate")):
        if col is not None and col not in df.columns:
            raise BadInput(
                f"the table has no {option} column {col!r}; its columns are {', '.join(df.columns)}",
                code="missing_column",
                column=col,
            )
    if metric_cols:
        missing = [c for c in metric_cols if c not in df.columns]
        if missing:
            raise BadInput(
                f"the table has no metric column {missing[0]!r}; its columns are {', '.join(df.columns)}",
                code="missing_column",
                column=missing[0],
            )
        metric_cols = list(dict.fromkeys(metric_cols))
    else:
        metric_cols = metric_columns(df, (variant_col, user_col, covariate_col))
        if not metric_cols:
            raise BadInput("the table has no numeric metric column; name one with --metric-col", code="no_metric")
    if variant_col in metric_cols or (user_col and user_col in metric_cols):
        raise BadInput("a metric column cannot also be the variant or user column", code="bad_metric")
    for col in [*metric_cols, *([covariate_col] if covariate_col else [])]:
        raw = df[col]
        if raw.dtype == bool or str(raw.dtype) == "boolean":
            df[col] = raw.astype("float64")
            continue
        if not pd.api.types.is_numeric_dtype(raw) and _is_boolean_words(raw):
            df[col] = raw.map(lambda v: np.nan if pd.isna(v) else BOOLEAN_WORDS[str(v).strip().lower()])
            continue
        numeric = pd.to_numeric(raw, errors="coerce")
        bad = numeric.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # header is line 1
            raise BadInput(
                f"the metric column {col!r} must be numeric; line {line} holds {raw[bad].iloc[0]!r}",
                code="non_numeric",
                column=col,
                line=line,
                value=str(raw[bad].iloc[0]),
            )
        if np.isinf(numeric.to_numpy(dtype=float, na_value=np.nan)).any():
            raise BadInput(f"the metric column {col!r} holds an infinite value", code="non_finite", column=col)
        df[col] = numeric.astype("float64")
    notices: list[Notice] = []
    labels = _variant_labels(df[variant_col])
    no_variant = labels.isna() | (labels.fillna("") == "")
    if no_variant.any():
        notices.append(Notice("rows_without_variant", {"rows": int(no_variant.sum())}))
        df = df[~no_variant]
    df["variant"] = labels[~no_variant].astype(str)
    if user_col is None:
        df["user_id"] = np.arange(len(df)).astype(str)
        notices.append(Notice("no_user_column"))
    else:
        df["user_id"] = df[user_col].astype(str).str.strip()
    keep = ["user_id", "variant", *metric_cols, *([covariate_col] if covariate_col else [])]
    df = df[keep]
    kinds = {c: ("proportion" if _is_binary(df[c]) else "mean") for c in metric_cols}

    arms_per_user = df.groupby("user_id")["variant"].nunique()
    crossed = arms_per_user[arms_per_user > 1].index
    excluded = len(crossed)
    if excluded:
        users = len(arms_per_user)
        notices.append(Notice(
            "multi_variant_users", {"excluded": excluded, "users": users, "share": excluded / users, "source": "table"}
        ))
        df = df[~df["user_id"].isin(crossed)]
    repeated = int(len(df) - df[["user_id", "variant"]].drop_duplicates().shape[0])
    if repeated:
        how = {c: ("max" if kinds[c] == "proportion" else "sum") for c in metric_cols}
        if covariate_col:
            how[covariate_col] = "sum"
        df = df.groupby(["user_id", "variant"], as_index=False, sort=False).agg(
            {c: (lambda s, h=h: s.max() if h == "max" else s.sum(min_count=1)) for c, h in how.items()}
        )
        notices.append(Notice("repeated_rows", {"rows": repeated}))
    found = sorted(df["variant"].unique().tolist())
    if len(found) < 2:
        raise BadInput(
            f"an experiment needs at least two variants; the column {variant_col!r} holds "
            + (", ".join(found) if found else "none"),
            code="too_few_variants",
            column=variant_col,
        )
    specs = tuple(MetricSpec(c, kinds[c], c) for c in metric_cols)  # type: ignore[arg-type]
    df = df.reset_index(drop=True)
    return UserData(df, specs, "table", excluded, repeated, tuple(notices), covariate_col)


def analyse_table(
    source: str | Path | bytes | pd.DataFrame,
    variant_col: str | None = None,
    metric_cols: Sequence[str] | None = None,
    control: str | None = None,
    options: Options | None = None,
    *,
    user_col: str | None = None,
    covariate_col: str | None = None,
    name: str | None = None,
) -> ExperimentResult:
    """Analyse an uploaded user-level result table (file path, bytes with ``name``, or a DataFrame)."""
    table = read_result_table(source, name)
    data = user_data_from_table(table, variant_col, metric_cols, user_col, covariate_col)
    return analyse(data, control, options or Options())


# -- the analysis --------------------------------------------------------------------------------
def _order_variants(found: Sequence[str], control: str | None) -> tuple[str, list[str]]:
    found = sorted(found)
    if control is None:
        control = next((c for c in CONTROL_NAMES if c in found), found[0])
    if control not in found:
        raise BadInput(
            f"there is no variant {control!r}; the variants are {', '.join(found)}",
            code="unknown_control",
            value=control,
        )
    return control, [control, *[v for v in found if v != control]]


def _weights(split, order: list[str]) -> list[float] | None:
    if split is None:
        return None
    if isinstance(split, Mapping):
        unknown = [k for k in split if k not in order]
        if unknown:
            raise BadInput(
                f"the split names {unknown[0]!r}, which is not a variant; the variants are {', '.join(order)}",
                code="bad_split",
            )
        missing = [v for v in order if v not in split]
        if missing:
            raise BadInput(f"the split gives no share for {missing[0]!r}", code="bad_split")
        return [float(split[v]) for v in order]
    values = [float(w) for w in split]
    if len(values) != len(order):
        raise BadInput(
            f"the split has {len(values)} shares but there are {len(order)} variants ({', '.join(order)})",
            code="bad_split",
        )
    if any(w <= 0 for w in values):
        raise BadInput("every share of the intended split must be positive", code="bad_split")
    return values


def _guard(kind: MetricKind, n: int, count: float, options: Options) -> Reason | None:
    if n < options.min_users:
        return Reason("too_few_users", n, options.min_users)
    if count < options.min_conversions:
        code = {"proportion": "too_few_conversions", "mean": "too_few_nonzero_values", "ratio": "too_few_events"}[kind]
        return Reason(code, int(count), options.min_conversions)  # type: ignore[arg-type]
    return None


def _metric(data: UserData, spec: MetricSpec, order: list[str], options: Options) -> tuple[MetricResult, list[float | None]]:
    df = data.frame
    arms: list[dict[str, Any]] = []
    posts: list[abstats.Posterior] = []
    summaries = []
    cap = theta = None
    if spec.kind == "mean":
        values_all = df[spec.column]
        mask = values_all.notna()
        y = values_all[mask].to_numpy(float)
        if options.winsorize is not None and y.size:
            y, cap = abstats.winsorize_upper(y, options.winsorize)
        if data.covariate is not None and y.size > 2:
            x = df.loc[mask, data.covariate].to_numpy(float)
            ok = ~np.isnan(x)
            if ok.all():
                y, theta = abstats.cuped_adjust(y, x)
        adjusted = pd.Series(np.nan, index=df.index)
        adjusted[mask] = y
        raw_nonzero = values_all.fillna(0) != 0
    for v in order:
        in_arm = df["variant"] == v
        if spec.kind == "proportion":
            vals = df.loc[in_arm, spec.column].dropna()
            n, count = int(vals.size), float(vals.sum())
            value = count / n if n else None
            summaries.append((n, count))
            posts.append(abstats.beta_posterior(int(count), n))
        elif spec.kind == "mean":
            vals = adjusted[in_arm].dropna().to_numpy(float)
            n = int(vals.size)
            count = float((raw_nonzero & in_arm & mask).sum())
            value = float(vals.mean()) if n else None
            var = float(vals.var(ddof=1)) if n > 1 else 0.0
            summaries.append((n, value, var))
            posts.append(abstats.normal_posterior(value or 0.0, math.sqrt(var / n) if n else 0.0))
        else:
            sub = df.loc[in_arm & (df[spec.denominator] > 0)]
            n = int(len(sub))
            count = float(sub[spec.column].sum())
            est = abstats.ratio_estimate(sub[spec.column], sub[spec.denominator]) if n >= 2 else None
            value = est.value if est else (count / float(sub[spec.denominator].sum()) if n else None)
            summaries.append(est)
            posts.append(abstats.normal_posterior(est.value if est else 0.0, est.se if est else 0.0))
        arms.append({"variant": v, "n": n, "value": value, "count": count, "reason": _guard(spec.kind, n, count, options)})

    control_reason = arms[0]["reason"]
    results: list[ArmResult] = []
    raw_p: list[float | None] = []
    test_name = {"proportion": "two-proportion z-test", "mean": "Welch t-test", "ratio": "delta-method z-test (ratio)"}[spec.kind]
    # Bayesian summaries over the arms that pass the guards (the control first).
    passing = [0, *[i for i in range(1, len(order)) if not arms[i]["reason"]]] if not control_reason else []
    bayes: dict[int, abstats.BayesArm] = {}
    if len(passing) >= 2:
        bayes = dict(zip(passing, abstats.bayes_compare([posts[i] for i in passing], 0)))
    results.append(ArmResult(
        order[0], True, "control", arms[0]["n"], arms[0]["value"], arms[0]["count"],
        chance_to_be_best=bayes[0].chance_to_be_best if bayes else None,
        expected_loss=bayes[0].expected_loss if bayes else None,
        reason=control_reason,
    ))
    for i in range(1, len(order)):
        arm = arms[i]
        reason = arm["reason"] or (_replace(control_reason, of_control=True) if control_reason else None)
        if reason:
            results.append(ArmResult(order[i], False, "not_enough_data", arm["n"], arm["value"], arm["count"], reason=reason))
            raw_p.append(None)
            continue
        c, t = summaries[0], summaries[i]
        if spec.kind == "proportion":
            cmp = abstats.two_proportion_test(int(c[1]), c[0], int(t[1]), t[0], options.alpha, options.ci_se)
        elif spec.kind == "mean":
            cmp = abstats.welch_test(c[1], c[2], c[0], t[1], t[2], t[0], options.alpha)
        else:
            cmp = abstats.ratio_test(c, t, options.alpha)
        results.append(ArmResult(
            order[i], False, "ok", arm["n"], arm["value"], arm["count"],
            lift=cmp.lift, ci_low=cmp.lift_ci_low, ci_high=cmp.lift_ci_high,
            diff=cmp.diff, diff_ci_low=cmp.ci_low, diff_ci_high=cmp.ci_high,
            p_value=cmp.p_value,
            chance_to_beat_control=bayes[i].chance_to_beat_control,
            chance_to_be_best=bayes[i].chance_to_be_best,
            expected_loss=bayes[i].expected_loss,
        ))
        raw_p.append(cmp.p_value)
    status = "ok" if all(r.status != "not_enough_data" for r in results) else "not_enough_data"
    result = MetricResult(
        spec.name, spec.kind, test_name, status, tuple(results),
        tuple((v, p) for v, p in zip(order, posts) if p.sd > 0), cap, theta,
    )
    return result, raw_p


def analyse(data: UserData, control: str | None = None, options: Options | None = None) -> ExperimentResult:
    """Run checks, tests, Bayesian summaries, corrections and the verdict on per-user data."""
    options = options or Options()
    df = data.frame
    control, order = _order_variants(df["variant"].unique().tolist(), control)
    sizes = [int((df["variant"] == v).sum()) for v in order]
    weights = _weights(options.split, order)
    srm = abstats.sample_ratio_mismatch(sizes, weights, SRM_THRESHOLD) if sum(sizes) else None
    notices = list(data.notices)
    if srm is not None and srm.flagged:
        notices.insert(0, Notice("srm", {
            "variants": list(order), "observed": list(sizes), "expected": [float(e) for e in srm.expected],
            "p_value": float(srm.p_value), "threshold": srm.threshold,
        }))
    metric_results: list[MetricResult] = []
    all_p: list[float | None] = []
    for spec in data.metrics:
        res, raw_p = _metric(data, spec, order, options)
        metric_results.append(res)
        all_p.extend(raw_p)
    adjusted = abstats.adjust_p_values(all_p, options.correction)
    it = iter(adjusted)
    final: list[MetricResult] = []
    for res in metric_results:
        arms = [res.arms[0]]
        for arm in res.arms[1:]:
            arms.append(_replace(arm, p_value_adjusted=next(it)))
        final.append(_replace(res, arms=tuple(arms)))
    tested = sum(p is not None for p in all_p)
    if tested > 1 and options.correction == "none":
        notices.append(Notice("multiple_testing", {"comparisons": tested}))
    ok = [m.status == "ok" for m in final]
    status: Status = "ok" if all(ok) else "partial" if any(ok) else "not_enough_data"
    return ExperimentResult(
        data.source, status, control, tuple(order), tuple(sizes), srm, tuple(final), options.correction,
        options.alpha, tuple(notices), data.excluded_users, data.repeated_rows,
    )


def _replace(obj, **changes):
    return dataclasses.replace(obj, **changes)


# -- planning ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """A power calculation for a planned experiment (per arm unless said otherwise).

    ``detectable_*`` is the smallest effect detectable with ``n_per_arm`` users per arm;
    ``days_needed`` is ``ceil(n_per_arm * arms / daily_users)`` when the daily traffic is known.
    """

    kind: Literal["proportion", "mean"]
    baseline: float
    alpha: float
    power: float
    arms: int
    mde_relative: float | None
    n_per_arm: int
    total_users: int
    detectable_abs: float | None
    detectable_rel: float | None
    daily_users: float | None
    days_needed: int | None
    sd: float | None = None
    traffic_source: str | None = None


def recent_daily_users(source, filters: Filters, days: int = 14) -> float | None:
    """Average distinct active users per local day over the last ``days`` days of the data."""
    from analytics.query.localtime import local_time, utc_offsets

    lo, hi = source.span()
    if hi is None:
        return None
    offsets = utc_offsets(filters.timezone, lo, hi)
    ev = filtered_events(source, filters.all_dates())
    ev = ev.filter(ev.event_time >= hi - dt.timedelta(days=days))
    ev = ev.mutate(local_day=local_time(ev.event_time, offsets).date())
    per_day = source.execute(ev.group_by("local_day").aggregate(users=ev.user_id.nunique()))
    if per_day.empty:
        return None
    return float(per_day["users"].mean())


def plan_experiment(
    baseline: float,
    mde_relative: float | None = None,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    n_per_arm: int | None = None,
    sd: float | None = None,
    daily_users: float | None = None,
    source=None,
    filters: Filters | None = None,
) -> Plan:
    """Sample size per arm for ``baseline`` and a relative ``mde_relative``, or the detectable effect.

    Proportions (``sd`` None): ``baseline`` is a rate in (0, 1); means: ``baseline`` is the mean and
    ``sd`` its per-user standard deviation. Give ``mde_relative`` (e.g. 0.1 for +10%) to get the size,
    or ``n_per_arm`` to get the detectable effect (both: the size is used). The daily traffic is
    ``daily_users`` or, with a ``source``, the recent average of daily active users
    (:func:`recent_daily_users`). Formulas in :mod:`analytics.experiments.stats`.
    """
    if not 0 < alpha < 0.5:
        raise BadInput(f"alpha must lie between 0 and 0.5, got {alpha}", code="bad_alpha")
    if not 0.5 <= power < 1:
        raise BadInput(f"power must lie between 0.5 and 1, got {power}", code="bad_power")
    if arms < 2:
        raise BadInput("an experiment needs at least two arms", code="bad_arms")
    kind: Literal["proportion", "mean"] = "proportion" if sd is None else "mean"
    if kind == "proportion" and not 0 < baseline < 1:
        raise BadInput(f"the baseline rate must lie strictly between 0 and 1, got {baseline}", code="bad_baseline")
    if kind == "mean" and (sd <= 0 or baseline == 0):  # type: ignore[operator]
        raise BadInput("a continuous plan needs a non-zero baseline mean and a positive sd", code="bad_baseline")
    if mde_relative is None and n_per_arm is None:
        raise BadInput("give a minimum detectable effect (--mde) or a size per arm (--n)", code="no_target")
    if mde_relative is not None:
        if mde_relative == 0 or not math.isfinite(mde_relative):
            raise BadInput("the minimum detectable effect must be non-zero", code="bad_mde")
        target = baseline * (1 + mde_relative)
        if kind == "proportion":
            if not 0 < target < 1:
                raise BadInput(
                    f"baseline {baseline} with a lift of {mde_relative:+.0%} leaves the range 0..1", code="bad_mde"
                )
            n = abstats.sample_size_proportions(baseline, target, alpha, power)
        else:
            n = abstats.sample_size_means(sd, abs(target - baseline), alpha, power)  # type: ignore[arg-type]
    else:
        if n_per_arm < 2:  # type: ignore[operator]
            raise BadInput("the size per arm must be at least 2", code="bad_n")
        n = int(n_per_arm)  # type: ignore[arg-type]
    if kind == "proportion":
        d = abstats.detectable_effect_proportions(baseline, n, alpha, power)
        d = None if math.isnan(d) else d
    else:
        d = abstats.detectable_effect_means(sd, n, alpha, power)  # type: ignore[arg-type]
    traffic_source = "given" if daily_users else None
    if daily_users is None and source is not None:
        daily_users = recent_daily_users(source, filters or Filters())
        traffic_source = "recent" if daily_users else None
    if daily_users is not None and daily_users <= 0:
        raise BadInput("daily users must be positive", code="bad_daily_users")
    days = math.ceil(n * arms / daily_users) if daily_users else None
    return Plan(
        kind, baseline, alpha, power, arms, mde_relative, n, n * arms, d,
        None if d is None else d / abs(baseline), daily_users, days, sd, traffic_source,
    )
