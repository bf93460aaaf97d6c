"""Exports: formula injection is neutralised in CSV and Excel, the applied filters travel with the file."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.export import (
    FORMULA_PREFIXES,
    neutralise,
    safe_frame,
    to_csv_bytes,
    to_excel_bytes,
)
from analytics.query.filters import Filters

DANGEROUS = st.sampled_from(list(FORMULA_PREFIXES))
TEXT = st.one_of(st.text(max_size=20), st.builds(lambda p, t: p + t, DANGEROUS, st.text(max_size=20)))


def _csv_rows(data: bytes) -> tuple[list[str], list[list[str]]]:
    """Leading ``#`` lines and the rows, read the way a spreadsheet splits them (CR or LF ends a line)."""
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = text[1:].split("\n")
    comments = []
    while lines and lines[0].startswith("#"):
        comments.append(lines.pop(0))
    body = "\n".join(lines)
    return comments, list(csv.reader(io.StringIO(body, newline="")))


def _xlsx(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


@settings(max_examples=60)
@given(st.lists(TEXT, min_size=1, max_size=8))
def test_no_text_cell_can_start_a_formula(values):
    df = pd.DataFrame({"name": values, "n": range(len(values))})
    _, rows = _csv_rows(to_csv_bytes(df))
    assert rows[0] == ["name", "n"]
    for original, row in zip(values, rows[1:]):
        assert not row[0].startswith(FORMULA_PREFIXES)
        expected = "'" + original if original.startswith(FORMULA_PREFIXES) else original
        assert row[0] == expected.replace("\r\n", "\n").replace("\r", "\n")  # line breaks kept, quoted
    sheet = _xlsx(to_excel_bytes(df))["data"]
    for (cell, number) in sheet.iter_rows(min_row=2):
        assert cell.data_type != "f" and number.data_type == "n"
        assert cell.value is None or not str(cell.value).startswith(FORMULA_PREFIXES)


@settings(max_examples=40)
@given(st.text(max_size=10), DANGEROUS, st.text(max_size=10))
def test_control_characters_never_unmask_a_formula_in_excel(prefix_noise, prefix, rest):
    noise = "".join(chr(c) for c in (1, 2, 11, 31) if chr(c) in prefix_noise) or "\x01"
    df = pd.DataFrame({"name": [noise + prefix + rest]})
    value = _xlsx(to_excel_bytes(df))["data"]["A2"].value
    assert value is not None and not value.startswith(FORMULA_PREFIXES)


def test_numbers_stay_numbers_and_text_numbers_are_neutralised():
    df = pd.DataFrame({"revenue": [-30.5, 12.0], "code": ["-5", "+86 138"]})
    _, rows = _csv_rows(to_csv_bytes(df))
    assert rows[1] == ["-30.5", "'-5"] and rows[2] == ["12.0", "'+86 138"]
    sheet = _xlsx(to_excel_bytes(df))["data"]
    assert sheet["A2"].value == -30.5 and sheet["B2"].value == "'-5"


def test_column_names_and_categoricals_are_neutralised():
    df = pd.DataFrame({"=SUM(A1)": pd.Categorical(["@cmd", "ok"])})
    out = safe_frame(df)
    assert list(out.columns) == ["'=SUM(A1)"] and list(out.iloc[:, 0]) == ["'@cmd", "ok"]


def test_filters_are_written_into_the_csv():
    filters = Filters(channels=("douyin", "=evil"), campaigns=("春季",)).describe()
    comments, rows = _csv_rows(to_csv_bytes(pd.DataFrame({"a": [1]}), filters, title="kpis_by_channel"))
    assert comments[0] == "# kpis_by_channel"
    assert '# filter channel=["douyin", "=evil"]' in comments
    assert '# filter campaign=["春季"]' in comments
    assert "# filter timezone=\"Asia/Shanghai\"" in comments
    assert rows == [["a"], ["1"]]


def test_a_title_cannot_break_out_of_its_comment_line():
    comments, rows = _csv_rows(to_csv_bytes(pd.DataFrame({"a": [1]}), title="x\n=cmd()"))
    assert comments == ["# x =cmd()"] and rows[0] == ["a"]


def test_filters_are_written_into_the_excel_file():
    filters = Filters(channels=("douyin",), campaigns=("=evil",)).describe()
    book = _xlsx(to_excel_bytes(pd.DataFrame({"a": ["x"]}), filters, title="=title"))
    assert book.sheetnames == ["data", "filters"]
    meta = {row[0]: row[1] for row in book["filters"].iter_rows(min_row=2, values_only=True)}
    assert meta["title"] == "'=title"
    assert json.loads(meta["channel"]) == ["douyin"]
    assert json.loads(meta["campaign"]) == ["=evil"]  # JSON text starts with "[": not a formula
    assert meta["timezone"] == '"Asia/Shanghai"'


def test_neutralise_leaves_non_text_alone():
    assert neutralise(-1) == -1 and neutralise(None) is None and neutralise("a=b") == "a=b"
    assert neutralise("\tx") == "'\tx" and neutralise("\rx") == "'\rx"


def test_timezone_aware_datetimes_export_to_excel():
    df = pd.DataFrame({"at": pd.to_datetime(["2026-01-05 12:00"]).tz_localize("Asia/Shanghai")})
    assert _xlsx(to_excel_bytes(df))["data"]["A2"].value.hour == 12


def test_a_carriage_return_inside_a_cell_cannot_start_a_new_row():
    _, rows = _csv_rows(to_csv_bytes(pd.DataFrame({"a": ["x\r=cmd()", "y"]})))
    assert rows == [["a"], ["x\n=cmd()"], ["y"]]
