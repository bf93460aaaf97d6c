"""Ingest the real public exports in ../shared/datasets through the library, the CLI and the Data page.

Expected counts come from the datasets' README and are re-derived independently here with the
``csv`` module where the README does not state them.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil

import pytest

from analytics.cli.main import main as cli
from analytics.ingest import ingest_file
from analytics.store.storage import Store, open_store
from dashboard.markdown_text import plain
from tests.helpers import DATASETS, open_page

pytestmark = pytest.mark.realdata
if not DATASETS.is_dir():
    pytest.skip(f"the public datasets folder {DATASETS.name} is absent", allow_module_level=True)

TAOBAO = DATASETS / "taobao_userbehavior_head" / "UserBehavior_head.csv"
KUAIRAND = DATASETS / "kuairand27k_subset" / "processed_standard_kcore_15.tsv"
REES46 = DATASETS / "rees46_head" / "2019-Oct-sample.csv"
VIDEOS = DATASETS / "kuairand_pure_side" / "video_features_basic_pure.csv"
TAOBAO_COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]


def _store(tmp_path, *files) -> Store:
    return Store(tmp_path / "data" / "real.duckdb", read_paths=list(files))


def _types(store) -> dict[str, int]:
    return dict(store.query("SELECT event_type, count(*) FROM events GROUP BY ALL").rows)


def test_taobao_headerless_epoch_seconds(tmp_path):
    store = _store(tmp_path, TAOBAO)
    report = ingest_file(
        store, TAOBAO, columns=TAOBAO_COLUMNS, expected_from=dt.date(2017, 11, 25), expected_to=dt.date(2017, 12, 3)
    )
    assert (report.rows_read, report.rows_accepted, report.rows_rejected, report.rows_duplicate) == (84_475, 84_475, 0, 0)
    assert _types(store) == {"view": 75_872, "add_to_cart": 4_497, "favorite": 2_356, "purchase": 1_750}
    out_of_range = report.issue("time_out_of_range")
    assert out_of_range.level == "warning" and out_of_range.count == 35  # reported, not rejected
    first = store.query("SELECT event_time FROM events WHERE user_id = '1' AND item_id = '2268318'").scalar()
    assert first == dt.datetime(2017, 11, 24, 17, 21, 10)  # 1511544070 as UTC
    assert store.query("SELECT count(*) FROM events WHERE props['category_id'] = '2520377'").scalar() > 0


def _kuairand_expected():
    with open(KUAIRAND, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    distinct = {tuple(r.values()) for r in rows}
    flags = {f: sum(r[f] == "1" for r in rows) for f in ("is_follow", "is_comment", "is_forward", "label")}
    return rows, len(rows) - len(distinct), flags


def test_kuairand_tab_separated_wide_rows_with_millisecond_durations(tmp_path):
    rows, duplicate_lines, flags = _kuairand_expected()
    store = _store(tmp_path, KUAIRAND)
    report = ingest_file(store, KUAIRAND)
    assert report.detected["delimiter"] == "tab"
    assert (report.rows_read, report.rows_rejected) == (41_828, 0)
    types = _types(store)
    # One view per source row; the file holds exact duplicate lines, which are skipped and counted.
    assert duplicate_lines == 116
    assert types["view"] + duplicate_lines == 41_828
    assert report.rows_accepted + report.rows_duplicate == 41_828 + flags["is_follow"] + flags["is_comment"] + flags["is_forward"]
    assert set(types) == {"view", "follow", "comment", "share"}
    first = rows[0]
    stored = store.query(
        "SELECT event_time, watch_seconds, video_seconds FROM events WHERE event_type = 'view' AND user_id = ? AND item_id = ? AND props['time_ms'] IS NULL AND props['timestamp'] = ?",
        [first["user_id"], first["video_id"], first["timestamp"]],
    ).rows[0]
    assert stored == (
        dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(first["time_ms"])),
        int(first["play_time_ms"]) / 1000,
        int(first["duration_ms"]) / 1000,
    )
    # the text `timestamp` column is UTC and agrees with time_ms to the second
    assert stored[0].replace(microsecond=0) == dt.datetime.fromisoformat(first["timestamp"])
    assert store.query("SELECT count(*) FROM events WHERE event_type = 'view' AND video_seconds = 0").scalar() > 0


def test_kuairand_label_mapped_as_likes(tmp_path):
    _rows, _dups, flags = _kuairand_expected()
    store = _store(tmp_path, KUAIRAND)
    ingest_file(store, KUAIRAND, mapping={"label": "like"})
    likes = _types(store)["like"]
    assert 0 < flags["label"] - likes <= 116  # only exact duplicate lines are dropped


def test_rees46_utc_suffixed_times(tmp_path):
    store = _store(tmp_path, REES46)
    report = ingest_file(store, REES46, timezone="Asia/Shanghai")
    assert (report.rows_accepted, report.rows_rejected) == (1_000, 0)
    assert _types(store) == {"view": 987, "purchase": 10, "add_to_cart": 3}
    assert store.query("SELECT min(event_time) FROM events").scalar() == dt.datetime(2019, 10, 1, 0, 0)  # not shifted
    assert report.mapping["price"] == "revenue"  # the price a purchase carries is its revenue
    assert store.query("SELECT sum(revenue)::DOUBLE FROM events WHERE event_type = 'purchase'").scalar() == pytest.approx(2387.84)
    assert store.query("SELECT props['user_session'] FROM events WHERE user_id = '541312140' LIMIT 1").scalar() == (
        "72d76fde-8bb3-4e00-8c23-a032dfed738c"
    )


def test_kuairand_video_catalog_durations_in_ms(tmp_path):
    store = _store(tmp_path, VIDEOS)
    report = ingest_file(store, VIDEOS, kind="items")
    assert (report.rows_accepted, report.rows_rejected) == (7_583, 0)
    assert report.mapping["video_duration"] == "duration_seconds:ms"
    row = store.query("SELECT kind, creator, duration_seconds, tags FROM items WHERE item_id = '0'").rows[0]
    assert row == ("video", "7349781", 87.433, "39")


def _cli(db, capsys, *args) -> dict:
    """``reelytics --json ...`` as a fresh process would run it: the store is opened for this command
    (with the file handed to it) and closed afterwards."""
    from analytics.store import storage

    try:
        assert cli(["--db", str(db), "--json", *args]) == 0, capsys.readouterr().err
        return json.loads(capsys.readouterr().out)
    finally:
        opened = storage._STORES.pop(db.resolve(), None)
        if opened is not None:
            opened.close()


def test_all_logs_and_the_catalog_through_the_cli(tmp_path, capsys):
    db = tmp_path / "data" / "cli.duckdb"
    runs = [
        ([str(TAOBAO), "--columns", ",".join(TAOBAO_COLUMNS)], 84_475),
        ([str(KUAIRAND), "--map", "label=like"], None),
        ([str(REES46)], 1_000),
        ([str(VIDEOS), "--kind", "items"], 7_583),
    ]
    for args, accepted in runs:
        out = _cli(db, capsys, "ingest", *args)
        assert out["status"] == "ok" and out["rows_rejected"] == 0 and isinstance(out["issues"], list)
        if accepted is not None:
            assert out["rows_accepted"] == accepted
    assert _cli(db, capsys, "ingest", str(REES46))["status"] == "already_uploaded"
    assert [u["file_name"] for u in _cli(db, capsys, "uploads")["uploads"]] == [VIDEOS.name, REES46.name, KUAIRAND.name, TAOBAO.name]
    assert _cli(db, capsys, "status")["counts"]["items"] == 7_583


PAGE_CASES = [
    (TAOBAO, "events", ",".join(TAOBAO_COLUMNS), "events", 84_475),
    (KUAIRAND, "events", "", "events", None),
    (REES46, "events", "", "events", 1_000),
    (VIDEOS, "items", "", "items", 7_583),
]


@pytest.mark.parametrize("source,kind,columns,table,accepted", PAGE_CASES, ids=[c[0].name for c in PAGE_CASES])
def test_every_log_and_the_catalog_through_the_data_page(monkeypatch, tmp_path, source, kind, columns, table, accepted):
    db = tmp_path / "data" / "page.duckdb"
    db.parent.mkdir(parents=True)
    shutil.copy(source, db.parent / source.name)
    at = open_page(monkeypatch, db, "data.py")
    at.run()
    if kind == "items":
        at.radio(key="data_kind").set_value("Catalog (videos, courses)").run()
    if columns:
        at.text_input(key="data_columns").input(columns).run()
    at.text_input(key="data_path").input(source.name).run()
    assert not at.exception
    at.button(key="data_import").click().run()
    assert not at.exception
    report = at.session_state["data_report"]
    assert report.rows_rejected == 0
    stored = open_store(db).query(f"SELECT count(*) FROM {table}").scalar()
    assert stored == report.rows_accepted
    if accepted is not None:
        assert report.rows_accepted == accepted
    else:  # KuaiRand: every source row read; exact duplicate lines skipped
        assert report.rows_read == 41_828
    # The name is escaped for Markdown: "_" would start emphasis.
    assert at.success[0].value == f"Imported {report.rows_accepted:,} rows from {plain(source.name)} (upload 1)."
