"""``reelytics ingest / preview / uploads / rejects / remove-upload``: output, JSON and exit codes."""

from __future__ import annotations

import json
import re

import pytest

from analytics.cli.main import main
from analytics.store import storage

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
    assert out.splitlines()[0] == "export.csv: delimited text, encoding utf-8, delimiter ',', header row"
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


def test_every_issue_and_reason_code_is_worded_for_the_terminal_and_the_page():
    from analytics.cli.commands.ingest import ISSUE_TEXT, REASON_TEXT
    from analytics.ingest import ISSUE_CODES, REASON_CODES
    from dashboard.i18n import TEXT

    assert set(ISSUE_TEXT) == set(ISSUE_CODES)
    assert set(REASON_TEXT) == set(REASON_CODES)
    for code, params in ISSUE_CODES.items():
        entry = TEXT[f"ingest.issue.{code}"]
        assert set(entry) == {"en", "zh"}
        for text in (ISSUE_TEXT[code], entry["en"], entry["zh"]):
            named = set(re.findall(r"{(\w+)", text)) - {"n"}
            assert named <= set(params), (code, named)
    for code in REASON_CODES:
        assert set(TEXT[f"ingest.reason.{code}"]) == {"en", "zh"}


def test_a_900kib_cell_and_a_20mb_line_give_a_report_not_a_traceback(tmp_path, capsys):
    db = tmp_path / "data" / "c.duckdb"
    path = tmp_path / "long.csv"
    path.write_text(
        "user_id,item_id,event_type,event_time,title\n"
        f"u1,v1,view,2026-01-05,{'t' * (900 << 10)}\n"
        f"u2,v1,view,2026-01-05,{'t' * (20 << 20)}\n"
        "u3,v1,view,2026-01-05,ok\n"
    )
    code, out, err = run(db, capsys, "ingest", str(path))
    assert code == 0 and "Traceback" not in err
    assert "  read 3  accepted 1  rejected 2  duplicates 0" in out
    assert "  [error] 1 row(s) rejected: a cell longer than 65,536 bytes (title) (lines 2)" in out
    assert "  [error] 1 row(s) rejected: a line longer than 1,048,576 bytes (lines 3)" in out
    code, out, _ = run(db, capsys, "rejects", "1")
    assert [ln.split(",")[:2] for ln in out.splitlines()[1:]] == [["2", "title too long"], ["3", "line too long"]]


def test_a_workbook_with_several_sheets_needs_sheet(tmp_path, capsys):
    import openpyxl

    db = tmp_path / "data" / "c.duckdb"
    path = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    for i, title in enumerate(["jan", "feb"]):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = title
        ws.append(["user_id", "item_id", "event_type", "event_time"])
        ws.append([f"u{i}", "v1", "view", f"2026-0{i + 1}-05 10:00"])
    wb.save(path)
    code, out, err = run(db, capsys, "ingest", str(path))
    assert (code, out) == (2, "")
    assert err == "reelytics: error: book.xlsx has 2 sheets with data; pick one (--sheet NAME)\n"
    code, out, _ = run(db, capsys, "preview", str(path), "--sheet", "feb")
    assert code == 0 and "sheet 'feb' of 'jan', 'feb'" in out.splitlines()[0]
    code, out, _ = run(db, capsys, "ingest", str(path), "--sheet", "feb")
    assert code == 0 and out.startswith("Imported 1 rows from book.xlsx as upload 1")


def test_a_symlink_out_of_the_data_folder_exits_2_without_its_contents(tmp_path, capsys):
    db = tmp_path / "data" / "c.duckdb"
    db.parent.mkdir()
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret:19000::::::\n")
    (db.parent / "events.csv").symlink_to(secret)
    code, out, err = run(db, capsys, "ingest", str(db.parent / "events.csv"))
    assert code == 2 and err.count("\n") == 1 and "symbolic link" in err and "root" not in err


def test_preview_states_how_times_are_read(tmp_path, capsys):
    db = tmp_path / "data" / "c.duckdb"
    path = tmp_path / "d.csv"
    path.write_text("user_id,item_id,event_type,event_time\nu1,v1,view,09/01/2026 10:00\nu2,v1,view,1/9/2026 11:00\n")
    code, out, _ = run(db, capsys, "preview", str(path))
    assert code == 0
    assert "  note: no value of event_time shows whether dates are day/month or month/day: read as day/month/year; check the preview" in out


def test_sheet_all_reads_every_matching_sheet_and_prints_each_sheet(env, capsys):
    from tests.unit.test_ingest_bad_input import _book

    db, _path = env
    book = db.parent.parent / "book.xlsx"
    _book(book)
    code, out, _ = run(db, capsys, "preview", str(book), "--sheet", "all")
    assert code == 0
    assert "  sheet 'march': read\n  sheet 'empty': not read, empty\n  sheet 'april': read\n" in out
    code, out, _ = run(db, capsys, "ingest", str(book), "--sheet", "all")
    assert code == 0
    assert out.splitlines()[:6] == [
        "Imported 3 rows from book.xlsx as upload 1",
        "  read 7  accepted 3  rejected 2  duplicates 2",
        "  sheet 'march': read 3  accepted 1  rejected 1  duplicates 1 (lines 2-4)",
        "  sheet 'empty': not read, empty",
        "  sheet 'april': read 4  accepted 2  rejected 1  duplicates 1 (lines 5-8)",
        (
            "  sheet 'spend': not read, other columns (lacks 'user_id', 'item_id', 'event_type', 'event_time'; "
            "adds 'date', 'channel', 'cost')"
        ),
    ]
    code, out, _ = run(db, capsys, "--json", "ingest", str(book), "--sheet", "all")
    assert json.loads(out)["status"] == "already_uploaded"
    code, _out, err = run(db, capsys, "ingest", str(book), "--sheet", "all", "--columns", "a,b,c,d")
    assert code == 2 and len(err.strip().splitlines()) == 1
