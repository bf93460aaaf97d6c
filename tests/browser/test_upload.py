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
