"""Data page: renders, previews and imports a file named in the data folder, shows the report,
lists uploads and removes one after confirmation (English and Chinese)."""

from __future__ import annotations

import pytest

from analytics.ingest import ingest_file
from analytics.storage import Store, open_store
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


def _markdown(at) -> list[str]:
    return [m.value for m in at.markdown]


def test_page_renders_with_uploader_and_lists_uploads(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Data"
    assert at.get("file_uploader")[0].proto.label == "Upload a file"
    assert any(m.startswith("**#1** first.csv · Events (behaviour log)") for m in _markdown(at))


def test_preview_import_and_report_through_a_data_folder_file(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.text_input(key="data_path").input("new.csv").run()
    assert not at.exception
    assert at.caption[1].value == "Detected: csv, encoding utf-8, delimiter ',', header row: Yes."
    assert at.button(key="data_import").label == "Import"
    at.button(key="data_import").click().run()
    assert not at.exception
    assert at.success[0].value == "Imported 2 rows from new.csv (upload 2)."
    assert [m.value for m in at.metric] == ["3", "2", "1", "0"]
    assert any(m.startswith("**#2** new.csv") for m in _markdown(at))
    assert open_store(db).query("SELECT count(*) FROM events WHERE upload_id = 2").scalar() == 2


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
