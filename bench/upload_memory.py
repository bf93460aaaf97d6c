"""Benchmark: peak memory of the dashboard while a file is uploaded through the browser, and of
``reelytics ingest`` on the command line.

    python bench/upload_memory.py --db SAMPLE.duckdb --upload-rows 1400000 --ingest-rows 1000000

Writes event CSVs under bench/out/ (kept between runs): the first rows of the sample database's
events, as bench/ingest.py exports them; then:

1. starts ``streamlit run dashboard/app.py`` on 127.0.0.1 over a fresh database and drives Debian's
   Chromium (Playwright) to the Data page; uploads the CSV through the file uploader, waits until
   the page shows it staged, then imports it and waits for the report. The server's true peak
   resident memory is the kernel's high-water mark (``VmHWM`` in ``/proc/PID/status``), read after
   the page loads, after the upload is staged, and after the import.
2. runs ``python -m analytics ingest`` on the other CSV into a fresh database in a process of its own
   and reports its peak RSS (``ru_maxrss`` from ``wait4``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "bench"))
from _result import emit, side

CHROMIUM = Path(os.environ.get("REELYTICS_CHROMIUM", "/usr/bin/chromium"))


def csv_of(db: Path, rows: int) -> Path:
    """The first ``rows`` events of the sample database ``db`` as a CSV (written once, then reused)."""
    import duckdb

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{db.stem}_events_{rows}.csv"
    if not path.exists():
        part = path.with_suffix(".part")
        con = duckdb.connect(str(db), read_only=True)
        con.execute(f"COPY (SELECT * EXCLUDE (upload_id, props) FROM events ORDER BY event_time LIMIT {int(rows)}) "
                    f"TO '{part}' (HEADER, DELIMITER ',', FORMAT csv)")
        con.close()
        part.rename(path)
    return path


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def dashboard_upload(csv: Path, work: Path) -> None:
    from playwright.sync_api import sync_playwright

    db = work / "data" / "reelytics.duckdb"
    db.parent.mkdir(parents=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (work / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env={**os.environ, "REELYTICS_DB": str(db), "OPENBLAS_NUM_THREADS": "1"}, stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_page()
            page.set_default_timeout(600_000)
            page.goto(f"{url}/data")
            page.get_by_text("Upload a file").first.wait_for()
            loaded = status_kib(server.pid, "VmHWM")
            t = time.perf_counter()
            page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(csv))
            page.get_by_text(f"Uploaded: {csv.name}").first.wait_for()
            page.get_by_role("button", name="Import").wait_for()
            staged_s = time.perf_counter() - t
            staged = status_kib(server.pid, "VmHWM")
            rss_after = status_kib(server.pid, "VmRSS")
            t = time.perf_counter()
            page.get_by_role("button", name="Import").click()
            page.get_by_text("Data-quality report").first.wait_for()
            imported_s = time.perf_counter() - t
            imported = status_kib(server.pid, "VmHWM")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    size = csv.stat().st_size
    print(f"upload file           {csv.name}: {size / 2**20:,.0f} MiB")
    print(f"dashboard peak RSS    page loaded {mib(loaded)};  upload staged {mib(staged)} ({staged_s:.1f} s, "
          f"+{(staged - loaded) / 1024:,.0f} MiB = {(staged - loaded) * 1024 / size:.2f} x the file);  "
          f"after import {mib(imported)} ({imported_s:.1f} s)")
    print(f"dashboard RSS once the upload is staged {mib(rss_after)}")
    note = f"{csv.name}, {size / 2**20:,.0f} MiB, through the Data page"
    emit("upload_memory", "dashboard, page loaded", side(None, None, loaded / 1024), note=note)
    emit("upload_memory", "dashboard, upload staged", side(staged_s, None, staged / 1024), note=note)
    emit("upload_memory", "dashboard, after the import", side(imported_s, None, imported / 1024), note=note)


def cli_ingest(csv: Path, work: Path) -> None:
    db = work / "cli" / "reelytics.duckdb"
    db.parent.mkdir(parents=True)
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "analytics", "--db", str(db), "ingest", str(csv)], cwd=REPO,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"reelytics ingest failed:\n{out}")
    print(f"reelytics ingest      {csv.name}: {csv.stat().st_size / 2**20:,.0f} MiB, "
          f"{out.splitlines()[1].strip()}")
    wall = time.perf_counter() - t
    print(f"reelytics ingest peak RSS {mib(usage.ru_maxrss)} ({wall:.1f} s)")
    emit("upload_memory", "reelytics ingest", side(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024),
         target=("peak_rss_mb", 1536), note=f"{csv.name}, {csv.stat().st_size / 2**20:,.0f} MiB, one process")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True, help="sample database whose events make the CSVs (only read)")
    ap.add_argument("--upload-rows", type=int, default=1_400_000, help="rows of the uploaded CSV (about 100 MB)")
    ap.add_argument("--ingest-rows", type=int, default=1_000_000, help="rows of the CSV given to reelytics ingest")
    args = ap.parse_args()
    work = OUT / "upload_memory"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        dashboard_upload(csv_of(args.db, args.upload_rows), work)
        cli_ingest(csv_of(args.db, args.ingest_rows), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
