"""Benchmark: every dashboard page's server-side run, the first view after an upload and warm.

    python bench/pages.py --db SAMPLE.duckdb                 # every page
    python bench/pages.py --db SAMPLE.duckdb --pages overview funnels

The database is copied into a temporary folder (the original is never written). In one process, as
the server runs them (``streamlit.testing.v1.AppTest``, the whole app: router, sidebar, page):

- **first view**: every page is opened once after the process starts (what a running server has
  already done before an upload: accelerators built, results cached, models trained or loaded);
- then, for each page, **upload**: a one-row events file is uploaded (a new data version; the figure
  is the upload's CPU time, the accelerators' upkeep included);
- **after upload**: a new session opens the page: the run a manager waits for after an upload (with
  the shared cache, the previous result and an "as of" note while the new one is computed);
- **update**: the background computation of the new results, waited for (CPU time only);
- **warm**: the same session runs the page again (a widget change that asks nothing new);
- **new session**: another session opens the same page (served from the shared result cache).

Each figure is the wall time of ``AppTest.run()`` with the process's CPU time (every thread, DuckDB's
included) beside it; the peak RSS of the process is printed at the end. Targets: warm <= 1 s,
first view after an upload <= 3 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("REELYTICS_DIGEST", "off")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _result import emit, side  # bench/_result.py, after the path is set

APP = ROOT / "dashboard" / "app.py"
VIEWS = ROOT / "dashboard" / "views"
PAGES = ("overview", "funnels", "retention", "courses", "roi", "alerts", "videos", "recommendations", "similarity",
         "timing", "data", "experiments", "audiences", "segments")
WARM_TARGET_S = 1.0
UPLOAD_TARGET_S = 3.0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(at) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``at``; a page that raised stops the bench."""
    wall, cpu = time.perf_counter(), _cpu()
    at.run()
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    if at.exception:
        raise SystemExit(f"the page raised: {at.exception[0].message}")
    return wall, cpu


def _session(page: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=3600)
    at.switch_page(str(VIEWS / f"{page}.py"))
    return at


def _upload(store, folder: Path, n: int) -> None:
    """One new event of a user already in the data, in the middle of its span (``n`` seconds later for
    the ``n``-th upload, so that no upload repeats an event: a duplicate is not imported and changes
    nothing): a new data version."""
    from analytics.ingest import ingest_file

    user, item, moment = store.query(
        "SELECT user_id, item_id, (SELECT min(event_time) + (max(event_time) - min(event_time)) / 2 FROM events) "
        "FROM events WHERE event_type = 'view' LIMIT 1"
    ).rows[0]
    path = folder / f"upload_{n}.csv"
    moment += dt.timedelta(seconds=n)
    path.write_text(f"user_id,item_id,event_type,event_time\n{user},{item},view,{moment:%Y-%m-%d %H:%M:%S}\n")
    before = store.data_version()
    ingest_file(store, path, timezone="UTC")
    if store.data_version() == before:
        raise SystemExit("the upload changed nothing: no new data version")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="sample database to copy (never written)")
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=PAGES)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="reelytics-pages-") as tmp:
        db = Path(tmp) / "data" / "reelytics.duckdb"
        db.parent.mkdir()
        shutil.copy(args.db, db)
        os.environ["REELYTICS_DB"] = str(db)
        import streamlit.logger

        streamlit.logger.set_log_level("error")  # no "missing ScriptRunContext" lines between the figures
        from dashboard.common import get_store, wait_for_updates

        store = get_store()
        counts = store.counts()
        print(f"events {counts['events']:,}  items {counts['items']:,}  CPUs {os.cpu_count()}  "
              f"load {os.getloadavg()[0]:.1f}")
        print(f"{'page':<16} {'first view s':>12} {'cpu':>6}", flush=True)
        for page in args.pages:
            first = _timed(_session(page))
            print(f"{page:<16} {first[0]:>12.2f} {first[1]:>6.1f}", flush=True)
        wait_for_updates()
        print(f"{'page':<16} {'upload cpu':>10} {'after upload s':>15} {'cpu':>6} {'update cpu':>10} {'warm s':>8} "
              f"{'cpu':>6} {'new session s':>14} {'cpu':>6}  "
              f"targets: warm <= {WARM_TARGET_S:g} s, after upload <= {UPLOAD_TARGET_S:g} s")
        misses = []
        for n, page in enumerate(args.pages):
            cpu = _cpu()
            _upload(store, db.parent, n)
            upload = _cpu() - cpu
            at = _session(page)
            first = _timed(at)
            cpu = _cpu()
            wait_for_updates()
            update = _cpu() - cpu
            warm = _timed(at)
            other = _timed(_session(page))
            flags = []
            if warm[0] > WARM_TARGET_S:
                flags.append("warm")
            if first[0] > UPLOAD_TARGET_S:
                flags.append("after upload")
            if flags:
                misses.append(page)
            note = f"{counts['events']:,} events; AppTest, server side"
            emit("pages", f"{page}: first view after an upload", side(first[0], first[1]), target=("wall_s", UPLOAD_TARGET_S),
                 note=f"{note}; the upload's CPU (upkeep included) {upload:.1f} s, the background update's {update:.1f} s")
            emit("pages", f"{page}: warm rerun", side(warm[0], warm[1]), target=("wall_s", WARM_TARGET_S), note=note)
            print(f"{page:<16} {upload:>10.1f} {first[0]:>15.2f} {first[1]:>6.1f} {update:>10.1f} {warm[0]:>8.2f} "
                  f"{warm[1]:>6.1f} {other[0]:>14.2f} {other[1]:>6.1f}  "
                  f"{'over: ' + ', '.join(flags) if flags else 'ok'}", flush=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak:,.0f} MiB; over a target: {', '.join(misses) or 'none'}")
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
