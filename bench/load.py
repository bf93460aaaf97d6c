"""Load benchmark: N browser sessions at once on one dashboard server, page times at 1, 4 and 8 sessions.

    python bench/load.py --db SAMPLE.duckdb                       # N = 1, 4, 8
    python bench/load.py --db A.duckdb --db B.duckdb --sessions 1 8 --budget 900

For each database (copied into a temporary folder: the original is never written) it starts one
``streamlit run dashboard/app.py`` on 127.0.0.1 (a free port, loopback only) and drives it with
Chromium (Playwright; ``REELYTICS_CHROMIUM``, default Debian's ``/usr/bin/chromium``):

1. **first visits**: one session opens every page once (after start-up nothing is cached: these are
   the builds and first computations, printed per page, not part of the figures below);
2. for each N, N sessions at once each open the first page by its address and then every other page
   by the sidebar, each session starting at another page of the list.

A page load is timed from the navigation until its content is rendered: the page's title is shown,
Streamlit's "Running..." status widget is gone and no spinner is left. Printed per N: the number of
loads, median and p95 page time, the server's CPU time over that round and per page view (every
load of the round, those by address included: the load-independent figure; N sessions on C cores
need about C / N seconds or less per view for a 1 s median) and the server's peak RSS (VmHWM). Target: 8 sessions, median page <= 1 s at about 1M events. ``--budget`` bounds the whole
run in seconds (no new page load starts after it; the rounds left are reported as skipped).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _result import emit, side  # bench/_result.py, after the path is set

from dashboard.i18n import t  # noqa: E402

CHROMIUM = Path(os.environ.get("REELYTICS_CHROMIUM", "/usr/bin/chromium"))
TARGET_S = 1.0
#: A page not rendered after this many seconds counts as a failed load (and stops nothing else).
LOAD_TIMEOUT_S = 600
#: JavaScript: the page titled ``title`` is rendered and its script has finished.
RENDERED = """title => {
  const h1 = document.querySelector('[data-testid="stMain"] h1');
  return !!h1 && h1.innerText.trim() === title
    && !document.querySelector('[data-testid="stStatusWidget"]')
    && !document.querySelector('[data-testid="stSpinner"]');
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(db: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "REELYTICS_DB": str(db), "OPENBLAS_NUM_THREADS": "1", "REELYTICS_DIGEST": "off"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):  # bounded wait for the health endpoint
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not start")


def _peak_rss_mib(pid: int) -> float:
    """The process's true peak resident set (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _server_cpu(proc: psutil.Process) -> float:
    c = proc.cpu_times()
    return c.user + c.system


class Session:
    """One browser context: one Streamlit session, visiting pages as a person does."""

    def __init__(self, browser, url: str):
        self.browser, self.url, self.page = browser, url, None

    async def open(self, path: str, title: str) -> float:
        """Open ``path`` (its address the first time, the sidebar link after) and wait until rendered."""
        start = time.perf_counter()
        if self.page is None:
            context = await self.browser.new_context(viewport={"width": 1400, "height": 1000})
            self.page = await context.new_page()
            self.page.set_default_timeout(LOAD_TIMEOUT_S * 1000)  # navigation and clicks wait as long as a load
            await self.page.goto(f"{self.url}/{path}")
        else:
            await self.page.locator(f'[data-testid="stSidebarNav"] a[href$="/{path}"]').first.click()
        await self.page.wait_for_function(RENDERED, arg=title, polling=50, timeout=LOAD_TIMEOUT_S * 1000)
        return time.perf_counter() - start

    async def close(self) -> None:
        if self.page is not None:
            await self.page.context.close()


def _pages() -> list[tuple[str, str]]:
    """(address, English title) of every page the router lists, read from its ``PAGES`` (running the
    router would need a Streamlit session)."""
    tree = ast.parse((ROOT / "dashboard" / "app.py").read_text(encoding="utf-8"))
    listed = next(n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PAGES")
    return [(url, t(title, lang="en")) for _, _, title, _, url in ast.literal_eval(listed)]


async def _visit(session: Session, order: list[tuple[str, str]], deadline: float, times: dict, failures: list,
                 opened: list | None = None) -> None:
    """Open every page of ``order``; ``times[path]`` gets each load's seconds, ``opened`` (when given)
    the first one's (opened by its address: a new browser tab also loads the app's front end)."""
    for path, title in order:
        if time.monotonic() > deadline:
            return
        try:
            fresh = session.page is None
            seconds = await session.open(path, title)
            if fresh and opened is not None:
                opened.append(seconds)
            else:
                times.setdefault(path, []).append(seconds)
        except Exception as exc:  # a page that never rendered: counted, the others go on
            failures.append(f"{path}: {type(exc).__name__}")
            await session.close()
            session.page = None


async def _run_db(source: Path, sessions: list[int], deadline: float, chromium: Path) -> None:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory(prefix="reelytics-load-") as tmp:
        db = Path(tmp) / "data" / "reelytics.duckdb"
        db.parent.mkdir()
        shutil.copy(source, db)
        proc, url = _start_server(db, Path(tmp) / "server.log")
        server = psutil.Process(proc.pid)
        pages = _pages()
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=str(chromium), headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", "--no-first-run"],
                )
                print(f"\n{source.name}: server on {url}, pid {proc.pid}")
                first, failures = {}, []
                cpu = _server_cpu(server)
                one = Session(browser, url)
                await _visit(one, pages, deadline, first, failures)
                await one.close()
                print(f"first visits (1 session, nothing cached): server CPU {_server_cpu(server) - cpu:.1f} s; "
                      + ", ".join(f"{p} {v[0]:.1f}s" for p, v in first.items()))
                print("page loads by the sidebar (a session's first page, opened by its address, apart):")
                print(f"{'sessions':>8} {'loads':>6} {'median s':>9} {'p95 s':>7} {'max s':>7} {'by address s':>13} "
                      f"{'server CPU s':>13} {'CPU/view s':>11} {'peak RSS MiB':>13} {'load':>5}  "
                      f"target: median <= {TARGET_S:g} s at 8 sessions on ~1M events")
                for n in sessions:
                    if time.monotonic() > deadline:
                        print(f"{n:>8} skipped: time budget spent")
                        continue
                    times, failures, opened = {}, [], []
                    cpu = _server_cpu(server)
                    group = [Session(browser, url) for _ in range(n)]
                    shift = max(len(pages) // n, 1)
                    await asyncio.gather(*(
                        _visit(s, pages[i * shift:] + pages[:i * shift], deadline, times, failures, opened)
                        for i, s in enumerate(group)
                    ))
                    for s in group:
                        await s.close()
                    spent = _server_cpu(server) - cpu
                    loads = sorted(x for v in times.values() for x in v)
                    if not loads:
                        print(f"{n:>8} no load finished")
                        continue
                    p95 = loads[min(len(loads) - 1, round(0.95 * (len(loads) - 1)))]
                    print(f"{n:>8} {len(loads):>6} {statistics.median(loads):>9.2f} {p95:>7.2f} {loads[-1]:>7.2f} "
                          f"{statistics.median(opened) if opened else float('nan'):>13.2f} "
                          f"{spent:>13.1f} {spent / (len(loads) + len(opened)):>11.2f} "
                          f"{_peak_rss_mib(proc.pid):>13.0f} {os.getloadavg()[0]:>5.1f}"
                          + (f"  failed: {', '.join(failures)}" if failures else ""), flush=True)
                    emit("load", f"{n} session(s) at once: median page", side(statistics.median(loads)),
                         target=("wall_s", TARGET_S) if n == 8 else None,
                         note=(f"{source.name}; {len(loads)} loads, p95 {p95:.2f} s; server CPU per view "
                               f"{spent / (len(loads) + len(opened)):.2f} s; load average {os.getloadavg()[0]:.1f}; "
                               "the sessions' Chromium shares the machine"))
                    slow = sorted(((statistics.median(v), p) for p, v in times.items()), reverse=True)[:3]
                    print(f"{'':>8} slowest pages (median s): " + ", ".join(f"{p} {m:.2f}" for m, p in slow))
                await browser.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, action="append", required=True, help="sample database to copy (repeatable)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds for the whole run (default 1800)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM} (set REELYTICS_CHROMIUM)")
    deadline = time.monotonic() + args.budget
    # a stopped run still stops its server and browser (the finally blocks run)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    print(f"CPUs {os.cpu_count()}  load {os.getloadavg()[0]:.1f}  budget {args.budget:g} s")
    for source in args.db:
        asyncio.run(_run_db(source, args.sessions, deadline, CHROMIUM))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
