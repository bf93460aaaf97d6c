"""The dashboard with the engine set to Spark (``REELYTICS_ENGINE=spark``) over the Parquet dataset of a
small sample: the analytic pages show the numbers DuckDB shows for the same data, and the pages that
change or train on the DuckDB database say so, in English and in Chinese."""

from __future__ import annotations

import pytest

from analytics.sample import load_sample
from analytics.store import storage
from dashboard.i18n import TEXT
from tests.engine.conftest import forget_store
from tests.engine.test_cli_engines import _run
from tests.helpers import open_page

#: The analytic pages compared card by card (every ``st.metric`` and its change): the KPI cards and
#: the funnel's counts (the other pages ask the same portable queries, held equal by the CLI contract).
COMPARED = ("overview.py", "funnels.py")
#: The pages that need the DuckDB database.
DUCKDB_ONLY = ("data.py", "recommendations.py", "similarity.py", "audiences.py")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small sample database with its Parquet dataset next to it (the default ``--spark-data``)."""
    db = tmp_path_factory.mktemp("dashboard_spark") / "data" / "small.duckdb"
    db.parent.mkdir()
    store = storage.Store(db)
    load_sample(store, users=300, days=21, seed=3)
    store.close()
    status, _, err = _run(db, "duckdb", ["export", "--parquet"])
    assert status == 0, err
    yield db
    forget_store(db)


def _cards(monkeypatch, db, page: str, engine: str) -> list[tuple[str, str, str]]:
    monkeypatch.setenv("REELYTICS_ENGINE", engine)
    monkeypatch.setenv("REELYTICS_DIGEST", "off")
    at = open_page(monkeypatch, db, page)
    at.run()
    assert not at.exception, (page, engine, at.exception)
    return [(m.label, m.value, m.delta) for m in at.metric]


@pytest.mark.parametrize("page", COMPARED)
def test_analytic_pages_show_duckdbs_numbers_on_spark(monkeypatch, small, spark, page):
    on_duckdb = _cards(monkeypatch, small, page, "duckdb")
    on_spark = _cards(monkeypatch, small, page, "spark")
    assert on_spark == on_duckdb
    assert len(on_spark) >= 4 and any(value not in ("0", "—", "") for _, value, _ in on_spark)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pages_that_need_duckdb_say_so_on_spark(monkeypatch, small, spark, lang):
    monkeypatch.setenv("REELYTICS_ENGINE", "spark")
    expected = TEXT["common.duckdb_only"][lang]
    for page in DUCKDB_ONLY:
        at = open_page(monkeypatch, small, page, lang=lang)
        at.run()
        assert not at.exception, (page, at.exception)
        shown = [i.value for i in at.main.info]
        assert expected in shown, (page, shown)
