"""Data page: renders, previews and imports a file named in the data folder, shows the report,
lists uploads and removes one after confirmation (English and Chinese)."""

from __future__ import annotations

import pytest

from analytics.ingest import ingest_file
from analytics.store.storage import Store, open_store
from dashboard.format import is_code_name
from tests.helpers import open_page

PAGE = "data.py"
GOOD = "用户ID,视频ID,行为类型,时间\nu1,v1,播放,2026-01-05 20:00\nu2,v1,点赞,2026-01-05 20:01\nu3,v1,teleport,2026-01-05 20:02\n"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "d.duckdb"
    s = Store(path)
    (s.data_dir / "first.csv").write_text("user_id,item_id,event_type,event_time\nold,v0,view,2026-01-01 08:00\n")
    ingest_file(s, s.data_dir / "first.csv")
    (s.data_dir / "new.csv").write_text(GOOD)
    s.close()
    return path


def _app(monkeypatch, db, lang=None):
    return open_page(monkeypatch, db, PAGE, lang=lang)


def _texts(at) -> list[str]:
    return [m.value for m in at.text]


def test_page_renders_with_uploader_and_lists_uploads(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Data"
    assert at.get("file_uploader")[0].proto.label == "Upload a file"
    assert any(m.startswith("#1  first.csv · Events (behaviour log)") for m in _texts(at))


def test_preview_import_and_report_through_a_data_folder_file(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.text_input(key="data_path").input("new.csv").run()
    assert not at.exception
    assert at.caption[1].value == "Detected: delimited text, encoding utf-8, delimiter ',', header row: Yes."
    assert at.button(key="data_import").label == "Import"
    at.button(key="data_import").click().run()
    assert not at.exception
    assert at.success[0].value == "Imported 2 rows from new.csv (upload 2)."
    assert [m.value for m in at.metric] == ["3", "2", "1", "0"]
    assert any(m.startswith("#2  new.csv") for m in _texts(at))
    assert open_store(db).query("SELECT count(*) FROM events WHERE upload_id = 2").scalar() == 2
    # the pages' structures were built with the upload (the first one made in the dashboard), so no page builds them
    from analytics.query import engine

    assert engine.structures(open_store(db)) == {
        "kpi_rollup_key": True, "accel_breakdown|video|Asia/Shanghai": True, "accel_funnel_order": True,
    }


def test_an_upload_whose_page_preparation_fails_is_still_reported_with_a_warning(monkeypatch, db):
    from analytics.errors import StorageError
    from analytics.query import engine

    def fail(*args, **kwargs):
        raise StorageError("the disk is full")

    monkeypatch.setattr(engine, "prepare", fail)
    at = _app(monkeypatch, db)
    at.run()
    at.text_input(key="data_path").input("new.csv").run()
    at.button(key="data_import").click().run()
    assert not at.exception
    assert at.success[0].value == "Imported 2 rows from new.csv (upload 2)."
    assert at.warning[0].value.startswith("The upload is stored, but preparing the pages failed (the disk is full)")


@pytest.mark.parametrize("lang,detected", [
    ("en", "Detected: JSON records (one column per key path)."), ("zh", "识别结果：JSON 记录（每个键路径一列）。"),
])
def test_a_json_export_previews_its_extra_columns_in_words_and_imports(monkeypatch, db, lang, detected):
    folder = db.parent
    (folder / "export.jsonl").write_text(
        '{"event": "page_view", "properties": {"time": 1767600000, "distinct_id": "u9", "video_id": "v9", "$os": "iOS"}}\n'
    )
    at = _app(monkeypatch, db, lang=lang)
    at.run()
    at.text_input(key="data_path").input("export.jsonl").run()
    assert not at.exception
    assert at.caption[1].value == detected
    shown = at.dataframe[-1].value
    assert "properties.$os: iOS" in shown.astype(str).to_numpy().ravel().tolist()
    at.button(key="data_import").click().run()
    assert not at.exception
    assert list(open_store(db).query("SELECT user_id, event_type FROM events WHERE upload_id = 2").rows) == [("u9", "view")]


def test_remove_an_upload_after_confirmation(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.button(key="data_rm_1").click().run()
    assert at.warning[0].value.startswith("Remove upload 1 (first.csv)")
    at.button(key="data_rm_yes").click().run()
    assert not at.exception
    assert at.success[0].value == "Removed upload 1: 1 rows."
    assert "No uploads yet." in [c.value for c in at.caption]


def test_chinese_labels_and_a_missing_file(monkeypatch, db):
    at = _app(monkeypatch, db, lang="zh")
    at.run()
    assert at.get("file_uploader")[0].proto.label == "上传文件"
    at.text_input(key="data_path").input("nope.csv").run()
    assert not at.exception
    assert at.error[0].value == "数据文件夹中没有文件 nope.csv。"
    at.text_input(key="data_path").input("new.csv").run()
    assert at.button(key="data_import").label == "导入"
    at.button(key="data_import").click().run()
    assert at.success[0].value.startswith("已导入 2 行")


def test_switching_language_keeps_the_page_working(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.radio(key="data_kind").set_value("Catalog (videos, courses)").run()
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "数据"


def _markdown_bodies(at) -> list[str]:
    """The text of every element that renders Markdown."""
    out = []
    for kind in ("markdown", "caption", "success", "info", "warning", "error", "subheader", "title"):
        out += [e.value for e in getattr(at, kind)]
    return out


def test_a_file_name_with_markdown_is_shown_as_text(monkeypatch, db):
    name = "![x](http:evil) **bold** :red[x].csv"
    (db.parent / name).write_text(GOOD)
    at = _app(monkeypatch, db)
    at.run()
    at.text_input(key="data_path").input(name).run()
    at.button(key="data_import").click().run()
    assert not at.exception
    bodies = _markdown_bodies(at)
    assert "Imported 2 rows from \\!\\[x\\]\\(http\\:evil\\) \\*\\*bold\\*\\* \\:red\\[x\\].csv (upload 2)." in bodies
    assert not any("![" in b or "](" in b or "**bold" in b or ":red[" in b for b in bodies)
    assert any(m.startswith(f"#2  {name} · Events (behaviour log)") for m in _texts(at))  # st.text: shown as written


def test_a_missing_file_name_with_markdown_is_escaped_in_the_error(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.text_input(key="data_path").input("<img src=x>![a](b)").run()
    assert at.error[0].value == "There is no file \\<img src=x\\>\\!\\[a\\]\\(b\\) in the data folder."


@pytest.mark.parametrize(("lang", "told"), [
    (None, "The columns look like this kind of file: Ad spend. Choose it above."),
    ("zh", "这些列看起来属于另一类文件：投放花费。请在上方选择该类型。"),
])
def test_a_spend_file_read_as_events_is_told_its_kind(monkeypatch, db, lang, told):
    (db.parent / "spend.csv").write_text("日期,计划名称,消耗(元)\n2026-01-05,A,12.5\n", encoding="utf-8")
    at = _app(monkeypatch, db, lang=lang)
    at.run()
    at.text_input(key="data_path").input("spend.csv").run()
    assert not at.exception and at.error[0].value.endswith(told)


def test_issues_and_rejected_rows_are_worded_in_chinese(monkeypatch, db):
    (db.parent / "bad.csv").write_text(
        "user_id,item_id,event_type,event_time,watch_seconds\n"
        "u1,v1,view,2026-01-05 20:00,nan\nu2,v1,view,9999-01-01 00:00,1\nu3,v1,view,2026-01-05 20:01,2\n"
    )
    at = _app(monkeypatch, db, lang="zh")
    at.run()
    at.text_input(key="data_path").input("bad.csv").run()
    at.button(key="data_import").click().run()
    assert not at.exception
    frames = [d.value for d in at.dataframe]
    issues = next(f for f in frames if "问题" in f.columns)
    texts = list(issues["问题"])
    assert "1 行被拒绝：不是有限数值（例如 watch_seconds nan）" in texts
    assert "1 行被拒绝：时间超出合理范围 1990-01-01 .. 2100-12-31（例如 event_time 9999-01-01 00:00）" in texts
    rejected = next(f for f in frames if "原因" in f.columns)
    assert list(rejected["原因"]) == ["watch_seconds 不是有限数值", "event_time 不合理"]


def test_a_workbook_with_two_sheets_asks_which_one(monkeypatch, db):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "march"
    wb.active.append(["user_id", "item_id", "event_type", "event_time"])
    wb.active.append(["u1", "v1", "view", "2026-03-01 10:00"])
    april = wb.create_sheet("april")
    april.append(["user_id", "item_id", "event_type", "event_time"])
    april.append(["u2", "v1", "view", "2026-04-01 10:00"])
    april.append(["u3", "v1", "view", "2026-04-01 11:00"])
    wb.save(db.parent / "two.xlsx")
    at = _app(monkeypatch, db)
    at.run()
    at.text_input(key="data_path").input("two.xlsx").run()
    assert not at.exception
    assert at.selectbox(key="data_sheet").options == ["all matching sheets", "march", "april"]
    assert "data_import" not in [b.key for b in at.button]  # nothing read until a sheet is picked
    assert any(m.startswith("#1  first.csv") for m in _texts(at))  # the rest of the page still shows
    at.selectbox(key="data_sheet").select("april").run()
    at.button(key="data_import").click().run()
    assert not at.exception
    assert at.session_state["data_report"].rows_accepted == 2


def test_all_matching_sheets_show_which_sheets_are_read_and_their_counts(monkeypatch, db):
    from tests.unit.test_ingest_bad_input import _book

    _book(db.parent / "book.xlsx")
    at = _app(monkeypatch, db)
    at.run()
    at.text_input(key="data_path").input("book.xlsx").run()
    at.selectbox(key="data_sheet").select("all matching sheets").run()
    assert not at.exception
    sheets = next(d.value for d in at.dataframe if "Why not" in d.value.columns)
    assert sheets.to_dict("list") == {
        "Sheet": ["march", "empty", "april", "spend"],
        "Imported": ["yes", "no: the sheet is empty", "yes", "no: other columns"],
        "Why not": ["–", "–", "–", "lacks user_id, item_id, event_type, event_time; adds date, channel, cost"],
    }
    at.button(key="data_import").click().run()
    assert not at.exception
    assert at.success[0].value == "Imported 3 rows from book.xlsx (upload 2)."
    counts = next(d.value for d in at.dataframe if "Accepted" in d.value.columns)
    assert counts[["Sheet", "Rows read", "Accepted", "Rejected", "Duplicates"]].values.tolist() == [
        ["march", 3, 1, 1, 1], ["empty", 0, 0, 0, 0], ["april", 4, 2, 1, 1], ["spend", 0, 0, 0, 0],
    ]


def test_a_symlink_out_of_the_data_folder_and_a_path_out_of_it_are_refused(monkeypatch, db, tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret:19000::::::\n")
    (db.parent / "link.csv").symlink_to(secret)
    at = _app(monkeypatch, db)
    at.run()
    at.text_input(key="data_path").input("link.csv").run()
    assert not at.exception
    assert at.error[0].value == "link.csv is a symbolic link to a file outside the data folder; copy the file instead."
    at.text_input(key="data_path").input("../shadow").run()
    assert at.error[0].value == "There is no file ../shadow in the data folder."
    assert not any("root" in e.value for e in at.error)


def test_an_upload_is_copied_to_the_staging_folder_and_dropped_from_memory(monkeypatch, db):
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    held_after = []
    remove = MemoryUploadedFileManager.remove_file

    def spy(self, session_id, file_id):
        remove(self, session_id, file_id)
        held_after.append(self._total_bytes)

    monkeypatch.setattr(MemoryUploadedFileManager, "remove_file", spy)
    at = _app(monkeypatch, db)
    at.run()
    at.get("file_uploader")[0].upload("shop.csv", GOOD.encode()).run()
    assert not at.exception
    assert held_after == [0]  # the server holds no upload bytes once the file is staged
    assert at.get("file_uploader")[0].key == "data_upload_1"  # the uploader starts empty again
    staged = list((db.parent / "staging").glob("upload-*.csv"))
    assert len(staged) == 1 and staged[0].read_text() == GOOD
    assert "Uploaded: shop.csv (0.0 MB)" in _texts(at)
    # another file replaces it: the first staged copy is removed at once
    other = GOOD.replace("u1", "w1")
    at.get("file_uploader")[0].upload("other.csv", other.encode()).run()
    assert held_after == [0, 0] and not staged[0].exists()
    staged = list((db.parent / "staging").glob("upload-*.csv"))
    assert len(staged) == 1 and staged[0].read_text() == other
    at.button(key="data_import").click().run()
    assert at.success[0].value == "Imported 2 rows from other.csv (upload 2)."
    assert not staged[0].exists()


@pytest.mark.parametrize(("lang", "time_label", "ignore"), [("en", "Time", "Ignore"), ("zh", "时间", "忽略")])
def test_the_mapping_editor_offers_readable_targets_and_keeps_canonical_names(monkeypatch, db, lang, time_label, ignore):
    import json

    at = _app(monkeypatch, db, lang=lang)
    at.run()
    at.text_input(key="data_path").input("new.csv").run()
    assert not at.exception
    editor = next(e for e in at.dataframe if "target" in json.loads(e.proto.columns or "{}"))
    options = json.loads(editor.proto.columns)["target"]["type_config"]["options"]
    labels = {o["value"]: o["label"] for o in options}
    assert labels["event_time"] == time_label and labels["ignore"] == ignore
    assert labels["flag:like"] == ("Flag (0/1): like" if lang == "en" else "标记列（0/1）：点赞")
    assert not [v for v in labels.values() if is_code_name(v)]
    assert list(editor.value["target"]) == ["user_id", "item_id", "event_type", "event_time"]  # stored canonical
