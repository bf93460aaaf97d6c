"""Eight people read every page of one dashboard server while an admin uploads a file through the
Data page: no page shows an exception or an error, every page draws its title, and after the upload
other sessions show the new data (the Overview's views grow by the uploaded views; a view during the
update shows the figures from before it and says so)."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import pytest

from dashboard.i18n import t
from tests.helpers import REPO, wait_for_run

pytestmark = pytest.mark.browser
SERVER_DB_SOURCE = "sample_db"
SESSIONS = 8
NEW_VIEWS = 40
#: Views of a page (a second apart) that may still show the figures from before the upload: a bound
#: that ends a stuck update, far above what the update takes on a machine busy with other tests.
STALE_VIEWS_AT_MOST = 600


def _routes() -> list[tuple[str, str]]:
    """(url path, title key) of every page of the router."""
    app = (REPO / "dashboard" / "app.py").read_text(encoding="utf-8")
    return [(url, key) for key, url in re.findall(r'"[a-z_]+\.py", "(page\.[a-z_]+)", "[^"]+", "([a-z_]+)"', app)]


@pytest.fixture(scope="module")
def last_event(sample_db, tmp_path_factory) -> dt.datetime:
    from analytics.store.storage import Store

    copy = tmp_path_factory.mktemp("last") / "s.duckdb"
    shutil.copy(sample_db, copy)
    store = Store(copy)
    try:
        return store.query("SELECT max(event_time) FROM events WHERE event_type = 'view'").scalar()
    finally:
        store.close()


def _check(page, url: str, title_key: str) -> None:
    body = page.locator("body")
    assert page.locator('[data-testid="stException"]').count() == 0, (url, body.inner_text()[:1500])
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0, (url, body.inner_text()[:1500])
    assert page.locator('[data-testid="stMain"] h1').first.inner_text().strip() == t(title_key), url


def _stale(page) -> bool:
    """Whether the page says it shows figures from before the latest upload."""
    before_when = t("common.as_of", when="\0").split("\0")[0]
    return page.get_by_text(before_when).count() > 0


def _views(page) -> int:
    card = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text(t("kpi.views"), exact=True)).first
    return int(card.locator('[data-testid="stMetricValue"]').inner_text().strip().replace(",", ""))


def test_eight_readers_and_one_upload_at_once(server, browser, tmp_path, last_event):
    routes = _routes()
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(SESSIONS + 1)]
    try:
        readers, admin = [c.new_page() for c in contexts[:SESSIONS]], contexts[-1].new_page()
        for p in [*readers, admin]:
            p.set_default_timeout(120_000)
        # Before: the views of the default period.
        readers[0].goto(f"{server}/overview")
        wait_for_run(readers[0])
        before = _views(readers[0])

        # Each reader walks its share of the pages (together: every page), all at the same time as the upload.
        plan = [routes[i::SESSIONS] for i in range(SESSIONS)]
        csv = tmp_path / "late_views.csv"
        when = last_event - dt.timedelta(minutes=30)
        csv.write_text(
            "user_id,item_id,event_type,event_time,watch_seconds\n"
            + "".join(f"late{i},late_video,view,{when.isoformat(sep=' ')} UTC,{5 + i}\n" for i in range(NEW_VIEWS))
        )
        admin.goto(f"{server}/data")
        admin.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(csv))
        for step in range(max(len(p) for p in plan)):
            walking = [(page, share[step]) for page, share in zip(readers, plan) if step < len(share)]
            for page, (url, _key) in walking:
                page.goto(f"{server}/{url}")  # returns once the shell has loaded; the page's script runs on
            if step == 0:
                admin.get_by_role("button", name=t("data.import")).click()
            for page, (url, key) in walking:
                wait_for_run(page)
                _check(page, url, key)
        admin.get_by_text(f"Imported {NEW_VIEWS} rows from late_views.csv").first.wait_for()
        _check(admin, "data", "page.data")

        # After: other sessions see the new data. While their update is computed, a view may show
        # figures from before the upload and then says so (the views card either figure); a later
        # view shows the new ones and no such note.
        for page in (readers[0], readers[-1]):
            for _view in range(STALE_VIEWS_AT_MOST):
                page.goto(f"{server}/overview")
                wait_for_run(page)
                _check(page, "overview", "page.overview")
                if not _stale(page):
                    break
                assert _views(page) in {before, before + NEW_VIEWS}
                page.wait_for_timeout(1000)
            assert not _stale(page)
            assert _views(page) == before + NEW_VIEWS
    finally:
        for c in contexts:
            c.close()
