"""Declarative fixtures for tests (PostHog's ``journeys_for`` style).

    insert_events(store, {"alice": [("view", t0), ("purchase", t0 + 60, {"revenue": 99})]})

Times are naive UTC datetimes or seconds after ``T0``. Rows go straight into the canonical
``events`` table (upload_id 0), bypassing ingest, so analytics tests do not depend on it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from analytics.store.schema import EVENT_COLUMNS, ITEM_COLUMNS, SPEND_COLUMNS
from analytics.store.storage import Store
from analytics.store.uploads import insert_canonical

T0 = dt.datetime(2026, 1, 5, 12, 0, 0)  # a Monday, 20:00 in Asia/Shanghai
#: The sample with its planted incidents that the alerts and explain tests share (``incidents_db``).
INCIDENTS_SAMPLE = {"users": 12000, "days": 60, "seed": 7}

#: Values a person must never read: Python's own words for nothing and for flags ...
RAW_WORD = re.compile(r"\b(None|True|False|nan|NaN|NaT)\b")
#: ... and a number with four or more decimals, as Python prints an unformatted float (not a date or a time).
RAW_FLOAT = re.compile(r"(?<![\d.:-])\d+\.\d{4,}(?![\d.:-])")

_ARROW = {
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "DECIMAL(18,2)": pa.float64(),
    "INTEGER": pa.int32(),
    "DATE": pa.date32(),
}


def _at(t: Any) -> dt.datetime:
    if isinstance(t, dt.datetime):
        return t
    return T0 + dt.timedelta(seconds=float(t))


def _insert(store: Store, table: str, columns: dict[str, str], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    data = {c: [r.get(c) for r in rows] for c in columns}
    arrow = pa.table({c: pa.array(v, type=_ARROW[columns[c]]) for c, v in data.items()})
    with store.transaction() as cur:
        insert_canonical(cur, table, arrow, upload_id=0)


def insert_events(store: Store, journeys: Mapping[str, Sequence[tuple]], **defaults: Any) -> None:
    """Insert events per user: ``(event_type, time[, {column: value}])`` tuples.

    ``item_id`` defaults to ``"v1"``; ``defaults`` apply to every row unless a tuple overrides them.
    """
    rows = []
    for user, events in journeys.items():
        for ev in events:
            row = {"item_id": "v1", **defaults, "user_id": user, "event_type": ev[0], "event_time": _at(ev[1])}
            if len(ev) > 2:
                row.update(ev[2])
            rows.append(row)
    _insert(store, "events", EVENT_COLUMNS, rows)


def insert_items(store: Store, items: Sequence[Mapping[str, Any]]) -> None:
    _insert(store, "items", ITEM_COLUMNS, [dict(i) for i in items])


def insert_spend(store: Store, rows: Sequence[Mapping[str, Any]]) -> None:
    _insert(store, "spend", SPEND_COLUMNS, [dict(r) for r in rows])


REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"
APP = REPO / "dashboard" / "app.py"


#: The app's root while a script runs. Streamlit's status widget appears only a moment after a run
#: starts, so its absence does not say that the run is over; the root's script state does.
SCRIPT_RUNNING = '[data-testid="stApp"]:not([data-test-script-state="notRunning"])'


def wait_for_run(page, timeout: float | None = None) -> None:
    """Wait (in a real browser) until the page's title is drawn and no script runs."""
    page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=timeout)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(state="attached", timeout=timeout)


def open_page(monkeypatch, db, page: str, *, lang: str | None = None, state: Mapping[str, Any] | None = None):
    """An AppTest of the whole app (router, sidebar, page) over database ``db``, switched to ``page``.

    ``page`` is a file name in dashboard/views; ``lang`` sets the UI language; ``state`` seeds the
    session state. The generous script timeout only stops a hung run: tests never assert on time.
    """
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("REELYTICS_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=600)
    if lang:
        at.session_state["lang"] = lang
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.switch_page(str(REPO / "dashboard" / "views" / page))
    return at


def by_path(path: str, fn, *args: Any, **kwargs: Any):
    """``fn(*args, **kwargs)`` with every query answered by the query-layer path ``path``
    (an accelerator's name, or ``"portable"``) where it can answer."""
    from analytics.query import engine

    with engine.using(path):
        return fn(*args, **kwargs)
def shown_table(element):
    """A page's ``st.dataframe`` as a person reads it: the frame with its headers as shown."""
    import json

    config = json.loads(element.proto.columns or "{}")
    frame = element.value
    return frame.rename(columns={c: (config.get(str(c)) or {}).get("label") or c for c in frame.columns})


def loads_pandas(code: str) -> bool:
    """Whether running ``code`` in a fresh interpreter at the repository root imports pandas."""
    import subprocess
    import sys

    probe = f"{code}\nimport sys\nprint('pandas' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    return out.stdout.strip().splitlines()[-1] == "True"
