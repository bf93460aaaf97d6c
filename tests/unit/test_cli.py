"""The CLI contract: JSON on --json, exit 0 on success, 2 with one line on stderr for bad input."""

import json

import pytest

from analytics.cli import main


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


def test_start_up_leaves_scipy_unimported():
    """scipy is imported on first use, so listing the commands stays quick."""
    import subprocess
    import sys

    from tests.helpers import REPO

    code = (
        "import contextlib, io, sys\n"
        "from analytics import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        cli.main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
