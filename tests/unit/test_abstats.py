"""A/B statistics against golden values from scipy / statsmodels, hand-computed cases and invariants.

The golden file ``golden_abstats.json`` records the library versions, the exact reference call for
each block (``provenance``) and the generator's source (``generator``); nothing in it was computed
with :mod:`analytics.experiments.stats`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from analytics.experiments import stats as abstats

GOLDEN = json.loads((Path(__file__).parent / "golden_abstats.json").read_text(encoding="utf-8"))


# -- golden values -------------------------------------------------------------------------------
@pytest.mark.parametrize("case", GOLDEN["two_proportion"]["cases"], ids=lambda c: f"{c['xc']}/{c['nc']}-{c['xt']}/{c['nt']}")
def test_two_proportion_test_matches_statsmodels(case):
    r = abstats.two_proportion_test(case["xc"], case["nc"], case["xt"], case["nt"])
    if case["xc"] * case["nt"] == case["xt"] * case["nc"]:
        assert r.statistic == pytest.approx(0.0, abs=1e-12)
    else:
        assert r.statistic == pytest.approx(case["z"], rel=1e-9)
    assert r.p_value == pytest.approx(case["p"], rel=1e-9)
    assert (r.ci_low, r.ci_high) == pytest.approx(tuple(case["ci"]), rel=1e-9)


@pytest.mark.parametrize("case", GOLDEN["welch"]["cases"], ids=lambda c: f"n{len(c['control'])}-{len(c['treatment'])}")
def test_welch_test_matches_scipy(case):
    r = abstats.welch_test_samples(case["control"], case["treatment"])
    assert r.statistic == pytest.approx(case["t"], rel=1e-9)
    assert r.p_value == pytest.approx(case["p"], rel=1e-9)
    assert r.df == pytest.approx(case["df"], rel=1e-9)
    assert (r.ci_low, r.ci_high) == pytest.approx(tuple(case["ci"]), rel=1e-9)


@pytest.mark.parametrize("case", GOLDEN["beta"]["cases"], ids=lambda c: f"{c['xc']}/{c['nc']}-{c['xt']}/{c['nt']}")
def test_beta_binomial_chance_and_loss_match_closed_form_and_quadrature(case):
    control = abstats.beta_posterior(case["xc"], case["nc"])
    treatment = abstats.beta_posterior(case["xt"], case["nt"])
    assert abstats.chance_to_beat(treatment, control) == pytest.approx(case["p_treatment_beats"], abs=1e-7)
    assert abstats.expected_loss(treatment, control) == pytest.approx(case["loss_choose_treatment"], rel=1e-5, abs=1e-9)
    assert abstats.expected_loss(control, treatment) == pytest.approx(case["loss_choose_control"], rel=1e-5, abs=1e-9)
    arms = abstats.bayes_compare([control, treatment])
    assert arms[1].chance_to_beat_control == pytest.approx(case["p_treatment_beats"], abs=1e-7)
    assert arms[0].chance_to_beat_control is None


@pytest.mark.parametrize("case", GOLDEN["normal"]["cases"], ids=lambda c: f"{c['mc']}-{c['mt']}")
def test_normal_chance_and_loss_match_quadrature(case):
    control = abstats.normal_posterior(case["mc"], case["sc"])
    treatment = abstats.normal_posterior(case["mt"], case["st"])
    assert abstats.chance_to_beat(treatment, control) == pytest.approx(case["p_treatment_beats"], abs=1e-8)
    assert abstats.expected_loss(treatment, control) == pytest.approx(case["loss_choose_treatment"], rel=1e-6)


@pytest.mark.parametrize("case", GOLDEN["srm"]["cases"], ids=lambda c: "-".join(map(str, c["observed"])))
def test_sample_ratio_mismatch_matches_scipy_chisquare(case):
    r = abstats.sample_ratio_mismatch(case["observed"], case["weights"])
    assert r.chi2 == pytest.approx(case["chi2"], rel=1e-12)
    assert r.p_value == pytest.approx(case["p"], rel=1e-9)
    assert r.flagged == (case["p"] < 0.001)


def test_srm_hand_computed():
    # 5050 / 4950 against 50/50: chi2 = 2 * 50**2 / 5000 = 1; p = P(chi2_1 > 1) = 0.3173
    r = abstats.sample_ratio_mismatch([5050, 4950])
    assert r.chi2 == pytest.approx(1.0)
    assert r.p_value == pytest.approx(0.31731, abs=1e-5)
    assert not r.flagged
    assert abstats.sample_ratio_mismatch([5200, 4800]).flagged  # chi2 = 16, p = 6.3e-5


def test_holm_and_bh_match_statsmodels():
    g = GOLDEN["multitest"]
    assert abstats.holm(g["p"]) == pytest.approx(g["holm"], rel=1e-12)
    assert abstats.benjamini_hochberg(g["p"]) == pytest.approx(g["bh"], rel=1e-12)
    adjusted = abstats.adjust_p_values([None, *g["p"]], "holm")
    assert adjusted[0] is None and adjusted[1:] == pytest.approx(g["holm"], rel=1e-12)
    assert abstats.adjust_p_values(g["p"], "none") == g["p"]


@pytest.mark.parametrize("case", GOLDEN["power"]["proportions"], ids=lambda c: f"{c['baseline']}-{c['treatment']}")
def test_sample_size_for_proportions_matches_statsmodels(case):
    n = abstats.sample_size_proportions(case["baseline"], case["treatment"], case["alpha"], case["power"])
    assert n == math.ceil(case["n_unrounded"] - 1e-9)
    # and the detectable effect for that unrounded size is the planned difference
    d = abstats.detectable_effect_proportions(case["baseline"], case["n_unrounded"], case["alpha"], case["power"])
    if case["treatment"] > case["baseline"]:
        assert d == pytest.approx(case["treatment"] - case["baseline"], rel=1e-6)


@pytest.mark.parametrize("case", GOLDEN["power"]["means"], ids=lambda c: f"sd{c['sd']}")
def test_sample_size_for_means_matches_statsmodels(case):
    n = abstats.sample_size_means(case["sd"], case["mde"], case["alpha"], case["power"])
    assert n == math.ceil(case["n_unrounded"] - 1e-9)
    assert abstats.detectable_effect_means(case["sd"], case["n_unrounded"], case["alpha"], case["power"]) == pytest.approx(
        case["mde"], rel=1e-5  # statsmodels' root finder stops at about 1e-6
    )


def test_udacity_pooled_interval_hand_computed():
    # gross conversion, Udacity A/B course: 3785/17293 vs 3423/17260, pooled SE, published CI (-0.0291, -0.0120)
    r = abstats.two_proportion_test(3785, 17293, 3423, 17260, ci_se="pooled")
    assert round(r.diff, 4) == -0.0206
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == (-0.0291, -0.0120)


# -- delta method --------------------------------------------------------------------------------
def test_relative_lift_delta_method_hand_computed():
    # c = 10 (se 1), t = 12 (se 1.5): var = 1.5**2/100 + 144 * 1/10**4 = 0.0225 + 0.0144 = 0.0369
    lift, lo, hi = abstats.relative_lift(10.0, 1.0, 12.0, 1.5)
    assert lift == pytest.approx(0.2)
    half = 1.959963984540054 * math.sqrt(0.0369)
    assert (lo, hi) == pytest.approx((0.2 - half, 0.2 + half))
    assert abstats.relative_lift(0.0, 1.0, 1.0, 1.0) == (None, None, None)


def test_relative_lift_interval_covers_about_95_percent():
    # coverage of the delta-method interval for a +10% lift on 10% conversion with 5000 users per arm
    rng = np.random.default_rng(3)
    n, pc, pt = 5000, 0.10, 0.11
    xc, xt = rng.binomial(n, pc, 2000), rng.binomial(n, pt, 2000)
    covered = 0
    for a, b in zip(xc, xt):
        r = abstats.two_proportion_test(int(a), n, int(b), n)
        covered += r.lift_ci_low <= pt / pc - 1 <= r.lift_ci_high
    assert 0.93 <= covered / 2000 <= 0.97


def test_ratio_delta_variance_equals_linearised_variance():
    # Var(R) ~= Var(x_i - R y_i) / (n * mean(y)**2): the same delta method written another way
    rng = np.random.default_rng(5)
    views = rng.poisson(4, 500) + 1
    clicks = rng.binomial(views, 0.2)
    est = abstats.ratio_estimate(clicks, views)
    r = clicks.sum() / views.sum()
    lin = (clicks - r * views).var(ddof=1) / (500 * views.mean() ** 2)
    assert est.value == pytest.approx(r)
    assert est.se == pytest.approx(math.sqrt(lin), rel=1e-9)


def test_ratio_test_on_identical_arms_has_p_one():
    est = abstats.ratio_estimate([1, 0, 2, 1], [3, 2, 4, 3])
    r = abstats.ratio_test(est, est)
    assert r.diff == 0 and r.p_value == pytest.approx(1.0) and r.lift == 0


def test_multi_arm_bayes_is_consistent():
    posts = [abstats.beta_posterior(100, 1000), abstats.beta_posterior(120, 1000), abstats.beta_posterior(110, 1000)]
    arms = abstats.bayes_compare(posts)
    assert sum(a.chance_to_be_best for a in arms) == pytest.approx(1.0)
    assert arms[1].chance_to_be_best > arms[2].chance_to_be_best > arms[0].chance_to_be_best
    assert min(a.expected_loss for a in arms) == arms[1].expected_loss
    assert arms[1].chance_to_beat_control == pytest.approx(abstats.chance_to_beat(posts[1], posts[0]))


def test_winsorize_and_cuped():
    capped, cap = abstats.winsorize_upper(np.arange(101.0), 0.99)
    assert cap == pytest.approx(99.0) and capped.max() == 99.0
    rng = np.random.default_rng(1)
    x = rng.normal(50, 10, 2000)
    y = x + rng.normal(0, 2, 2000)
    adjusted, theta = abstats.cuped_adjust(y, x)
    assert theta == pytest.approx(1.0, abs=0.02)
    assert adjusted.mean() == pytest.approx(y.mean())
    assert adjusted.var() < y.var() / 10


@pytest.mark.parametrize(
    "call",
    [
        lambda: abstats.two_proportion_test(5, 4, 1, 10),
        lambda: abstats.two_proportion_test(1, 0, 1, 10),
        lambda: abstats.welch_test(1, 1, 1, 1, 1, 5),
        lambda: abstats.sample_ratio_mismatch([10, 10], [1]),
        lambda: abstats.sample_size_proportions(0.1, 0.1),
        lambda: abstats.sample_size_proportions(1.2, 0.1),
        lambda: abstats.adjust_p_values([0.1], "bonferroni"),  # type: ignore[arg-type]
    ],
)
def test_impossible_inputs_are_refused(call):
    with pytest.raises(ValueError):
        call()


# -- properties ----------------------------------------------------------------------------------
arm = st.tuples(st.integers(2, 5000), st.floats(0.0, 1.0)).map(lambda t: (int(round(t[0] * t[1])), t[0]))


@settings(max_examples=200, deadline=None)
@given(arm, arm)
def test_swapping_control_and_treatment_flips_the_difference_and_keeps_the_p_value(c, t):
    a = abstats.two_proportion_test(c[0], c[1], t[0], t[1])
    b = abstats.two_proportion_test(t[0], t[1], c[0], c[1])
    assert a.diff == pytest.approx(-b.diff, abs=1e-12)
    assert a.p_value == pytest.approx(b.p_value, abs=1e-12)
    assert (a.ci_low, a.ci_high) == pytest.approx((-b.ci_high, -b.ci_low), abs=1e-12)
    if a.lift is not None and b.lift is not None:
        assert (a.lift > 0) == (b.lift < 0) or a.lift == b.lift == 0


@settings(max_examples=80, deadline=None)
@given(arm, arm)
def test_p_values_and_probabilities_lie_in_unit_interval_and_intervals_contain_estimates(c, t):
    r = abstats.two_proportion_test(c[0], c[1], t[0], t[1])
    assert 0.0 <= r.p_value <= 1.0
    assert r.ci_low <= r.diff <= r.ci_high
    if r.lift is not None:
        assert r.lift_ci_low <= r.lift <= r.lift_ci_high
    pc, pt = abstats.beta_posterior(*c), abstats.beta_posterior(*t)
    p = abstats.chance_to_beat(pt, pc)
    assert 0.0 <= p <= 1.0
    assert p + abstats.chance_to_beat(pc, pt) == pytest.approx(1.0, abs=1e-7)
    loss_t, loss_c = abstats.expected_loss(pt, pc), abstats.expected_loss(pc, pt)
    assert loss_t >= 0 and loss_c >= 0
    # E[max(C - T, 0)] - E[max(T - C, 0)] = E[C] - E[T]
    assert loss_t - loss_c == pytest.approx(pc.mean - pt.mean, abs=1e-8)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(0.5, 1000), st.floats(0.1, 100), st.integers(3, 500),
    st.floats(0.5, 1000), st.floats(0.1, 100), st.integers(3, 500),
)
def test_welch_swap_and_ranges(mc, sc, nc, mt, stt, nt):
    a = abstats.welch_test(mc, sc**2, nc, mt, stt**2, nt)
    b = abstats.welch_test(mt, stt**2, nt, mc, sc**2, nc)
    assert a.diff == pytest.approx(-b.diff) and a.p_value == pytest.approx(b.p_value, abs=1e-12)
    assert 0.0 <= a.p_value <= 1.0
    assert a.ci_low <= a.diff <= a.ci_high
    assert a.lift_ci_low <= a.lift <= a.lift_ci_high


@settings(max_examples=150, deadline=None)
@given(st.floats(0.01, 0.99), st.floats(0.01, 0.99), st.integers(20, 5000), st.integers(2, 10))
def test_more_data_never_widens_an_interval_on_the_same_rates(pc, pt, n, factor):
    small = abstats.two_proportion_test(round(pc * n), n, round(pt * n), n)
    big = abstats.two_proportion_test(round(pc * n) * factor, n * factor, round(pt * n) * factor, n * factor)
    assert big.ci_high - big.ci_low <= small.ci_high - small.ci_low + 1e-12
    if small.lift is not None:
        assert big.lift_ci_high - big.lift_ci_low <= small.lift_ci_high - small.lift_ci_low + 1e-12
    assert big.p_value <= small.p_value + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_adjusted_p_values_are_in_range_and_not_below_raw(ps):
    for method in ("holm", "bh"):
        adjusted = abstats.adjust_p_values(ps, method)
        assert all(0.0 <= a <= 1.0 for a in adjusted)
        assert all(a >= p - 1e-15 for a, p in zip(adjusted, ps))
    assert all(h >= b - 1e-15 for h, b in zip(abstats.holm(ps), abstats.benjamini_hochberg(ps)))


@settings(max_examples=100, deadline=None)
@given(st.floats(0.01, 0.5), st.floats(0.02, 0.5))
def test_sample_size_and_detectable_effect_are_inverse(baseline, mde):
    target = baseline * (1 + mde)
    assume(target < 0.99)
    n = abstats.sample_size_proportions(baseline, target)
    d = abstats.detectable_effect_proportions(baseline, n)
    assert d <= target - baseline + 1e-9  # rounding n up can only shrink the detectable effect
    assert abstats.detectable_effect_proportions(baseline, n * 4) < d


@settings(max_examples=100, deadline=None)
@given(st.floats(1, 100), st.floats(0.1, 50), st.floats(1, 100), st.floats(0.1, 50), st.integers(3, 500), st.integers(2, 10))
def test_more_data_never_widens_a_welch_interval_on_the_same_means(mc, sc, mt, stt, n, factor):
    small = abstats.welch_test(mc, sc**2, n, mt, stt**2, n)
    big = abstats.welch_test(mc, sc**2, n * factor, mt, stt**2, n * factor)
    assert big.ci_high - big.ci_low <= small.ci_high - small.ci_low + 1e-12
    assert big.lift_ci_high - big.lift_ci_low <= small.lift_ci_high - small.lift_ci_low + 1e-12
