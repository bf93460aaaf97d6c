"""After an upload the Overview shows its previous result at once, says so in both languages (the
router's note above the page), and shows the new figures once their background computation is done.
Each view is a new session: the result is shared by the process (and AppTest cannot rerun a Chinese
page with a radio button)."""

from __future__ import annotations

from analytics.ingest import ingest_file
from dashboard.common import get_store, wait_for_updates
from tests.helpers import RAW_FLOAT, RAW_WORD, open_page

NOTE = {"en": "Shown as of ", "zh": "当前显示的是 "}


def _view(monkeypatch, db, lang: str):
    at = open_page(monkeypatch, db, "overview.py", lang=lang)
    at.run()
    assert not at.exception
    notes = [i.value for i in at.main.info if any(i.value.startswith(n) for n in NOTE.values())]
    views = next(m.value for m in at.metric if m.label in ("Views", "播放量"))
    return notes, views


def test_overview_after_an_upload_shows_the_previous_result_with_a_note(monkeypatch, sample_db_copy):
    monkeypatch.setenv("REELYTICS_DIGEST", "off")
    notes, before = _view(monkeypatch, sample_db_copy, "en")
    assert notes == []
    wait_for_updates()

    store = get_store()
    user, item, moment = store.query(
        "SELECT user_id, item_id, max(event_time) OVER () FROM events WHERE event_type = 'view' LIMIT 1").rows[0]
    csv = sample_db_copy.parent / "one_more_view.csv"
    csv.write_text(f"user_id,item_id,event_type,event_time\n{user},{item},view,{moment:%Y-%m-%d %H:%M:%S}\n")
    ingest_file(store, csv, timezone="UTC")

    for lang in ("zh", "en"):  # the previous figures at once, said to be from before the upload
        notes, views = _view(monkeypatch, sample_db_copy, lang)
        assert len(notes) == 1 and notes[0].startswith(NOTE[lang]), notes
        assert not RAW_WORD.search(notes[0]) and not RAW_FLOAT.search(notes[0])
        assert views == before

    wait_for_updates()
    notes, views = _view(monkeypatch, sample_db_copy, "en")  # the update is done: the new figures, no note
    assert notes == [] and views != before
