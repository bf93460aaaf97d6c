"""The bad-input corpus: each malformed file gives a clear error or warning, and the database keeps
exactly what it held before (or gains only the good rows, where the file has some). Every data row
of a file is accepted, rejected with a reason and line, or counted as a duplicate: the counts add
up on every case of the corpus. The files are generated here; none is committed."""

from __future__ import annotations

import datetime as dt
import json
import os
import zipfile

import pytest

from analytics.errors import BadInput
from analytics.ingest import Limits, ingest_file, preview_file

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
    # no header row and no column of times to name the others by: the names must be given
    ("headerless.csv", "1,2,pv,3\n", {}, "no_header", "--columns"),
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
    assert issue.params == {"column": "event_time", "example": "yesterday"}
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
    assert issue.params == {"values": [["teleport", 2], ["gift", 1]]}
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
    assert stored == ((3, "too_few_fields"), (4, "too_many_fields"))
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
    assert issue.params == {"column": "watch_seconds", "example": "-1"}


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
        ("张三", "视频1", "view", dt.datetime(2026, 1, 5, 12, 0), 12.5, "douyin"),  # the platform's channel code
        ("李四", "视频1", "purchase", dt.datetime(2026, 1, 5, 12, 5), None, "kuaishou"),
    )
    assert not any(f.name.startswith("ingest-") for f in store.staging_dir.iterdir())  # converted copy removed


def test_gb18030_only_characters_round_trip(store):
    text = "user_id,item_id,event_type,event_time\n𠀀用户,v1,view,2026-01-05\n"
    report = ingest_file(store, _write(store, "gb18030.csv", text.encode("gb18030")))
    assert report.rows_accepted == 1
    assert store.query("SELECT user_id FROM events").scalar() == "𠀀用户"


def test_a_western_european_export_is_read_as_windows_1252_not_as_gbk(store):
    """Accented Latin letters followed by ASCII also decode as GBK (``é_`` is one Chinese character),
    so they would be stored as nonsense; such a file reads as Windows-1252. GBK text, traditional
    characters (GBK's extension areas, second bytes in the ASCII range) included, stays GBK."""
    text = "user_id,item_id,event_type,event_time,campaign\nu1,café_video,view,2026-01-05,Noël\nu2,naïve,like,2026-01-05,Ça va\n"
    report = ingest_file(store, _write(store, "latin.csv", text.encode("cp1252")))
    assert report.detected["encoding"] == "cp1252" and report.rows_accepted == 2
    got = store.query("SELECT item_id, campaign FROM events ORDER BY user_id").rows
    assert got == (("café_video", "Noël"), ("naïve", "Ça va"))
    from analytics.ingest.readers import detect_encoding

    assert detect_encoding("用户,張三們這裡,購買\n".encode("gbk"), True) == "gb18030"
    assert detect_encoding("用户,张三,购买\n".encode("gbk"), True) == "gb18030"


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


# ---------------------------------------------------------------------------------------------
# Rows: every data row accepted, rejected with a reason and line, or a duplicate
# ---------------------------------------------------------------------------------------------
H = "user_id,item_id,event_type,event_time,watch_seconds\n"


def _rows(*lines: str) -> str:
    return H + "".join(f"{ln}\n" for ln in lines)


# name -> (content, {issue code: example lines})
ROW_CASES = {
    "cell_900k.csv": (
        _rows("u1,v1,view,2026-01-05,1", "u2,v1,view,2026-01-05," + "9" * (900 * 1024), "u3,v1,view,2026-01-05,2"),
        {"cell_too_long": (3,)},
    ),
    "line_20mb_in_the_middle.csv": (
        _rows("u1,v1,view,2026-01-05,1", "u2,v1,view,2026-01-05,1" + "x" * (20 << 20), "u3,v1,bogus,2026-01-05,2", "u4,v1,view,2026-01-05,3"),
        {"line_too_long": (3,), "unknown_event_type": (4,)},
    ),
    "line_2mb_quoted.csv": (
        _rows("u1,v1,view,2026-01-05,1", 'u2,v1,view,2026-01-05,"' + "a,b" * (700 << 10) + '"', "u3,v1,view,2026-01-05,2"),
        {"line_too_long": (3,)},
    ),
    "non_finite.csv": (
        _rows("u1,v1,view,2026-01-05,nan", "u2,v1,view,2026-01-05,inf", "u3,v1,view,2026-01-05,-Infinity", "u4,v1,view,2026-01-05,3"),
        {"non_finite": (2, 3, 4)},
    ),
    "negative.csv": (_rows("u1,v1,view,2026-01-05,-1", "u2,v1,view,2026-01-05,4"), {"negative_duration": (2,)}),
    "nul_in_a_cell.csv": (_rows("u1,v1,view,2026-01-05,1", "u\x002,v1,view,2026-01-05,1", "u3,v1,view,2026-01-05,1"), {"nul_byte": (3,)}),
    "years_1_and_9999.csv": (
        _rows("u1,v1,view,0001-01-01 00:00:00,1", "u2,v1,view,9999-01-01 00:00:00,1", "u3,v1,view,2026-01-05,1", "u4,v1,view,1970-01-02,1"),
        {"implausible_time": (2, 3, 5)},
    ),
    "epoch_out_of_range.csv": (
        _rows("u1,v1,view,1511544070,1", "u2,v1,view,99999999999999999999999,1", "u3,v1,view,1511544071,1", "u4,v1,view,-99999999999999999999,1"),
        {"implausible_time": (3, 5)},
    ),
    "epoch_nanoseconds.csv": (_rows("u1,v1,view,1767614400000000000,1", "u2,v1,view,1767614460000000000,1"), {}),
    "gmt.csv": (_rows("u1,v1,view,2026-01-05 12:00 GMT,1", "u2,v1,view,2026-01-05 12:00:00 GMT,1", "u3,v1,view,2026-01-05T12:00 UTC,1"), {}),
    "month_first.csv": (_rows("u1,v1,view,09/01/2026 10:00,1", "u2,v1,view,09/15/2026 10:00,1", "u3,v1,view,01/09/2026,1"), {}),
    "order_unproven.csv": (_rows("u1,v1,view,09/01/2026 10:00,1", "u2,v1,view,01/09/2026,1"), {}),
    "order_conflict.csv": (_rows("u1,v1,view,13/01/2026,1", "u2,v1,view,14/01/2026,1", "u3,v1,view,01/13/2026,1"), {"bad_time": (4,)}),
    "ragged.csv": (_rows("u1,v1,view,2026-01-05,1", "u2,v1", "u3,v1,view,2026-01-05,1,extra", "u4,v1,view,2026-01-05,1"), {"ragged_row": (3, 4)}),
    "duplicates.csv": (_rows("u1,v1,view,2026-01-05,1", "u1,v1,view,2026-01-05,1", "u1,v1,view,2026-01-05,1"), {}),
    "mixed.csv": (
        _rows("u1,v1,view,2026-01-05,1", ",v1,view,2026-01-05,1", "u3,v1,teleport,2026-01-05,1", "u4,v1,view,soon,1", "u5,v1,view,2026-01-05,abc", "u1,v1,view,2026-01-05,1"),
        {"missing_value": (3,), "unknown_event_type": (4,), "bad_time": (5,), "bad_number": (6,)},
    ),
}


def _data_rows(content: str) -> int:
    """Data rows of a generated file, counted without any reader: its non-blank lines after the header."""
    return sum(1 for line in content.split("\n")[1:] if line.strip())


@pytest.mark.parametrize("name", list(ROW_CASES))
def test_every_data_row_is_accepted_rejected_or_a_duplicate(store, name):
    content, codes = ROW_CASES[name]
    report = ingest_file(store, _write(store, name, content))
    rows = _data_rows(content)
    assert report.rows_read == rows
    assert report.rows_accepted + report.rows_rejected + report.rows_duplicate == rows
    for code, lines in codes.items():
        assert report.issue(code) is not None, code
        assert report.issue(code).lines == lines, code
    assert sum(i.count for i in report.errors) == report.rows_rejected
    if report.upload_id is not None:
        stored = store.query("SELECT count(*) FROM upload_rejects WHERE upload_id = ?", [report.upload_id]).scalar()
        assert stored == report.rows_rejected
        assert store.query("SELECT count(*) FROM events").scalar() == report.rows_accepted
    assert not any(f.name.startswith("ingest-") for f in store.staging_dir.iterdir())


def test_a_20mb_line_keeps_its_first_bytes_as_the_raw_text_and_later_lines_their_numbers(store):
    content, _ = ROW_CASES["line_20mb_in_the_middle.csv"]
    report = ingest_file(store, _write(store, "long.csv", content))
    rejects = store.query("SELECT line, reason, raw FROM upload_rejects ORDER BY line").rows
    assert [(r[0], r[1]) for r in rejects] == [(3, "line_too_long"), (4, "unknown_event_type:event_type")]
    assert rejects[0][2].startswith("u2,v1,view,2026-01-05,1xxx") and len(rejects[0][2]) < 300
    assert report.issue("line_too_long").params == {"limit": 1 << 20}
    assert store.query("SELECT list(user_id ORDER BY user_id) FROM events").scalar() == ["u1", "u4"]


def test_non_finite_watch_times_never_reach_the_table(store):
    report = ingest_file(store, _write(store, "nf.csv", ROW_CASES["non_finite.csv"][0]))
    assert report.issue("non_finite").params == {"column": "watch_seconds", "example": "nan"}
    assert store.query("SELECT list(watch_seconds) FROM events").scalar() == [3.0]


def test_a_nul_byte_rejects_its_row_and_is_never_stored(store):
    ingest_file(store, _write(store, "nul.csv", ROW_CASES["nul_in_a_cell.csv"][0]))
    assert store.query("SELECT count(*) FROM events WHERE strpos(user_id, chr(0)) > 0").scalar() == 0
    assert store.query("SELECT reason FROM upload_rejects").scalar() == "nul_byte:user_id"


def test_implausible_times_are_rejected_with_the_configured_range(store, monkeypatch):
    report = ingest_file(store, _write(store, "years.csv", ROW_CASES["years_1_and_9999.csv"][0]))
    assert report.issue("implausible_time").params == {
        "column": "event_time", "example": "0001-01-01 00:00:00", "start": "1990-01-01", "end": "2100-12-31",
    }
    assert store.query("SELECT list(event_time) FROM events").scalar() == [dt.datetime(2026, 1, 4, 16, 0)]
    monkeypatch.setenv("REELYTICS_PLAUSIBLE_FROM", "1960-01-01")
    report = ingest_file(store, _write(store, "years2.csv", ROW_CASES["years_1_and_9999.csv"][0] + "u9,v1,view,2026-01-06,1\n"))
    assert report.issue("implausible_time").lines == (2, 3)  # 1970 is plausible now


def test_one_huge_epoch_never_refuses_the_file(store):
    report = ingest_file(store, _write(store, "epochs.csv", ROW_CASES["epoch_out_of_range.csv"][0]))
    assert report.status == "ok" and report.rows_accepted == 2
    said = json.dumps(report.to_dict(), default=str)  # rejected per row, with no engine text
    assert "Conversion" not in said and "SELECT" not in said and "Error" not in said
    assert report.issue("epoch_unit").params == {"column": "event_time", "unit": "s"}


def test_nanosecond_epochs_are_read_as_nanoseconds(store):
    report = ingest_file(store, _write(store, "ns.csv", ROW_CASES["epoch_nanoseconds.csv"][0]))
    assert report.issue("epoch_unit").params == {"column": "event_time", "unit": "ns"}
    assert store.query("SELECT list(event_time ORDER BY event_time) FROM events").scalar() == [
        dt.datetime(2026, 1, 5, 12, 0), dt.datetime(2026, 1, 5, 12, 1),
    ]


def test_gmt_and_utc_suffixes_are_that_instant(store):
    report = ingest_file(store, _write(store, "gmt.csv", ROW_CASES["gmt.csv"][0]))
    assert (report.rows_accepted, report.rows_duplicate) == (3, 0)
    assert store.query("SELECT list(DISTINCT event_time) FROM events").scalar() == [dt.datetime(2026, 1, 5, 12, 0)]


def test_a_column_proving_month_first_reads_every_date_month_first(store):
    path = _write(store, "mdy.csv", ROW_CASES["month_first.csv"][0])
    pv = preview_file(path, timezone="UTC")
    assert [(n.code, n.params) for n in pv.notes] == [("date_order_proven", {"column": "event_time", "order": "mdy"})]
    report = ingest_file(store, path, timezone="UTC")
    assert report.issue("date_order_proven").level == "info"
    assert store.query("SELECT list(event_time ORDER BY user_id) FROM events").scalar() == [
        dt.datetime(2026, 9, 1, 10, 0), dt.datetime(2026, 9, 15, 10, 0), dt.datetime(2026, 1, 9),
    ]


def test_a_column_proving_neither_order_is_flagged_in_the_preview_and_the_report(store):
    path = _write(store, "dmy.csv", ROW_CASES["order_unproven.csv"][0])
    pv = preview_file(path, timezone="UTC")
    note = next(n for n in pv.notes if n.code == "date_order_assumed")
    assert (note.level, note.params) == ("warning", {"column": "event_time", "order": "dmy"})
    report = ingest_file(store, path, timezone="UTC")
    assert report.issue("date_order_assumed").level == "warning"
    assert store.query("SELECT list(event_time ORDER BY user_id) FROM events").scalar() == [
        dt.datetime(2026, 1, 9, 10, 0), dt.datetime(2026, 9, 1),
    ]


# ---------------------------------------------------------------------------------------------
# Files refused whole: a clear code, nothing stored, nothing of the file echoed from outside
# ---------------------------------------------------------------------------------------------
def test_a_header_line_over_the_line_limit_is_a_clear_refusal(seeded):
    before = snapshot(seeded)
    path = _write(seeded, "long_header.csv", "user_id,item_id,event_type,event_time," + "h" * (2 << 20) + "\nu1,v1,view,2026-01-05,x\n")
    with pytest.raises(BadInput) as err:
        ingest_file(seeded, path)
    assert (err.value.code, err.value.details) == ("line_too_long", {"limit": 1 << 20})
    assert snapshot(seeded) == before


def test_too_many_columns_is_refused_before_reading(seeded):
    before = snapshot(seeded)
    header = "user_id,item_id,event_type,event_time," + ",".join(f"x{i}" for i in range(300))
    path = _write(seeded, "wide.csv", header + "\n" + "u1,v1,view,2026-01-05," + ",".join("1" * 300) + "\n")
    with pytest.raises(BadInput) as err:
        ingest_file(seeded, path)
    assert (err.value.code, err.value.details) == ("too_many_columns", {"columns": 304, "limit": 256})
    assert snapshot(seeded) == before


@pytest.mark.parametrize("n", [1_000, 10_000])
def test_thousands_of_columns_are_refused_from_the_header_with_the_limit(seeded, n):
    before = snapshot(seeded)
    header = "user_id,item_id,event_type,event_time," + ",".join(f"x{i}" for i in range(n - 4))
    path = _write(seeded, f"cols{n}.csv", header + "\n" + ("u1,v1,view,2026-01-05," + ",1" * (n - 5) + "\n") * 3)
    with pytest.raises(BadInput) as err:
        preview_file(path)
    assert (err.value.code, err.value.details) == ("too_many_columns", {"columns": n, "limit": 256})
    assert f"has {n:,} columns" in err.value.message and "REELYTICS_MAX_COLUMNS" in err.value.message
    with pytest.raises(BadInput):
        ingest_file(seeded, path)
    assert snapshot(seeded) == before


def test_a_thousand_columns_allowed_by_the_limit_land_or_are_a_clear_refusal(seeded):
    # The column limit (256) is what keeps a wide file's memory bounded; raised to 1,000, the staging
    # may outgrow the upload's memory limit: then a clear refusal, nothing stored, never engine text.
    before = snapshot(seeded)
    header = "user_id,item_id,event_type,event_time," + ",".join(f"x{i}" for i in range(996))
    rows = "".join(f"u{k},v1,view,2026-01-05,{k}" + ",1" * 995 + "\n" for k in range(20))
    path = _write(seeded, "cols1000.csv", header + "\n" + rows)
    try:
        report = ingest_file(seeded, path, limits=Limits(max_columns=1000))
    except BadInput as exc:
        assert (exc.code, exc.details) == ("out_of_memory", {"limit": "800MB"})
        assert "Error" not in exc.message
        assert snapshot(seeded) == before
    else:
        assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (20, 20, 0)


def test_a_symlink_to_a_system_file_is_refused_without_its_contents(seeded):
    link = seeded.data_dir / "accounts.csv"
    os.symlink("/etc/passwd", link)
    for call in (lambda: preview_file(link, data_dir=seeded.data_dir), lambda: ingest_file(seeded, link)):
        with pytest.raises(BadInput) as err:
            call()
        said = err.value.message + repr(err.value.details)
        assert err.value.code == "symlink_outside" and "root" not in said and "/etc" not in said


def _bomb(path, unpacked: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", "<worksheet>" + " " * unpacked + "</worksheet>")


def test_an_xlsx_bomb_is_refused_from_its_directory(seeded, monkeypatch):
    before = snapshot(seeded)
    path = seeded.data_dir / "bomb.xlsx"
    _bomb(path, 8 << 20)  # 8 MiB of sheet in a file of a few KiB
    assert path.stat().st_size < 64 << 10
    monkeypatch.setenv("REELYTICS_MAX_XLSX_BYTES", str(4 << 20))
    with pytest.raises(BadInput) as err:
        ingest_file(seeded, path)
    assert err.value.code == "workbook_too_big" and err.value.details["limit_mib"] == 4
    assert snapshot(seeded) == before


def test_a_bad_limit_setting_is_a_clear_error(store, monkeypatch):
    monkeypatch.setenv("REELYTICS_MAX_COLUMNS", "many")
    with pytest.raises(BadInput) as err:
        ingest_file(store, _write(store, "ok.csv", GOOD))
    assert err.value.code == "bad_setting" and "REELYTICS_MAX_COLUMNS" in err.value.message


def test_a_slow_conversion_stops_with_its_own_code(store):
    path = _write(store, "gbk.csv", ("user_id,item_id,event_type,event_time\n" + "用户,v1,view,2026-01-05\n" * 10).encode("gbk"))
    with pytest.raises(BadInput) as err:
        ingest_file(store, path, limits=Limits(max_convert_seconds=-1))
    assert err.value.code == "conversion_too_slow"
    assert list(store.staging_dir.iterdir()) == []


def test_reading_a_workbook_runs_into_the_time_limit_too(store):
    path = store.data_dir / "two.xlsx"
    _two_sheets(path)
    with pytest.raises(BadInput) as err:
        ingest_file(store, path, sheet="april", limits=Limits(max_convert_seconds=-1))
    assert err.value.code == "conversion_too_slow"
    assert list(store.staging_dir.iterdir()) == []


def test_a_symlink_to_a_file_outside_the_data_folder_is_refused_and_not_echoed(seeded, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:$6$hash:19000:0:99999:7:::\n")
    link = seeded.data_dir / "innocent.csv"
    os.symlink(secret, link)
    before = snapshot(seeded)
    for call in (lambda: ingest_file(seeded, link), lambda: preview_file(link, data_dir=seeded.data_dir)):
        with pytest.raises(BadInput) as err:
            call()
        assert err.value.code == "symlink_outside"
        assert "root" not in err.value.message and "root" not in str(err.value.details)
    assert snapshot(seeded) == before


def test_errors_never_quote_a_file_outside_the_data_folder(tmp_path):
    from analytics.store.storage import Store

    outside = tmp_path / "passwd"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    s = Store(tmp_path / "data" / "o.duckdb", read_paths=[outside])
    try:
        with pytest.raises(BadInput) as err:
            ingest_file(s, outside)
        assert err.value.code in ("missing_columns", "no_header")
        assert "root" not in err.value.message and "root" not in str(err.value.details)
        inside = s.data_dir / "passwd.csv"
        inside.write_text(outside.read_text())
        with pytest.raises(BadInput) as err:
            ingest_file(s, inside)
        assert "root" in str(err.value.details)  # the person's own file in the data folder: quoted to help
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------
# Workbooks
# ---------------------------------------------------------------------------------------------
def _two_sheets(path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "march"
    wb.active.append(["user_id", "item_id", "event_type", "event_time"])
    wb.active.append(["u1", "v1", "view", "2026-03-01 10:00"])
    wb.create_sheet("notes")  # no data: not listed
    april = wb.create_sheet("april")
    april.append(["user_id", "item_id", "event_type", "event_time"])
    april.append(["u2", "v1", "view", "2026-04-01 10:00"])
    wb.save(path)


def test_a_workbook_with_several_sheets_is_never_read_one_sheet_silently(seeded):
    path = seeded.data_dir / "two.xlsx"
    _two_sheets(path)
    before = snapshot(seeded)
    with pytest.raises(BadInput) as err:
        ingest_file(seeded, path)
    assert (err.value.code, err.value.details) == ("choose_sheet", {"count": 2, "sheets": ["march", "april"]})
    with pytest.raises(BadInput) as err:
        ingest_file(seeded, path, sheet="notes")
    assert err.value.code == "no_sheet"
    assert snapshot(seeded) == before
    march = ingest_file(seeded, path, sheet="march")
    april = ingest_file(seeded, path, sheet="april")
    assert (march.rows_accepted, april.rows_accepted, april.detected["sheet"]) == (1, 1, "april")
    assert ingest_file(seeded, path, sheet="april").status == "already_uploaded"
    assert seeded.query("SELECT list(user_id ORDER BY user_id) FROM events WHERE user_id <> 'old'").scalar() == ["u1", "u2"]


def _book(path):
    """Two sheets with the same columns (in another order), one with other columns, one empty."""
    import openpyxl

    wb = openpyxl.Workbook()
    march = wb.active
    march.title = "march"
    for row in (["user_id", "item_id", "event_type", "event_time"], ["u1", "v1", "view", "2026-03-01 10:00"],
                ["u1", "v1", "view", "2026-03-01 10:00"], ["u9", "v1", "teleport", "2026-03-01 11:00"]):
        march.append(row)
    wb.create_sheet("empty")
    april = wb.create_sheet("april")
    for row in (["Event_Time", "user_id", "event_type", "item_id"], ["2026-04-01 10:00", "u2", "view", "v1"],
                ["2026-03-01 10:00", "u1", "view", "v1"], ["bad", "u3", "view", "v1"], ["2026-04-02 10:00", "u4", "like", "v1"]):
        april.append(row)
    spend = wb.create_sheet("spend")
    spend.append(["date", "channel", "cost"])
    spend.append(["2026-03-01", "douyin", 3])
    wb.save(path)


def test_every_matching_sheet_is_read_in_one_upload_and_each_sheet_adds_up(seeded):
    path = seeded.data_dir / "book.xlsx"
    _book(path)
    preview = preview_file(path, sheet="*")
    assert [(p.sheet, p.status, p.missing, p.extra) for p in preview.sheets] == [
        ("march", "match", (), ()),
        ("empty", "empty", (), ()),
        ("april", "match", (), ()),
        ("spend", "other_columns", ("user_id", "item_id", "event_type", "event_time"), ("date", "channel", "cost")),
    ]
    report = ingest_file(seeded, path, sheet="*")
    counts = {p.sheet: (p.rows_read, p.rows_accepted, p.rows_rejected, p.rows_duplicate, p.lines) for p in report.sheets}
    # march: a repeated row and an unknown event type; april: its second row repeats march's first
    assert counts == {
        "march": (3, 1, 1, 1, (2, 4)), "empty": (0, 0, 0, 0, None), "april": (4, 2, 1, 1, (5, 8)),
        "spend": (0, 0, 0, 0, None),
    }
    for p in report.sheets:
        assert p.rows_read == p.rows_accepted + p.rows_rejected + p.rows_duplicate
    assert (report.rows_read, report.rows_accepted, report.rows_rejected, report.rows_duplicate) == (7, 3, 2, 2)
    assert [(r.line, r.reason) for r in report.rejected] == [(4, "unknown_event_type:event_type"), (7, "bad_time:event_time")]
    assert seeded.query("SELECT count(DISTINCT upload_id), list(user_id ORDER BY user_id) FROM events WHERE user_id <> 'old'").rows == (
        (1, ["u1", "u2", "u4"]),
    )
    stored = json.loads(seeded.query("SELECT report FROM uploads WHERE upload_id = ?", [report.upload_id]).scalar())
    assert [s["sheet"] for s in stored["sheets"]] == ["march", "empty", "april", "spend"]
    assert ingest_file(seeded, path, sheet="*").status == "already_uploaded"


def test_a_failing_all_sheets_upload_leaves_the_database_as_it_was(seeded, monkeypatch):
    from analytics.ingest import pipeline

    path = seeded.data_dir / "book.xlsx"
    _book(path)
    before = snapshot(seeded)

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "_fix_reject_lines", broken)  # after the rows of both sheets are inserted
    with pytest.raises(RuntimeError):
        ingest_file(seeded, path, sheet="*")
    assert snapshot(seeded) == before
    with pytest.raises(BadInput) as err:
        ingest_file(seeded, path, sheet="*", columns=["user_id", "item_id", "event_type", "event_time"])
    assert err.value.code == "all_sheets_need_header"
    assert snapshot(seeded) == before


def test_big_integers_from_excel_stay_exact_text(store):
    import openpyxl

    path = store.data_dir / "ids.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["user_id", "item_id", "event_type", "event_time"])
    wb.active.append([1, 2, "view", "2026-01-05 10:00"])
    wb.active.append([3, 1.2345678901234567e19, "view", "2026-01-05 10:00"])
    wb.save(path)
    # Excel writes a 20-digit id as a plain integer; openpyxl writes floats, so put one in the XML as it comes.
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = parts[sheet].replace(b"<v>2</v>", b"<v>12345678901234567890</v>")
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in parts.items():
            zf.writestr(n, data)
    report = ingest_file(store, path)
    assert report.rows_accepted == 2
    assert store.query("SELECT list(item_id ORDER BY user_id) FROM events").scalar() == [
        "12345678901234567890", "12345678901234570000",  # the digits the workbook holds, without an exponent
    ]


# ---------------------------------------------------------------------------------------------
# Staging
# ---------------------------------------------------------------------------------------------
def test_stale_staging_files_of_killed_conversions_are_removed(store):
    import time

    from analytics.ingest.readers import clean_staging

    old = time.time() - 2 * 86400
    for name in ("ingest-abc.csv", "upload-1.csv.part", "upload-0123.csv", "keep.txt"):
        (store.staging_dir / name).write_text("x")
        os.utime(store.staging_dir / name, (old, old))
    (store.staging_dir / "ingest-running.csv").write_text("x")  # fresh: a conversion in progress
    ingest_file(store, _write(store, "ok.csv", GOOD))
    assert sorted(f.name for f in store.staging_dir.iterdir()) == ["ingest-running.csv", "keep.txt"]
    assert clean_staging(store.staging_dir, now=time.time() + 7200) == ["ingest-running.csv"]


def test_a_50mb_second_line_is_counted_as_rejected(store):
    content = _rows("u1,v1,view,2026-01-05," + "9" * (50 << 20), "u2,v1,view,2026-01-05,1")
    report = ingest_file(store, _write(store, "second.csv", content))
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (2, 1, 1)
    assert report.issue("line_too_long").lines == (2,)


def test_long_lines_are_found_across_chunk_boundaries(tmp_path, monkeypatch):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from analytics.ingest import readers

    monkeypatch.setattr(readers, "CHUNK_BYTES", 3)  # 24-byte chunks: lines cross them often
    path = tmp_path / "lines.txt"

    @settings(max_examples=60)
    @given(st.lists(st.integers(0, 80), min_size=1, max_size=30), st.booleans(), st.booleans())
    def check(lengths, crlf, last_newline):
        end = "\r\n" if crlf else "\n"
        text = end.join("x" * n for n in lengths) + (end if last_newline else "")
        path.write_bytes(text.encode())
        expected = [i + 1 for i, n in enumerate(lengths) if n + (1 if crlf and (i < len(lengths) - 1 or last_newline) else 0) > 40]
        assert readers.long_lines(path, 40) == expected

    check()


def test_a_long_last_line_without_a_newline_and_crlf_files(store):
    content = H.replace("\n", "\r\n") + "u1,v1,view,2026-01-05,1\r\n" + "u2,v1,view,2026-01-05," + "7" * (2 << 20)
    report = ingest_file(store, _write(store, "crlf_long.csv", content))
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (2, 1, 1)
    assert report.issue("line_too_long").lines == (3,)


def test_a_workbook_whose_directory_understates_a_part_is_refused_not_a_traceback(seeded):
    import struct

    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["user_id", "item_id", "event_type", "event_time"])
    for i in range(3000):
        wb.active.append([f"u{i}", "v1", "view", "2026-01-05 10:00"])
    path = seeded.data_dir / "liar.xlsx"
    wb.save(path)
    raw = bytearray(path.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as zf:
        real = zf.getinfo(name.decode()).file_size
    # Declare 10 bytes fewer for the sheet in its local header and its central directory entry: the
    # sheet reads well until its very end.
    for sig, name_len_at, header, size_at in ((b"PK\x03\x04", 26, 30, 22), (b"PK\x01\x02", 28, 46, 24)):
        k = raw.find(sig)
        while k >= 0:
            n = struct.unpack_from("<H", raw, k + name_len_at)[0]
            if raw[k + header : k + header + n] == name:
                struct.pack_into("<I", raw, k + size_at, real - 10)
            k = raw.find(sig, k + 4)
    path.write_bytes(bytes(raw))
    before = snapshot(seeded)
    with pytest.raises(BadInput) as err:
        ingest_file(seeded, path)
    assert err.value.code == "bad_excel"
    assert snapshot(seeded) == before
