"""The bad-input corpus: each malformed file gives a clear error or warning, and the database keeps
exactly what it held before (or gains only the good rows, where the file has some)."""

from __future__ import annotations

import pytest

from analytics.errors import BadInput
from analytics.ingest import ingest_file

GOOD = "user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05 20:00:00\n"


def snapshot(store):
    """Everything an upload can touch."""
    return (
        store.query("SELECT * FROM events ORDER BY ALL").rows,
        store.query("SELECT upload_id, kind, file_name, rows_accepted FROM uploads ORDER BY upload_id").rows,
        store.query("SELECT * FROM upload_rejects ORDER BY ALL").rows,
        store.query("SELECT * FROM meta ORDER BY key").rows,
    )


@pytest.fixture
def seeded(store):
    """A store holding one earlier upload."""
    path = store.data_dir / "earlier.csv"
    path.write_text("user_id,item_id,event_type,event_time\nold,v0,view,2026-01-01 08:00:00\n")
    ingest_file(store, path)
    return store


def _write(store, name: str, content: bytes | str) -> str:
    path = store.data_dir / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(path)


ERRORS = [
    ("empty.csv", b"", {}, "empty_file", "is empty"),
    ("blank.csv", b"\n\n  \n", {}, "empty_file", "is empty"),
    ("header_only.csv", b"user_id,item_id,event_type,event_time\n", {}, "no_rows", "header row but no data rows"),
    ("binary.csv", bytes(range(256)) * 40, {}, "binary_file", "binary"),
    ("zip.csv", b"PK\x03\x04" + b"\x00" * 100, {}, "binary_file", "zip archive"),
    ("old.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, {}, "xls_unsupported", ".xlsx or CSV"),
    # '#' is no delimiter we try: everything lands in one column and the required ones are missing.
    ("hash_delim.csv", "user_id#item_id#event_type#event_time\nu1#v1#view#2026-01-05\n", {}, "missing_columns", "delimiter"),
    ("no_user.csv", "item_id,event_type,event_time\nv1,view,2026-01-05\n", {}, "missing_columns", "required column(s) missing for events: user_id"),
    ("headerless.csv", "1,2,pv,1511544070\n", {}, "no_header", "--columns"),
    ("bad_map.csv", GOOD, {"mapping": {"nope": "user_id"}}, "bad_map", "not in the file"),
    ("bad_target.csv", GOOD, {"mapping": {"user_id": "userz"}}, "bad_map", "unknown target column"),
    ("bad_tz.csv", GOOD, {"timezone": "Mars/Base"}, "bad_timezone", "unknown time zone"),
    ("bad_kind.csv", GOOD, {"kind": "clicks"}, "bad_kind", "unknown upload kind"),
    ("gbk_wrong.csv", "user_id,item_id,event_type,event_time\n用户,v1,view,2026-01-05\n".encode("gbk"), {"encoding": "utf-8"}, "unreadable_or_rejected", ""),
]


@pytest.mark.parametrize("name,content,kwargs,code,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_unusable_file_is_refused_and_database_unchanged(seeded, name, content, kwargs, code, message):
    before = snapshot(seeded)
    path = _write(seeded, name, content)
    if code == "unreadable_or_rejected":
        # Invalid UTF-8 under an explicit utf-8: the bad line is rejected, never half-read.
        report = ingest_file(seeded, path, **kwargs)
        assert report.status == "nothing_accepted"
        assert report.rows_rejected == 1
        assert report.issue("bad_encoding") is not None
    else:
        with pytest.raises(BadInput) as err:
            ingest_file(seeded, path, **kwargs)
        assert err.value.code == code
        assert message in err.value.message
    assert snapshot(seeded) == before


def test_unparseable_timestamps_reject_every_row_and_store_nothing(seeded):
    before = snapshot(seeded)
    path = _write(seeded, "times.csv", "user_id,item_id,event_type,event_time\nu1,v1,view,yesterday\nu2,v1,view,32/13/2026\n")
    report = ingest_file(seeded, path)
    assert report.status == "nothing_accepted" and report.upload_id is None
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (2, 0, 2)
    issue = report.issue("bad_time")
    assert issue.count == 2 and issue.lines == (2, 3)
    assert "cannot read event_time yesterday" in issue.message
    assert [r.line for r in report.rejected] == [2, 3]
    assert snapshot(seeded) == before


def test_unknown_event_types_are_reported_with_counts_not_dropped_silently(seeded):
    path = _write(
        seeded,
        "types.csv",
        "user_id,item_id,event_type,event_time\nu1,v1,播放,2026-01-05\nu1,v1,teleport,2026-01-05\nu2,v1,teleport,2026-01-05\nu3,v1,gift,2026-01-06\n",
    )
    report = ingest_file(seeded, path)
    assert (report.rows_accepted, report.rows_rejected) == (1, 3)
    issue = report.issue("unknown_event_type")
    assert issue.count == 3 and issue.lines == (3, 4, 5)
    assert "'teleport': 2" in issue.message and "'gift': 1" in issue.message
    assert seeded.query("SELECT count(*) FROM upload_rejects WHERE upload_id = ?", [report.upload_id]).scalar() == 3


def test_ragged_rows_are_rejected_with_their_lines_and_the_rest_lands(seeded):
    path = _write(
        seeded,
        "ragged.csv",
        "user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05\nu2,v1\nu3,v1,view,2026-01-05,extra\nu4,v1,view,2026-01-05\n",
    )
    report = ingest_file(seeded, path)
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (4, 2, 2)
    assert report.issue("ragged_row").lines == (3, 4)
    stored = seeded.query("SELECT line, reason FROM upload_rejects WHERE upload_id = ? ORDER BY line", [report.upload_id]).rows
    assert stored == ((3, "too few fields"), (4, "too many fields"))
    assert seeded.query("SELECT list(user_id ORDER BY user_id) FROM events WHERE upload_id = ?", [report.upload_id]).scalar() == ["u1", "u4"]


def test_a_2mb_line_is_rejected_as_too_long_and_later_lines_keep_their_numbers(seeded):
    long_title = "x" * (2 * 1024 * 1024)
    path = _write(
        seeded,
        "long.csv",
        f"user_id,item_id,event_type,event_time,note\nu1,v1,view,2026-01-05,a\nu2,v1,view,2026-01-05,{long_title}\nu3,v1,bogus,2026-01-05,b\n",
    )
    report = ingest_file(seeded, path)
    assert report.rows_accepted == 1
    assert report.issue("line_too_long").lines == (3,)
    assert report.issue("unknown_event_type").lines == (4,)
    lines = seeded.query("SELECT line FROM upload_rejects WHERE upload_id = ? ORDER BY line", [report.upload_id]).rows
    assert lines == ((3,), (4,))


def test_negative_durations_are_rejected(seeded):
    path = _write(
        seeded,
        "neg.csv",
        "user_id,item_id,event_type,event_time,watch_seconds,video_seconds\n"
        "u1,v1,view,2026-01-05,-1,30\nu2,v1,view,2026-01-05,10,-30\nu3,v1,view,2026-01-05,10,30\n",
    )
    report = ingest_file(seeded, path)
    assert (report.rows_accepted, report.rows_rejected) == (1, 2)
    issue = report.issue("negative_duration")
    assert issue.count == 2 and issue.lines == (2, 3)
    assert "negative watch_seconds: -1" in issue.message


def test_formula_like_cells_are_stored_as_text_with_a_warning(seeded):
    path = _write(
        seeded,
        "formula.csv",
        'user_id,item_id,event_type,event_time,campaign\n"=HYPERLINK(""http://x"")",v1,view,2026-01-05,@SUM(A1)\nu2,v1,view,2026-01-05,-3\nu3,v1,view,2026-01-05,+cmd\n',
    )
    report = ingest_file(seeded, path)
    assert report.rows_accepted == 3
    issue = report.issue("formula_like")
    assert issue.level == "warning" and issue.count == 2 and issue.lines == (2, 4)
    stored = seeded.query("SELECT user_id, campaign FROM events WHERE upload_id = ? ORDER BY user_id", [report.upload_id]).rows
    assert stored[0] == ('=HYPERLINK("http://x")', "@SUM(A1)")


def test_same_file_twice_adds_nothing(seeded):
    path = _write(seeded, "twice.csv", GOOD)
    first = ingest_file(seeded, path)
    before = snapshot(seeded)
    again = ingest_file(seeded, path)
    assert again.status == "already_uploaded" and again.upload_id is None
    assert again.existing_upload_id == first.upload_id
    assert snapshot(seeded) == before


def test_same_rows_in_another_file_are_counted_as_duplicates(seeded):
    ingest_file(seeded, _write(seeded, "a.csv", GOOD))
    report = ingest_file(seeded, _write(seeded, "b.csv", GOOD + "u1,v1,view,2026-01-05 20:00:00\nu9,v1,view,2026-01-05 20:00:00\n"))
    assert (report.rows_read, report.rows_accepted, report.rows_duplicate) == (3, 1, 2)
    assert report.issue("duplicates_skipped").count == 2
    assert seeded.query("SELECT count(*) FROM events WHERE user_id = 'u1'").scalar() == 1


def test_gbk_file_with_chinese_headers_and_values(store):
    text = "用户ID,视频ID,行为类型,时间,观看时长(秒),渠道\n张三,视频1,播放,2026-01-05 20:00:00,12.5,抖音\n李四,视频1,购买,2026-01-05 20:05:00,,快手\n"
    path = _write(store, "gbk.csv", text.encode("gbk"))
    report = ingest_file(store, path)
    assert report.detected["encoding"] == "gb18030"
    assert report.mapping == {
        "用户ID": "user_id", "视频ID": "item_id", "行为类型": "event_type", "时间": "event_time",
        "观看时长(秒)": "watch_seconds", "渠道": "channel",
    }
    rows = store.query("SELECT user_id, item_id, event_type, event_time, watch_seconds, channel FROM events ORDER BY event_time").rows
    import datetime as dt

    assert rows == (
        ("张三", "视频1", "view", dt.datetime(2026, 1, 5, 12, 0), 12.5, "抖音"),
        ("李四", "视频1", "purchase", dt.datetime(2026, 1, 5, 12, 5), None, "快手"),
    )
    assert not any(f.name.startswith("ingest-") for f in store.staging_dir.iterdir())  # converted copy removed


def test_gb18030_only_characters_round_trip(store):
    text = "user_id,item_id,event_type,event_time\n𠀀用户,v1,view,2026-01-05\n"
    report = ingest_file(store, _write(store, "gb18030.csv", text.encode("gb18030")))
    assert report.rows_accepted == 1
    assert store.query("SELECT user_id FROM events").scalar() == "𠀀用户"


def test_utf16_with_bom_is_converted(store):
    path = _write(store, "u16.csv", ("\ufeff" + GOOD.replace("u1", "用户")).encode("utf-16-le"))
    report = ingest_file(store, path)
    assert report.detected["encoding"] == "utf-16" and report.rows_accepted == 1
    assert store.query("SELECT user_id FROM events").scalar() == "用户"


def test_utf8_bom_does_not_stick_to_the_first_header(store):
    path = _write(store, "bom.csv", b"\xef\xbb\xbf" + GOOD.encode())
    report = ingest_file(store, path)
    assert report.mapping["user_id"] == "user_id"
    assert report.detected["encoding"] == "utf-8-sig"
    assert store.query("SELECT user_id FROM events").scalar() == "u1"


@pytest.mark.parametrize("delim", [",", "\t", ";", "|"])
def test_any_common_delimiter_is_detected(store, delim):
    text = GOOD.replace(",", delim) + "u2{d}v1{d}like{d}2026-01-05 20:01:00\n".format(d=delim)
    report = ingest_file(store, _write(store, "d.txt", text))
    assert report.rows_accepted == 2
    assert report.detected["delimiter"] == ("tab" if delim == "\t" else delim)


def test_crlf_and_quoted_fields_with_delimiters(store):
    text = 'user_id,item_id,event_type,event_time,campaign\r\nu1,v1,view,2026-01-05,"spring, 50% off"\r\nu2,v1,view,2026-01-05,"say ""hi"""'
    report = ingest_file(store, _write(store, "crlf.csv", text))
    assert report.rows_accepted == 2
    assert store.query("SELECT list(campaign ORDER BY user_id) FROM events").scalar() == ["spring, 50% off", 'say "hi"']


def test_a_file_the_store_was_not_handed_is_refused(store, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text(GOOD)
    with pytest.raises(BadInput) as err:
        ingest_file(store, outside)
    assert err.value.code == "file_not_allowed"
    assert store.counts()["events"] == 0
