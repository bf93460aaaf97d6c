"""kill -9 in the middle of an ingest: after a restart the database holds nothing of that upload,
and the staged copy the killed conversion left behind is cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from analytics.ingest import ingest_file
from analytics.ingest.readers import clean_staging
from analytics.store.storage import Store
from tests.helpers import REPO

# The child ingests the file and, when the named step first reports progress, says so and blocks
# inside the progress callback: the parent kills it at that point, never after a commit.
CHILD = textwrap.dedent(
    """
    import sys, threading
    from analytics.ingest import ingest_file
    from analytics.store.storage import Store

    db, path, step = sys.argv[1:4]
    store = Store(db)

    def progress(fraction, at="", **values):
        if at == step:
            print("at", at, flush=True)
            threading.Event().wait()

    ingest_file(store, path, progress=progress)
    print("finished", flush=True)
    """
)


def _events_file(path, rows: int, encoding: str) -> None:
    lines = ["用户ID,视频ID,行为类型,时间,观看时长(秒)"]
    lines += [f"用户{i % 5000},v{i % 300},播放,2026-01-{1 + i % 28:02d} 20:{i % 60:02d}:00,{i % 90}" for i in range(rows)]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


@pytest.mark.parametrize("step,encoding", [("converting", "gbk"), ("reading", "utf-8"), ("storing", "utf-8")])
def test_a_killed_ingest_leaves_nothing_partial(tmp_path, step, encoding):
    db = tmp_path / "data" / "crash.duckdb"
    store = Store(db)
    (store.data_dir / "first.csv").write_text("user_id,item_id,event_type,event_time\nold,v0,view,2026-01-01 08:00\n")
    ingest_file(store, store.data_dir / "first.csv")
    before = (store.counts(), store.query("SELECT upload_id, file_name FROM uploads").rows)
    store.close()
    path = tmp_path / "data" / "big.csv"
    _events_file(path, 200_000, encoding)

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(path), step],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = child.stdout.readline()
        assert line.startswith("at "), (line, child.stderr.read() if child.poll() is not None else "")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()

    store = Store(db)
    try:
        assert (store.counts(), store.query("SELECT upload_id, file_name FROM uploads").rows) == before
        assert store.query("SELECT count(*) FROM upload_rejects").scalar() == 0
        left = [f.name for f in store.staging_dir.iterdir()]
        if step == "converting":
            assert len(left) == 1 and left[0].startswith("ingest-")  # the killed conversion's copy
        assert clean_staging(store.staging_dir, now=time.time() + 7200) == left
        report = ingest_file(store, path)  # and the same file goes in whole afterwards
        assert report.status == "ok" and report.rows_read == 200_000
        assert report.rows_accepted + report.rows_duplicate == 200_000
    finally:
        store.close()
