"""The CSV the CLI prints (``recommend --all``, ``segments --csv``, ``audience --csv``) goes through
the one neutralising writer, :func:`analytics.export.csv_text`: no cell can start a formula.

The commands' computations are replaced by fixed results here: what is checked is the writing."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest

from analytics.cli.main import main
from analytics.export import FORMULA_PREFIXES, csv_text
from analytics.store import storage

EVIL = ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+cmd", "-cmd|' /C calc'!A0", "\tTAB", "\rCR"]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "x.duckdb"
    yield path
    opened = storage._STORES.pop(path.resolve(), None)
    if opened is not None:
        opened.close()


def _cells(text: str) -> list[str]:
    # A spreadsheet splits rows at CR as well as LF.
    rows = list(csv.reader(io.StringIO(text.replace("\r\n", "\n"), newline="")))
    return [c for r in rows for c in r]


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _assert_safe(text: str) -> None:
    cells = _cells(text)
    assert cells, text
    assert not [c for c in cells if c.startswith(FORMULA_PREFIXES) and not _number(c)], text
    for bad in EVIL:
        assert "'" + bad.replace("\r", "\n") in cells or "'" + bad in text


def test_csv_text_neutralises_text_and_keeps_numbers():
    df = pd.DataFrame({"user": EVIL, "score": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0]})
    text = csv_text(df, float_format="%.6g")
    _assert_safe(text)
    assert "-1.5" in text.splitlines()[1]  # a negative number stays a number


def test_segments_csv(db, capsys, monkeypatch):
    users = pd.DataFrame({"user_id": EVIL, "segment": [1] * 6, "views": [1.0] * 6})
    fake = SimpleNamespace(users=users, segments=(), to_dict=lambda: {"status": "ok", "segments": []})
    monkeypatch.setattr("analytics.recsys.segments.segment_users", lambda *a, **k: fake)
    assert main(["--db", str(db), "segments", "--csv"]) == 0
    _assert_safe(capsys.readouterr().out)


def test_audience_csv(db, capsys, monkeypatch):
    frame = pd.DataFrame({"rank": range(1, 7), "user": EVIL, "score": [0.5] * 6})
    fake = SimpleNamespace(to_frame=lambda: frame, to_dict=lambda: {"item": "x"})
    monkeypatch.setattr("analytics.cli.commands.audience.model_from_args", lambda a, c: SimpleNamespace(fingerprint="f", device="cpu"))
    monkeypatch.setattr("analytics.recsys.audiences.item_audience", lambda *a, **k: fake)
    assert main(["--db", str(db), "audience", "--item", "x", "--csv"]) == 0
    _assert_safe(capsys.readouterr().out)


def test_recommend_all_csv(db, capsys, monkeypatch):
    table = pa.table({"user": EVIL, "rank": list(range(1, 7)), "item": EVIL[::-1], "score": [0.1] * 6})
    model = SimpleNamespace(recommend_all=lambda k, filter_seen=True: table)
    monkeypatch.setattr("analytics.cli.commands.recommend.model_from_args", lambda a, c: model)
    assert main(["--db", str(db), "recommend", "--all", "--k", "3"]) == 0
    _assert_safe(capsys.readouterr().out)
