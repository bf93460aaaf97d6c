"""Each role's journey through the dashboard in a real browser, in English and in Chinese.

manager: Overview -> Funnels -> Retention -> ROI; creator: Videos -> Recommendations -> Similarity
-> Timing; marketer: Data (a file previewed) -> Experiments -> Audiences. Each page is reached by
its link in the sidebar and checked for: no exception, no "Page not found", the filters still in
the address, readable translated table headers; and its own content (period deltas on the Overview,
rates in percent, money in the currency). Screenshots of every step are saved as test artefacts in
``$REELYTICS_SCREENSHOTS`` (or a temporary folder); with ``REELYTICS_GUIDE_IMAGES=1`` the English
ones are also written, small, into docs/guide/img for the role guides.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from dashboard.format import is_code_name
from dashboard.i18n import t
from tests.helpers import RAW_FLOAT, RAW_WORD, REPO, SCRIPT_RUNNING

pytestmark = pytest.mark.browser
SERVER_DB_SOURCE = "sample_db"

JOURNEYS = {
    "manager": ["overview", "funnels", "retention", "roi"],
    "creator": ["videos", "recommendations", "similarity", "timing"],
    "marketer": ["data", "experiments", "audiences"],
}
#: What shows that a page has finished drawing its content.
READY = {
    "overview": '[data-testid="stMetricDelta"]', "funnels": '[data-testid="stDataFrame"]',
    "retention": '[data-testid="stDataFrame"]', "roi": '[data-testid="stDataFrame"]',
    "videos": '[data-testid="stDataFrame"]', "recommendations": '[data-testid="stDataFrame"]',
    "similarity": '[data-testid="stDataFrame"]', "timing": '[data-testid="stDataFrame"]',
    "data": '[data-testid="stFileUploader"]', "experiments": '[data-testid="stDataFrame"]',
    "audiences": '[data-testid="stDataFrame"]',
}
#: Headers that read the same in both languages.
SAME_IN_BOTH = {"ARPU", "ARPPU", "CAC", "AUC", "MAP@K", "NDCG@K", "z"}
PERCENT = re.compile(r"^[+-]?\d[\d,]*(\.\d+)?%$")
GUIDE_IMAGES = REPO / "docs" / "guide" / "img"
GUIDE_WIDTH = 1000  # px: guide images are scaled to this width and reduced to a palette


@pytest.fixture(scope="module")
def period(sample_db, tmp_path_factory):
    """The last 14 days of the sample (and so a previous 14 days to compare with)."""
    import datetime as dt

    from analytics.query.facets import load_facets
    from analytics.store.storage import Store

    copy = tmp_path_factory.mktemp("facets") / "s.duckdb"
    shutil.copy(sample_db, copy)
    store = Store(copy)
    try:
        last = load_facets(store, "Asia/Shanghai").last_day
    finally:
        store.close()
    return (last - dt.timedelta(days=13)).isoformat(), last.isoformat()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("REELYTICS_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _settle(page) -> None:
    """Wait until the script run is over: nothing running, no spinner, no stale element, and the
    page body unchanged for a moment (a page draws its parts one after another)."""
    page.evaluate("() => { window.__settle = {size: -1, since: Date.now()}; }")
    page.wait_for_function(
        """() => {
            const busy = document.querySelector(
                '[data-testid="stStatusWidget"], [data-testid="stSpinner"], [data-stale="true"], RUNNING');
            const size = document.querySelector('[data-testid="stMain"]').innerHTML.length;
            const s = window.__settle;
            if (busy || size !== s.size) { s.size = size; s.since = Date.now(); return false; }
            return Date.now() - s.since > 1500;
        }""".replace("RUNNING", SCRIPT_RUNNING),
        polling=250,
        timeout=300_000,
    )


def _screenshot(page, shots: Path, name: str, lang: str) -> None:
    path = shots / f"{name}-{lang}.png"
    page.screenshot(path=str(path))
    if lang == "en" and os.environ.get("REELYTICS_GUIDE_IMAGES") == "1":
        from PIL import Image

        GUIDE_IMAGES.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as im:
            small = im.convert("RGB").resize((GUIDE_WIDTH, round(im.height * GUIDE_WIDTH / im.width)), Image.LANCZOS)
            small.quantize(colors=96).save(GUIDE_IMAGES / f"{name}.png", optimize=True)


def _headers(page) -> list[str]:
    """Every visible table's headers as drawn (tables are drawn when scrolled into view)."""
    headers = []
    for frame in page.locator('[data-testid="stDataFrame"]').all():
        # skip a table inside a closed expander; one further down the page is drawn once scrolled to
        if frame.evaluate("e => Boolean(e.closest('details:not([open])'))"):
            continue
        frame.scroll_into_view_if_needed()
        cells = frame.locator('th[role="columnheader"]')
        cells.first.wait_for(state="attached")
        headers += [h.strip() for h in cells.all_inner_texts()]
    return headers


def _metric(page, label: str) -> str:
    card = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text(label, exact=True)).first
    return card.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _open(page, url_path: str, lang: str) -> None:
    """Follow the sidebar link to ``url_path`` and wait for the page to be drawn."""
    page.locator(f'[data-testid="stSidebarNav"] a[href$="/{url_path}"]').first.click()
    page.wait_for_url(re.compile(rf"/{url_path}(\?|$)"))
    page.locator('[data-testid="stMain"] h1').filter(has_text=t(f"page.{url_path}", lang=lang)).first.wait_for()
    _settle(page)


def _check_page(page, url_path: str, lang: str) -> list[str]:
    """What every page must satisfy; returns the table headers shown."""
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator("body").inner_text()[:2000]
    assert page.get_by_text("Page not found").count() == 0
    assert "from=" in page.url and "to=" in page.url, page.url  # the filters stay in the address
    text = page.locator('[data-testid="stMain"]').inner_text()  # cards, captions, notes, choices
    assert not RAW_WORD.search(text) and not RAW_FLOAT.search(text), (url_path, (RAW_WORD.search(text) or RAW_FLOAT.search(text)))
    headers = _headers(page)
    assert [h for h in headers if is_code_name(h)] == [], (url_path, headers)
    if lang == "zh":
        english = [h for h in headers if re.fullmatch(r"[A-Za-z .()\-]+", h) and h not in SAME_IN_BOTH]
        assert english == [], (url_path, headers)
    return headers


def _upload_preview(page, lang: str, tmp_path: Path) -> None:
    """Pick a file on the Data page and see its proposed mapping (without importing it)."""
    csv = tmp_path / "export.csv"
    csv.write_text("用户ID,视频ID,行为类型,时间\nu1,v1,播放,2026-03-01 20:00:00\n", encoding="utf-8")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(csv))
    page.get_by_text(t("data.first_rows", lang=lang), exact=True).first.wait_for()
    _settle(page)


def _page_checks(page, url_path: str, lang: str, headers: list[str], tmp_path: Path) -> None:
    """What each page of the journeys shows a person."""
    if url_path == "overview":
        deltas = page.locator('[data-testid="stMetricDelta"]').all_inner_texts()
        assert len(deltas) >= 8, deltas  # compared with the previous period
        assert PERCENT.match(_metric(page, t("kpi.conversion", lang=lang)))
        assert _metric(page, t("kpi.revenue", lang=lang)).startswith("¥")
        assert t("col.channel", lang=lang) in headers and t("kpi.views", lang=lang) in headers
        if lang == "zh":  # plotly's own words too: each chart carries its locale (dashboard.format.chart_config)
            buttons = page.locator(".js-plotly-plot .modebar-btn")
            titles = buttons.evaluate_all("bs => bs.map(b => b.getAttribute('data-title'))")
            english = {x for x in titles if x and x.isascii()}
            # Streamlit adds its own "Fullscreen" button with an English title (docs/guide/README.md)
            assert "下载为 PNG 图片" in titles and english <= {"Fullscreen", "Close fullscreen"}, titles
    elif url_path == "funnels":
        assert PERCENT.match(_metric(page, t("fun.rate", lang=lang)))
        assert t("col.conversion_from_previous", lang=lang) in headers
    elif url_path == "retention":
        assert t("col.period.day", lang=lang, k=1) in headers
    elif url_path == "roi":
        assert _metric(page, t("kpi.spend", lang=lang)).startswith("¥")
        assert t("kpi.roas", lang=lang) in headers
    elif url_path == "videos":
        assert PERCENT.match(_metric(page, t("videos.completion_rate", lang=lang)))
        assert t("col.hook_rate", lang=lang) in headers
    elif url_path == "recommendations":
        assert t("col.why", lang=lang) in headers
    elif url_path == "similarity":
        assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
        assert t("col.similarity", lang=lang) in headers
    elif url_path == "timing":
        assert t("col.weekday", lang=lang) in headers
    elif url_path == "data":
        _upload_preview(page, lang, tmp_path)
        assert t("col.user_id", lang=lang) in _check_page(page, url_path, lang)
    elif url_path == "experiments":
        assert t("col.chance_to_beat_control", lang=lang) in headers
    elif url_path == "audiences":
        assert PERCENT.match(_metric(page, t("aud.expected_rate", lang=lang)))
        assert t("col.expected_conversion", lang=lang) in headers


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("role", list(JOURNEYS))
def test_journey(server, browser, period, shots, tmp_path, role, lang):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN" if lang == "zh" else "en-US")
    page = context.new_page()
    page.set_default_timeout(120_000)
    start, end = period
    try:
        first, *rest = JOURNEYS[role]
        page.goto(f"{server}/{first}?lang={lang}&from={start}&to={end}")
        page.locator('[data-testid="stMain"] h1').filter(has_text=t(f"page.{first}", lang=lang)).first.wait_for()
        _settle(page)
        for url_path in [first, *rest]:
            if url_path != first:
                _open(page, url_path, lang)
            page.locator(READY[url_path]).first.wait_for()
            _settle(page)
            headers = _check_page(page, url_path, lang)
            _page_checks(page, url_path, lang, headers, tmp_path)
            page.locator('[data-testid="stMain"]').evaluate("e => e.scrollTo(0, 0)")
            _screenshot(page, shots, f"{role}-{url_path}", lang)
    finally:
        context.close()
