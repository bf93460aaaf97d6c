"""``reelytics ingest / preview / uploads / rejects / remove-upload``: output, JSON and exit codes."""

from __future__ import annotations

import json

import pytest

from analytics import storage
from analytics.cli import main

CSV = "user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05 20:00\nu2,v1,teleport,2026-01-05 20:01\n"


@pytest.fixture
def env(tmp_path):
    db = tmp_path / "data" / "c.duckdb"
    outside = tmp_path / "export.csv"  # outside the data folder: handed to the store by the command
    outside.write_text(CSV)
    yield db, outside
    opened = storage._STORES.pop(db.resolve(), None)
    if opened is not None:
        opened.close()


def run(db, capsys, *args) -> tuple[int, str, str]:
    try:
        code = main(["--db", str(db), *args])
        out, err = capsys.readouterr()
        return code, out, err
    finally:  # each command runs as its own process would: a fresh store
        opened = storage._STORES.pop(db.resolve(), None)
        if opened is not None:
            opened.close()


def test_ingest_prints_a_report_and_a_progress_bar(env, capsys):
    db, path = env
    code, out, err = run(db, capsys, "ingest", str(path))
    assert code == 0
    assert out.splitlines()[:2] == [
        "Imported 1 rows from export.csv as upload 1",
        "  read 2  accepted 1  rejected 1  duplicates 0",
    ]
    assert "  [error] 1 row(s) rejected: unknown event type ('teleport': 1); map them or fix the file (lines 3)" in out
    assert "rejected rows: reelytics rejects 1" in out
    assert "ingest export.csv [" in err and "100.0%" in err


def test_ingest_json_has_the_contract_fields_and_no_progress(env, capsys):
    db, path = env
    code, out, err = run(db, capsys, "--json", "ingest", str(path), "--map", "event_type=event_type")
    doc = json.loads(out)
    assert code == 0 and err == ""
    assert (doc["rows_accepted"], doc["rows_rejected"]) == (1, 1)
    assert doc["issues"][0]["code"] == "unknown_event_type"
    code, out, _ = run(db, capsys, "--json", "ingest", str(path))
    assert json.loads(out)["status"] == "already_uploaded"


def test_rejects_uploads_and_remove(env, capsys):
    db, path = env
    run(db, capsys, "ingest", str(path))
    code, out, _ = run(db, capsys, "rejects", "1")
    assert out.splitlines() == ["line,reason,raw", "3,unknown event type,\"u2,v1,teleport,2026-01-05 20:01\""]
    code, out, _ = run(db, capsys, "--json", "uploads")
    assert [u["file_name"] for u in json.loads(out)["uploads"]] == ["export.csv"]
    code, out, _ = run(db, capsys, "remove-upload", "1")
    assert (code, out.strip()) == (0, "removed upload 1: 1 events")
    code, _, err = run(db, capsys, "remove-upload", "1")
    assert (code, err.strip()) == (2, "reelytics: error: there is no upload 1")


def test_preview_shows_the_mapping(env, capsys):
    db, path = env
    code, out, _ = run(db, capsys, "preview", str(path), "--rows", "2")
    assert code == 0
    assert out.splitlines()[0] == "export.csv: csv, encoding utf-8, delimiter ',', header True"
    assert "  user_id                  -> user_id              1.00  e.g. u1" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--map", "nope"], "--map expects SRC=DST, got 'nope'"),
        (["--map", "x=user_id"], "--map names the column 'x', which is not in the file"),
        (["--encoding", "klingon"], "unknown encoding 'klingon'"),
        (["--pseudonymise"], "--pseudonymise needs a key"),
        (["--expect-from", "2026-13-01"], "--expect-from expects a date as YYYY-MM-DD"),
    ],
)
def test_bad_options_exit_2_with_one_line(env, capsys, monkeypatch, args, message):
    monkeypatch.delenv("REELYTICS_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("REELYTICS_PSEUDONYM_KEY_FILE", raising=False)
    db, path = env
    code, out, err = run(db, capsys, "ingest", str(path), *args)
    assert code == 2 and out == ""
    assert err.startswith("reelytics: error: ") and message in err and err.count("\n") == 1
