"""The dashboard's shared result cache: one computation for every session asking at once, a new one
after an upload (the data version is part of the key)."""

from __future__ import annotations

import threading

from analytics.ingest import ingest_file
from dashboard.common import get_store, shared

COMPUTED: list[tuple[str, int]] = []
STARTED = threading.Event()
RELEASE = threading.Event()


def _events(store, x: int) -> tuple[int, int]:
    """A computation that holds still until released, so a second caller arrives while it runs."""
    COMPUTED.append((store.data_version(), x))
    STARTED.set()
    RELEASE.wait()
    return store.counts()["events"], x


def test_sessions_asking_at_once_share_one_computation_and_an_upload_recomputes(monkeypatch, tmp_path):
    monkeypatch.setenv("REELYTICS_DB", str(tmp_path / "data" / "cache.duckdb"))
    events = shared(_events)
    answers: dict[str, tuple[int, int]] = {}

    def session(name: str) -> None:
        answers[name] = events(7)

    first = threading.Thread(target=session, args=("first",))
    first.start()
    STARTED.wait()
    second = threading.Thread(target=session, args=("second",))  # asks while the first computes
    second.start()
    second.join(0.3)  # time for the second to reach the cache while the first still computes
    RELEASE.set()
    first.join()
    second.join()
    assert answers == {"first": (0, 7), "second": (0, 7)}
    assert len(COMPUTED) == 1

    assert events(7) == (0, 7)  # a later visit reads the same entry
    assert events(8) == (0, 8)  # other arguments: another entry
    assert len(COMPUTED) == 2

    csv = tmp_path / "data" / "new.csv"
    csv.write_text("user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05 20:00\n")
    ingest_file(get_store(), csv)  # an upload: a new data version
    assert events(7) == (1, 7)
    assert [version for version, _ in COMPUTED[1:]] == [COMPUTED[0][0], get_store().data_version()]
    assert COMPUTED[0][0] != COMPUTED[-1][0]
    assert len(COMPUTED) == 3
