"""Every page opens from its own address in a real browser over the sample data without an exception."""

import pytest

from tests.helpers import REPO, wait_for_run

pytestmark = pytest.mark.browser
SERVER_DB_SOURCE = "sample_db"


def _routed_pages():
    import re

    app = (REPO / "dashboard" / "app.py").read_text(encoding="utf-8")
    return re.findall(r'"([a-z_]+)\.py", "page\.[a-z_]+", "[^"]+", "([a-z_]+)"', app)


@pytest.mark.parametrize("url_path", [u for _, u in _routed_pages()])
def test_page_opens_without_exception(server, page, url_path):
    page.goto(f"{server}/{url_path}")
    page.locator('[data-testid="stSidebarNav"]').first.wait_for()
    wait_for_run(page, timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator("body").inner_text()[:2000]
    assert page.get_by_text("Page not found").count() == 0  # a shared link opens its page, no dialog
    assert f"/{url_path}?" in page.url  # and stays at its own address, with the filters


def test_root_address_opens_the_overview_keeping_the_address_parameters(server, page):
    page.goto(f"{server}/?lang=zh&channel=douyin")
    page.wait_for_url("**/overview?*")
    page.get_by_text("总览").first.wait_for()
    assert "lang=zh" in page.url and "channel=douyin" in page.url
    assert page.get_by_text("Page not found").count() == 0


def test_language_switch_shows_chinese_and_keeps_it_in_the_url(server, page):
    page.goto(f"{server}/overview?lang=zh")
    page.get_by_text("总览").first.wait_for()
    assert "lang=zh" in page.url
