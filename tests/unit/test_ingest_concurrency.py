"""People uploading at the same time: each file lands once, and the counts add up."""

from __future__ import annotations

import threading

from analytics.ingest import ingest_file


def test_the_same_file_uploaded_by_two_people_at_once_lands_once(store):
    paths = []
    for k in range(2):
        path = store.data_dir / f"f{k}.csv"
        path.write_text(
            "user_id,item_id,event_type,event_time\n"
            + "".join(f"u{k}_{i},v1,view,2026-01-05 10:{i % 60:02d}:{i % 59:02d}\n" for i in range(2000))
            + f"u{k}_x,v1,teleport,2026-01-05\n"
        )
        paths.append(path)
    reports, errors = [], []
    start = threading.Barrier(4)

    def upload(path):
        start.wait()
        try:
            reports.append(ingest_file(store, path))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(p,)) for p in (paths[0], paths[0], paths[0], paths[1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.status for r in reports) == ["already_uploaded", "already_uploaded", "ok", "ok"]
    assert store.counts()["events"] == 4000
    assert store.query("SELECT count(*) FROM uploads").scalar() == 2
    assert store.query("SELECT count(*) FROM upload_rejects").scalar() == 2
