"""Anomaly alerts: the STL band on a synthetic series, the planted incidents, the false-alarm rate, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analytics.cli.main import main
from analytics.metrics.alerts import (
    DIGEST_FOLDER,
    DigestWriter,
    expected_band,
    latest_digest,
    monitor,
    write_digest,
)
from analytics.query.filters import Filters
from analytics.sample import load_sample, planted_incidents
from analytics.store.storage import _STORES, Store
from dashboard.change_text import digest_markdown
from tests.helpers import INCIDENTS_SAMPLE as SAMPLE

#: The last 30 days of the sample: every incident lies inside, with 30 days of history before.
WINDOW = Filters(dt.date(2026, 10, 1), dt.date(2026, 10, 30))
#: Share of judged points outside the band on the incident-free sample (docs/explain.md quotes it).
FALSE_ALARM_BOUND = 0.015


def test_the_band_follows_weekdays_and_trend_and_flags_only_the_spike():
    rng = np.random.default_rng(3)
    days = pd.date_range("2026-01-05", periods=70, freq="D").date
    weekly = np.tile([100, 100, 100, 100, 95, 130, 140], 10)
    y = weekly + np.linspace(0, 30, 70) + rng.normal(0, 3, 70)
    y[60] -= 40  # a planted drop on one day
    band = expected_band(pd.Series(y, index=days), z=5)
    outside = band[(band["value"] < band["low"]) | (band["value"] > band["high"])]
    assert list(outside.index) == [days[60]]
    assert band.loc[days[61], "expected"] == pytest.approx(weekly[61] + 30 * 61 / 69, abs=6)


def test_a_short_history_gives_no_band():
    assert expected_band(pd.Series(np.ones(20))) is None


@pytest.fixture(scope="module")
def stores(tmp_path_factory, incidents_db):
    import shutil

    folder = tmp_path_factory.mktemp("alerts")
    (folder / "incidents").mkdir()
    shutil.copy(incidents_db, folder / "incidents" / "db.duckdb")
    out = {"incidents": Store(folder / "incidents" / "db.duckdb")}
    out["clean"] = Store(folder / "clean" / "db.duckdb")
    load_sample(out["clean"], **SAMPLE, incidents=False)
    yield out
    for s in out.values():
        s.close()


@pytest.fixture(scope="module")
def incident_report(stores):
    return monitor(stores["incidents"], WINDOW, explain_alerts=False)


def _days(incident):
    return {dt.date.fromisoformat(d) for d in incident["days"]}


def _flagged(report, kpi, segment):
    return {a.day for a in report.alerts if a.kpi == kpi and dict(a.segment) == segment}


def test_alerts_find_the_ctr_collapse_days(incident_report):
    collapse = next(i for i in planted_incidents(**SAMPLE) if i["name"] == "ctr_collapse")
    assert _days(collapse) <= _flagged(incident_report, "ctr", {"channel": "kuaishou"})


def test_alerts_find_the_campaign_surge_days(incident_report):
    surge = next(i for i in planted_incidents(**SAMPLE) if i["name"] == "campaign_surge")
    assert _days(surge) <= _flagged(incident_report, "active_users", {"channel": "douyin"})
    assert _days(surge) <= _flagged(incident_report, "spend", {"channel": "douyin"})


def test_alerts_per_creator_find_the_completion_drop_days(stores):
    drop = next(i for i in planted_incidents(**SAMPLE) if i["name"] == "completion_drop")
    report = monitor(stores["incidents"], WINDOW, ["completion_rate"], segments=["creator"], explain_alerts=False)
    assert _days(drop) <= _flagged(report, "completion_rate", {"creator": drop["value"]})


def test_false_alarms_on_incident_free_data_stay_under_the_stated_rate(stores):
    report = monitor(stores["clean"], WINDOW, explain_alerts=False)
    assert report.points > 2500
    rate = len(report.alerts) / report.points
    print(f"false alarms: {len(report.alerts)} of {report.points} judged points ({rate:.2%})")
    assert rate <= FALSE_ALARM_BOUND
    ratios = [a for a in report.alerts if a.kpi in ("ctr", "conversion", "completion_rate")]
    assert len(ratios) <= 2  # the rates the incidents move are almost never flagged without one


def test_an_overall_alert_is_explained_by_the_planted_cause(stores):
    collapse = next(i for i in planted_incidents(**SAMPLE) if i["name"] == "ctr_collapse")
    first = min(_days(collapse))
    report = monitor(stores["incidents"], Filters(first, first), ["ctr"])
    kuaishou = next(a for a in report.alerts if dict(a.segment) == {"channel": "kuaishou"})
    assert kuaishou.explanation  # within kuaishou every campaign and category fell
    assert kuaishou.value < kuaishou.low


def _copy(store, folder):
    """A copy of ``store``'s file (a second connection in this process may not open the same file)."""
    import shutil

    store.query("CHECKPOINT")
    target = folder / "data" / "copy.duckdb"
    target.parent.mkdir(parents=True)
    shutil.copy(store.path, target)
    return str(target)


def test_alerts_json_and_exit_status(stores, tmp_path, capsys):
    db = _copy(stores["incidents"], tmp_path)
    args = ["--db", db, "--json", "alerts", "--from", "2026-10-13", "--to", "2026-10-15", "--kpi", "ctr",
            "--no-explain"]
    _STORES.clear()
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "ok" and doc["alerts"]
    alert = doc["alerts"][0]
    assert {"kpi", "day", "value", "expected", "low", "high", "segment", "explanation"} <= set(alert)
    assert alert["segment"] == {"channel": "kuaishou"}
    assert alert["low"] <= alert["expected"] <= alert["high"]
    assert main([*args, "--fail-on-alert", "--digest", str(tmp_path / "digests")]) == 3
    capsys.readouterr()
    path, saved = latest_digest(tmp_path / "digests")
    assert path.name == "alerts-2026-10-15.json" and saved["alerts"] == doc["alerts"]
    markdown = path.with_suffix(".md").read_text(encoding="utf-8")
    # the digest is for people: KPI, series and values in words, never machine names
    assert markdown.startswith("# Reelytics alerts 2026-10-13 .. 2026-10-15\n")
    assert "| 2026-10-13 | Click-through rate | Channel: Kuaishou | " in markdown
    assert "ctr" not in markdown and "channel=" not in markdown
    zh = digest_markdown(saved, "zh")
    assert zh.startswith("# Reelytics 告警 2026-10-13 至 2026-10-15\n") and "| 日期 | 指标 | 分组 |" in zh
    quiet = ["--db", db, "alerts", "--from", "2026-10-01", "--to", "2026-10-03", "--kpi", "views", "--no-explain",
             "--segment", "variant", "--fail-on-alert"]
    assert main(quiet) == 0
    _STORES.clear()


def test_while_another_process_holds_the_database_the_cli_reads_the_digest(sample_db_copy, capsys):
    db = sample_db_copy
    s = Store(db)
    writer = DigestWriter(s, db.parent / DIGEST_FOLDER, "Asia/Shanghai", digest_markdown)
    written = writer.run_once()
    assert written is not None and writer.run_once() is None  # one digest per day
    s.close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        _STORES.clear()
        assert main(["--db", str(db), "--json", "alerts"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["source"].endswith("alerts-2026-09-28.json")
        assert doc["window"]["to"] == "2026-09-28"
    finally:
        holder.kill()
        holder.wait()
        _STORES.clear()


def test_write_digest_replaces_the_files_whole(tmp_path, stores):
    report = monitor(stores["incidents"], Filters(dt.date(2026, 10, 13), dt.date(2026, 10, 13)), ["ctr"],
                     explain_alerts=False)
    paths = write_digest(report, tmp_path, digest_markdown)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alerts-2026-10-13.json", "alerts-2026-10-13.md"]
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["alerts"] == report.to_dict()["alerts"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kpi", "nope"], "unknown KPI 'nope'"),
        (["--segment", "planet"], "cannot break down by 'planet'"),
        (["--z", "0"], "z must be a positive number"),
        (["--to", "2026-02-30"], "--to expects a date"),
    ],
)
def test_cli_rejects_bad_input_with_one_line(tmp_path, capsys, argv, message):
    db = tmp_path / "data" / "x.duckdb"
    s = Store(db)
    load_sample(s, users=40, days=5, seed=3)
    s.close()
    _STORES.clear()
    try:
        assert main(["--db", str(db), "alerts", *argv]) == 2
    finally:
        _STORES.clear()
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
