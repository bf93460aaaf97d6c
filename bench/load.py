"""Load benchmark: N sessions at once on one dashboard server, page times at 1, 4 and 8 sessions.

    python bench/load.py --db SAMPLE.duckdb                       # N = 1, 4, 8, websocket driver
    python bench/load.py --db A.duckdb --db B.duckdb --sessions 1 8 --budget 900
    python bench/load.py --db SAMPLE.duckdb --driver browser      # the same rounds in Chromium

For each database (copied into a temporary folder: the original is never written) it starts one
``streamlit run dashboard/app.py`` on 127.0.0.1 (a free port, loopback only) and drives it with one
of two drivers:

- ``websocket`` (default): each session is a client of Streamlit's own protocol on
  ``/_stcore/stream`` (the ``websockets`` client Streamlit itself depends on), as the browser's
  front end is: it sends a ``BackMsg`` rerun request for a page (by its address the first time, by
  the page's script hash after, as a sidebar click does, with the query string the server last set)
  and reads ``ForwardMsg`` messages until the script's run has finished. A page time is from the
  request until the finished message, every delta of the run received before it: the server's work
  and its queueing, **without the browser's rendering**. A page fails the run unless it finished
  successfully, sent its title (the page's ``h1``) and sent no exception element.
- ``browser``: Chromium sessions (Playwright; ``REELYTICS_CHROMIUM``, default Debian's
  ``/usr/bin/chromium``); a page time is from the navigation until the page is rendered: its title
  is shown, Streamlit's "Running..." status widget is gone and no spinner is left. The sessions'
  Chromium processes share the machine with the server, so their rendering is part of the figures.

Rounds, either driver:

1. **first visits**: one session opens every page once (after start-up nothing is cached: these are
   the builds and first computations, printed per page, not part of the figures below);
2. for each N, N sessions at once each open the first page by its address and then every other page
   by the sidebar, each session starting at another page of the list, with no pause between pages.

Printed per N: the number of page loads, median and p95 page time, the server's CPU time over that
round and per page view (every load of the round, those by address included: the load-independent
figure; N sessions on C cores need about C / N seconds or less per view for a 1 s median) and the
server's peak RSS (VmHWM). Target: 8 sessions, median page <= 1 s at about 1M events. ``--budget``
bounds the whole run in seconds (no new page load starts after it; the rounds left are reported as
skipped).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
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

from dashboard.i18n import t

CHROMIUM = Path(os.environ.get("REELYTICS_CHROMIUM", "/usr/bin/chromium"))
TARGET_S = 1.0
TARGET_EVENTS = 2_000_000  # the target is stated at about 1M events: it applies to databases up to this size
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


def _events(db: Path) -> int:
    """The number of events in the database ``db`` (before the server opens it)."""
    from analytics.store.storage import Store

    store = Store(db)
    try:
        return store.counts()["events"]
    finally:
        store.close()


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


class BrowserSession:
    """One browser context: one Streamlit session, visiting pages as a person does."""

    def __init__(self, browser, url: str):
        self.browser, self.url, self.page = browser, url, None

    @property
    def opened(self) -> bool:
        return self.page is not None

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
        self.page = None


class PageFailed(Exception):
    """A page's run that did not finish successfully, showed an exception or lacked its title."""


class WebsocketSession:
    """One websocket client of ``/_stcore/stream``: one Streamlit session, asking for pages as the
    browser's front end does (first by address, then by the page's script hash, as a sidebar click)."""

    def __init__(self, url: str):
        self.url, self.ws = url.replace("http://", "ws://", 1) + "/_stcore/stream", None
        self.hashes: dict[str, str] = {}  # url path -> page script hash, from the navigation message
        self.query = ""  # the query string the server last set (the filters live in the address)

    @property
    def opened(self) -> bool:
        return self.ws is not None

    async def open(self, path: str, title: str) -> float:
        """Ask for the page ``path`` and read its run to the end; its seconds."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from websockets.asyncio.client import connect

        start = time.perf_counter()
        if self.ws is None:
            self.ws = await connect(self.url, subprotocols=["streamlit"], max_size=None, open_timeout=LOAD_TIMEOUT_S,
                                    ping_interval=None, compression=None)
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        if path in self.hashes:
            state.page_script_hash = self.hashes[path]
        else:
            state.page_name = path
        await self.ws.send(msg.SerializeToString())
        await asyncio.wait_for(self._read_run(title), LOAD_TIMEOUT_S)
        return time.perf_counter() - start

    async def _read_run(self, title: str) -> None:
        """Read messages until the requested script run finished (runs ended early for a rerun are
        read through); fail on an exception element, a missing title or a failed run."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        started, titled = False, False
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await self.ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                started, titled = True, False
            elif kind == "navigation":
                self.hashes = {p.url_pathname: p.page_script_hash for p in fwd.navigation.app_pages}
            elif kind == "page_info_changed":
                self.query = fwd.page_info_changed.query_string
            elif kind == "page_not_found":
                raise PageFailed("page not found")
            elif kind == "delta" and started:
                element = fwd.delta.new_element
                shown = element.WhichOneof("type")
                if shown == "exception":
                    raise PageFailed(f"exception {element.exception.type}: {element.exception.message[:200]}")
                if shown == "heading" and element.heading.tag == "h1" and element.heading.body == title:
                    titled = True
            elif kind == "script_finished" and started:
                status = fwd.script_finished
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    started = False  # the next run (its own new_session) is the one asked for
                    continue
                if status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                    continue
                if status != ForwardMsg.FINISHED_SUCCESSFULLY:
                    raise PageFailed(f"script finished with status {status}")
                if not titled:
                    raise PageFailed(f"no title {title!r}")
                return

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        self.ws = None


def _pages() -> list[tuple[str, str]]:
    """(address, English title) of every page the router lists, read from its ``PAGES`` (running the
    router would need a Streamlit session)."""
    tree = ast.parse((ROOT / "dashboard" / "app.py").read_text(encoding="utf-8"))
    listed = next(n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PAGES")
    return [(url, t(title, lang="en")) for _, _, title, _, url in ast.literal_eval(listed)]


async def _visit(session: BrowserSession | WebsocketSession, order: list[tuple[str, str]], deadline: float, times: dict, failures: list,
                 opened: list | None = None) -> None:
    """Open every page of ``order``; ``times[path]`` gets each load's seconds, ``opened`` (when given)
    the first one's (opened by its address: a new browser tab also loads the app's front end)."""
    for path, title in order:
        if time.monotonic() > deadline:
            return
        try:
            fresh = not session.opened
            seconds = await session.open(path, title)
            if fresh and opened is not None:
                opened.append(seconds)
            else:
                times.setdefault(path, []).append(seconds)
        except Exception as exc:  # noqa: BLE001 - a page that never rendered: counted, the others go on
            failures.append(f"{path}: {type(exc).__name__} {exc}"[:300])
            with contextlib.suppress(Exception):  # a broken connection is closed already
                await session.close()


@contextlib.asynccontextmanager
async def _driver(name: str, url: str, chromium: Path):
    """A factory of new sessions of the ``name`` driver on the server at ``url``."""
    if name == "websocket":
        yield lambda: WebsocketSession(url)
        return
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(chromium), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            yield lambda: BrowserSession(browser, url)
        finally:
            await browser.close()


async def _run_db(source: Path, sessions: list[int], deadline: float, driver: str, chromium: Path) -> int:
    """Every round on one copy of ``source``; the number of failed page loads."""
    failed = 0
    what = ("server side: request to the run's last message, the browser's rendering excluded"
            if driver == "websocket" else "in Chromium: navigation to the rendered page; the sessions' Chromium "
            "shares the machine")
    with tempfile.TemporaryDirectory(prefix="reelytics-load-") as tmp:
        db = Path(tmp) / "data" / "reelytics.duckdb"
        db.parent.mkdir()
        shutil.copy(source, db)
        events = _events(db)
        proc, url = _start_server(db, Path(tmp) / "server.log")
        server = psutil.Process(proc.pid)
        pages = _pages()
        try:
            async with _driver(driver, url, chromium) as new_session:
                print(f"\n{source.name}: server on {url}, pid {proc.pid}; driver {driver} ({what})")
                first, failures = {}, []
                cpu = _server_cpu(server)
                one = new_session()
                await _visit(one, pages, deadline, first, failures)
                await one.close()
                failed += len(failures)
                print(f"first visits (1 session, nothing cached): server CPU {_server_cpu(server) - cpu:.1f} s; "
                      + ", ".join(f"{p} {v[0]:.1f}s" for p, v in first.items())
                      + (f"  failed: {', '.join(failures)}" if failures else ""))
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
                    group = [new_session() for _ in range(n)]
                    shift = max(len(pages) // n, 1)
                    await asyncio.gather(*(
                        _visit(s, pages[i * shift:] + pages[:i * shift], deadline, times, failures, opened)
                        for i, s in enumerate(group)
                    ))
                    for s in group:
                        await s.close()
                    failed += len(failures)
                    spent = _server_cpu(server) - cpu
                    loads = sorted(x for v in times.values() for x in v)
                    if not loads:
                        print(f"{n:>8} no load finished" + (f"  failed: {', '.join(failures)}" if failures else ""))
                        continue
                    p95 = loads[min(len(loads) - 1, round(0.95 * (len(loads) - 1)))]
                    per_view = spent / (len(loads) + len(opened))
                    print(f"{n:>8} {len(loads):>6} {statistics.median(loads):>9.2f} {p95:>7.2f} {loads[-1]:>7.2f} "
                          f"{statistics.median(opened) if opened else float('nan'):>13.2f} "
                          f"{spent:>13.1f} {per_view:>11.2f} "
                          f"{_peak_rss_mib(proc.pid):>13.0f} {os.getloadavg()[0]:>5.1f}"
                          + (f"  failed: {', '.join(failures)}" if failures else ""), flush=True)
                    emit("load", f"{n} session(s) at once on {events:,} events: median page ({driver})",
                         side(statistics.median(loads)),
                         target=("wall_s", TARGET_S) if n == 8 and events <= TARGET_EVENTS else None,
                         note=(f"{source.name}; driver {driver}, {what}; {len(loads)} loads, p95 {p95:.2f} s; "
                               f"server CPU per view {per_view:.2f} s; load average {os.getloadavg()[0]:.1f}"))
                    slow = sorted(((statistics.median(v), p) for p, v in times.items()), reverse=True)[:3]
                    print(f"{'':>8} slowest pages (median s): " + ", ".join(f"{p} {m:.2f}" for m, p in slow))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, action="append", required=True, help="sample database to copy (repeatable)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds for the whole run (default 1800)")
    parser.add_argument("--driver", choices=("websocket", "browser"), default="websocket",
                        help="websocket: Streamlit's protocol, server side (default); browser: Chromium sessions")
    args = parser.parse_args()
    for source in args.db:
        if not source.is_file():
            parser.exit(2, f"load.py: error: no database at {source}\n")
    if args.driver == "browser" and not CHROMIUM.exists():
        parser.exit(2, f"load.py: error: Chromium not found at {CHROMIUM} (set REELYTICS_CHROMIUM)\n")
    deadline = time.monotonic() + args.budget
    # a stopped run still stops its server and browser (the finally blocks run)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    print(f"CPUs {os.cpu_count()}  load {os.getloadavg()[0]:.1f}  budget {args.budget:g} s  driver {args.driver}")
    failed = sum(asyncio.run(_run_db(source, args.sessions, deadline, args.driver, CHROMIUM)) for source in args.db)
    if failed:
        print(f"{failed} page load(s) failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
