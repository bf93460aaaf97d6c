"""The per-cell tests a file's facts rule out are skipped without changing a stored value or a reason."""

from __future__ import annotations

from analytics.ingest import ingest_file, pipeline, readers
from analytics.ingest.limits import Limits

HEADER = "event_time,user_id,event_type,item_id,channel\n"


def test_text_facts_find_long_lines_the_longest_line_nul_bytes_and_non_ascii(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"ab\n" + b"x" * 50 + b"\nc\x00d\n\xe4\xb8\xad")
    facts = readers.text_facts(path, 40)
    assert (facts.long_lines, facts.longest, facts.has_nul, facts.ascii) == ([2], 50, True, False)
    path.write_bytes(b"ab\ncd\n")
    facts = readers.text_facts(path, 40)
    assert (facts.long_lines, facts.longest, facts.has_nul, facts.ascii) == ([], 2, False, True)


def test_text_facts_say_whether_a_space_touches_a_cells_edge(tmp_path):
    path = tmp_path / "f.csv"
    for content, spaced in [
        (b"a,b\n2026-01-05 10:00,x y\n", False),  # spaces inside cells only
        (b"a,b\n1, 2\n", True), (b"a,b\n1 ,2\n", True), (b"a;b\n1; 2\n", True), (b"a\tb\n1\t 2\n", True),
        (b"a,b\n1,2 \n", True), (b"a,b\n1,2 \r\n", True), (b' a,b\n', True), (b'a,b\n" x",2\n', True),
        (b"a,b\n1,2\n ", True),  # a space ending the file
    ]:
        path.write_bytes(content)
        assert readers.text_facts(path, 40).spaced is spaced, content
    path.write_bytes(b"a,b\n" + b"1,2\n" * (readers.CHUNK_BYTES * 8 // 4) + b"1, 2\n")  # past the first chunk
    assert readers.text_facts(path, 40).spaced


def test_text_facts_say_whether_a_cell_may_start_like_a_formula(tmp_path):
    path = tmp_path / "f.csv"
    for content, formula in [
        (b"a,b\n2026-01-05 10:00,x-y\n", False),  # a dash inside a date and a word only
        (b"a,b\n1,=x\n", True), (b"a,b\n+1,2\n", True), (b'a,b\n"@x",2\n', True), (b"a;b\n1;-x\n", True),
        (b"a,b\n1, =x\n", True),  # behind a space the trim removes
        ("a,b\n1,\u3000=x\n".encode(), True),  # behind a wide space
        (b"a,b\n1,\r\n", True), (b"=a,b\n", True),
    ]:
        path.write_bytes(content)
        assert readers.text_facts(path, 40).formula_start is formula, content
    path.write_bytes(b"a,b\n" + b"1,2\n" * (readers.CHUNK_BYTES * 8 // 4) + b"1,-x\n")  # past the first chunk
    assert readers.text_facts(path, 40).formula_start


def test_a_file_that_cannot_hold_a_formula_gets_no_formula_test_and_the_same_rows(store):
    clean = store.data_dir / "clean.csv"
    clean.write_text(HEADER + "2026-01-05 10:00:00,u1,view,v1,douyin\n2026-01-05 10:01:00,u2,view,v2,x-y\n")
    report = ingest_file(store, clean, timezone="UTC")
    assert report.rows_accepted == 2 and report.issue("formula_like") is None
    facts = readers.text_facts(clean, 1000)
    prep = pipeline._prepare(clean, "events", None, None, None, None, Limits(), True)
    assert "false AS _formula" in pipeline._stage_sql(prep, "src", "UTC", None, facts)[0]
    assert "false AS _formula" not in pipeline._stage_sql(prep, "src", "UTC", None, None)[0]


def test_cells_are_trimmed_alike_in_ascii_and_non_ascii_files(store):
    rows = ["2026-01-05 10:00:00, u1 ,view,v1,douyin ", "2026-01-05 10:01:00,u2,view,v2,  "]
    ascii_file = store.data_dir / "ascii.csv"
    ascii_file.write_text(HEADER + "\n".join(rows) + "\n")
    wide_spaces = store.data_dir / "wide.csv"
    wide_spaces.write_text(HEADER + "\n".join(r.replace("v1", "v3").replace("v2", "v4") for r in rows) + "\n2026-01-05 10:02:00,\u3000u5\u3000,view,v5,\u3000\n")
    no_ascii_space = store.data_dir / "ideographic.csv"  # a wide space at an edge, no ASCII space at one
    no_ascii_space.write_text(HEADER + "2026-01-05T10:03:00,\u3000u6\u3000,view,v6,douyin\n")
    for path in (ascii_file, wide_spaces, no_ascii_space):
        report = ingest_file(store, path, timezone="UTC")
        assert report.rows_rejected == 0
    got = list(store.query("SELECT item_id, user_id, channel FROM events ORDER BY item_id").rows)
    assert got == [
        ("v1", "u1", "douyin"), ("v2", "u2", None), ("v3", "u1", "douyin"), ("v4", "u2", None), ("v5", "u5", None),
        ("v6", "u6", "douyin"),
    ]


def test_formula_like_cells_are_found_behind_the_cheap_first_character_test(store):
    rows = ["=cmd|x", "+1", "-x", "@a", "-1", "-.5", "中文", "u9"]
    path = store.data_dir / "formula.csv"
    path.write_text(HEADER + "".join(f"2026-01-05 10:0{i}:00,u{i},view,v{i},{c}\n" for i, c in enumerate(rows)))
    report = ingest_file(store, path, timezone="UTC")
    issue = report.issue("formula_like")
    assert issue.count == 4 and issue.lines == (2, 3, 4, 5)


def test_a_nul_byte_or_an_over_long_cell_is_still_rejected_when_the_file_holds_one(store):
    path = store.data_dir / "bad.csv"
    path.write_bytes(
        HEADER.encode() + b"2026-01-05 10:00:00,u1,view,v1,a\x00b\n" + b"2026-01-05 10:01:00,u2,view,v2," + b"y" * 100 + b"\n"
        b"2026-01-05 10:02:00,u3,view,v3,ok\n"
    )
    report = ingest_file(store, path, timezone="UTC", limits=Limits(max_cell_bytes=50))
    assert (report.rows_accepted, report.rows_rejected) == (1, 2)
    assert {i.code for i in report.issues if i.level == "error"} == {"nul_byte", "cell_too_long"}
