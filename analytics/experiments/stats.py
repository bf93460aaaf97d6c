"""Statistics of A/B tests, with no database: tests, intervals, posteriors, checks and power.

Everything here works on summary numbers (counts, means, variances) or plain arrays, so it can be
checked against scipy and statsmodels (see ``tests/unit/golden_abstats.json``).

Frequentist
    * :func:`two_proportion_test` - two-proportion z-test (pooled standard error for the test, as
      ``statsmodels.stats.proportion.proportions_ztest``); Wald interval for the difference with the
      unpooled standard error by default or the pooled one on request.
    * :func:`welch_test` - Welch's unequal-variance t-test with the Welch-Satterthwaite degrees of
      freedom (``scipy.stats.ttest_ind_from_stats(equal_var=False)``) and its t interval.
    * :func:`ratio_test` - a ratio of sums (e.g. clicks / views) compared per user with the delta
      method (Deng et al., "Applying the Delta Method in Metric Analytics", KDD 2018) and a z-test.
    * :func:`relative_lift` - relative lift ``treatment / control - 1`` with a delta-method interval:
      ``Var(lift) ~= Var(t) / c**2 + t**2 Var(c) / c**4``.
Bayesian
    * :func:`beta_posterior` (beta-binomial, uniform Beta(1, 1) prior) and :func:`normal_posterior`
      (normal approximation with a flat prior: mean, standard error);
      :func:`chance_to_beat` = P(treatment > control); :func:`expected_loss` =
      E[max(other - chosen, 0)], the value given up by choosing ``chosen`` (Stucchio, "Bayesian A/B
      testing at VWO", 2015). :func:`bayes_compare` does it for several arms.
Checks and corrections
    * :func:`sample_ratio_mismatch` - chi-square goodness of fit of the arm sizes to the intended split.
    * :func:`holm` and :func:`benjamini_hochberg` adjusted p-values.
Planning
    * :func:`sample_size_proportions`, :func:`detectable_effect_proportions`,
      :func:`sample_size_means`, :func:`detectable_effect_means` (two-sided normal approximation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from analytics.lazy import LazyModule

integrate = LazyModule("scipy.integrate")
optimize = LazyModule("scipy.optimize")
stats = LazyModule("scipy.stats")

CiSe = Literal["unpooled", "pooled"]
Correction = Literal["holm", "bh", "none"]

#: Seed of the Monte Carlo draws used when more than two arms are compared.
MC_SEED = 20260105
MC_DRAWS = 200_000


# -- frequentist ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """Treatment against control on one metric.

    ``diff`` is ``treatment_value - control_value`` with ``ci_low``/``ci_high`` its interval;
    ``lift`` is the relative lift ``treatment / control - 1`` (None when the control value is 0) with
    its delta-method interval. ``p_value`` is two-sided, in [0, 1].
    """

    control_value: float
    treatment_value: float
    diff: float
    diff_se: float
    ci_low: float
    ci_high: float
    lift: float | None
    lift_ci_low: float | None
    lift_ci_high: float | None
    statistic: float | None
    p_value: float
    df: float | None = None
    test: str = ""


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def relative_lift(
    control_value: float, control_se: float, treatment_value: float, treatment_se: float, alpha: float = 0.05
) -> tuple[float | None, float | None, float | None]:
    """Relative lift ``t / c - 1`` and its two-sided ``1 - alpha`` delta-method interval.

    Assumes the two estimates are independent: ``Var(t/c) ~= se_t**2 / c**2 + t**2 se_c**2 / c**4``.
    Returns ``(None, None, None)`` when the control value is 0 (no relative lift exists).
    """
    if control_value == 0 or not math.isfinite(control_value):
        return None, None, None
    c, t = control_value, treatment_value
    lift = t / c - 1
    se = math.sqrt(treatment_se**2 / c**2 + t**2 * control_se**2 / c**4)
    half = _z(alpha) * se
    return lift, lift - half, lift + half


def _p_from_z(z: float) -> float:
    return float(min(1.0, 2 * stats.norm.sf(abs(z))))


def two_proportion_test(
    conversions_control: int,
    n_control: int,
    conversions_treatment: int,
    n_treatment: int,
    alpha: float = 0.05,
    ci_se: CiSe = "unpooled",
) -> Comparison:
    """Two-proportion z-test of ``x_t / n_t`` against ``x_c / n_c``.

    The test statistic uses the pooled standard error ``sqrt(p(1-p)(1/n_c + 1/n_t))`` with
    ``p = (x_c + x_t) / (n_c + n_t)``. The interval for the difference uses the unpooled (Wald)
    standard error ``sqrt(p_c(1-p_c)/n_c + p_t(1-p_t)/n_t)``, or the pooled one with
    ``ci_se="pooled"`` (the convention of the Udacity A/B testing course). Rates are in [0, 1].
    """
    _check_alpha(alpha)
    if n_control <= 0 or n_treatment <= 0:
        raise ValueError("both arms need at least one unit")
    for x, n in ((conversions_control, n_control), (conversions_treatment, n_treatment)):
        if not 0 <= x <= n:
            raise ValueError(f"conversions {x} must lie between 0 and n={n}")
    pc, pt = conversions_control / n_control, conversions_treatment / n_treatment
    pooled = (conversions_control + conversions_treatment) / (n_control + n_treatment)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_treatment))
    se_unpooled = math.sqrt(pc * (1 - pc) / n_control + pt * (1 - pt) / n_treatment)
    diff = pt - pc
    if se_pooled == 0:
        z, p = None, 1.0
    else:
        z = diff / se_pooled
        p = _p_from_z(z)
    se = se_pooled if ci_se == "pooled" else se_unpooled
    half = _z(alpha) * se
    lift, lo, hi = relative_lift(
        pc, math.sqrt(pc * (1 - pc) / n_control), pt, math.sqrt(pt * (1 - pt) / n_treatment), alpha
    )
    return Comparison(pc, pt, diff, se, diff - half, diff + half, lift, lo, hi, z, p, None, "two-proportion z-test")


def welch_test(
    mean_control: float,
    var_control: float,
    n_control: int,
    mean_treatment: float,
    var_treatment: float,
    n_treatment: int,
    alpha: float = 0.05,
) -> Comparison:
    """Welch's t-test from summary statistics (sample variances with ddof=1).

    ``t = (m_t - m_c) / sqrt(v_c/n_c + v_t/n_t)`` with Welch-Satterthwaite degrees of freedom
    ``(v_c/n_c + v_t/n_t)**2 / ((v_c/n_c)**2/(n_c-1) + (v_t/n_t)**2/(n_t-1))``; the interval for the
    difference uses the t quantile with those degrees of freedom.
    """
    _check_alpha(alpha)
    if n_control < 2 or n_treatment < 2:
        raise ValueError("Welch's test needs at least two units per arm")
    a, b = var_control / n_control, var_treatment / n_treatment
    se = math.sqrt(a + b)
    diff = mean_treatment - mean_control
    if se == 0:
        t, p, df = None, (1.0 if diff == 0 else 0.0), float(n_control + n_treatment - 2)
        half = 0.0
    else:
        df = (a + b) ** 2 / (a**2 / (n_control - 1) + b**2 / (n_treatment - 1))
        t = diff / se
        p = float(min(1.0, 2 * stats.t.sf(abs(t), df)))
        half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    lift, lo, hi = relative_lift(mean_control, math.sqrt(a), mean_treatment, math.sqrt(b), alpha)
    return Comparison(
        mean_control, mean_treatment, diff, se, diff - half, diff + half, lift, lo, hi, t, p, df, "Welch t-test"
    )


def welch_test_samples(control: Sequence[float], treatment: Sequence[float], alpha: float = 0.05) -> Comparison:
    """:func:`welch_test` on two samples of per-unit values."""
    c, t = np.asarray(control, float), np.asarray(treatment, float)
    return welch_test(c.mean(), c.var(ddof=1), c.size, t.mean(), t.var(ddof=1), t.size, alpha)


@dataclass(frozen=True)
class RatioEstimate:
    """``sum(numerator) / sum(denominator)`` over units, with its delta-method standard error."""

    value: float
    se: float
    n: int
    numerator_total: float
    denominator_total: float


def ratio_estimate(numerator: Sequence[float], denominator: Sequence[float]) -> RatioEstimate:
    """Ratio of sums over independent units (users) with the delta-method variance.

    With per-unit means ``mx, my``, variances ``sx2, sy2`` and covariance ``sxy`` (ddof=1):
    ``Var(R) ~= (sx2 / my**2 - 2 mx sxy / my**3 + mx**2 sy2 / my**4) / n``.
    This accounts for the clustering of events within a user, which a per-event binomial would not.
    """
    x, y = np.asarray(numerator, float), np.asarray(denominator, float)
    n = x.size
    if n < 2 or y.sum() <= 0:
        raise ValueError("a ratio needs at least two units and a positive denominator")
    mx, my = x.mean(), y.mean()
    cov = np.cov(x, y, ddof=1)
    var = (cov[0, 0] / my**2 - 2 * mx * cov[0, 1] / my**3 + mx**2 * cov[1, 1] / my**4) / n
    return RatioEstimate(float(mx / my), float(math.sqrt(max(var, 0.0))), int(n), float(x.sum()), float(y.sum()))


def ratio_test(control: RatioEstimate, treatment: RatioEstimate, alpha: float = 0.05) -> Comparison:
    """z-test and interval for the difference of two independent ratio estimates."""
    _check_alpha(alpha)
    se = math.sqrt(control.se**2 + treatment.se**2)
    diff = treatment.value - control.value
    if se == 0:
        z, p = None, (1.0 if diff == 0 else 0.0)
    else:
        z = diff / se
        p = _p_from_z(z)
    half = _z(alpha) * se
    lift, lo, hi = relative_lift(control.value, control.se, treatment.value, treatment.se, alpha)
    return Comparison(
        control.value, treatment.value, diff, se, diff - half, diff + half, lift, lo, hi, z, p, None,
        "delta-method z-test (ratio)",
    )


# -- Bayesian ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Posterior:
    """A posterior distribution of one arm's metric: ``beta(a, b)`` or ``normal(loc, scale)``."""

    kind: Literal["beta", "normal"]
    a: float
    b: float

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b) if self.kind == "beta" else self.a

    @property
    def sd(self) -> float:
        if self.kind == "beta":
            s = self.a + self.b
            return math.sqrt(self.a * self.b / (s * s * (s + 1)))
        return self.b

    def _dist(self):
        return stats.beta(self.a, self.b) if self.kind == "beta" else stats.norm(self.a, self.b)

    def pdf(self, x):
        return self._dist().pdf(x)

    def cdf(self, x):
        return self._dist().cdf(x)

    def ppf(self, q):
        return self._dist().ppf(q)

    def stop_loss(self, x):
        """``E[max(X - x, 0)]`` for this distribution (closed form)."""
        x = np.asarray(x, float)
        if self.kind == "beta":
            upper = stats.beta(self.a + 1, self.b).sf(x)
            return self.mean * upper - x * stats.beta(self.a, self.b).sf(x)
        if self.b == 0:
            return np.maximum(self.a - x, 0.0)
        z = (self.a - x) / self.b
        return (self.a - x) * stats.norm.cdf(z) + self.b * stats.norm.pdf(z)

    def draws(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.kind == "beta":
            return rng.beta(self.a, self.b, size)
        return rng.normal(self.a, self.b, size)

    def curve(self, points: int = 200, tail: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
        """``(x, density)`` over the central ``1 - 2 tail`` of the distribution (for charts)."""
        if self.kind == "normal" and self.b == 0:
            return np.array([self.a]), np.array([np.inf])
        x = np.linspace(self.ppf(tail), self.ppf(1 - tail), points)
        return x, self.pdf(x)


def beta_posterior(conversions: int, n: int, prior: tuple[float, float] = (1.0, 1.0)) -> Posterior:
    """Beta-binomial posterior ``Beta(prior_a + x, prior_b + n - x)`` of a conversion rate."""
    if not 0 <= conversions <= n:
        raise ValueError(f"conversions {conversions} must lie between 0 and n={n}")
    return Posterior("beta", prior[0] + conversions, prior[1] + n - conversions)


def normal_posterior(mean: float, se: float) -> Posterior:
    """Normal approximation ``N(mean, se**2)`` of a mean (flat prior, large-sample)."""
    if se < 0 or not math.isfinite(se):
        raise ValueError("the standard error must be finite and non-negative")
    return Posterior("normal", float(mean), float(se))


def _expect(dist: Posterior, func, points: int = 2001) -> float:
    """``E[func(X)]`` for ``X ~ dist`` by Simpson's rule on a uniform grid over its central mass.

    Integrating against the *narrower* of two posteriors keeps the other one's cdf / stop-loss
    smooth on the grid, so one uniform grid suffices (a merged grid of both would be very uneven).
    """
    if dist.kind == "normal" and dist.b == 0:
        return float(np.asarray(func(np.array([dist.a])), float)[0])
    x = np.linspace(dist.ppf(1e-12), dist.ppf(1 - 1e-12), points)
    return float(integrate.simpson(dist.pdf(x) * func(x), x=x))


def chance_to_beat(treatment: Posterior, control: Posterior) -> float:
    """``P(treatment > control)`` for independent posteriors, in [0, 1].

    ``= E_T[F_C(T)] = 1 - E_C[F_T(C)]``, integrated against the narrower posterior (Simpson's
    rule); closed form ``Phi((m_t - m_c) / sqrt(s_t**2 + s_c**2))`` for two normals.
    """
    if treatment.kind == "normal" and control.kind == "normal":
        s = math.hypot(treatment.b, control.b)
        d = treatment.a - control.a
        if s == 0:
            return 1.0 if d > 0 else 0.0 if d < 0 else 0.5
        return float(stats.norm.cdf(d / s))
    if treatment.sd <= control.sd:
        value = _expect(treatment, control.cdf)
    else:
        value = 1.0 - _expect(control, treatment.cdf)
    return float(min(1.0, max(0.0, value)))


def expected_loss(chosen: Posterior, other: Posterior) -> float:
    """``E[max(other - chosen, 0)]``: what choosing ``chosen`` gives up on average, >= 0.

    ``= E_chosen[SL_other(X)]`` with the stop-loss ``SL_O(x) = E[max(O - x, 0)]``, or equally
    ``E_other[y - mean_chosen + SL_chosen(y)]``, integrated against the narrower posterior;
    closed form for two normals: ``m Phi(m/s) + s phi(m/s)`` with ``m = mean_o - mean_c``.
    """
    if chosen.kind == "normal" and other.kind == "normal":
        s = math.hypot(chosen.b, other.b)
        m = other.a - chosen.a
        if s == 0:
            return max(m, 0.0)
        return float(m * stats.norm.cdf(m / s) + s * stats.norm.pdf(m / s))
    if chosen.sd <= other.sd:
        value = _expect(chosen, other.stop_loss)
    else:
        value = _expect(other, lambda y: y - chosen.mean + chosen.stop_loss(y))
    return float(max(0.0, value))


@dataclass(frozen=True)
class BayesArm:
    """Bayesian summary of one arm against the control and the other arms."""

    chance_to_beat_control: float | None  # None for the control itself
    chance_to_be_best: float
    expected_loss: float  # E[max over arms - this arm], in the metric's units


def bayes_compare(posteriors: Sequence[Posterior], control_index: int = 0) -> list[BayesArm]:
    """Chance to beat control, chance to be best and expected loss of choosing each arm.

    With two arms everything is exact (grid integration / closed form). With more, the chance to
    beat control stays exact (pairwise) while the chance to be best and the expected loss
    ``E[max_j theta_j - theta_i]`` come from :data:`MC_DRAWS` seeded Monte Carlo draws.
    """
    k = len(posteriors)
    if k < 2:
        raise ValueError("need at least two arms")
    control = posteriors[control_index]
    beat = [None if i == control_index else chance_to_beat(p, control) for i, p in enumerate(posteriors)]
    if k == 2:
        other = 1 - control_index
        p_other = beat[other]
        best = [0.0, 0.0]
        best[other], best[control_index] = p_other, 1 - p_other
        loss = [0.0, 0.0]
        loss[other] = expected_loss(posteriors[other], control)
        loss[control_index] = expected_loss(control, posteriors[other])
    else:
        rng = np.random.default_rng(MC_SEED)
        draws = np.column_stack([p.draws(rng, MC_DRAWS) for p in posteriors])
        top = draws.max(axis=1)
        best = list(np.bincount(draws.argmax(axis=1), minlength=k) / MC_DRAWS)
        loss = list((top[:, None] - draws).mean(axis=0))
    return [BayesArm(beat[i], float(best[i]), float(loss[i])) for i in range(k)]


# -- checks and corrections ----------------------------------------------------------------------
@dataclass(frozen=True)
class SrmCheck:
    """Sample-ratio-mismatch check: observed arm sizes against the intended split."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi2: float
    p_value: float
    threshold: float

    @property
    def flagged(self) -> bool:
        return self.p_value < self.threshold


def sample_ratio_mismatch(
    observed: Sequence[int], weights: Sequence[float] | None = None, threshold: float = 0.001
) -> SrmCheck:
    """Chi-square goodness of fit of arm sizes to ``weights`` (default equal); flag ``p < threshold``.

    ``chi2 = sum((o - e)**2 / e)`` with ``e = N w / sum(w)`` and ``k - 1`` degrees of freedom
    (``scipy.stats.chisquare``). The 0.001 threshold is the usual SRM convention (Fabijan et al.,
    "Diagnosing Sample Ratio Mismatch in Online Controlled Experiments", KDD 2019).
    """
    obs = np.asarray(observed, float)
    w = np.ones(obs.size) if weights is None else np.asarray(weights, float)
    if w.size != obs.size or (w <= 0).any():
        raise ValueError("need one positive weight per arm")
    total = obs.sum()
    if total <= 0:
        raise ValueError("no units in any arm")
    expected = total * w / w.sum()
    chi2, p = stats.chisquare(obs, expected)
    return SrmCheck(tuple(int(o) for o in obs), tuple(float(e) for e in expected), float(chi2), float(p), threshold)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni step-down adjusted p-values (same as statsmodels ``multipletests(method="holm")``)."""
    p = np.asarray(p_values, float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg step-up adjusted p-values (q-values; statsmodels ``method="fdr_bh"``)."""
    p = np.asarray(p_values, float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")[::-1]
    adjusted = np.empty(m)
    running = 1.0
    for i, idx in enumerate(order):
        rank = m - i
        running = min(running, p[idx] * m / rank)
        adjusted[idx] = min(1.0, running)
    return adjusted.tolist()


def adjust_p_values(p_values: Sequence[float | None], method: Correction) -> list[float | None]:
    """Adjust the p-values that are present with ``method``; ``None`` entries stay ``None``."""
    present = [i for i, p in enumerate(p_values) if p is not None]
    values = [float(p_values[i]) for i in present]  # type: ignore[arg-type]
    if method == "holm":
        adjusted = holm(values)
    elif method == "bh":
        adjusted = benjamini_hochberg(values)
    elif method == "none":
        adjusted = values
    else:
        raise ValueError(f"unknown correction {method!r}")
    out: list[float | None] = [None] * len(p_values)
    for i, a in zip(present, adjusted):
        out[i] = a
    return out


# -- planning ------------------------------------------------------------------------------------
def sample_size_proportions(
    baseline: float, treatment_rate: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Users per arm to detect ``baseline -> treatment_rate`` with a two-sided z-test (equal arms).

    ``n = (z_{1-a/2} sqrt(2 pbar qbar) + z_{power} sqrt(p1 q1 + p2 q2))**2 / (p2 - p1)**2`` with
    ``pbar = (p1 + p2) / 2`` (Fleiss, no continuity correction; the same as statsmodels
    ``samplesize_proportions_2indep_onetail``). Rounded up.
    """
    _check_alpha(alpha)
    _check_rate(baseline, "baseline")
    _check_rate(treatment_rate, "treatment rate")
    if not 0 < power < 1:
        raise ValueError("power must lie in (0, 1)")
    d = treatment_rate - baseline
    if d == 0:
        raise ValueError("the effect must not be zero")
    pbar = (baseline + treatment_rate) / 2
    num = _z(alpha) * math.sqrt(2 * pbar * (1 - pbar)) + float(stats.norm.ppf(power)) * math.sqrt(
        baseline * (1 - baseline) + treatment_rate * (1 - treatment_rate)
    )
    return int(math.ceil(num**2 / d**2 - 1e-9))


def _check_rate(p: float, name: str) -> None:
    if not 0 < p < 1:
        raise ValueError(f"the {name} must lie strictly between 0 and 1, got {p}")


def detectable_effect_proportions(
    baseline: float, n_per_arm: int, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest absolute increase over ``baseline`` detectable with ``n_per_arm`` users per arm.

    Solves :func:`sample_size_proportions` (unrounded) for the treatment rate with Brent's method.
    Returns ``nan`` when even a rate of ~1 is not detectable.
    """
    _check_rate(baseline, "baseline")
    if n_per_arm < 2:
        raise ValueError("need at least two users per arm")
    za, zb = _z(alpha), float(stats.norm.ppf(power))

    def gap(p2: float) -> float:
        pbar = (baseline + p2) / 2
        need = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(baseline * (1 - baseline) + p2 * (1 - p2))) ** 2
        return need / (p2 - baseline) ** 2 - n_per_arm

    hi = 1 - 1e-12
    if gap(hi) > 0:
        return float("nan")
    return float(optimize.brentq(gap, baseline + 1e-12, hi, xtol=1e-12) - baseline)


def sample_size_means(sd: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Users per arm to detect an absolute difference ``mde`` of means with standard deviation ``sd``.

    ``n = 2 (z_{1-a/2} + z_{power})**2 sd**2 / mde**2`` (normal approximation), rounded up.
    """
    _check_alpha(alpha)
    if sd <= 0 or mde == 0:
        raise ValueError("sd must be positive and the effect non-zero")
    return int(math.ceil(2 * (_z(alpha) + float(stats.norm.ppf(power))) ** 2 * sd**2 / mde**2 - 1e-9))


def detectable_effect_means(sd: float, n_per_arm: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest absolute difference of means detectable with ``n_per_arm`` users per arm."""
    if sd <= 0 or n_per_arm < 2:
        raise ValueError("sd must be positive and n at least 2")
    return float((_z(alpha) + float(stats.norm.ppf(power))) * sd * math.sqrt(2 / n_per_arm))


# -- heavy tails ---------------------------------------------------------------------------------
def winsorize_upper(values: np.ndarray, quantile: float) -> tuple[np.ndarray, float]:
    """Cap values above their ``quantile`` (e.g. 0.99); returns the capped values and the cap."""
    if not 0 < quantile < 1:
        raise ValueError("the winsorising quantile must lie in (0, 1)")
    cap = float(np.quantile(values, quantile))
    return np.minimum(values, cap), cap


def cuped_adjust(values: np.ndarray, covariate: np.ndarray) -> tuple[np.ndarray, float]:
    """CUPED: ``y - theta (x - mean(x))`` with ``theta = cov(x, y) / var(x)`` pooled over all arms.

    Deng, Xu, Kohavi, Walker, "Improving the Sensitivity of Online Controlled Experiments by
    Utilizing Pre-Experiment Data" (WSDM 2013). Keeps every arm's expected mean; shrinks variance
    by the squared correlation. Returns the adjusted values and theta (0 when x is constant).
    """
    y, x = np.asarray(values, float), np.asarray(covariate, float)
    var = x.var(ddof=1) if x.size > 1 else 0.0
    theta = float(np.cov(x, y, ddof=1)[0, 1] / var) if var > 0 else 0.0
    return y - theta * (x - x.mean()), theta
