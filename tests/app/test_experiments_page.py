"""Experiments page: analysis from events, from the sample result table, the planner, both languages."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.store.storage import Store
from tests.helpers import insert_events, open_page, shown_table

PAGE = "experiments.py"


def _app(monkeypatch, db, lang: str | None = None):
    return open_page(monkeypatch, db, PAGE, lang=lang)


@pytest.fixture
def db(tmp_path):
    """200 users per arm; treatment converts far more often (10% vs 30%)."""
    path = tmp_path / "data" / "exp.duckdb"
    s = Store(path)
    rng = np.random.default_rng(1)
    journeys = {}
    for i in range(400):
        arm = "control" if i % 2 == 0 else "treatment"
        evs = [("view", i, {"variant": arm, "watch_seconds": 10.0, "video_seconds": 20.0})]
        if rng.random() < (0.1 if arm == "control" else 0.3):
            evs.append(("purchase", i + 5, {"variant": arm, "revenue": 99.0}))
        if rng.random() < 0.2:
            evs.append(("click", i + 2, {"variant": arm}))
        journeys[f"u{i:04d}"] = evs
    insert_events(s, journeys)
    s.close()
    return path


def test_experiment_from_events_shows_srm_verdict_and_table(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Experiments"
    assert at.main.success[0].value.startswith("Sample ratio check passed (chi-square p = 1.000)")
    verdict = at.main.info[0].value
    assert verdict.startswith("Conversion, treatment vs control: treatment is higher than control: +")
    assert "after Holm correction over 2 comparisons" in verdict
    table = at.dataframe[0].value
    assert list(table["variant"]) == ["control", "treatment"]
    assert list(table["n"]) == [200, 200]
    assert table["status"].iloc[1] == "ok"
    assert "Users per variant: control 200, treatment 200" in [c.value for c in at.main.caption]


def test_experiment_page_in_chinese(monkeypatch, db):
    at = _app(monkeypatch, db, lang="zh")
    at.run()
    assert not at.exception
    assert at.title[0].value == "A/B 实验"
    assert at.main.success[0].value.startswith("样本比例检查通过")
    assert "treatment 高于 control" in at.main.info[0].value
    assert list(shown_table(at.dataframe[0]).columns)[:3] == ["实验组", "用户数", "取值"]
    assert at.main.info[0].value.startswith("转化率，treatment 对比 control：treatment 高于 control：+")
    assert "（已对 2 项比较做 Holm 校正）" in at.main.info[0].value


def test_sample_result_table_and_settings(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.radio(key="exp_source").set_value("table").run()
    assert not at.exception
    assert at.main.info[0].value.startswith("Upload a table with one row per user")
    at.checkbox(key="exp_use_sample").check().run()
    assert not at.exception
    assert len(at.dataframe) == 3  # converted, watch_seconds, revenue
    assert at.main.info[0].value.startswith("converted, treatment vs control: treatment is higher than control")
    at.selectbox(key="exp_correction").set_value("bh").run()
    assert not at.exception
    assert "Benjamini-Hochberg correction over 3 comparisons" in at.main.info[0].value
    at.text_input(key="exp_split").input("control=90,treatment=10").run()
    assert not at.exception
    assert at.main.error[0].value.startswith("Sample ratio mismatch (chi-square p ")


def test_bad_split_shows_the_error_not_a_crash(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.text_input(key="exp_split").input("control=50,oops").run()
    assert not at.exception
    assert at.main.error[0].value == "cannot read the split 'control=50,oops'; write name=share pairs such as control=50,treatment=50"


def test_planner_uses_recent_traffic(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert [m.value for m in at.main.metric] == ["31,234", "62,468", "+10.0%", "157"]
    assert at.main.caption[-1].value == "At 400 users per day (average of the last 14 days of data)."
    at.number_input(key="exp_plan_daily").set_value(10000.0).run()
    assert [m.value for m in at.main.metric][-1] == "7"


def test_no_variant_in_the_data(monkeypatch, tmp_path):
    path = tmp_path / "data" / "novar.duckdb"
    s = Store(path)
    insert_events(s, {"a": [("view", 0)]})
    s.close()
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    assert at.main.info[0].value.startswith("No event in the selected period carries a variant.")


def test_page_on_the_sample_data(monkeypatch, sample_db_copy):
    path = sample_db_copy
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    assert at.main.success[0].value.startswith("Sample ratio check passed")
    tables = [d.value for d in at.dataframe]
    assert len(tables) == 2  # conversion and CTR
    assert [list(t["variant"]) for t in tables] == [["control", "treatment"]] * 2
    assert at.main.info[0].value.startswith("Conversion, treatment vs control: ")


def test_empty_database_still_offers_tables_and_the_planner(monkeypatch, tmp_path):
    path = tmp_path / "data" / "empty.duckdb"
    Store(path).close()
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    assert at.main.info[0].value.startswith("No events yet.")
    assert at.main.caption[-1].value == "No recent traffic in the data: enter users per day to get the duration."
    at.radio(key="exp_source").set_value("table").run()
    assert not at.exception
    assert at.main.info[0].value.startswith("Upload a table with one row per user")


def test_warnings_and_missing_verdicts_in_both_languages(monkeypatch, tmp_path):
    path = tmp_path / "data" / "few.duckdb"
    s = Store(path)
    journeys = {f"u{i:03d}": [("view", i, {"variant": "control" if i % 2 else "treatment"})] for i in range(60)}
    journeys["both"] = [("view", 0, {"variant": "control"}), ("view", 1, {"variant": "treatment"})]
    insert_events(s, journeys)
    s.close()
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    assert at.main.warning[0].value == "1 of 61 exposed users (1.6%) saw more than one variant and were excluded."
    assert at.main.info[0].value.startswith(
        "Conversion, treatment vs control: not enough data for a verdict yet (30 users (need 50)). Keep the test running."
    )
    assert at.main.info[0].value.endswith(
        "Caveats: 1 of 61 exposed users (1.6%) saw more than one variant and were excluded."
    )
    assert list(at.dataframe[0].value["status"]) == ["control: 30 users (need 50)", "not enough data: 30 users (need 50)"]
    zh = _app(monkeypatch, path, lang="zh")
    zh.run()
    assert not zh.exception
    assert zh.main.warning[0].value == "61 名曝光用户中有 1 名（1.6%）看到了多个版本，已被排除。"
    assert zh.main.info[0].value.startswith("转化率，treatment 对比 control：数据还不足以下结论（30 名用户（至少需要 50））。")
    assert list(shown_table(zh.dataframe[0])["状态"]) == ["对照组：30 名用户（至少需要 50）", "数据不足：30 名用户（至少需要 50）"]
