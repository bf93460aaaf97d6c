"""The dashboard's shared result cache: one computation for every session asking at once, a new one
after an upload (the data version is part of the key)."""

from __future__ import annotations

import threading

from analytics.ingest import ingest_file
from dashboard.common import _FLIGHTS, _KNOWN, get_store, shared, single_flight

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


def test_single_flight_lets_one_caller_per_key_in_at_a_time():
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    first_in, release = threading.Event(), threading.Event()

    def work(key: str, name: str, hold: bool) -> None:
        with single_flight(key):
            inside.append(name)
            if len(inside) > 1:
                overlaps.append(tuple(inside))
            if hold:
                first_in.set()
                release.wait()
            inside.remove(name)

    first = threading.Thread(target=work, args=("model", "first", True))
    first.start()
    first_in.wait()
    other_key = threading.Thread(target=work, args=("other", "other key", False))
    other_key.start()
    other_key.join()  # another key is not held up by the first
    same_key = threading.Thread(target=work, args=("model", "same key", False))
    same_key.start()
    same_key.join(0.3)  # time for it to reach the lock while the first holds it
    release.set()
    first.join()
    same_key.join()
    assert overlaps == [("first", "other key")]
    assert _FLIGHTS == {}  # nothing kept once every caller is done


def test_a_page_run_after_an_upload_gets_the_previous_entry_while_one_update_runs(monkeypatch, tmp_path):
    from dashboard.common import begin_run, stale_since, wait_for_updates

    monkeypatch.setenv("REELYTICS_DB", str(tmp_path / "data" / "stale.duckdb"))
    calls: list[str] = []

    def events(store, x: int) -> int:
        calls.append(store.data_version())
        return store.counts()["events"] + x

    cached = shared(events)
    begin_run()  # as the router starts every script run
    assert cached(1) == 1 and stale_since() is None
    csv = tmp_path / "data" / "new.csv"
    csv.write_text("user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05 20:00\n")
    ingest_file(get_store(), csv)
    try:
        begin_run()  # a run after the upload: the previous entry at once, said to be stale
        assert cached(1) == 1 and stale_since() is not None
        assert cached(1) == 1  # asked again in the same run: still one update
        wait_for_updates()
        assert calls == [calls[0], get_store().data_version()]
        begin_run()  # the update is done: the new entry
        assert cached(1) == 2 and stale_since() is None
        assert cached(2) == 3  # other arguments: no earlier entry, computed at once
    finally:
        from dashboard import common

        common._RUN.active = False  # this thread is no script run for the tests after it


def _scaled(store, x: int, *, _by) -> int:
    COMPUTED.append(("scaled", x))
    return x * _by.factor


class _Unhashed:
    """An object another argument identifies (as a model by its fingerprint); equal to nothing else."""

    def __init__(self, factor: int):
        self.factor = factor


def test_an_underscore_keyword_is_passed_on_but_is_no_part_of_the_key(monkeypatch, tmp_path):
    monkeypatch.setenv("REELYTICS_DB", str(tmp_path / "data" / "cache.duckdb"))
    scaled = shared(_scaled)
    COMPUTED.clear()
    assert scaled(3, _by=_Unhashed(2)) == 6
    assert scaled(3, _by=_Unhashed(5)) == 6  # the same key: the entry computed with the first object
    assert scaled(4, _by=_Unhashed(5)) == 20
    assert COMPUTED == [("scaled", 3), ("scaled", 4)]
    # one known entry per key (what an upload's stale-while-revalidate looks up), not one per object
    assert sorted(key[2] for key in _KNOWN if key[0].endswith("._scaled")) == ["(3,)", "(4,)"]


def test_streamlit_s_missing_context_warning_is_dropped_only_in_background_updates(caplog):
    from streamlit.runtime.scriptrunner_utils.script_run_context import (
        get_script_run_ctx,
    )

    from dashboard.common import REFRESH_THREAD

    def ask() -> None:
        get_script_run_ctx()  # warns when the thread has no page run's context

    caplog.set_level("WARNING", logger="streamlit.runtime.scriptrunner_utils.script_run_context")
    for name in (f"{REFRESH_THREAD}test", "another-thread"):
        worker = threading.Thread(target=ask, name=name)
        worker.start()
        worker.join()
    warned = [r.getMessage() for r in caplog.records if "missing ScriptRunContext" in r.getMessage()]
    assert len(warned) == 1 and "another-thread" in warned[0]
