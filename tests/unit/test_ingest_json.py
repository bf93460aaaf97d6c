"""JSON exports (one object per line, or one array of them) are read as flat columns named by key path."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from analytics.errors import BadInput
from analytics.ingest import ingest_file, preview_file, readers


def _ndjson(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_an_ndjson_export_with_nested_properties_loads_by_its_key_paths(store):
    records = [
        {"event": "Video Played", "properties": {"time": 1709280000 + i, "distinct_id": f"u{i % 3}", "video_id": f"v{i}",
                                                 "$os": "iOS"}}
        for i in range(5)
    ]
    records.append({"event": "Order Completed", "properties": {"time": 1709280100, "distinct_id": "u0", "video_id": "c1",
                                                                "revenue": 19.9, "coupon": "SPRING"}})  # keys met late
    path = _ndjson(store.data_dir / "mixpanel.json", records)
    pv = preview_file(path, data_dir=store.data_dir)
    assert pv.detected["format"] == "json"
    assert pv.mapping == {"event": "event_type", "properties.time": "event_time", "properties.distinct_id": "user_id",
                          "properties.video_id": "item_id", "properties.$os": "props", "properties.revenue": "revenue",
                          "properties.coupon": "props"}
    report = ingest_file(store, path, timezone="UTC")
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (6, 6, 0)
    rows = store.query("SELECT event_type, event_time, user_id, revenue, props FROM events ORDER BY event_time").rows
    assert [r[0] for r in rows] == ["view"] * 5 + ["purchase"]
    assert rows[0][1] == dt.datetime(2024, 3, 1, 8, 0, 0)
    assert float(rows[-1][3]) == 19.9 and rows[-1][4]["properties.coupon"] == "SPRING"


def test_a_json_array_keeps_each_value_as_written_and_numbers_rejected_rows_by_record(store):
    records = [
        {"user_id": 123456789012345678901234, "event_type": "play", "event_time": "2024-03-01 08:00:00",
         "event_properties": {"video_id": "00123"}, "tags": ["a", "b"]},
        {"user_id": "u2", "event_type": "play", "event_time": "not a time", "event_properties": {"video_id": "v2"}},
        {"user_id": "u3", "event_type": "play", "event_time": "2024-03-01 08:00:02", "event_properties": {"video_id": "v3"}},
    ]
    path = store.data_dir / "amplitude.json"
    path.write_text(json.dumps(records, indent=2))
    report = ingest_file(store, path, timezone="UTC")
    assert (report.rows_accepted, report.rows_rejected) == (2, 1)
    assert report.issue("bad_time").lines == (2,)  # the second record
    rows = store.query("SELECT user_id, item_id, props FROM events ORDER BY event_time").rows
    assert rows[0][:2] == ("123456789012345678901234", "00123")  # an id of 24 digits and a leading zero kept
    assert rows[0][2]["tags"] == '["a","b"]'


def test_broken_json_is_refused_with_its_place_and_not_its_folder(store):
    path = store.data_dir / "broken.json"
    path.write_text('{"a": 1}\n{"a": 2\n{"a": 3}\n')
    with pytest.raises(BadInput) as err:
        ingest_file(store, path, timezone="UTC")
    assert err.value.code == "bad_json"
    assert "broken.json is not valid JSON" in str(err.value) and str(store.data_dir) not in str(err.value)
    assert not store.query("SELECT * FROM uploads").rows


@pytest.mark.parametrize(
    "name,content,fmt",
    [
        ("a.csv", b'{"a": 1}\n', "json"),  # an object on the first line, whatever the name
        ("a.txt", b"[\n  {", "json"),
        ("a.csv", b"[user],[item]\nu1,v1\n", "csv"),  # a bracketed header is no array
        ("a.jsonl", b"", "json"),
        ("a.csv", b"{a},b\n1,2\n", "csv"),  # a header that starts with a brace is no JSON
        ("a.csv", b"a,b\n1,2\n", "csv"),
    ],
)
def test_json_is_told_apart_from_text(tmp_path, name, content, fmt):
    path = tmp_path / name
    path.write_bytes(content)
    assert readers.detect_format(path, content) == fmt


def test_reading_and_converting_json_run_into_the_time_limit(store):
    from analytics.ingest.limits import Limits

    path = _ndjson(store.data_dir / "late.jsonl", [{"event": "view", "uid": "u1", "vid": "v1", "ts": 1709280000}])
    with pytest.raises(BadInput) as err:
        ingest_file(store, path, limits=Limits(max_convert_seconds=-1))
    assert err.value.code == "conversion_too_slow"
    assert list(store.staging_dir.iterdir()) == []


def test_a_file_readers_statement_is_interrupted_after_its_seconds(tmp_path):
    from analytics.store.storage import Interrupted, file_reader

    path = tmp_path / "any.json"
    path.write_text("{}\n")
    with pytest.raises(Interrupted), file_reader(path, seconds=0.05) as con:
        con.execute("SELECT count(*) FROM range(1000000000000000) a")  # hours of work, stopped at once
