"""Experiments: assembling per-user data from events and tables, checks, guards, corrections, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.cli.main import main
from analytics.errors import BadInput
from analytics.experiments import stats as abstats
from analytics.experiments.analysis import (
    Options,
    Reason,
    analyse,
    analyse_events,
    analyse_table,
    guess_variant_column,
    list_variants,
    parse_split,
    plan_experiment,
    read_result_table,
    resolve_metric,
    user_data_from_events,
    user_data_from_table,
)
from analytics.query.filters import Filters
from analytics.store.storage import Store
from tests.helpers import REPO, insert_events, insert_items

DAY = 86400
SAMPLE_TABLE = REPO / "sample_data" / "ab_results.csv"


def _journeys(n_per_arm: int, rates: dict[str, float], seed: int = 1, event: str = "purchase") -> dict:
    """Users u<i> alternate control/treatment; each views once and converts with the arm's rate."""
    rng = np.random.default_rng(seed)
    journeys = {}
    arms = list(rates)
    for i in range(n_per_arm * len(arms)):
        arm = arms[i % len(arms)]
        evs = [("view", i, {"variant": arm, "watch_seconds": 10.0, "video_seconds": 20.0})]
        if rng.random() < rates[arm]:
            evs.append((event, i + 5, {"variant": arm, "revenue": 100.0} if event == "purchase" else {"variant": arm}))
        journeys[f"u{i:05d}"] = evs
    return journeys


# -- from events ---------------------------------------------------------------------------------
def test_per_user_metrics_follow_the_stated_rules(store):
    insert_items(store, [{"item_id": "v1", "kind": "video", "duration_seconds": 100.0}])
    insert_events(
        store,
        {
            # purchase before exposure does not count; refund is netted; views after exposure counted
            "alice": [
                ("purchase", 0, {"revenue": 50.0}),
                ("view", 10, {"variant": "control", "watch_seconds": 95.0}),
                ("click", 20),
                ("view", 30, {"watch_seconds": 40.0}),
                ("purchase", 40, {"revenue": 99.0}),
                ("refund", 50, {"revenue": 30.0}),
                ("refund", 55, {"revenue": -10.0}),  # the sign of a refund is ignored
                ("like", DAY + 60),
            ],
            "bob": [("view", 0, {"variant": "treatment", "watch_seconds": 5.0, "video_seconds": 10.0})],
            # seen in both variants: excluded and counted
            "carol": [("view", 0, {"variant": "control"}), ("view", 5, {"variant": "treatment"})],
            "dave": [("like", 0)],  # never exposed
        },
    )
    data = user_data_from_events(
        store, Filters(timezone="UTC"),
        ["conversion", "ctr", "completion", "d1_retention", "d7_retention", "watch_time", "revenue_per_user"],
    )
    rows = data.frame.set_index("user_id")
    assert list(rows.index) == ["alice", "bob"]
    assert data.excluded_users == 1
    assert data.notices[0].code == "multi_variant_users"  # 1 of 3 users: also "not randomised by user"
    alice, bob = rows.loc["alice"], rows.loc["bob"]
    assert alice["variant"] == "control" and bob["variant"] == "treatment"
    assert alice["conversion"] == 1 and bob["conversion"] == 0
    assert (alice["ctr__num"], alice["ctr__den"]) == (1, 2)
    assert (alice["completion__num"], alice["completion__den"]) == (1, 2)  # 95/100 complete, 40/100 not
    assert (bob["completion__num"], bob["completion__den"]) == (0, 1)
    assert alice["watch_time"] == pytest.approx(135.0)
    assert alice["revenue_per_user"] == pytest.approx(59.0)
    assert alice["d1_retention"] == 1  # the like on day 1
    assert np.isnan(alice["d7_retention"])  # day 7 is after the data's last day: not eligible
    assert bob["d1_retention"] == 0


def test_planted_ctr_effect_is_found_with_the_right_sign(tmp_path, capsys):
    from analytics.sample import PLANTED_CTR_LIFT, load_sample

    db = tmp_path / "data" / "sample.duckdb"
    s = Store(db)
    load_sample(s, users=3000, days=21, seed=11)
    result = analyse_events(s, Filters(), ["ctr", "conversion"], "control")
    s.close()
    # the CLI finds the same
    assert main(["--db", str(db), "--json", "ab", "--metric", "ctr", "--control", "control"]) == 0
    doc = json.loads(capsys.readouterr().out)
    cli_lift = doc["variants"][1]["lift"]
    assert doc["metric"] == "ctr" and cli_lift > 0
    assert result.variants == ("control", "treatment")
    assert not result.srm_flagged
    ctr = result.metrics[0].arm("treatment")
    assert ctr.status == "ok"
    assert ctr.lift > 0 and ctr.diff > 0
    assert ctr.p_value_adjusted < 0.05
    assert ctr.ci_low <= PLANTED_CTR_LIFT <= ctr.ci_high
    assert ctr.chance_to_beat_control > 0.95
    verdict = next(v for v in result.verdicts if v.metric == "ctr" and v.variant == "treatment")
    assert (verdict.status, verdict.control, verdict.relative) == ("higher", "control", True)
    assert (verdict.effect, verdict.ci_low, verdict.ci_high) == (ctr.lift, ctr.ci_low, ctr.ci_high)
    assert verdict.p_value == ctr.p_value_adjusted and verdict.p_adjusted and verdict.comparisons == 2
    assert verdict.chance_to_beat_control == ctr.chance_to_beat_control and verdict.confidence == pytest.approx(0.95)
    assert [v.status for v in result.verdicts if v.metric == "ctr"] == ["control", "higher"]
    assert ctr.lift == pytest.approx(cli_lift)


def test_guards_give_not_enough_data_instead_of_a_verdict(store):
    insert_events(store, _journeys(30, {"control": 0.5, "treatment": 0.5}))
    result = analyse_events(store, Filters(), ["conversion"])
    assert result.status == "not_enough_data"
    arm = result.metrics[0].arm("treatment")
    assert arm.status == "not_enough_data" and arm.p_value is None and arm.chance_to_beat_control is None
    assert arm.reason == Reason("too_few_users", 30, 50)
    verdict = result.verdicts[1]
    assert verdict.status == "not_enough_data" and verdict.reason == arm.reason and verdict.p_value is None
    assert result.comparisons == 0


def test_too_few_conversions_is_not_enough_data(store):
    insert_events(store, _journeys(100, {"control": 0.02, "treatment": 0.3}, seed=3))
    result = analyse_events(store, Filters(), ["conversion"])
    arm = result.metrics[0].arm("treatment")
    assert arm.status == "not_enough_data"
    assert arm.reason.of_control and (arm.reason.code, arm.reason.need) == ("too_few_conversions", 5)
    assert result.metrics[0].arm("control").reason == Reason("too_few_conversions", arm.reason.count, 5)
    assert arm.reason.count < 5


def test_sample_ratio_mismatch_is_flagged_and_stated(store):
    journeys = _journeys(300, {"control": 0.2, "treatment": 0.2})
    # drop a third of the treatment users: 300 vs 200
    journeys = {u: e for i, (u, e) in enumerate(journeys.items()) if not (i % 2 == 1 and i % 3 == 0)}
    insert_events(store, journeys)
    result = analyse_events(store, Filters(), ["conversion"])
    assert result.sizes == (300, 200)
    assert result.srm_flagged and result.srm.p_value < 0.001
    srm = result.notices[0]
    assert srm.code == "srm" and srm.params["variants"] == ["control", "treatment"]
    assert srm.params["observed"] == [300, 200] and srm.params["expected"] == [250.0, 250.0]
    assert srm.params["p_value"] == result.srm.p_value and srm.params["threshold"] == 0.001
    # the same arms are fine against a 60/40 intended split
    ok = analyse_events(store, Filters(), ["conversion"], options=Options(split={"control": 60, "treatment": 40}))
    assert not ok.srm_flagged


def test_assignment_per_video_is_warned(store):
    # video_a always carries control, video_b treatment; a third of the users watch both
    journeys = {}
    for i in range(300):
        a = [("view", i, {"variant": "control", "item_id": "video_a"})]
        b = [("view", i + 1, {"variant": "treatment", "item_id": "video_b"})]
        journeys[f"u{i}"] = a if i % 3 == 0 else b if i % 3 == 1 else a + b
    insert_events(store, journeys)
    result = analyse_events(store, Filters(), ["conversion"])
    crossed, per_video = result.notices
    assert crossed.code == "multi_variant_users" and per_video.code == "not_randomised_by_user"
    assert result.excluded_users == sum(1 for e in journeys.values() if len(e) == 2) == crossed.params["excluded"]
    assert crossed.params == {"excluded": 100, "users": 300, "share": pytest.approx(1 / 3), "source": "events"}
    assert per_video.params == {"share": pytest.approx(1 / 3), "per_video": True}


def test_no_variant_means_no_experiment(store):
    insert_events(store, {"a": [("view", 0)]})
    result = analyse_events(store, Filters(), ["conversion"])
    assert result.status == "no_experiment" and result.metrics == () and result.variants == ()
    assert result.verdicts == () and result.comparisons == 0
    assert list_variants(store, Filters()) == []


def test_unknown_metric_and_control_are_bad_input(store):
    insert_events(store, _journeys(60, {"control": 0.2, "treatment": 0.2}))
    with pytest.raises(BadInput, match="unknown experiment metric 'bogus'"):
        analyse_events(store, Filters(), ["bogus"])
    with pytest.raises(BadInput, match="there is no variant 'B'; the variants are control, treatment"):
        analyse_events(store, Filters(), ["conversion"], control="B")
    assert resolve_metric("D7") == "d7_retention"
    assert list_variants(store, Filters()) == [("control", 60), ("treatment", 60)]


def test_corrections_across_variants_and_metrics(store):
    insert_events(store, _journeys(400, {"control": 0.1, "b": 0.16, "c": 0.11}, seed=4))
    holm = analyse_events(store, Filters(), ["conversion", "revenue_per_user"], options=Options(correction="holm"))
    bh = analyse_events(store, Filters(), ["conversion", "revenue_per_user"], options=Options(correction="bh"))
    raw = [a.p_value for m in holm.metrics for a in m.arms[1:]]
    assert len(raw) == 4
    assert [a.p_value_adjusted for m in holm.metrics for a in m.arms[1:]] == pytest.approx(abstats.holm(raw))
    assert [a.p_value_adjusted for m in bh.metrics for a in m.arms[1:]] == pytest.approx(abstats.benjamini_hochberg(raw))
    assert holm.comparisons == 4
    assert all(v.p_adjusted and v.correction == "holm" and v.comparisons == 4 for v in holm.verdicts if v.status != "control")
    none = analyse_events(store, Filters(), ["conversion", "revenue_per_user"], options=Options(correction="none"))
    assert [n.to_dict() for n in none.notices] == [{"code": "multiple_testing", "params": {"comparisons": 4}}]
    assert not any(v.p_adjusted for v in none.verdicts)
    # three arms: chance to be best sums to one, the control comes first
    conv = holm.metrics[0]
    assert [a.variant for a in conv.arms] == ["control", "b", "c"]
    assert sum(a.chance_to_be_best for a in conv.arms) == pytest.approx(1.0)


# -- from a table --------------------------------------------------------------------------------
def test_sample_result_table_finds_the_better_variant():
    result = analyse_table(SAMPLE_TABLE, "variant", None, "control")
    assert [m.metric for m in result.metrics] == ["converted", "watch_seconds", "revenue"]
    assert [m.kind for m in result.metrics] == ["proportion", "mean", "mean"]
    conv = result.metrics[0].arm("treatment")
    assert conv.lift > 0 and conv.p_value_adjusted < 0.05
    doc = result.to_dict()
    assert set(doc) >= {"variants", "srm_p_value", "warnings"}
    assert set(doc["variants"][1]) >= {
        "variant", "n", "value", "lift", "ci_low", "ci_high", "p_value", "chance_to_beat_control", "expected_loss"
    }


def test_table_repeated_rows_and_crossed_users():
    table = pd.DataFrame({
        "user_id": ["a", "a", "b", "c", "c", "d"],
        "variant": ["control", "control", "treatment", "control", "treatment", "treatment"],
        "converted": [0, 1, 0, 1, 1, 1],
        "revenue": [10.0, 5.0, 0.0, 1.0, 1.0, 3.0],
    })
    data = user_data_from_table(table, "variant")
    rows = data.frame.set_index("user_id")
    assert sorted(rows.index) == ["a", "b", "d"]
    assert data.excluded_users == 1 and data.repeated_rows == 1
    assert rows.loc["a", "converted"] == 1 and rows.loc["a", "revenue"] == 15.0
    assert [n.code for n in data.notices] == ["multi_variant_users", "repeated_rows"]


@pytest.mark.parametrize(
    "table, kwargs, code, message",
    [
        (pd.DataFrame({"v": ["a", "b"], "m": [1, 2]}), {"variant_col": "variant"}, "missing_column", "no variant column 'variant'"),
        (pd.DataFrame({"v": ["a", "b"], "m": [1, 2]}), {"variant_col": "v", "metric_cols": ["x"]}, "missing_column", "no metric column 'x'"),
        (pd.DataFrame({"v": ["a", "b"], "m": ["1", "yes"]}), {"variant_col": "v", "metric_cols": ["m"]}, "non_numeric", "line 3 holds 'yes'"),
        (pd.DataFrame({"v": ["a", "a"], "m": [1, 2]}), {"variant_col": "v"}, "too_few_variants", "at least two variants"),
        (pd.DataFrame({"v": ["a", "b"], "m": ["x", "y"]}), {"variant_col": "v"}, "no_metric", "no numeric metric column"),
        (pd.DataFrame({"v": ["a", "b"], "m": [1, 2]}), {"variant_col": "v", "user_col": "uid"}, "missing_column", "no user column 'uid'"),
    ],
)
def test_bad_tables_are_refused(table, kwargs, code, message):
    with pytest.raises(BadInput, match=message) as err:
        user_data_from_table(table, **kwargs)
    assert err.value.code == code


def test_a_table_s_variant_user_and_metric_columns_are_found_by_their_names():
    # the shape of a published marketing A/B export: a saved row index without a header, spaced names
    table = pd.DataFrame({
        "Unnamed: 0": range(120), "user id": [1069124 + i for i in range(120)], "test group": ["ad", "psa"] * 60,
        "converted": [True, False, False] * 40, "total ads": [3, 10, 7, 1] * 30,
    })
    result = analyse_table(table)
    assert [m.metric for m in result.metrics] == ["converted", "total ads"]
    assert result.sizes == (60, 60) and "no_user_column" not in [n.code for n in result.notices]
    repeated = pd.concat([table, table.assign(converted=False)])  # the user column is used: rows of one user combine
    assert user_data_from_table(repeated, None).repeated_rows == 120
    as_rows = user_data_from_table(repeated, None, user_col="")  # "" says: every row is a user
    assert len(as_rows.frame) == 240 and "no_user_column" in [n.code for n in as_rows.notices]


def test_a_table_without_a_column_named_like_a_variant_takes_its_one_text_column_of_a_few_arms():
    rng = np.random.default_rng(4)
    version = rng.choice(["gate_30", "gate_40"], 400)
    cookie_cats = pd.DataFrame({  # Cookie Cats' layout: the arm is in "version"
        "userid": np.arange(400), "version": version, "sum_gamerounds": rng.integers(0, 200, 400),
        "retention_1": rng.random(400) < 0.45, "retention_7": rng.random(400) < 0.2,
    })
    assert guess_variant_column(cookie_cats) == "version"
    result = analyse_table(cookie_cats)
    assert result.variants == ("gate_30", "gate_40") and result.sizes == tuple(np.unique(version, return_counts=True)[1])
    assert [m.metric for m in result.metrics] == ["sum_gamerounds", "retention_1", "retention_7"]
    # two text columns of a few labels each: which one is the arm is not guessed
    with pytest.raises(BadInput, match="named like a variant") as err:
        analyse_table(cookie_cats.assign(country=rng.choice(["cn", "us"], 400)))
    assert err.value.code == "no_variant_column"
    # a label on fewer than 1 % of the rows, or too many labels, is not an arm
    assert guess_variant_column(cookie_cats.assign(version=["gate_30"] * 398 + ["gate_40"] * 2)) is None
    assert guess_variant_column(cookie_cats.assign(version=[f"v{i % 9}" for i in range(400)])) is None


def test_unknown_control_in_a_table():
    with pytest.raises(BadInput, match="there is no variant 'B'"):
        analyse_table(SAMPLE_TABLE, "variant", ["converted"], "B")


def test_table_without_user_column_counts_rows_as_users():
    table = pd.DataFrame({"arm": ["x", "y"] * 60, "clicked": [0, 1, 1, 0] * 30})
    result = analyse_table(table, "arm", None, "x")
    assert result.sizes == (60, 60)
    assert "no_user_column" in [n.code for n in result.notices]


def test_tables_read_from_csv_gbk_excel_and_parquet(tmp_path):
    df = pd.DataFrame({"用户": ["甲", "乙"], "分组": ["对照", "实验"], "转化": [0, 1]})
    gbk = tmp_path / "t.csv"
    gbk.write_bytes(df.to_csv(index=False).encode("gbk"))
    xlsx, pq = tmp_path / "t.xlsx", tmp_path / "t.parquet"
    df.to_excel(xlsx, index=False)
    df.to_parquet(pq)
    for path in (gbk, xlsx, pq):
        assert read_result_table(path).to_dict("list") == df.to_dict("list")
    assert read_result_table(gbk.read_bytes(), "upload.csv")["分组"].tolist() == ["对照", "实验"]
    with pytest.raises(BadInput, match="there is no file"):
        read_result_table(tmp_path / "missing.csv")
    western = pd.DataFrame({"user": [1, 2], "groupe": ["contrôle", "variante_é"], "converti": [0, 1]})
    latin = tmp_path / "w.csv"
    latin.write_bytes(western.to_csv(index=False).encode("cp1252"))  # é_ also decodes as GBK
    assert read_result_table(latin).to_dict("list") == western.to_dict("list")


def test_winsorising_and_cuped_shrink_the_interval():
    rng = np.random.default_rng(9)
    n = 2000
    pre = rng.lognormal(3, 1, n)
    arm = np.where(np.arange(n) % 2 == 0, "control", "treatment")
    watch = pre * 1.2 + rng.normal(0, 5, n) + np.where(arm == "treatment", 3.0, 0.0)
    table = pd.DataFrame({"user_id": np.arange(n), "variant": arm, "watch": watch, "pre_watch": pre})
    plain = analyse_table(table, "variant", ["watch"], "control").metrics[0].arm("treatment")
    cuped_result = analyse_table(table, "variant", ["watch"], "control", covariate_col="pre_watch").metrics[0]
    cuped = cuped_result.arm("treatment")
    assert cuped_result.cuped_theta == pytest.approx(1.2, abs=0.05)
    assert cuped.diff_ci_high - cuped.diff_ci_low < (plain.diff_ci_high - plain.diff_ci_low) / 5
    assert cuped.diff_ci_low <= 3.0 <= cuped.diff_ci_high
    wins = analyse_table(table, "variant", ["watch"], "control", Options(winsorize=0.99)).metrics[0]
    assert wins.winsorized_at == pytest.approx(np.quantile(watch, 0.99))


@settings(max_examples=15, deadline=None)
@given(st.integers(50, 400), st.integers(50, 400), st.floats(0.05, 0.5), st.floats(0.05, 0.5))
def test_swapping_the_control_flips_the_lift_and_keeps_the_p_value(n_a, n_b, p_a, p_b):
    rng = np.random.default_rng(n_a * 1000 + n_b)
    conv = np.concatenate([rng.random(n_a) < p_a, rng.random(n_b) < p_b]).astype(int)
    conv[:5], conv[n_a:n_a + 5] = 1, 1
    table = pd.DataFrame({"variant": ["a"] * n_a + ["b"] * n_b, "converted": conv})
    ab = analyse_table(table, "variant", ["converted"], "a").metrics[0].arm("b")
    ba = analyse_table(table, "variant", ["converted"], "b").metrics[0].arm("a")
    assert ab.diff == pytest.approx(-ba.diff)
    assert ab.p_value == pytest.approx(ba.p_value)
    assert (ab.lift > 0) == (ba.lift < 0) or ab.lift == 0
    assert ab.chance_to_beat_control + ba.chance_to_beat_control == pytest.approx(1.0, abs=1e-6)
    for arm in (ab, ba):
        assert 0 <= arm.p_value <= 1 and 0 <= arm.chance_to_beat_control <= 1
        assert arm.ci_low <= arm.lift <= arm.ci_high


def test_parse_split_and_options():
    assert parse_split("control=50, treatment=50") == {"control": 50.0, "treatment": 50.0}
    assert parse_split("1,2") == [1.0, 2.0]
    assert parse_split("") is None
    with pytest.raises(BadInput, match="cannot read the split"):
        parse_split("control=50,40")
    with pytest.raises(BadInput, match="alpha"):
        Options(alpha=0.7)
    with pytest.raises(BadInput, match="winsorising"):
        Options(winsorize=1.5)
    table = pd.DataFrame({"variant": ["a", "b"] * 60, "m": [0, 1] * 60})
    with pytest.raises(BadInput, match="the split has 3 shares but there are 2 variants"):
        analyse_table(table, "variant", None, "a", Options(split=[1, 1, 1]))


# -- planning ------------------------------------------------------------------------------------
def test_plan_sizes_detectable_effect_and_days(store):
    plan = plan_experiment(0.10, 0.10, daily_users=1000)
    assert plan.n_per_arm == abstats.sample_size_proportions(0.10, 0.11)
    assert plan.days_needed == -(-plan.n_per_arm * 2 // 1000)
    assert plan.detectable_rel == pytest.approx(0.10, abs=1e-3)
    sized = plan_experiment(0.10, n_per_arm=5000)
    assert sized.n_per_arm == 5000 and sized.detectable_abs == pytest.approx(abstats.detectable_effect_proportions(0.1, 5000))
    insert_events(store, {f"u{i}": [("view", (i % 4) * DAY)] for i in range(40)})
    from_data = plan_experiment(0.10, 0.10, source=store, filters=Filters())
    assert from_data.daily_users == pytest.approx(10.0) and from_data.traffic_source == "recent"
    means = plan_experiment(60.0, 0.05, sd=90.0)
    assert means.kind == "mean" and means.n_per_arm == abstats.sample_size_means(90.0, 3.0)
    with pytest.raises(BadInput, match="leaves the range"):
        plan_experiment(0.9, 0.5)
    with pytest.raises(BadInput, match="give a minimum detectable effect"):
        plan_experiment(0.1)


# -- CLI -----------------------------------------------------------------------------------------
def test_cli_ab_table_prints_the_spec_json(tmp_path, capsys):
    argv = ["--db", str(tmp_path / "d" / "x.duckdb"), "--json", "ab", "--table", str(SAMPLE_TABLE),
            "--variant-col", "variant", "--metric-col", "converted", "--control", "control"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["metric"] == "converted" and doc["control"] == "control"
    assert [v["variant"] for v in doc["variants"]] == ["control", "treatment"]
    assert doc["variants"][1]["lift"] > 0 and 0 <= doc["srm_p_value"] <= 1
    assert doc["warnings"] == [] and doc["comparisons"] == 1
    assert [v["status"] for v in doc["verdicts"]] == ["control", "higher"]
    assert doc["verdict"]["en"].startswith("converted, treatment vs control: treatment is higher than control: +")
    assert doc["verdict"]["zh"].startswith("converted，treatment 对比 control：treatment 高于 control：+")
    assert not (tmp_path / "d" / "x.duckdb").exists()  # --table never opens the store


def test_cli_ab_table_text_writes_p_values_and_losses_for_a_person(tmp_path, capsys):
    rng = np.random.default_rng(8)
    arm = np.repeat(["control", "treatment"], [3000, 1000])  # a 3:1 split read as 1:1: a certain mismatch
    table = pd.DataFrame({"group": arm, "converted": rng.random(4000) < np.where(arm == "control", 0.05, 0.20)})
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    assert main(["ab", "--table", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Sample ratio check: p < 0.0001  ** MISMATCH **")
    treatment = next(line.split() for line in out.splitlines() if line.strip().startswith("treatment"))
    # variant n value lift CI p p-adj P(beat) loss: a p-value too small to write is "<0.0001", never 0,
    # and a proportion's expected loss reads in percent like its value
    assert treatment[5:7] == ["<0.0001", "<0.0001"] and treatment[-1].endswith("%")
    assert "chi-square p < 0.0001, under the alarm level 0.001" in out


def test_cli_ab_events_and_plan(tmp_path, capsys):
    db = tmp_path / "d" / "x.duckdb"
    s = Store(db)
    insert_events(s, _journeys(100, {"control": 0.1, "treatment": 0.3}, seed=5))
    s.close()
    assert main(["--db", str(db), "--json", "ab", "--metric", "conversion", "--control", "control"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["variants"][1]["variant"] == "treatment" and doc["variants"][1]["lift"] > 0
    assert main(["--db", str(db), "ab", "--metric", "conversion,ctr"]) == 0
    out = capsys.readouterr().out
    assert "conversion (proportion, two-proportion z-test)" in out and "Sample ratio check: p = " in out
    assert "Conversion, treatment vs control: treatment is higher than control: +" in out
    assert "CTR (clicks / views), treatment vs control: not enough data for a verdict yet (0 events counted (need 5))." in out
    assert main(["--db", str(db), "ab", "--metric", "conversion", "--min-users", "500", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "转化率，treatment 对比 control：数据还不足以下结论（100 名用户（至少需要 500））。请继续运行实验。" in out
    assert main(["--db", str(db), "--json", "ab", "--metric", "conversion", "--min-users", "500"]) == 0
    reason = json.loads(capsys.readouterr().out)["variants"][1]["reason"]
    assert reason == {"code": "too_few_users", "count": 100, "need": 500, "of_control": False,
                      "message": "100 users (need 500)", "message_zh": "100 名用户（至少需要 500）"}
    assert main(["--db", str(db), "--json", "ab-plan", "--baseline", "0.1", "--mde", "0.1", "--daily-users", "1000"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["n_per_arm"] == 14751 and plan["days_needed"] == 30


@pytest.mark.parametrize(
    "args, reason",
    [
        (["ab", "--metric", "bogus"], "unknown experiment metric 'bogus'"),
        (["ab", "--table", "missing.csv", "--variant-col", "v"], "there is no file 'missing.csv'"),
        (["ab", "--table", "x.csv"], "there is no file 'x.csv'"),  # the variant column is found by its name
        (["ab", "--variant-col", "v"], "need --table"),
        (["ab", "--table", "x.csv", "--variant-col", "v", "--from", "2026-01-01"], "filter events, not a --table"),
        (["ab-plan", "--baseline", "1.5", "--mde", "0.1"], "baseline rate must lie strictly between 0 and 1"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, args, reason):
    assert main(["--db", str(tmp_path / "d" / "x.duckdb"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and reason in err[0]


def test_cli_table_with_a_crossed_user_warns(tmp_path, capsys):
    table = pd.read_csv(SAMPLE_TABLE)
    extra = table.iloc[[0]].assign(variant="treatment")
    path = tmp_path / "t.csv"
    pd.concat([table, extra]).to_csv(path, index=False)
    assert main(["--json", "ab", "--table", str(path), "--variant-col", "variant", "--control", "control"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["excluded_users"] == 1
    assert doc["warnings"][0]["code"] == "multi_variant_users"
    assert doc["warnings"][0]["params"] == {"excluded": 1, "users": len(table), "share": 1 / len(table), "source": "table"}
    assert doc["warnings"][0]["message"] == f"1 of {len(table):,} users appear in more than one variant and were excluded."
    assert doc["warnings"][0]["message_zh"] == f"{len(table):,} 名用户中有 1 名出现在多个版本中，已被排除。"
    assert sum(v["n"] for v in doc["variants"]) == len(table) - 1


def test_default_control_and_numeric_variants():
    table = pd.DataFrame({"v": [0, 1] * 60 + [np.nan], "m": [0, 1, 1] * 40 + [1]})
    result = analyse_table(table, "v")
    assert result.variants == ("0", "1") and result.sizes == (60, 60)
    assert "rows_without_variant" in [n.code for n in result.notices]
    zh = analyse_table(pd.DataFrame({"组": ["实验", "对照"] * 60, "m": [True, False, True] * 40}), "组")
    assert zh.control == "对照" and zh.metrics[0].kind == "proportion"


def test_boolean_words_are_a_proportion():
    table = pd.DataFrame({"v": ["a", "b"] * 3, "paid": ["是", "否", "是", None, "否", "否"], "ok": ["TRUE", "false"] * 3})
    data = user_data_from_table(table, "v")
    assert [m.kind for m in data.metrics] == ["proportion", "proportion"]
    assert data.frame["paid"].tolist()[:3] == [1.0, 0.0, 1.0] and np.isnan(data.frame["paid"][3])
    assert data.frame["ok"].tolist() == [1.0, 0.0] * 3


def test_analyse_accepts_user_data_directly():
    table = pd.DataFrame({"variant": ["control", "treatment"] * 100, "m": np.r_[[0, 1] * 50, [1, 1] * 50]})
    result = analyse(user_data_from_table(table, "variant"), None)
    assert result.control == "control" and result.metrics[0].kind == "proportion"


def test_retention_indicator_agrees_with_the_retention_kpi_when_exposure_is_the_first_event(store):
    """With every user exposed by their first event, pooled D1/D7 equal ``retention.day_n_retention``."""
    from analytics.metrics.retention import day_n_retention

    rng = np.random.default_rng(8)
    journeys = {}
    for i in range(300):
        arm = "control" if i % 2 else "treatment"
        start = int(rng.integers(0, 10)) * DAY + int(rng.integers(0, DAY))
        evs = [("view", start, {"variant": arm})]
        for later in rng.choice(np.arange(1, 12), size=int(rng.integers(0, 4)), replace=False):
            evs.append(("like", start + int(later) * DAY + int(rng.integers(-3600, 3600))))
        journeys[f"u{i}"] = evs
    insert_events(store, journeys)
    filters = Filters()
    data = user_data_from_events(store, filters, ["d1_retention", "d7_retention"])
    for n in (1, 7):
        col = data.frame[f"d{n}_retention"].dropna()
        assert col.mean() == pytest.approx(day_n_retention(store, filters, n))


def test_the_period_chooses_exposures_and_outcomes_are_followed_after_it(store):
    import datetime as dt

    from tests.helpers import T0

    insert_events(
        store,
        {
            "early": [("view", 0, {"variant": "control"}), ("purchase", 3 * DAY, {"revenue": 10.0})],
            "inside": [("view", 2 * DAY, {"variant": "treatment"}), ("purchase", 6 * DAY, {"revenue": 20.0})],
            "late": [("view", 3 * DAY, {"variant": "control"})],
        },
    )
    day = (T0 + dt.timedelta(hours=8)).date()  # T0 in Asia/Shanghai
    period = Filters(date_from=day + dt.timedelta(days=2), date_to=day + dt.timedelta(days=3))
    rows = user_data_from_events(store, period, ["conversion", "revenue_per_user"]).frame.set_index("user_id")
    assert sorted(rows.index) == ["inside", "late"]
    assert rows.loc["inside", "conversion"] == 1 and rows.loc["inside", "revenue_per_user"] == 20.0
    assert rows.loc["late", "conversion"] == 0


@settings(max_examples=15, deadline=None)
@given(st.integers(60, 300), st.floats(1, 100), st.floats(0.5, 2.0), st.floats(0.3, 3.0))
def test_continuous_table_metrics_keep_the_laws(n, mean, ratio, spread):
    rng = np.random.default_rng(n)
    control = rng.lognormal(np.log(mean), spread, n)
    treatment = rng.lognormal(np.log(mean * ratio), spread, n + 7)
    table = pd.DataFrame({"variant": ["c"] * n + ["t"] * (n + 7), "watch": np.r_[control, treatment]})
    ct = analyse_table(table, "variant", ["watch"], "c").metrics[0].arm("t")
    tc = analyse_table(table, "variant", ["watch"], "t").metrics[0].arm("c")
    assert ct.diff == pytest.approx(-tc.diff) and ct.p_value == pytest.approx(tc.p_value)
    assert ct.diff_ci_low <= ct.diff <= ct.diff_ci_high and ct.ci_low <= ct.lift <= ct.ci_high
    assert 0 <= ct.p_value <= 1 and 0 <= ct.chance_to_beat_control <= 1 and ct.expected_loss >= 0
    assert ct.chance_to_beat_control + tc.chance_to_beat_control == pytest.approx(1.0)
