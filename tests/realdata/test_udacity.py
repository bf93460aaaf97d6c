"""Udacity "free trial screener" experiment (daily aggregates): the published results, reproduced.

Source: ../shared/datasets/udacity_free_trial (result_control.csv, result_experiment.csv), the final
project of Udacity's A/B testing course. Published: gross conversion (enrollments / clicks, over the
days with enrollment data) differs by -0.0206 with 95% CI (-0.0291, -0.0120); net conversion
(payments / clicks) by -0.0049 with 95% CI (-0.0116, 0.0019); the pageview split passes the sanity
check (observed control share 0.5006 inside 0.4988 .. 0.5012). The course computes these intervals
with the *pooled* standard error ``sqrt(p(1-p)(1/n_c + 1/n_t))``, so ``ci_se="pooled"`` here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.experiments import stats as abstats
from analytics.experiments.analysis import Options, analyse_table, read_result_table
from tests.helpers import DATASETS

FOLDER = DATASETS / "udacity_free_trial"
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not FOLDER.is_dir(), reason=f"real datasets folder {FOLDER} is absent"),
]


def _daily(name: str) -> pd.DataFrame:
    df = read_result_table(FOLDER / name)
    return df.dropna(how="all")  # both files end with empty ",,,," rows


@pytest.fixture(scope="module")
def days():
    control, experiment = _daily("result_control.csv"), _daily("result_experiment.csv")
    assert len(control) == len(experiment) == 37
    return control, experiment


def _with_enrollments(df: pd.DataFrame) -> pd.DataFrame:
    return df.dropna(subset=["Enrollments"])


def test_gross_conversion_difference_and_pooled_interval(days):
    control, experiment = (_with_enrollments(d) for d in days)
    assert len(control) == len(experiment) == 23
    r = abstats.two_proportion_test(
        int(control["Enrollments"].sum()), int(control["Clicks"].sum()),
        int(experiment["Enrollments"].sum()), int(experiment["Clicks"].sum()),
        ci_se="pooled",
    )
    assert round(r.diff, 4) == -0.0206
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == (-0.0291, -0.0120)
    assert r.p_value < 0.001


def test_net_conversion_difference_and_pooled_interval(days):
    control, experiment = (_with_enrollments(d) for d in days)
    r = abstats.two_proportion_test(
        int(control["Payments"].sum()), int(control["Clicks"].sum()),
        int(experiment["Payments"].sum()), int(experiment["Clicks"].sum()),
        ci_se="pooled",
    )
    assert round(r.diff, 4) == -0.0049
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == (-0.0116, 0.0019)
    assert r.ci_low < 0 < r.ci_high  # not significant


def test_pageview_split_passes_the_sample_ratio_check(days):
    control, experiment = days
    observed = [int(control["Pageviews"].sum()), int(experiment["Pageviews"].sum())]
    assert observed == [345543, 344660]
    srm = abstats.sample_ratio_mismatch(observed)
    assert not srm.flagged
    # chi-square with one degree of freedom is the square of the course's z statistic for the share
    share = observed[0] / sum(observed)
    z = (share - 0.5) / np.sqrt(0.25 / sum(observed))
    assert srm.chi2 == pytest.approx(z**2)
    assert round(share, 4) == 0.5006 and 0.4988 <= share <= 0.5012


def test_the_same_result_from_a_user_level_table(days):
    """Expand the aggregates to one row per clicking cookie and run the full table analysis."""
    control, experiment = (_with_enrollments(d) for d in days)
    rows = []
    for arm, df in (("control", control), ("experiment", experiment)):
        clicks, enrolled = int(df["Clicks"].sum()), int(df["Enrollments"].sum())
        rows.append(pd.DataFrame({"variant": arm, "enrolled": np.r_[np.ones(enrolled), np.zeros(clicks - enrolled)]}))
    table = pd.concat(rows, ignore_index=True)
    result = analyse_table(table, "variant", ["enrolled"], "control", Options(ci_se="pooled"))
    arm = result.metrics[0].arm("experiment")
    assert result.metrics[0].kind == "proportion" and arm.status == "ok"
    assert round(arm.diff, 4) == -0.0206
    assert (round(arm.diff_ci_low, 4), round(arm.diff_ci_high, 4)) == (-0.0291, -0.0120)
    assert arm.chance_to_beat_control < 0.001
    assert [v.status for v in result.verdicts] == ["control", "lower"]
