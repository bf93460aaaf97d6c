"""Explain and alerts over the Taobao UserBehavior head, uploaded through the ingest pipeline.

Nine days of a real store (no catalog, no channels; ``category_id`` kept as an extra column): a
change splits exactly along items and the uploaded property, and alerts say the history is too
short for a band instead of guessing.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from analytics.cli.main import main
from analytics.ingest.pipeline import ingest_file
from analytics.metrics.alerts import monitor
from analytics.metrics.explain import NONE, explain
from analytics.query.filters import Filters
from analytics.store.storage import _STORES, Store
from tests.helpers import DATASETS, open_page

FILE = DATASETS / "taobao_userbehavior_head" / "UserBehavior_head.csv"
COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not FILE.is_file(), reason=f"real dataset {FILE} is absent"),
]
CURRENT = Filters(dt.date(2017, 11, 30), dt.date(2017, 12, 2))


@pytest.fixture(scope="module")
def taobao_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("taobao_explain") / "data"
    folder.mkdir()
    source = folder / FILE.name
    shutil.copy(FILE, source)
    store = Store(folder / "taobao.duckdb", read_paths=[source])
    ingest_file(store, source, columns=COLUMNS)
    store.close()
    return folder / "taobao.duckdb"


@pytest.fixture
def store(taobao_db):
    s = Store(taobao_db)
    yield s
    s.close()


@pytest.mark.parametrize("kpi", ["views", "orders", "conversion"])
def test_a_change_splits_exactly_along_items_and_the_uploaded_property(store, kpi):
    result = explain(store, kpi, CURRENT, by=["video", "props.category_id", "channel"])
    assert result.status == "ok"
    for d in result.dimensions:
        assert d.segments["contribution"].sum() == pytest.approx(result.change, abs=1e-9), d.dimension
    channel = result.dimension("channel")
    assert channel.segments["value"].tolist() == [NONE] and channel.candidates == ()  # no channels: nothing named


def test_alerts_need_three_weeks_of_history(store):
    assert monitor(store, Filters(), explain_alerts=False).status == "short_history"


def test_cli_explain_and_alerts_json(taobao_db, tmp_path, capsys):
    path = tmp_path / "data" / "taobao.duckdb"
    path.parent.mkdir()
    shutil.copy(taobao_db, path)
    _STORES.clear()
    try:
        assert main(["--db", str(path), "--json", "explain", "--kpi", "views", "--from", "2017-11-30",
                     "--to", "2017-12-02", "--by", "props.category_id"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["status"] == "ok" and doc["contributors"]
        assert all(c["dimension"] == "props.category_id" for c in doc["contributors"])
        assert main(["--db", str(path), "--json", "alerts", "--fail-on-alert"]) == 0
        alerts = json.loads(capsys.readouterr().out)
        assert (alerts["status"], alerts["alerts"]) == ("short_history", [])
    finally:
        _STORES.clear()


def test_alerts_page_says_the_history_is_short(taobao_db, tmp_path, monkeypatch):
    path = tmp_path / "data" / "taobao.duckdb"
    path.parent.mkdir()
    shutil.copy(taobao_db, path)
    monkeypatch.setenv("REELYTICS_DIGEST", "off")
    at = open_page(monkeypatch, path, "alerts.py")
    at.run()
    assert not at.exception
    assert at.main.info[0].value == "Not enough history: a band needs at least 21 days with values."
