"""Why a KPI changed between two periods: contributions per dimension value, ranked.

For one KPI of the glossary (:data:`analytics.metrics.kpis.KPIS`) and two periods, every dimension is
split into segments (its values) and the change of the KPI is cut into one contribution per
segment, so that the contributions of one dimension sum *exactly* to the total change:

* **Additive KPIs** (no denominator: views, revenue, orders ...): a segment contributes its own
  change, ``scale * (N1_i - N0_i)`` (effect ``"total"``).
* **Ratio KPIs** (``R = scale * sum N_i / sum D_i``: CTR, conversion, completion, ARPU ...): with the
  denominator share ``w_i = D_i / sum D`` and the segment's rate ``r_i = N_i / D_i``,
  ``R = sum w_i r_i`` and the symmetric (midpoint, Shapley-style for two factors) split

      R1 - R0 = sum_i  w̄_i (r1_i - r0_i)           rate effect: the segment's own rate moved
              + sum_i (r̄_i - R̄)(w1_i - w0_i)      mix effect: its share of the denominator moved

  is exact (bars are midpoint averages; subtracting the constant ``R̄`` changes nothing in the sum
  because the shares sum to one in both periods, and it keeps a segment that grows at the average
  rate from being named). A segment absent in one period takes the other period's rate (all
  mix). Because the rate effect is measured *inside* each segment with the shares held apart,
  a shift of the mix can never show up as a fall of every segment's rate (Simpson's paradox
  is guarded against by construction).

Two residual rows keep every dimension's sum exact without naming noise as a cause:
``(other)`` pools *small segments* (a denominator, or for additive KPIs a value, below
:data:`MIN_DENOMINATOR` and below :data:`MIN_SEGMENT_SHARE` of the whole over both periods), and
``(overlap)`` is the part of the change that no segment owns because one user counts in several
segments (distinct users per video or creator) or an event has no segment. Events without a
value of the dimension form the segment ``(none)``. None of the three is ever named a cause.

Ranking follows Adtributor (Bhagwan et al., NSDI 2014): a segment's *explanatory power* is its
contribution divided by the total change; its *surprise* is the Jensen-Shannon divergence term
between its share of the numerator (and, for ratios, of the denominator: the sum of both) in the
previous and the current period. Per dimension the segments, most surprising first, whose
explanatory power exceeds :data:`EP_THRESHOLD` join a candidate set until the set explains
:data:`EEP_THRESHOLD` of the change. Dimensions whose set is complete come first, ranked by the
surprise per element of their set (Adtributor ranks by the set's surprise; dividing by its size
adds succinctness, so a channel that carries the whole change alone beats the two of its campaigns
that share it, while a campaign whose share jumped beats its channel, whose share barely moved).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from analytics.errors import BadInput
from analytics.metrics.kpis import (
    DIMENSIONS,
    EVENT_SUM_COMPONENTS,
    KPI_BY_NAME,
    SPEND_DIMENSIONS,
    Kpi,
    check_dimension,
    event_components,
    event_sums,
    not_recorded,
    resolve_period,
    spend_components,
    unrecorded_components,
)
from analytics.query.filters import Filters
from analytics.store.storage import Store

Effect = Literal["rate", "mix", "total"]
Status = Literal["ok", "no_data", "no_change"]

#: Reserved segment values: pooled small segments, the part owned by no segment, events without a value.
OTHER: Final[str] = "(other)"
OVERLAP: Final[str] = "(overlap)"
NONE: Final[str] = "(none)"
RESERVED: Final[frozenset[str]] = frozenset({OTHER, OVERLAP, NONE})

#: Adtributor's thresholds: a candidate explains more than 10 % of the change; a set 67 % of it.
EP_THRESHOLD: Final[float] = 0.10
EEP_THRESHOLD: Final[float] = 0.67
#: A segment is small (pooled into ``(other)``) when its denominator (or value) over both periods is
#: below this count *and* below MIN_SEGMENT_SHARE of the whole.
MIN_DENOMINATOR: Final[float] = 100.0
MIN_SEGMENT_SHARE: Final[float] = 0.002
#: Dimension notes: spend cannot be split along the dimension; the KPI has no value in a period.
NOTE_SPEND_NOT_SPLIT: Final[str] = "spend_not_split"


def _uses_spend(kpi: Kpi) -> bool:
    return "spend" in (kpi.numerator, kpi.denominator)


def explainable_kpi(name: str) -> Kpi:
    """The KPI called ``name`` if it can be explained (one of :data:`KPIS`), else :class:`BadInput`."""
    kpi = KPI_BY_NAME.get(name)
    if kpi is None:
        raise BadInput(
            f"cannot explain KPI {name!r}; use one of {', '.join(KPI_BY_NAME)}", code="bad_kpi", value=name
        )
    return kpi


# -- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Contributor:
    """One segment's part of the change (``share`` = contribution / total change)."""

    dimension: str
    value: str
    contribution: float
    share: float | None
    effect: Effect
    #: the change of the segment's share of the denominator (ratio KPIs; > 0: the mix moved toward it)
    weight_change: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "value": self.value, "contribution": self.contribution,
                "share": self.share, "effect": self.effect}


@dataclass(frozen=True)
class DimensionExplanation:
    """The change cut along one dimension.

    ``segments`` has one row per segment: ``value``, the components ``num0 den0 num1 den1``
    (previous, current; ``den`` is NaN for additive KPIs), ``rate0 rate1`` (scaled), ``rate_effect``,
    ``mix_effect`` (0 for additive KPIs), ``contribution`` (their sum, or the change of an additive
    KPI), ``share``, ``surprise`` and ``small`` (pooled into ``(other)``). The contributions of all
    rows sum exactly to the total change. ``candidates`` is the Adtributor set, most surprising first.
    """

    dimension: str
    segments: pd.DataFrame = field(repr=False)
    candidates: tuple[str, ...] = ()
    surprise: float = 0.0
    explained: float = 0.0
    note: str | None = None

    @property
    def complete(self) -> bool:
        """Whether the candidate set explains at least :data:`EEP_THRESHOLD` of the change."""
        return self.explained >= EEP_THRESHOLD

    def contributors(self, ratio: bool) -> list[Contributor]:
        """The candidate segments' effects (rate and mix for ratios), largest absolute first."""
        if not self.candidates:
            return []
        rows = self.segments.set_index("value")
        out = []
        for value in self.candidates:
            row = rows.loc[value]
            effects: tuple[tuple[Effect, float], ...] = (
                (("rate", row.rate_effect), ("mix", row.mix_effect)) if ratio else (("total", row.contribution),)
            )
            dw = float(row.den1 / self.segments["den1"].sum() - row.den0 / self.segments["den0"].sum()) if ratio else None
            for effect, amount in effects:
                if amount != 0:
                    share = float(amount / self._change) if self._change else None
                    out.append(Contributor(self.dimension, str(value), float(amount), share, effect, dw))
        return sorted(out, key=lambda c: -abs(c.contribution))

    @property
    def _change(self) -> float:
        return float(self.segments["contribution"].sum()) if len(self.segments) else 0.0

    def waterfall(self) -> pd.DataFrame:
        """Rows for a waterfall chart: ``value``, ``effect``, ``contribution``, in segment order."""
        rows = []
        for r in self.segments.itertuples(index=False):
            if r.den0 == r.den0 and r.value != OVERLAP:  # a ratio KPI's segment (den is not NaN)
                rows += [(r.value, "rate", r.rate_effect), (r.value, "mix", r.mix_effect)]
            else:
                rows.append((r.value, "total", r.contribution))
        df = pd.DataFrame(rows, columns=["value", "effect", "contribution"])
        return df[df["contribution"] != 0].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "surprise": self.surprise, "explained": self.explained,
                "complete": self.complete, "candidates": list(self.candidates), "note": self.note}


@dataclass(frozen=True)
class Explanation:
    """A KPI in two periods and the change cut along each dimension, ranked (see the module doc)."""

    status: Status
    kpi: Kpi
    current_period: Filters
    previous_period: Filters
    current: float | None
    previous: float | None
    dimensions: tuple[DimensionExplanation, ...] = ()

    @property
    def change(self) -> float | None:
        """``current - previous`` in the KPI's unit (a ratio's change is a fraction: 0.012 = 1.2 pp)."""
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def ratio(self) -> bool:
        return self.kpi.denominator is not None

    @property
    def contributors(self) -> list[Contributor]:
        """The candidate sets' effects: dimensions in Adtributor order, each largest absolute first."""
        if self.status != "ok":
            return []
        return [c for d in self.dimensions for c in d.contributors(self.ratio)]

    def dimension(self, name: str) -> DimensionExplanation | None:
        return next((d for d in self.dimensions if d.dimension == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kpi": self.kpi.name,
            "current": self.current,
            "previous": self.previous,
            "change": self.change,
            "contributors": [c.to_dict() for c in self.contributors],
            "status": self.status,
            "unit": self.kpi.unit,
            "periods": {"current": self.current_period.describe(), "previous": self.previous_period.describe()},
            "dimensions": [d.to_dict() for d in self.dimensions],
        }


# -- the decomposition -------------------------------------------------------------------------
def _js_terms(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per element, its term of the Jensen-Shannon divergence between the two share vectors."""
    p = np.clip(np.nan_to_num(before), 0, None)
    q = np.clip(np.nan_to_num(after), 0, None)
    p = p / p.sum() if p.sum() > 0 else p
    q = q / q.sum() if q.sum() > 0 else q
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        tp = np.where(p > 0, p * np.log(p / m), 0.0)
        tq = np.where(q > 0, q * np.log(q / m), 0.0)
    return 0.5 * (tp + tq)


def _pool_small(seg: pd.DataFrame, size: pd.Series) -> pd.DataFrame:
    """Rows whose ``size`` is small summed into one ``(other)`` row (reserved values stay apart)."""
    total = float(size.sum())
    small = (size < MIN_DENOMINATOR) & (size < MIN_SEGMENT_SHARE * total) & ~seg["value"].isin(RESERVED)
    seg = seg.assign(small=small)
    if not small.any():
        return seg
    pooled = seg[small].drop(columns="value").sum(numeric_only=True, min_count=1)
    other = pd.DataFrame([{**pooled.to_dict(), "value": OTHER, "small": True}])
    return pd.concat([seg[~small], other], ignore_index=True)


def decompose(
    kpi: Kpi,
    segments: pd.DataFrame,
    total_before: tuple[float, float | None],
    total_after: tuple[float, float | None],
) -> pd.DataFrame:
    """Cut the change of ``kpi`` into per-segment contributions (the formulas of the module doc).

    ``segments`` holds ``value num0 den0 num1 den1`` (components per segment and period; ``den``
    columns are ignored for additive KPIs); ``total_*`` are ``(numerator, denominator)`` of the
    whole, which may differ from the segments' sums (users in several segments): that difference
    becomes the ``(overlap)`` row. Returns the ``segments`` table of :class:`DimensionExplanation`
    without ``share`` and ``surprise``; its ``contribution`` column sums to the KPI's change.
    """
    ratio = kpi.denominator is not None
    seg = segments[["value", "num0", "den0", "num1", "den1"]].copy()
    for col in ("num0", "den0", "num1", "den1"):
        seg[col] = pd.to_numeric(seg[col], errors="coerce").astype("float64").fillna(0.0)
    if not ratio:
        seg["den0"] = seg["den1"] = np.nan
    size = (seg["den0"] + seg["den1"]) if ratio else (seg["num0"].abs() + seg["num1"].abs())
    seg = _pool_small(seg, size)
    s = kpi.scale
    n0, n1 = seg["num0"].to_numpy(), seg["num1"].to_numpy()
    if ratio:
        d0, d1 = seg["den0"].to_numpy(), seg["den1"].to_numpy()
        W0, W1 = d0.sum(), d1.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            r0 = np.where(d0 > 0, s * n0 / d0, np.nan)
            r1 = np.where(d1 > 0, s * n1 / d1, np.nan)
            r0, r1 = np.where(np.isnan(r0), r1, r0), np.where(np.isnan(r1), r0, r1)  # absent: the other rate
            w0, w1 = d0 / W0, d1 / W1
        R0, R1 = s * n0.sum() / W0, s * n1.sum() / W1
        both_absent = (d0 == 0) & (d1 == 0)  # numerator without any denominator: counted, never a rate
        rate_effect = np.where(both_absent, s * (n1 / W1 - n0 / W0), (w0 + w1) / 2 * (r1 - r0))
        mix_effect = np.where(both_absent, 0.0, ((r0 + r1) / 2 - (R0 + R1) / 2) * (w1 - w0))
        seg["rate0"], seg["rate1"] = r0, r1
        seg["rate_effect"], seg["mix_effect"] = rate_effect, mix_effect
        seg["contribution"] = rate_effect + mix_effect
        true_change = s * (total_after[0] / total_after[1] - total_before[0] / total_before[1])
    else:
        seg["rate0"], seg["rate1"] = s * n0, s * n1
        seg["rate_effect"] = seg["mix_effect"] = 0.0
        seg["contribution"] = s * (n1 - n0)
        true_change = s * (total_after[0] - total_before[0])
    residual = true_change - float(seg["contribution"].sum())
    if abs(residual) > 1e-12 * max(1.0, abs(true_change)):
        seg = pd.concat(
            [seg, pd.DataFrame([{"value": OVERLAP, "num0": np.nan, "den0": np.nan, "num1": np.nan, "den1": np.nan,
                                 "rate0": np.nan, "rate1": np.nan, "rate_effect": 0.0,
                                 "mix_effect": 0.0, "contribution": residual, "small": False}])],
            ignore_index=True,
        )
    return seg


def _rank(kpi: Kpi, dimension: str, seg: pd.DataFrame, change: float) -> DimensionExplanation:
    """Adtributor's candidate set of one dimension (see the module doc)."""
    real = ~seg["value"].isin(RESERVED).to_numpy()
    surprise = np.zeros(len(seg))
    surprise[real] = _js_terms(seg["num0"].to_numpy()[real], seg["num1"].to_numpy()[real])
    if kpi.denominator is not None:
        surprise[real] += _js_terms(seg["den0"].to_numpy()[real], seg["den1"].to_numpy()[real])
    seg = seg.assign(share=seg["contribution"] / change, surprise=surprise)
    seg = seg.sort_values("contribution", key=lambda c: -c.abs(), kind="stable").reset_index(drop=True)
    chosen: list[str] = []
    explained = set_surprise = 0.0
    for row in seg.sort_values("surprise", ascending=False, kind="stable").itertuples(index=False):
        if row.value in RESERVED or not row.share > EP_THRESHOLD:
            continue
        chosen.append(row.value)
        explained += row.share
        set_surprise += row.surprise
        if explained >= EEP_THRESHOLD:
            break
    return DimensionExplanation(dimension, seg, tuple(chosen), float(set_surprise), float(explained))


def _components(store: Store, filters: Filters, kpi: Kpi, by: tuple[str, ...]) -> pd.DataFrame | None:
    """The KPI's numerator and denominator per group of ``by`` (``None``: spend not split that way)."""
    sums = {kpi.numerator, kpi.denominator or kpi.numerator} <= EVENT_SUM_COMPONENTS
    # without distinct users the sums need no per-user grain: cheaper on every path
    comps = event_sums(store, filters, by) if by and sums else event_components(store, filters, by)
    if _uses_spend(kpi):
        spend = spend_components(store, filters, by)
        if spend is None:
            return None
        comps = comps.merge(spend, on=list(by), how="outer") if by else comps.assign(
            spend=spend["spend"].iloc[0] if len(spend) else np.nan
        )
    cols = [kpi.numerator] + ([kpi.denominator] if kpi.denominator else [])
    out = comps[list(by) + cols].copy()
    for col in cols:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    return out


def _total(store: Store, filters: Filters, kpi: Kpi, missing: frozenset[str]) -> tuple[float, float | None, float | None]:
    """``(numerator, denominator, value)`` of the KPI over the whole of ``filters`` (no value where
    its numerator is among the ``missing`` components: what the data never records,
    :func:`analytics.metrics.kpis.not_recorded`)."""
    comps = _components(store, filters, kpi, ())
    num = float(comps[kpi.numerator].iloc[0]) if comps is not None and len(comps) else math.nan
    den = float(comps[kpi.denominator].iloc[0]) if kpi.denominator and comps is not None and len(comps) else None
    value = kpi.column({kpi.numerator: [num], **({kpi.denominator: [den]} if kpi.denominator else {})}, 1, missing)[0]
    return num, den, (None if math.isnan(value) else float(value))


def explain(
    store: Store,
    kpi: str,
    current: Filters,
    previous: Filters | None = None,
    by: Sequence[str] | None = None,
) -> Explanation:
    """Explain the change of ``kpi`` from ``previous`` to ``current`` along the dimensions ``by``.

    Args:
        kpi: a KPI of :data:`analytics.metrics.kpis.KPIS` (``ctr``, ``conversion``, ``views`` ...).
        current: the period (open dates mean the data's whole span) and its filters.
        previous: the period compared with (default: the period of equal length just before).
        by: dimensions (:data:`analytics.metrics.kpis.DIMENSIONS` or ``props.KEY``; default all of DIMENSIONS).

    Returns an :class:`Explanation`: status ``no_data`` when the KPI has no value in a period,
    ``no_change`` when it did not move; otherwise every dimension's exact decomposition, ranked.
    Spend KPIs (spend, CAC, ROAS) split only along channel and campaign (others get a note).
    """
    k = explainable_kpi(kpi)
    dims = tuple(dict.fromkeys(check_dimension(b) for b in (by or DIMENSIONS)))
    period = resolve_period(store, current)
    if period is None:
        return Explanation("no_data", k, current, previous or current, None, None)
    before_period = previous if previous is not None else period.previous_period()
    if before_period.date_from is None or before_period.date_to is None:
        raise BadInput("the period compared with needs both a start and an end date", code="no_period")
    missing = unrecorded_components(not_recorded(store))
    n0, den0, value0 = _total(store, before_period, k, missing)
    n1, den1, value1 = _total(store, period, k, missing)
    if value0 is None or value1 is None:
        return Explanation("no_data", k, period, before_period, value1, value0)
    change = value1 - value0
    if change == 0:
        return Explanation("no_change", k, period, before_period, value1, value0)
    results = []
    for dim in dims:
        if _uses_spend(k) and dim not in SPEND_DIMENSIONS:
            results.append(DimensionExplanation(dim, pd.DataFrame(), note=NOTE_SPEND_NOT_SPLIT))
            continue
        before = _components(store, before_period, k, (dim,))
        after = _components(store, period, k, (dim,))
        seg = _segments(k, dim, before, after)
        table = decompose(k, seg, (n0, den0), (n1, den1))
        results.append(_rank(k, dim, table, change))
    ranked = sorted(results, key=_rank_key)
    return Explanation("ok", k, period, before_period, value1, value0, tuple(ranked))


def _rank_key(d: DimensionExplanation) -> tuple:
    """Complete sets first, by surprise per element (succinct and surprising); then the rest by power."""
    if d.note is not None or not d.candidates:
        return (2, 0.0)
    if d.complete:
        return (0, -d.surprise / len(d.candidates))
    return (1, -d.explained)


def _segments(kpi: Kpi, dim: str, before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """One row per value of ``dim``: ``value num0 den0 num1 den1`` (missing values as ``(none)``)."""
    cols = {kpi.numerator: "num"} | ({kpi.denominator: "den"} if kpi.denominator else {})
    frames = []
    for suffix, df in (("0", before), ("1", after)):
        df = df.rename(columns={c: name + suffix for c, name in cols.items()})
        df["value"] = df[dim].astype("string").fillna(NONE)
        frames.append(df.drop(columns=dim).groupby("value", sort=False).sum(min_count=1))
    seg = frames[0].join(frames[1], how="outer").reset_index()
    if not kpi.denominator:
        seg["den0"] = seg["den1"] = np.nan
    return seg
