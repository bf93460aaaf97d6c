"""Ingest on Spark (``reelytics --engine spark ingest FILE``) against the DuckDB ingest of the same files.

A fresh database and its (empty) Parquet dataset take the same two files: the first holds good rows,
rows rejected for each reason, a ragged record of each kind, exact duplicates and a column kept in
``props``; the second repeats rows already stored. The reports agree (counts, rejection issues and their
parameters, the rejected rows' reasons), and afterwards every analytic command answers the same JSON
on both engines. A failure before the switch, or a file with no valid row, leaves the dataset as it was.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from analytics.store import storage
from tests.engine.conftest import forget_store
from tests.engine.test_cli_engines import _differences, _run

HEADER = "event_time,user_id,event_type,item_id,watch_seconds,video_seconds,channel,revenue,brand"
GOOD = [
    "2026-10-01 08:00:00,u1,view,v1,30,60,douyin,,acme",
    "2026-10-01 08:05:00,u1,click,v1,,,douyin,,acme",
    "2026-10-01 08:09:00,u1,purchase,v1,,,douyin,19.90,acme",
    "2026-10-01 09:00:00,u2,view,v1,50,60,kuaishou,,",
    "2026-10-02 10:00:00,u2,view,v2,10,40,kuaishou,,zeta",
    "2026-10-02 10:01:00,u2,click,v2,,,kuaishou,,zeta",
    "2026-10-03 11:00:00,u3,view,v2,40,40,douyin,,",
    "2026-10-03 11:30:00,u3,purchase,v2,,,douyin,5.00,",
    '2026-10-04 12:00:00,u4,view,v1,12.5,60,"=cmd",,acme',
    "2026-10-08 12:00:00,u1,view,v2,20,40,douyin,,acme",
]
BAD = [
    "2026-10-01 08:00:00,,view,v1,30,60,douyin,,",  # missing_value: user_id
    "yesterday,u5,view,v1,30,60,douyin,,",  # bad_time
    "1970-01-01 00:00:00,u5,view,v1,30,60,douyin,,",  # implausible_time
    "2026-10-01 08:00:00,u5,teleport,v1,30,60,douyin,,",  # unknown_event_type
    "2026-10-01 08:00:00,u6,teleport,v1,30,60,douyin,,",
    "2026-10-01 08:00:00,u5,view,v1,abc,60,douyin,,",  # bad_number
    "2026-10-01 08:00:00,u5,view,v1,inf,60,douyin,,",  # non_finite
    "2026-10-01 08:00:00,u5,view,v1,-5,60,douyin,,",  # negative_duration
    "2026-10-01 08:00:00,u5,view,v1,30,60,douyin,," + "x" * 300,  # cell_too_long (the limit is 200 here)
    "2026-10-01 08:00:00,u5,view,v1",  # too few fields
    "2026-10-01 08:00:00,u5,view,v1,30,60,douyin,,acme,extra",  # too many fields
]
DUPLICATES = [GOOD[0], GOOD[0], GOOD[4]]  # within the file
SECOND = [GOOD[1], GOOD[2], "2026-10-09 09:00:00,u5,view,v1,60,60,douyin,,", "2026-10-09 09:03:00,u5,click,v1,,,douyin,,"]

COMMANDS = [
    ["kpis", "--all", "--by", "props.brand"],  # the props kept on both engines
    ["funnel", "--steps", "view,click,purchase", "--by", "channel"],
    ["retention", "--period", "day", "--periods", "3"],
    ["status"],
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A fresh database with its Parquet dataset (written from the empty database: the default
    ``--spark-data``); cell limit 200 bytes."""
    monkeypatch.setenv("REELYTICS_MAX_CELL_BYTES", "200")
    db = tmp_path / "data" / "fresh.duckdb"
    status, _, err = _run(db, "duckdb", ["export", "--parquet"])
    assert status == 0, err
    yield db
    forget_store(db)


def _ingest(db, engine: str, path: Path) -> dict:
    status, out, err = _run(db, engine, ["ingest", str(path)])
    assert status == 0, err
    return json.loads(out)


def _report_facts(report: dict) -> dict:
    """What both engines must agree on (Spark reads no line numbers and checks fewer warnings)."""
    skipped = {"not_checked_on_spark", "purchase_without_view", "watch_far_above_video", "time_out_of_range"}
    return {
        **{k: report[k] for k in ("status", "upload_id", "rows_read", "rows_accepted", "rows_rejected", "rows_duplicate")},
        "issues": [(i["code"], i["count"], i["params"]) for i in report["issues"] if i["code"] not in skipped],
    }


def _spark_rejects(db) -> Counter:
    from analytics.store.spark import open_spark_source

    source = open_spark_source(str(db.parent / "parquet"), "local[2]")
    frame = source.execute(source.table("upload_rejects"))
    return Counter(zip(frame.upload_id, frame.reason, frame.raw, strict=True))


def _duck_rejects(db) -> Counter:
    frame = storage.open_store(db).query("SELECT upload_id, reason, raw FROM upload_rejects").df()
    return Counter(zip(frame.upload_id, frame.reason, frame.raw, strict=True))


def _dataset_files(db) -> tuple[str, list[str]]:
    version = os.path.realpath(db.parent / "parquet")
    files = sorted(str(p.relative_to(version)) for p in Path(version).rglob("*") if p.is_file())
    return version, files


def test_ingest_on_spark_reports_like_duckdb_and_the_commands_answer_alike(fresh, tmp_path, spark):
    first = _write(fresh.parent / "first.csv", GOOD + BAD + DUPLICATES)
    second = _write(fresh.parent / "second.csv", SECOND)
    for path in (first, second):
        duck, on_spark = _ingest(fresh, "duckdb", path), _ingest(fresh, "spark", path)
        assert _report_facts(on_spark) == _report_facts(duck)
        assert on_spark["rows_read"] == on_spark["rows_accepted"] + on_spark["rows_rejected"] + on_spark["rows_duplicate"]
        codes = {i["code"] for i in on_spark["issues"]}
        assert {"not_checked_on_spark", "formula_like" if path == first else "duplicates_skipped"} <= codes
    assert _report_facts(duck)["rows_duplicate"] == 2  # the second file: two rows already stored
    errors = {i["code"] for i in on_spark["issues"] if i["level"] == "error"}
    assert errors == set()  # the second file is clean
    first_report = json.loads(_run(fresh, "duckdb", ["uploads"])[1])["uploads"]
    assert [u["rows_rejected"] for u in first_report] == [0, len(BAD)]
    assert _spark_rejects(fresh) == _duck_rejects(fresh) and len(_duck_rejects(fresh)) == len(BAD)
    assert _ingest(fresh, "spark", first)["status"] == "already_uploaded"

    for argv in COMMANDS:
        duck, on_spark = _run(fresh, "duckdb", argv), _run(fresh, "spark", argv)
        assert duck[0] == 0 and on_spark[0] == 0, (duck[2], on_spark[2])
        a, b = json.loads(duck[1]), json.loads(on_spark[1])
        if argv == ["status"]:  # the counts Spark sees; the rest describes each engine's files
            assert b["counts"] == a["counts"], (a, b)
            continue
        differences = _differences(a, b)
        assert not differences, (argv, differences[:5])


def test_a_failed_ingest_on_spark_leaves_the_dataset_as_it_was(fresh, tmp_path, spark, monkeypatch):
    from analytics.ingest import on_spark

    before = _dataset_files(fresh)
    nothing = _write(fresh.parent / "nothing.csv", BAD[:3])
    report = _ingest(fresh, "spark", nothing)
    assert report["status"] == "nothing_accepted" and report["rows_rejected"] == 3
    assert _dataset_files(fresh) == before

    def crash() -> None:
        raise OSError("disk full")

    real = on_spark.ingest_on_spark
    monkeypatch.setattr(on_spark, "ingest_on_spark", lambda *a, **k: real(*a, **k, before_switch=crash))
    with pytest.raises(OSError, match="disk full"):
        _run(fresh, "spark", ["ingest", str(_write(fresh.parent / "good.csv", GOOD))])
    assert _dataset_files(fresh) == before
    leftovers = [p.name for p in fresh.parent.iterdir() if p.name.startswith(".parquet.") and p.name != ".parquet.lock"]
    assert leftovers == [Path(before[0]).name]  # only the current version: nothing unfinished is left
