"""The words of an experiment: every code the analysis emits has its sentence in English and Chinese."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from analytics.experiments.analysis import (
    NOTICE_CODES,
    REASON_CODES,
    VERDICT_STATUSES,
    ExperimentResult,
    Notice,
    Options,
    Reason,
    Verdict,
    analyse_table,
)
from dashboard.experiment_text import (
    notice_text,
    reason_text,
    verdict_line,
    verdict_lines,
)
from tests.helpers import REPO

SAMPLE_TABLE = REPO / "sample_data" / "ab_results.csv"

#: Every form of every notice: (notice, English, Chinese).
NOTICES = [
    (
        Notice("srm", {"variants": ["control", "treatment"], "observed": [1493, 1507], "expected": [2700.0, 300.0],
                       "p_value": 0.0, "threshold": 0.001}),
        "Sample ratio mismatch: the arms hold control 1,493, treatment 1,507 users, expected 2,700, 300 "
        "(chi-square p < 0.0001, under the alarm level 0.001). Assignment or logging is probably broken; do not trust the results until "
        "the cause is found.",
        "样本比例失衡（SRM）：各组用户数为 control 1,493, treatment 1,507，预期为 2,700, 300（卡方检验 p < 0.0001，低于报警阈值 0.001）。"
        "分组或埋点很可能有问题；找到原因之前不要相信这些结果。",
    ),
    (
        Notice("multi_variant_users", {"excluded": 1200, "users": 30000, "share": 0.04, "source": "events"}),
        "1,200 of 30,000 exposed users (4.0%) saw more than one variant and were excluded.",
        "30,000 名曝光用户中有 1,200 名（4.0%）看到了多个版本，已被排除。",
    ),
    (
        Notice("multi_variant_users", {"excluded": 1, "users": 3000, "share": 1 / 3000, "source": "table"}),
        "1 of 3,000 users appear in more than one variant and were excluded.",
        "3,000 名用户中有 1 名出现在多个版本中，已被排除。",
    ),
    (
        Notice("not_randomised_by_user", {"share": 1 / 3, "per_video": True}),
        "The split was evidently not randomised by user: each video carries a single variant and 33% of users saw "
        "several variants. Differences may come from the videos or the audiences, not the variants.",
        "实验分组显然不是按用户随机的：每个视频只对应一个版本，且33% 的用户看到了多个版本。差异可能来自视频或受众本身，而不是版本。",
    ),
    (
        Notice("not_randomised_by_user", {"share": 0.25, "per_video": False}),
        "The split was evidently not randomised by user: 25% of users saw several variants. Differences may come "
        "from the videos or the audiences, not the variants.",
        "实验分组显然不是按用户随机的：25% 的用户看到了多个版本。差异可能来自视频或受众本身，而不是版本。",
    ),
    (
        Notice("multiple_testing", {"comparisons": 3}),
        "3 comparisons without correction: some 'significant' results may be chance.",
        "共 3 项比较且未做多重检验校正：部分“显著”结果可能只是偶然。",
    ),
    (
        Notice("rows_without_variant", {"rows": 1234}),
        "1,234 rows without a variant were left out.",
        "1,234 行没有版本（variant），已忽略。",
    ),
    (
        Notice("no_user_column"),
        "The table has no user column: every row is treated as one user, so repeated users cannot be detected.",
        "表格没有用户列：每一行按一个用户处理，因此无法发现重复用户。",
    ),
    (
        Notice("repeated_rows", {"rows": 1}),
        "1 repeated rows of the same user were combined (0/1 columns: any row with 1; other columns: summed).",
        "同一用户的 1 行重复数据已合并（0/1 列：任一行为 1 即为 1；其他列：求和）。",
    ),
]

REASONS = [
    (Reason("too_few_users", 30, 50), "30 users (need 50)", "30 名用户（至少需要 50）"),
    (Reason("too_few_conversions", 3, 5), "3 conversions (need 5)", "3 次转化（至少需要 5）"),
    (Reason("too_few_nonzero_values", 26, 40), "26 non-zero values (need 40)", "26 个非零值（至少需要 40）"),
    (Reason("too_few_events", 0, 5), "0 events counted (need 5)", "0 个计数事件（至少需要 5）"),
    (Reason("too_few_nonzero_values", 0, 5, of_control=True), "control: 0 non-zero values (need 5)", "对照组：0 个非零值（至少需要 5）"),
]


def _verdict(status: str, **changes) -> Verdict:
    base = dict(
        metric="conversion", kind="proportion", variant="treatment", control="control", status=status,
        value=0.1022, control_value=0.0743, effect=0.374, ci_low=0.054, ci_high=0.695, p_value=0.0144,
        p_adjusted=True, correction="holm", comparisons=3, chance_to_beat_control=0.9964,
    )
    return Verdict(**{**base, **changes})


@pytest.mark.parametrize("notice, en, zh", NOTICES, ids=[f"{n.code}-{i}" for i, (n, _, _) in enumerate(NOTICES)])
def test_every_notice_in_both_languages(notice, en, zh):
    assert notice_text(notice, "en") == en
    assert notice_text(notice, "zh") == zh


@pytest.mark.parametrize("reason, en, zh", REASONS)
def test_every_reason_in_both_languages(reason, en, zh):
    assert reason_text(reason, "en") == en
    assert reason_text(reason, "zh") == zh


def test_every_code_the_library_can_emit_has_its_words():
    assert {n.code for n, _, _ in NOTICES} == set(NOTICE_CODES)
    assert {r.code for r, _, _ in REASONS} == set(REASON_CODES)
    statuses = [s for s in VERDICT_STATUSES if s != "control"]
    for status in statuses:
        v = _verdict(status, reason=Reason("too_few_users", 30, 50) if status == "not_enough_data" else None)
        en, zh = verdict_line(v, "en"), verdict_line(v, "zh")
        assert en.startswith("Conversion, treatment vs control: ") and zh.startswith("转化率，treatment 对比 control：")
        assert "{" not in en + zh and en != zh
    assert len({verdict_line(_verdict(s), "en") for s in statuses if s != "not_enough_data"}) == len(statuses) - 1


def test_verdict_lines_of_the_sample_table():
    """The sentences of the sample result table, word for word, with the numbers they rest on."""
    result = analyse_table(SAMPLE_TABLE, "variant", None, "control")
    assert verdict_lines(result, "en") == [
        "converted, treatment vs control: treatment is higher than control: +37.4% (10.22% vs 7.43%; 95% CI +5.4% to "
        "+69.5%; p = 0.014 after Holm correction over 3 comparisons; chance to beat control 99.6%). A difference this "
        "large is unlikely to be chance alone; the true effect lies plausibly anywhere in the interval.",
        "watch_seconds, treatment vs control: no clear difference: +7.5% (88.91 vs 82.72; 95% CI -1.1% to +16.1%; "
        "p = 0.078 after Holm correction over 3 comparisons; chance to beat control 96.1%). The data are consistent "
        "with no effect and with effects as large as the ends of the interval.",
        "revenue, treatment vs control: treatment is higher than control: +54.6% (17.28 vs 11.18; 95% CI +12.9% to "
        "+96.3%; p = 0.0050 after Holm correction over 3 comparisons; chance to beat control > 99.9%). A difference "
        "this large is unlikely to be chance alone; the true effect lies plausibly anywhere in the interval.",
        "Intervals are per comparison (95%), not adjusted; p-values are Holm-adjusted.",
    ]
    zh = verdict_lines(result, "zh")
    assert zh[0] == (
        "converted，treatment 对比 control：treatment 高于 control：+37.4%（10.22% vs 7.43%；95% 置信区间 +5.4% 至 +69.5%；"
        "p = 0.014（已对 3 项比较做 Holm 校正）；胜过对照组的概率 99.6%）。这么大的差异不太可能只是偶然；真实效果可能落在区间内的任何位置。"
    )
    assert zh[1].startswith("watch_seconds，treatment 对比 control：没有明显差异：+7.5%（88.91 vs 82.72；")
    assert zh[3] == "置信区间为单项比较的 95% 区间，未做校正；p 值已做 Holm 校正。"


def test_caveats_follow_the_verdict_and_uncorrected_p_values_name_no_correction():
    uncorrected = analyse_table(SAMPLE_TABLE, "variant", None, "control", Options(correction="none"))
    assert [n.code for n in uncorrected.notices] == ["multiple_testing"]
    result = dataclasses.replace(uncorrected, notices=(NOTICES[0][0], NOTICES[7][0], *uncorrected.notices))
    en, zh = verdict_lines(result, "en"), verdict_lines(result, "zh")
    assert len(en) == 4 and "; p = 0.0072; chance to beat control 99.6%)" in en[0]
    assert en[-1] == f"Caveats: {NOTICES[0][1]} {NOTICES[5][1]}"  # no_user_column is a warning, not a caveat
    assert zh[-1] == f"注意：{NOTICES[0][2]}{NOTICES[5][2]}"


def test_absolute_differences_when_the_control_is_zero():
    rate = _verdict("no_difference", relative=False, value=0.015, control_value=0.0, effect=0.015, ci_low=-0.002,
                    ci_high=0.032, p_value=0.081, p_adjusted=False, chance_to_beat_control=0.96)
    assert verdict_line(rate, "en") == (
        "Conversion, treatment vs control: no clear difference: +1.50 pp (1.50% vs 0.00%; 95% CI -0.20 pp to +3.20 pp; "
        "p = 0.081; chance to beat control 96.0%). The data are consistent with no effect and with effects as large as "
        "the ends of the interval."
    )
    mean = _verdict("lower", kind="mean", relative=False, value=-2.5, control_value=0.0, effect=-2.5, ci_low=-4.0,
                    ci_high=-1.0, p_value=0.00002, correction="bh", chance_to_beat_control=0.0004)
    assert verdict_line(mean, "en").startswith(
        "Conversion, treatment vs control: treatment is lower than control: -2.5 (-2.5 vs 0; 95% CI -4 to -1; "
        "p < 0.0001 after Benjamini-Hochberg correction over 3 comparisons; chance to beat control < 0.1%). "
    )
    assert "-2.5（-2.5 vs 0；95% 置信区间 -4 至 -1；p < 0.0001（已对 3 项比较做 Benjamini-Hochberg 校正）" in verdict_line(mean, "zh")


def test_no_experiment_in_both_languages():
    none = ExperimentResult("events", "no_experiment", None, (), (), None, (), "holm", 0.05, (), 0, 0)
    assert verdict_lines(none, "en") == ["No experiment found: no event in the selected period carries a variant."]
    assert verdict_lines(none, "zh") == ["未找到实验：所选时间段内没有带版本（variant）的事件。"]
    one = ExperimentResult("events", "no_experiment", None, ("B",), (12,), None, (), "holm", 0.05, (), 0, 0)
    assert verdict_lines(one, "en") == [
        "Only one variant (B) has users in the selected period; an experiment needs at least two."
    ]
    assert verdict_lines(one, "zh") == ["所选时间段内只有一个版本（B）有用户；实验至少需要两个版本。"]


def test_the_renderers_import_no_streamlit():
    code = "import sys, dashboard.experiment_text, dashboard.segment_text; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


def test_p_values_are_written_to_their_precision_and_never_as_zero():
    from dashboard.numbers import p_text, p_value

    assert [p_value(p) for p in (0.5917, 1.0, 0.00503, 0.0, 3e-9, None)] == [
        "0.592", "1.000", "0.0050", "<0.0001", "<0.0001", "–"]
    assert [p_text(p) for p in (0.0123, 0.0, None)] == ["p = 0.012", "p < 0.0001", "p = n/a"]
