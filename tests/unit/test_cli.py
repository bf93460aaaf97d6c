"""The CLI contract: JSON on --json, exit 0 on success, 2 with one line on stderr for bad input."""

import json
import re

import pytest

from analytics.cli.main import main
from analytics.store.storage import Store
from tests.helpers import insert_events


def test_status_prints_one_json_document(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "d" / "x.duckdb"), "--json", "status"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["counts"] == {"events": 0, "items": 0, "spend": 0, "uploads": 0}


@pytest.mark.parametrize(
    "argv, reason",
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--tz", "Mars/Base", "status"], "unknown time zone 'Mars/Base'"),
        (["no-such-command"], "invalid choice: 'no-such-command'"),
    ],
)
def test_bad_input_exits_2_with_one_line_reason(tmp_path, capsys, argv, reason):
    assert main(["--db", str(tmp_path / "d" / "x.duckdb"), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0]
    assert "Traceback" not in captured.err


def test_json_flag_may_follow_the_command(tmp_path, capsys):
    db = str(tmp_path / "d" / "x.duckdb")
    assert main(["--db", db, "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["schema_version"] >= 1
    assert main(["--db", db, "status"]) == 0
    assert not capsys.readouterr().out.startswith("{")


HEAVY = ("pandas", "numpy", "ibis", "duckdb", "pyarrow", "openpyxl", "implicit", "sklearn", "scipy", "statsmodels",
         "plotly")


@pytest.mark.parametrize("argv", [["--help"], ["status", "--help"], ["users", "--help"], ["sample", "--help"], ["ingest", "--help"],
                                  ["recommend", "--help"], ["segments", "--help"]])
def test_help_imports_no_data_library(argv):
    """``reelytics --help`` imports no command module; a command's ``--help`` only what its options need."""
    import subprocess
    import sys

    from tests.helpers import REPO

    code = (
        "import contextlib, io, sys\n"
        "from analytics.cli import main as cli\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        f"        cli.main({argv!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'usage: reelytics' in out.getvalue()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    loaded = set(eval(out.stdout.strip().splitlines()[-1]))
    assert loaded & set(HEAVY) == set()


def test_the_kpis_command_and_its_breakdown_path_import_no_pandas():
    """The KPI command, the KPI feature module and the accelerators of its queries (breakdown
    index and tables, rollup, catalog labels) import pandas only where a path builds a DataFrame,
    so a breakdown answered from the persisted tables can run without it."""
    from tests.helpers import loads_pandas

    assert not loads_pandas(
        "import analytics.cli.commands.kpis, analytics.metrics.kpis, analytics.query.engine\n"
        "import analytics.query.accel.breakdown, analytics.query.accel.rollup, analytics.query.accel.catalog"
    )


def test_the_command_index_lists_what_the_command_modules_register():
    """:data:`COMMANDS` names each command once, with the module that registers it."""
    import argparse
    import importlib
    import pkgutil

    from analytics.cli import commands
    from analytics.cli.main import COMMANDS, _Commands

    registered = {}
    for info in pkgutil.iter_modules(commands.__path__):
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"{commands.__name__}.{info.name}").register(_Commands(sub))
        registered.update({name: info.name for name in sub.choices})
    assert registered == {name: module for name, (module, _) in COMMANDS.items()}


def test_global_options_may_follow_the_command(tmp_path, capsys):
    db = tmp_path / "d" / "after.duckdb"
    assert main(["status", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["db"] == str(db)
    assert main(["--db", str(db), "status", "--tz", "Mars/Base"]) == 2
    assert "unknown time zone 'Mars/Base'" in capsys.readouterr().err


def test_the_readme_ingest_example_with_tz_after_the_command(tmp_path, capsys):
    csv = tmp_path / "export.csv"
    csv.write_text("用户,视频,事件,时间,观看时长\nu1,v1,view,2026-01-05 08:00:00,12\n", encoding="utf-8")
    db = str(tmp_path / "d" / "readme.duckdb")
    argv = ["--db", db, "--json", "ingest", str(csv), "--map", "用户=user_id", "--map", "视频=item_id",
            "--map", "事件=event_type", "--map", "时间=event_time", "--map", "观看时长=watch_seconds"]
    assert main([*argv, "--tz", "UTC"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "--json", "kpis", "--all", "--tz", "UTC"]) == 0
    # 08:00 without an offset was read in UTC, not in the default Asia/Shanghai
    assert json.loads(capsys.readouterr().out)["filters"]["from"] == "2026-01-05"
    assert main(["--db", db, "--json", "kpis", "--all"]) == 0
    assert json.loads(capsys.readouterr().out)["filters"]["from"] == "2026-01-05"  # 16:00 in Shanghai


def test_a_window_without_a_unit_exits_2_naming_the_allowed_forms(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "d" / "x.duckdb"), "funnel", "--steps", "view,click", "--window", "7"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["reelytics: error: --window needs a unit: '7' could be seconds or days; write it as 7s, 7m, 7h, 7d or 7w"]


@pytest.fixture
def months(tmp_path):
    """Views on 2026-01-01 .. 2026-03-01 (60 local days in Shanghai), one per day; two users."""
    import datetime as dt

    from analytics.store.storage import Store
    from tests.helpers import insert_events

    path = tmp_path / "d" / "months.duckdb"
    s = Store(path)
    start = dt.datetime(2026, 1, 1, 4)  # 12:00 in Shanghai
    insert_events(s, {"a": [("view", start + dt.timedelta(days=i)) for i in range(60)],
                      "b": [("view", start + dt.timedelta(days=i)) for i in range(30, 60)]})
    s.close()
    return str(path)


def test_kpis_default_to_the_latest_28_complete_days_against_the_28_before(months, capsys):
    assert main(["--db", months, "--json", "kpis"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["default_period"] is True and out["comparison"] == "full"
    # the data ends at noon on Mar 1: that day is not covered in full, so the period ends on Feb 28
    assert (out["filters"]["from"], out["filters"]["to"]) == ("2026-02-01", "2026-02-28")
    assert (out["previous_period"]["from"], out["previous_period"]["to"]) == ("2026-01-04", "2026-01-31")
    assert out["kpis"]["views"] == 56 and out["previous"]["views"] == 28 + 1  # b starts on Jan 31
    assert main(["--db", months, "kpis"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("period 2026-02-01 .. 2026-02-28 (the latest complete days), compared with 2026-01-04 .. 2026-01-31\n")


def test_kpis_all_and_chosen_dates_say_when_nothing_earlier_exists(months, capsys):
    assert main(["--db", months, "--json", "kpis", "--all"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["default_period"] is False and out["comparison"] == "none"
    assert (out["filters"]["from"], out["filters"]["to"]) == ("2026-01-01", "2026-03-01")
    assert main(["--db", months, "kpis", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  note: no earlier data to compare with: the data starts on 2026-01-01, so no change is shown"
    # one view a day at noon: the data starts and ends mid-day
    assert lines[2] == "  note: the data does not cover these days in full (their counts are partial): 2026-01-01, 2026-03-01"
    assert main(["--db", months, "kpis", "--from", "2026-01-11", "--to", "2026-01-20"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("  Active users")  # 2026-01-01 .. 01-10 is all there: nothing to say
    assert main(["--db", months, "kpis", "--from", "2026-01-05", "--to", "2026-01-20"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  note: the previous period starts on 2025-12-20, but the data starts on 2026-01-01: changes compare with fewer days"
    assert main(["--db", months, "kpis", "--all", "--from", "2026-01-05"]) == 2
    assert "--all is the data's whole span" in capsys.readouterr().err


def test_kpis_text_writes_the_retention_and_course_kpis_as_percentages(months, capsys):
    assert main(["--db", months, "kpis", "--all"]) == 0
    cells = [re.split(r"\s{2,}", line.strip()) for line in capsys.readouterr().out.splitlines()
             if line.startswith("  ") and "note:" not in line]
    rows = {c[0]: c[1:] for c in cells}
    assert rows["D1 retention"][0] == "100.0%" and rows["D7 retention"][0] == "100.0%"  # both users came back
    assert rows["Course completion"][0] == "–"
    # the data starts with the period: the previous one has no figures, not zeros
    assert rows["Views"] == ["90", "prev", "–"] and "active_users" not in rows


def test_kpis_of_a_period_outside_the_data_say_so_instead_of_calling_its_days_partial(months, capsys):
    assert main(["--db", months, "kpis", "--from", "2025-06-01", "--to", "2025-06-02"]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if "note:" in line]
    assert "  note: the data covers 2026-01-01 .. 2026-03-01: this period holds none of it" in notes
    assert not [n for n in notes if "partial" in n or "today" in n]


def test_where_a_period_stands_against_the_data_and_today():
    import datetime as dt

    from analytics.query.facets import Facets, period_notes

    facets = Facets(dt.date(2026, 1, 1), dt.date(2026, 3, 1))
    day = dt.date
    assert period_notes(day(2026, 2, 1), day(2026, 2, 28), facets, day(2026, 3, 5)) == ()
    assert period_notes(day(2026, 2, 1), day(2026, 3, 5), facets, day(2026, 3, 5)) == ("includes_today",)
    assert period_notes(day(2026, 4, 1), day(2026, 4, 2), facets, day(2026, 3, 5)) == ("outside_data", "not_begun")
    assert period_notes(day(2025, 4, 1), day(2025, 4, 2), facets, day(2026, 3, 5)) == ("outside_data",)


@pytest.mark.parametrize("argv", [
    ["kpis"], ["kpis", "--by", "video"], ["explain", "--kpi", "ctr"], ["alerts"], ["retention"],
])
def test_commands_over_an_empty_database_say_how_to_load_data(tmp_path, capsys, argv):
    assert main(["--db", str(tmp_path / "d" / "x.duckdb"), *argv]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no events yet: load data with `reelytics ingest FILE`"), out
    assert "None" not in out


def test_course_completion_without_courses_is_worded(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "d" / "x.duckdb"), "completion", "--courses"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no course found") and "no_courses" not in out


def test_video_completion_statuses_are_worded_in_the_text(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "e" / "empty.duckdb"), "completion"]) == 0
    assert "No video views match the current filters." in capsys.readouterr().out
    db = tmp_path / "d" / "x.duckdb"
    s = Store(db)
    insert_events(s, {"u1": [("view", 0)]})  # a view without watch time or length
    s.close()
    assert main(["--db", str(db), "completion", "--video", "v1"]) == 0
    out = capsys.readouterr().out
    assert "Views were found, but none has both a watch time and a usable video length" in out
    assert "No video has a usable view for a retention curve." in out
    assert "status" not in out and "no_usable_views" not in out


def test_every_note_of_the_kpi_report_is_worded_in_the_text():
    from analytics.cli.commands.kpis import _note_text
    from analytics.metrics import kpis

    notes = [getattr(kpis, n) for n in dir(kpis) if n.startswith("NOTE_")]
    notes += [f"external_failed:{k.name}" for k in kpis.EXTERNAL_KPIS]
    notes = [f"{n}:3:8" if n == kpis.NOTE_COURSE_STILL_LEARNING else n for n in notes if n != kpis.NOTE_NOT_RECORDED]
    notes += [f"{kpis.NOTE_NOT_RECORDED}:{kind}" for kind in kpis.RECORDED_BY]
    assert len(notes) >= 7
    for note in notes:
        text = _note_text(note)
        assert " " in text and "_failed" not in text and text != note, note


def test_what_the_data_does_not_record_is_said_in_one_line():
    from analytics.cli.commands.kpis import _note_lines

    lines = _note_lines(("not_recorded:follows", "no_spend", "not_recorded:clicks"))
    assert len(lines) == 2 and lines[0].startswith("  note: no spend uploaded")
    assert lines[1].endswith("what they count: Follow rate (follows); Click-through rate (clicks)")
