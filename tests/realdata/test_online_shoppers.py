"""UCI Online Shoppers Purchasing Intention as a result table: one row per session, a Revenue flag.

Source: ../shared/datasets/uci_online_shoppers (CRLF line ends, no final newline). Published: 12,330
sessions, Revenue=True in 1,908 (15.47%). Weekend against weekday sessions is not an experiment, so
the equal split it is checked against fails (the sample-ratio check must say so).
"""

from __future__ import annotations

import pytest
from scipy import stats as sps

from analytics.cli.main import main
from analytics.experiments.analysis import analyse_table
from tests.helpers import DATASETS

FILE = DATASETS / "uci_online_shoppers" / "online_shoppers_intention.csv"
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not FILE.is_file(), reason=f"real dataset {FILE} is absent"),
]


def test_revenue_by_weekend_matches_the_published_counts_and_an_independent_test():
    result = analyse_table(FILE, "Weekend", ["Revenue"])
    metric = result.metrics[0]
    weekday, weekend = metric.arm("False"), metric.arm("True")
    assert weekday.n + weekend.n == 12_330
    buyers = round(weekday.value * weekday.n) + round(weekend.value * weekend.n)
    assert buyers == 1_908 and buyers / 12_330 == pytest.approx(0.1547, abs=5e-5)
    # the pooled two-proportion z-test's p-value, computed with scipy from the counts alone
    x1, x2 = round(weekday.value * weekday.n), round(weekend.value * weekend.n)
    p = (x1 + x2) / (weekday.n + weekend.n)
    z = (x2 / weekend.n - x1 / weekday.n) / (p * (1 - p) * (1 / weekday.n + 1 / weekend.n)) ** 0.5
    assert weekend.p_value == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-6)
    assert result.srm_flagged  # 9,462 against 2,868 sessions is no 50/50 split
    assert "no_user_column" in [n.code for n in result.notices]


def test_long_variant_names_keep_the_text_table_aligned(capsys):
    assert main(["ab", "--table", str(FILE), "--variant-col", "VisitorType", "--metric-col", "Revenue"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = lines[lines.index("Revenue (proportion, two-proportion z-test)") + 1:][:4]
    assert [row.split()[0] for row in table] == ["variant", "New_Visitor", "Other", "Returning_Visitor"]
    assert len({len(row) for row in table}) == 1  # every row as wide as the header
