"""Alerts page and the Overview's alert count and "why did it change" panel, over the sample."""

from __future__ import annotations

import shutil

import pytest

from analytics.sample import load_sample
from analytics.store.storage import Store
from tests.helpers import open_page


@pytest.fixture(scope="module")
def incidents_db(tmp_path_factory):
    """The default sample size with its planted incidents (4,000 users x 60 days)."""
    path = tmp_path_factory.mktemp("alerts_page") / "incidents.duckdb"
    s = Store(path)
    load_sample(s, users=4000, days=60, seed=7)
    s.close()
    return path


@pytest.fixture
def db(incidents_db, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(incidents_db, folder / "incidents.duckdb")
    return folder / "incidents.duckdb"


def test_alerts_page_lists_the_ctr_collapse_with_its_band(monkeypatch, db):
    monkeypatch.setenv("REELYTICS_DIGEST", "off")
    at = open_page(monkeypatch, db, "alerts.py")
    at.query_params["from"] = "2026-10-10"
    at.query_params["to"] = "2026-10-16"
    at.run()
    assert not at.exception
    assert at.title[0].value == "Alerts"
    table = at.main.dataframe[0].value
    collapse = table[(table["KPI"] == "Click-through rate") & (table["Segment"] == "Channel: Kuaishou")]
    assert sorted(str(d) for d in collapse["Day"]) == ["2026-10-13", "2026-10-14", "2026-10-15"]
    at.selectbox(key="al_kpi").set_value("ctr").run()
    at.selectbox(key="al_segment").set_value((("channel", "kuaishou"),)).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) >= 1
    assert any(m.value.startswith("**Click-through rate fell") for m in at.main.markdown)


def test_alerts_page_in_chinese(monkeypatch, db):
    monkeypatch.setenv("REELYTICS_DIGEST", "off")
    # AppTest matches a chosen value through the format function in English: seed the choice instead
    state = {"al_kpi": "ctr", "al_segment": (("channel", "kuaishou"),)}
    at = open_page(monkeypatch, db, "alerts.py", lang="zh", state=state)
    at.query_params["from"] = "2026-10-13"
    at.query_params["to"] = "2026-10-13"
    at.run()
    assert not at.exception
    assert at.title[0].value == "异常告警"
    lines = [m.value for m in at.main.markdown]
    assert any(v.startswith("**点击率下降了") for v in lines), lines
    assert any("自身的点击率" in v for v in lines), lines


def test_overview_counts_alerts_and_explains_a_card(monkeypatch, db):
    monkeypatch.setenv("REELYTICS_DIGEST", "off")
    at = open_page(monkeypatch, db, "overview.py")
    at.query_params["from"] = "2026-10-13"
    at.query_params["to"] = "2026-10-15"
    at.run()
    assert not at.exception
    assert any("KPI alerts in this period" in i.value for i in at.main.info)
    assert "ov_explain_kpi" not in [s.key for s in at.selectbox]  # the explanation is computed only when its panel is opened
    at.session_state["ov_explain_open"] = True
    at.run()
    at.selectbox(key="ov_explain_kpi").set_value("ctr").run()
    assert not at.exception
    lines = [m.value for m in at.main.markdown]
    assert any(v.startswith("**Click-through rate fell") for v in lines)
    assert any("Channel kuaishou's own Click-through rate" in v for v in lines), lines
