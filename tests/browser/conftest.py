"""A real Streamlit server on a free port and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import APP, REPO

CHROMIUM = Path(os.environ.get("REELYTICS_CHROMIUM", "/usr/bin/chromium"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/setup.sh --test (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    """Start ``streamlit run dashboard/app.py`` on a free port over a fresh database; yield its URL.

    A test module may set ``SERVER_DB_SOURCE`` (a fixture name returning a database path to copy)
    and ``SERVER_USERS_SOURCE`` (a fixture name returning a users file to copy beside the database).
    """
    folder = tmp_path_factory.mktemp("server")
    db = folder / "data" / "reelytics.duckdb"
    db.parent.mkdir(parents=True)
    source_fixture = getattr(request.module, "SERVER_DB_SOURCE", None)
    if source_fixture:
        shutil.copy(request.getfixturevalue(source_fixture), db)
    users_fixture = getattr(request.module, "SERVER_USERS_SOURCE", None)
    if users_fixture:
        shutil.copy(request.getfixturevalue(users_fixture), db.parent / "users.json")
    port = _free_port()
    env = {**os.environ, "REELYTICS_DB": str(db), "OPENBLAS_NUM_THREADS": "1"}
    with open(folder / "server.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):  # wait until the health endpoint answers (bounded, not a timing assertion)
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited early:\n{(folder / 'server.log').read_text()}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.2)
            else:
                raise RuntimeError("streamlit did not start")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    p.set_default_timeout(60_000)
    yield p
    context.close()
