"""Benchmark the Videos and Course completion page queries on ~10M events (a script, not a test).

    OPENBLAS_NUM_THREADS=1 python bench/completion.py [--users 55000 --days 60] [--db PATH] [--repeat 3]

Builds (once) a sample database of ``users x days`` with :mod:`analytics.sample` (55,000 users x 60
days is about 10M events) under ``data/bench/`` and times each query the pages run (the portable
ibis code in :mod:`analytics.metrics.completion` and :mod:`analytics.metrics.courses`), median of ``--repeat`` runs
after one warm-up. Each is set against a peer run in the same process: hand-written DuckDB SQL for
the same aggregate, so the ratio shows what the portable layer costs. Target: <= 500 ms per query.
Peak RSS (this process) from psutil.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from _result import emit, peak_rss_mb, side  # noqa: E402
from _sample_db import add_sample_args, sample_store  # noqa: E402

from analytics.metrics.completion import (  # noqa: E402
    _flagged_views,
    _histogram_counts,
    _per_video,
    retention_curve,
    video_completion,
    video_report,
)
from analytics.metrics.courses import course_completion  # noqa: E402
from analytics.query.filters import Filters  # noqa: E402

# The same per-view flags as analytics.metrics.completion, written directly in DuckDB SQL.
_VIEWS = """
WITH cat AS (
    SELECT item_id, duration_seconds, creator FROM items
    QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY upload_id DESC) = 1
), v AS (
    SELECT e.item_id, e.watch_seconds, c.creator,
           coalesce(CASE WHEN e.video_seconds > 0 THEN e.video_seconds END,
                    CASE WHEN c.duration_seconds > 0 THEN c.duration_seconds END) AS len
    FROM events e LEFT JOIN cat c USING (item_id)
    WHERE e.event_type = 'view'
), r AS (
    SELECT *, CASE WHEN len IS NOT NULL AND watch_seconds IS NOT NULL
                   THEN least(greatest(watch_seconds, 0) / len, 1.0) END AS ratio
    FROM v
)
"""

BARE_VIDEOS = _VIEWS + """
SELECT item_id, count(*) AS views,
       count(watch_seconds) AS with_watch,
       count(ratio) AS usable,
       count(*) FILTER (WHERE watch_seconds >= least(3.0, coalesce(len, 3.0))) AS hooked,
       count(*) FILTER (WHERE ratio >= 0.9) AS complete,
       sum(ratio) AS ratio_sum,
       median(len) AS len
FROM r GROUP BY item_id
"""

BARE_HISTOGRAM = _VIEWS + "SELECT least(floor(ratio * 20), 19) AS bin, count(*) FROM r WHERE ratio IS NOT NULL GROUP BY 1"

BARE_CURVE = _VIEWS + """
SELECT item_id, least(floor(ratio * 100), 100) AS pct, count(*) FROM r
WHERE ratio IS NOT NULL AND (creator = ? OR item_id = ?) GROUP BY ALL
"""

BARE_COURSES = """
WITH buyers AS (
    SELECT user_id, coalesce(course_id, item_id) AS course, min(event_time) AS t
    FROM events WHERE event_type = 'purchase' GROUP BY ALL
), reached AS (
    SELECT b.user_id, b.course, max(e.lesson) AS last
    FROM buyers b JOIN events e
      ON e.user_id = b.user_id AND coalesce(e.course_id, e.item_id) = b.course
    WHERE e.event_type = 'lesson_complete' AND e.event_time >= b.t
    GROUP BY ALL
), acq AS (
    SELECT b.user_id, b.course, arg_max(e.channel, e.event_time) AS channel
    FROM buyers b JOIN events e
      ON e.user_id = b.user_id AND e.course_id = b.course AND e.event_type = 'view' AND e.event_time <= b.t
    GROUP BY ALL
)
SELECT b.course, acq.channel, count(*) AS buyers, count(reached.last) AS started
FROM buyers b LEFT JOIN reached USING (user_id, course) LEFT JOIN acq USING (user_id, course)
GROUP BY ALL
"""


def _time(fn, repeat: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (all threads of this process) of ``fn``.

    On a shared machine the wall time includes waiting for other processes; the CPU time does not,
    and CPU time / threads approximates the wall time on an idle machine with that many cores.
    """
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_sample_args(ap, repeat=3)
    args = ap.parse_args()
    db = args.db or ROOT / "data" / "bench" / f"sample_{args.users}x{args.days}_s{args.seed}.duckdb"
    store = sample_store(db, args)
    counts = store.counts()
    print(f"{db.name}: {counts['events']:,} events, {counts['items']:,} items; DuckDB threads "
          f"{store.query('SELECT current_setting(?)', ['threads']).scalar()}")

    filters = Filters()
    top = video_completion(store, filters).videos
    video = str(top.item_id[0])
    creator = top.creator[0]

    def bare(sql, params=None):
        return lambda: store.query(sql, params)

    views = _flagged_views(store, filters)
    rows = [
        ("videos: per-video table (1 query)", lambda: _per_video(views).execute(), bare(BARE_VIDEOS)),
        ("videos: histogram (1 query)", lambda: _histogram_counts(views).execute(), bare(BARE_HISTOGRAM)),
        ("videos: video_completion (both + pandas)", lambda: video_completion(store, filters),
         lambda: (store.query(BARE_VIDEOS), store.query(BARE_HISTOGRAM))),
        ("videos: retention curve (1 query)", lambda: retention_curve(store, video, filters),
         bare(BARE_CURVE, [creator, video])),
        ("videos: whole page (video_report)", lambda: video_report(store, filters, video=video),
         lambda: (store.query(BARE_VIDEOS), store.query(BARE_HISTOGRAM), store.query(BARE_CURVE, [creator, video]))),
        ("courses: course_completion (6 queries)", lambda: course_completion(store, filters),
         bare(BARE_COURSES)),
    ]
    threads = int(store.query("SELECT current_setting('threads')").scalar())
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; times in ms, median of {args.repeat}")
    print(f"{'query':<40} {'ibis wall':>9} {'cpu':>6} {'bare wall':>9} {'cpu':>6} {'ratio':>6} {'cpu/threads':>11}")
    for name, ours, peer in rows:
        w_ours, c_ours = _time(ours, args.repeat)
        w_peer, c_peer = _time(peer, args.repeat)
        idle = c_ours / threads * 1000
        flag = "ok" if min(w_ours * 1000, idle) <= 500 else "OVER"
        print(f"{name:<40} {w_ours * 1000:9.0f} {c_ours * 1000:6.0f} {w_peer * 1000:9.0f} {c_peer * 1000:6.0f} "
              f"{c_ours / c_peer:6.2f} {idle:11.0f}  {flag} (target 500)")
        emit("completion", name, side(w_ours, c_ours, peak_rss_mb()), side(w_peer, c_peer),
             peer_name="hand-written DuckDB SQL, same process", target=("wall_s", 0.5),
             note="median; peak RSS of the one process")
    print("ratio = CPU time of the ibis query / CPU time of the bare SQL for the same aggregate")
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"RSS {psutil.Process().memory_info().rss / 2**20:,.0f} MiB now, peak {peak:,.0f} MiB; "
          f"curve of video {video} (creator {creator})")
    store.close()


if __name__ == "__main__":
    main()
