"""``--json`` is written column by column (analytics.cli.json_output) and gives the same bytes as the
recursive writer it replaced, kept here as the oracle."""

import dataclasses
import datetime as dt
import decimal
import json
import math
import zoneinfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analytics.cli import json_output
from analytics.cli.main import main


def recursive_jsonable(value):
    """The writer the CLI used before: every cell through the same chain of type tests."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return recursive_jsonable(value.to_dict())
        return {f.name: recursive_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): recursive_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [recursive_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [recursive_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pa.Table):
        return [recursive_jsonable(r) for r in value.to_pylist()]
    if isinstance(value, np.ndarray):
        return recursive_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return recursive_jsonable(value.item())
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return value.isoformat()
    if value is pd.NaT or (value is not None and not isinstance(value, (str, int, bool)) and pd.isna(value)):
        return None
    return value


def old_bytes(payload) -> str:
    return json.dumps(recursive_jsonable(payload), ensure_ascii=False)


def test_every_column_kind_gives_the_bytes_of_the_recursive_writer():
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    frame = pd.DataFrame({
        "int": np.array([1, -2, 3], dtype="int64"),
        "float": [0.1, math.nan, math.inf],
        "ratio": [1 / 3, 2.5e-17, -0.0],
        "nullable": pd.array([1, None, 3], dtype="Int64"),
        "flag": [True, False, True],
        "text": ["a", None, "=1+1 中文"],
        "objects": pd.Series([1, None, 2], dtype=object),
        "object_floats": pd.Series([0.5, None, np.float64(-math.inf)], dtype=object),
        "mixed": pd.Series([1, 2.5, None], dtype=object),
        "decimals": pd.Series([decimal.Decimal("1.10"), None, decimal.Decimal("0.3")], dtype=object),
        "day": [dt.date(2026, 1, 5), None, dt.date(2026, 12, 31)],
        "naive": pd.to_datetime(["2026-01-05 08:00:00", "2026-01-05 08:00:01.5", "2026-02-01 00:00:00"], format="ISO8601"),
        "aware": pd.to_datetime(["2026-01-05 08:00:00", "2026-01-06 00:00:00", "2026-01-07 09:30:00"]).tz_localize(shanghai),
        "numpy_in_objects": pd.Series([np.int64(7), np.float64(0.25), None], dtype=object),
        "lists": pd.Series([[1, math.nan], [], None], dtype=object),
        3: ["non-text", "column", "name"],
    })
    arrow = pa.table({
        "int": pa.array([1, None, 3], pa.int64()),
        "float": pa.array([0.1, math.nan, math.inf]),
        "nulls": pa.array([0.5, None, -0.0]),
        "text": pa.array(["a", None, "=1+1 中文"], pa.large_string()),
        "day": [dt.date(2026, 1, 5), None, dt.date(2026, 12, 31)],
        "naive": pa.array([dt.datetime(2026, 1, 5, 8), None, dt.datetime(2026, 2, 1, 0, 0, 1, 500000)]),
    })
    payload = {"rows": frame, "empty": frame.head(0), "n": np.int64(4), "x": np.float32(0.5), "when": dt.date(2026, 1, 5),
               "nested": [{"t": frame.iloc[:1, :3]}], "nan": math.nan, "arrow": arrow, "arrow_empty": arrow.slice(0, 0)}
    assert json_output.dumps(payload) == old_bytes(payload)


def test_a_missing_timestamp_is_null_where_the_recursive_writer_wrote_nat():
    frame = pd.DataFrame({"at": pd.to_datetime(["2026-01-05", None])})
    assert json_output.dumps(frame) == '[{"at": "2026-01-05T00:00:00"}, {"at": null}]'
    assert old_bytes(frame) == '[{"at": "2026-01-05T00:00:00"}, {"at": "NaT"}]'


@pytest.mark.parametrize("argv", [
    ["kpis", "--all", "--series"],
    ["kpis", "--all", "--by", "video", "--limit", "40"],
    ["funnel", "--steps", "view,click,purchase", "--window", "1d", "--by", "channel"],
    ["roi"],
    ["retention", "--day", "1"],
])
def test_commands_print_the_bytes_of_the_recursive_writer(sample_db_copy, capsys, monkeypatch, argv):
    seen = []
    dumps = json_output.dumps

    def recording(value, indent=None):
        seen.append(value)
        return dumps(value, indent)

    monkeypatch.setattr(json_output, "dumps", recording)
    assert main(["--db", str(sample_db_copy), "--json", *argv]) == 0
    out = capsys.readouterr().out
    assert len(seen) == 1 and out == old_bytes(seen[0]) + "\n"
    assert json.loads(out)


def test_json_is_written_without_the_text_table(sample_db_copy, capsys, monkeypatch):
    """``--json`` never builds the text table it does not print."""
    from analytics.cli import text_output

    def refuse(*args, **kwargs):
        raise AssertionError("a text table was built for --json")

    monkeypatch.setattr(text_output, "table", refuse)
    monkeypatch.setattr("analytics.cli.commands.kpis.table", refuse, raising=False)
    monkeypatch.setattr("analytics.cli.commands.roi.table", refuse, raising=False)
    for argv in (["kpis", "--all", "--by", "video"], ["roi"]):
        assert main(["--db", str(sample_db_copy), "--json", *argv]) == 0
        assert json.loads(capsys.readouterr().out)["rows"]
