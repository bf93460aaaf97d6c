"""A marketer uploads a CSV through the file uploader in a real browser and sees the quality report."""

import pytest

pytestmark = pytest.mark.browser

CSV = (
    "用户ID,视频ID,行为类型,时间,观看时长\n"
    "u1,v1,播放,2026-03-01 20:00:00,12\n"
    "u1,v1,点赞,2026-03-01 20:00:30,\n"
    "u2,v1,曝光,2026-03-01 21:00:00,\n"
    "u2,v1,dance,2026-03-01 21:00:05,\n"
)


def _no_exception(page):
    assert page.locator('[data-testid="stException"]').count() == 0


def test_upload_csv_shows_quality_report(server, page, tmp_path):
    path = tmp_path / "douyin_export.csv"
    path.write_text(CSV, encoding="utf-8")
    page.goto(f"{server}/data")
    page.get_by_text("Upload a file").first.wait_for()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(path))
    page.get_by_role("button", name="Import").click()
    page.get_by_text("Imported 3 rows from douyin_export.csv").first.wait_for()
    page.get_by_text("Data-quality report").first.wait_for()
    # the unknown event type is rejected with its reason and counted, not silently dropped
    rejected = page.locator('[data-testid="stMetric"]').filter(has_text="Rejected")
    assert rejected.locator('[data-testid="stMetricValue"]').inner_text() == "1"
    page.get_by_text("douyin_export.csv · Events (behaviour log)").first.wait_for()  # listed among the uploads
    _no_exception(page)


def test_a_file_name_holding_an_image_link_is_shown_as_text(server, page, tmp_path):
    # Before the fix the name was rendered as Markdown: every viewer's browser fetched the "image".
    name = "![p](http:127.0.0.1:9) **x**.csv"
    path = tmp_path / name
    path.write_text(CSV.replace("u1", "w1").replace("u2", "w2"), encoding="utf-8")
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if ":9" in r.url else None)
    page.route("http://127.0.0.1:9/**", lambda route: route.abort())
    page.goto(f"{server}/data")
    page.get_by_text("Upload a file").first.wait_for()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(path))
    page.get_by_role("button", name="Import").click()
    page.get_by_text(f"Imported 3 rows from {name}").first.wait_for()
    page.get_by_text(f"{name} · events").first.wait_for()  # the uploads list, as written
    assert page.locator('[data-testid="stMain"] img').count() == 0
    assert page.locator('[data-testid="stMain"] strong').filter(has_text="x").count() == 0
    assert fetched == []
    _no_exception(page)
