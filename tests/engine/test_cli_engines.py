"""The engine contract of the CLI: every analytic command gives the same JSON with ``--engine duckdb``
and ``--engine spark`` (over the Parquet dataset ``export --parquet`` writes), on the sample data and
on a real public export ingested into a fresh database.

The commands run in this process through ``main(argv)``, so Spark runs on the one session of the test
run (tests/engine/conftest.py). Parsed JSON must be equal, except floats: they may differ by a
relative 1e-9 (absolute 1e-12 near zero), where the engines add the same numbers in another order.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil

import pytest

from analytics.cli.main import main
from analytics.store import storage
from tests.engine.conftest import forget_store
from tests.helpers import DATASETS

REES46 = DATASETS / "rees46_head" / "2019-Oct-sample.csv"
STEPS = "view,click,purchase"
#: One dimension of each query shape: an events column (campaign and variant group the same way as
#: channel), a catalog column of the event's item (category as creator), the video and the course
#: (each with its own labels and kind). Every dimension is drawn on every path in the query contract.
DIMENSIONS = ("channel", "creator", "video", "course")

#: Every analytic command and option that reaches another query shape.
SAMPLE_COMMANDS = [
    ["kpis"],
    ["kpis", "--all", "--series"],
    *[["kpis", "--all", "--by", dim] for dim in DIMENSIONS],
    ["funnel", "--steps", STEPS],
    ["funnel", "--steps", STEPS, "--mode", "strict", "--hold", "item_id", "--by", "channel", "--touch", "last"],
    ["funnel", "--steps", STEPS, "--mode", "any", "--count", "totals", "--period", "week"],
    ["funnel", "--steps", "view[watch_ratio>=0.5],click[channel=douyin],purchase", "--window", "14d",
     "--by", "category", "--step-windows", "1h,7d", "--min-segment", "5"],
    ["funnel", "--steps", STEPS, "--list", "dropped", "--at-step", "2"],
    ["completion", "--creator", "CREATOR"],
    ["completion", "--video", "VIDEO", "--step", "10"],
    ["completion", "--courses", "--by", "video", "--count-starts"],
    ["completion", "--courses", "--by", "variant"],
    ["retention", "--day", "1", "--day", "7"],
    ["retention", "--cohort", "first_purchase", "--period", "week", "--mode", "on_or_after"],
    ["retention", "--measure", "revenue", "--periods", "4"],
    ["timing", "--outcome", "views"],
    ["timing", "--outcome", "purchases"],
    ["roi", "--level", "channel"],
    ["roi", "--level", "campaign_channel"],
    ["ab"],
    ["ab-plan", "--baseline", "0.05", "--mde", "0.1"],
    ["explain", "--kpi", "conversion", "--by", "channel", "--by", "creator"],
    ["alerts", "--no-explain"],
    ["segments", "--k", "3"],
]

#: The same on an uploaded real file (REES46: views, carts and purchases with props such as brand).
REAL_COMMANDS = [
    ["kpis", "--all"],
    ["kpis", "--all", "--by", "props.brand"],
    ["funnel", "--steps", "view,add_to_cart,purchase", "--window", "1d"],
    ["retention", "--period", "day", "--periods", "2"],
    ["timing"],
    ["explain", "--kpi", "views", "--from", "2019-10-01", "--to", "2019-10-01"],
]


def _run(db, engine: str, argv: list[str], *options: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["--db", str(db), "--engine", engine, *options, "--json", *argv])
    return status, out.getvalue(), err.getvalue()


def _differences(a, b, where: str = "$") -> list[str]:
    if isinstance(a, float) or isinstance(b, float):
        same = (
            isinstance(a, (int, float))
            and isinstance(b, (int, float))
            and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        )
        return [] if same else [f"{where}: {a!r} != {b!r}"]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys differ: {sorted(a.keys() ^ b.keys())}"]
        return [d for key in a for d in _differences(a[key], b[key], f"{where}.{key}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} rows != {len(b)} rows"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def _same_on_both_engines(db, argv: list[str], *spark_options: str) -> None:
    duck, spark = _run(db, "duckdb", argv), _run(db, "spark", argv, *spark_options)
    assert duck[0] == 0, duck[2]
    assert spark[0] == 0, spark[2]
    if argv[0] == "funnel" and "--list" in argv:  # CSV of users: the same rows
        assert duck[1].splitlines()[0] == spark[1].splitlines()[0]
        assert sorted(duck[1].splitlines()[1:]) == sorted(spark[1].splitlines()[1:]) and duck[1].count("\n") > 1
        return
    differences = _differences(json.loads(duck[1]), json.loads(spark[1]))
    assert not differences, differences[:5]


def _export(db) -> None:
    status, out, err = _run(db, "duckdb", ["export", "--parquet"])
    assert status == 0, err
    assert json.loads(out)["rows"]["events"] > 0


@pytest.fixture(scope="module")
def sample_cli(sample_db, tmp_path_factory):
    """A copy of the sample database with its Parquet dataset next to it (the default --spark-data)."""
    db = tmp_path_factory.mktemp("cli_engines") / "sample.duckdb"
    shutil.copy(sample_db, db)
    _export(db)
    yield db
    forget_store(db)


def _filled(argv: list[str], db) -> list[str]:
    """``argv`` with CREATOR and VIDEO replaced by a creator and a video of the sample."""
    if "CREATOR" not in argv and "VIDEO" not in argv:
        return argv
    store = storage.open_store(db)
    views = store.execute(store.table("events").filter(lambda e: e.event_type == "view").item_id.value_counts())
    video = views.sort_values(["item_id_count", "item_id"], ascending=[False, True]).item_id.iloc[0]
    items = store.table("items")
    creator = store.execute(items.filter(items.item_id == video).select("creator")).creator.iloc[0]
    return [{"CREATOR": creator, "VIDEO": video}.get(a, a) for a in argv]


@pytest.mark.parametrize("argv", SAMPLE_COMMANDS, ids=" ".join)
def test_every_analytic_command_gives_the_same_json_on_spark(sample_cli, spark, argv):
    _same_on_both_engines(sample_cli, _filled(argv, sample_cli))


@pytest.mark.realdata
@pytest.mark.skipif(not REES46.is_file(), reason=f"real dataset {REES46} is absent")
def test_an_uploaded_real_file_gives_the_same_json_on_spark(tmp_path, spark):
    db = tmp_path / "data" / "rees46.duckdb"
    try:
        status, _, err = _run(db, "duckdb", ["ingest", str(REES46)])
        assert status == 0, err
        _export(db)
        for argv in REAL_COMMANDS:
            _same_on_both_engines(db, argv)
    finally:
        forget_store(db)


def test_spark_connect_gives_the_same_json(sample_cli, spark_connect_url):
    """Through a Spark Connect server on loopback (the test run's own, started with the session)."""
    try:
        for argv in (["kpis", "--all", "--by", "channel"], ["funnel", "--steps", STEPS, "--mode", "strict"], ["retention"]):
            _same_on_both_engines(sample_cli, argv, "--spark-url", spark_connect_url)
    finally:
        # A Spark Connect client marks the whole process as remote (SPARK_CONNECT_MODE_ENABLED), which
        # would send the later tests' classic session through Connect: close the client, clear the mark.
        from analytics.store import spark as spark_store

        for key in [k for k in spark_store._SOURCES if str(k[1]).startswith("sc://")]:
            spark_store._SOURCES.pop(key).session.stop()
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)


def test_store_commands_are_refused_on_spark_with_one_line(sample_cli):  # before Spark starts
    for argv in (["remove-upload", "1"], ["uploads"], ["rejects", "1"]):
        status, _, err = _run(sample_cli, "spark", argv)
        assert status == 2
        assert err.strip().count("\n") == 0 and "does not run on Spark" in err and "export --parquet" in err


def test_bad_engine_settings_are_one_line_errors(sample_cli, tmp_path):
    cases = [
        (["--engine", "sparkle", "kpis"], "unknown engine 'sparkle'"),
        (["--engine", "spark", "--spark-url", "yarn", "kpis"], "unknown Spark URL 'yarn'"),
        (["--engine", "spark", "--spark-data", str(tmp_path / "none"), "kpis"], "no Reelytics Parquet dataset"),
    ]
    for argv, message in cases:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            assert main(["--db", str(sample_cli), *argv]) == 2
        assert message in err.getvalue() and err.getvalue().strip().count("\n") == 0


def test_export_replaces_a_dataset_whole_and_never_a_foreign_folder(sample_cli, tmp_path):
    target = tmp_path / "pq"
    for _ in range(2):  # the second export replaces the first
        status, _, err = _run(sample_cli, "duckdb", ["export", "--parquet", str(target)])
        assert status == 0, err
    # nothing left behind: the link, its lock, the current version and the one it replaced
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[-1] == "pq" and target.is_symlink() and names[0] == ".pq.lock"
    assert len(names) == 4 and all(n.startswith(".pq.v-") for n in names[1:3])
    assert os.path.realpath(target) in {str(tmp_path / n) for n in names[1:3]}
    assert sorted(p.name for p in target.iterdir()) == ["events", "items", "meta", "spend", "upload_rejects", "uploads"]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    status, _, err = _run(sample_cli, "duckdb", ["export", "--parquet", str(foreign)])
    assert status == 2 and "not a Reelytics Parquet dataset" in err
    assert (foreign / "notes.txt").read_text() == "keep me"
