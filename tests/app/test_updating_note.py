"""After an upload the Overview shows its previous result at once, says so in both languages, and
shows the new figures once their background computation is done (the router says so above the
page). Each view is a new session (the result is shared by the process, and AppTest cannot rerun a
Chinese page with a radio button)."""

from __future__ import annotations

import pytest

from analytics.ingest import ingest_file
from dashboard.common import get_store, wait_for_updates
from tests.helpers import RAW_FLOAT, RAW_WORD, open_page

NOTE = {"en": "Shown as of ", "zh": "当前显示的是 "}


def _notes(at) -> list[str]:
    return [i.value for i in at.main.info if any(i.value.startswith(n) for n in NOTE.values())]


def _views(at) -> str:
    return next(m.value for m in at.metric if m.label in ("Views", "播放量"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_overview_after_an_upload_shows_the_previous_result_with_a_note(monkeypatch, sample_db_copy, lang):
    monkeypatch.setenv("REELYTICS_DIGEST", "off")
    at = open_page(monkeypatch, sample_db_copy, "overview.py", lang=lang)
    at.run()
    assert not at.exception
    assert _notes(at) == []
    before = _views(at)
    wait_for_updates()

    store = get_store()
    user, item, moment = store.query(
        "SELECT user_id, item_id, max(event_time) OVER () FROM events WHERE event_type = 'view' LIMIT 1").rows[0]
    csv = sample_db_copy.parent / "one_more_view.csv"
    csv.write_text(f"user_id,item_id,event_type,event_time\n{user},{item},view,{moment:%Y-%m-%d %H:%M:%S}\n")
    ingest_file(store, csv, timezone="UTC")

    at = open_page(monkeypatch, sample_db_copy, "overview.py", lang=lang)  # a session opening the page
    at.run()  # the previous figures at once, said to be from before the upload
    assert not at.exception
    notes = _notes(at)
    assert len(notes) == 1 and notes[0].startswith(NOTE[lang]), notes
    assert not RAW_WORD.search(notes[0]) and not RAW_FLOAT.search(notes[0])
    assert _views(at) == before

    wait_for_updates()
    at = open_page(monkeypatch, sample_db_copy, "overview.py", lang=lang)
    at.run()  # the update is done: the new figures, no note
    assert not at.exception
    assert _notes(at) == []
    assert _views(at) != before
