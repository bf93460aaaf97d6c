"""``reelytics prepare`` builds the persisted accelerator structures; ``status`` lists them; every
upload keeps them current, and a one-shot command then reads them instead of the events."""

from __future__ import annotations

import json

import pytest

from analytics.cli.main import main
from analytics.query import engine
from analytics.query.accel.breakdown import BreakdownTables
from analytics.query.accel.funnel_order import FunnelOrder
from analytics.query.filters import Filters
from analytics.query.layer import Components
from analytics.store import storage

ROWS = [
    "u1,v1,view,2026-01-05 20:00,douyin,30",
    "u1,v1,purchase,2026-01-05 20:05,douyin,",
    "u2,v2,view,2026-01-06 09:00,kuaishou,12",
    "u2,v1,click,2026-01-06 09:01,kuaishou,",
    "u3,v2,view,2026-01-07 10:00,douyin,5",
]
HEADER = "user_id,item_id,event_type,event_time,channel,watch_seconds\n"
EXPECTED = {"accel_breakdown|video|UTC", "accel_breakdown|creator|UTC", "kpi_rollup_key", "accel_funnel_order"}


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "p.duckdb"
    path.parent.mkdir()
    yield path
    _close(path)


def _close(path) -> None:
    opened = storage._STORES.pop(path.resolve(), None)
    if opened is not None:
        opened.close()


def run(db, capsys, *args) -> tuple[int, str, str]:
    try:
        code = main(["--db", str(db), "--tz", "UTC", *args])
        out, err = capsys.readouterr()
        return code, out, err
    finally:  # each command runs as its own process would: a fresh store
        _close(db)


def ingest(db, capsys, name: str, rows: list[str]) -> None:
    path = db.parent / name
    path.write_text(HEADER + "\n".join(rows) + "\n")
    assert run(db, capsys, "--json", "ingest", str(path))[0] == 0


def test_prepare_builds_what_status_lists_and_uploads_keep_it_current(db, capsys):
    ingest(db, capsys, "a.csv", ROWS[:3])
    code, out, _ = run(db, capsys, "--json", "status")
    assert code == 0 and json.loads(out)["structures"] == {}  # a database filled by the CLI alone

    code, out, _ = run(db, capsys, "--json", "prepare", "--by", "video,creator")
    doc = json.loads(out)
    assert code == 0 and set(doc["prepared"]) == EXPECTED
    assert doc["structures"] == dict.fromkeys(EXPECTED, True)

    ingest(db, capsys, "b.csv", ROWS[3:])  # appended to every structure by the upload itself
    code, out, _ = run(db, capsys, "--json", "status")
    assert json.loads(out)["structures"] == dict.fromkeys(EXPECTED, True)

    store = storage.Store(db)
    try:  # a one-shot process reads the prepared tables, and they answer as the events do
        query = Components(Filters(timezone="UTC"), ("video",))
        assert BreakdownTables().is_ready(store, query)
        assert FunnelOrder().is_ready(store, None)
        prepared = engine.answer_by("breakdown_tables", store, query).to_pandas().sort_values("video")
        portable = engine.answer_by("portable", store, query).sort_values("video")
        assert prepared["active_users"].tolist() == portable["active_users"].tolist() == [2, 2]
        assert prepared["views"].tolist() == portable["views"].tolist() == [1, 2]
    finally:
        store.close()


def test_prepare_speaks_in_words_and_a_second_run_finds_everything_current(db, capsys):
    ingest(db, capsys, "a.csv", ROWS)
    code, out, err = run(db, capsys, "prepare")
    assert code == 0 and "prepare [" in err  # the progress bar
    assert "breakdown by video (UTC)" in out and "hourly KPI rollup" in out and "funnels' event order" in out
    assert "accel_" not in out and "_key" not in out
    code, out, _ = run(db, capsys, "status")
    assert "persisted structures:" in out and "out of date" not in out
    assert json.loads(run(db, capsys, "--json", "prepare")[1])["structures"] == {
        "accel_breakdown|video|UTC": True, "kpi_rollup_key": True, "accel_funnel_order": True,
    }


@pytest.mark.parametrize("by", ["channel", "video,props.city"])
def test_a_breakdown_that_needs_no_structure_is_refused_with_one_line(db, capsys, by):
    ingest(db, capsys, "a.csv", ROWS)
    code, out, err = run(db, capsys, "prepare", "--by", by)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "only creator, category, video, course have a structure" in err
    assert json.loads(run(db, capsys, "--json", "status")[1])["structures"] == {}  # nothing was built


def test_status_lists_the_structures_without_importing_pandas_or_ibis(db, capsys):
    import subprocess
    import sys

    from tests.helpers import REPO

    ingest(db, capsys, "a.csv", ROWS)
    assert run(db, capsys, "--json", "prepare")[0] == 0
    code = (
        "import sys, json\n"
        "from analytics.cli.main import main\n"
        f"main(['--db', {str(db)!r}, '--json', 'status'])\n"
        "print(json.dumps(sorted(m for m in ('pandas', 'ibis') if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    status, imported = done.stdout.strip().splitlines()
    assert json.loads(status)["structures"] == {"accel_breakdown|video|UTC": True, "kpi_rollup_key": True,
                                                "accel_funnel_order": True}
    assert json.loads(imported) == []
