"""Benchmark the Retention and Timing page queries on ~10M events (a script, not a test).

    OPENBLAS_NUM_THREADS=1 python bench/retention_timing.py [--users 55000 --days 60] [--db PATH] [--repeat 3]

Builds (once) a sample database of ``users x days`` with :mod:`analytics.sample` (55,000 users x 60
days is about 10M events) under ``data/`` and times each query the pages run, median of
``--repeat`` runs after one warm-up. Ratios are against a peer run in the same process, timed
alternately with each query (so a busy machine slows both alike): a plain SQL scan that counts
distinct users per local day, the least any retention query must do. ``cpu ms`` is the process
CPU time (all threads) of the query: on a busy shared machine it says more than the wall time.
Target: <= 500 ms per query. Peak RSS from psutil.
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

from analytics.metrics.retention import compute_retention, day_n_retention  # noqa: E402
from analytics.metrics.timing import audience_activity, compute_timing  # noqa: E402
from analytics.query.filters import Filters  # noqa: E402

_PROC = psutil.Process()
_CPU: list[float] = []


def _once(fn) -> float:
    """Wall seconds of one call; the process CPU seconds it used are appended to ``_CPU``."""
    c0 = sum(_PROC.cpu_times()[:2])
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    _CPU.append(sum(_PROC.cpu_times()[:2]) - c0)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_sample_args(ap, repeat=3)
    ap.add_argument("--only", default="", help="comma-separated query names to run")
    args = ap.parse_args()
    db = args.db or ROOT / "data" / "bench" / f"sample_{args.users}x{args.days}_s{args.seed}.duckdb"
    store = sample_store(db, args)
    counts = store.counts()
    print(f"events {counts['events']:,}  items {counts['items']:,}  db {db}")
    f = Filters(timezone="Asia/Shanghai")

    def peer():
        return store.query(
            "SELECT count(*) FROM (SELECT DISTINCT user_id, CAST(event_time + INTERVAL 8 HOUR AS DATE) FROM events)"
        ).scalar()

    queries = {
        "peer: distinct user-days (SQL)": peer,
        "day_n_retention D1": lambda: day_n_retention(store, f, 1),
        "day_n_retention D7": lambda: day_n_retention(store, f, 7),
        "day_n_retention D30": lambda: day_n_retention(store, f, 30),
        "retention users day on": lambda: compute_retention(store, f, periods=14),
        "retention users day on_or_after": lambda: compute_retention(store, f, mode="on_or_after", periods=14),
        "retention users week first_purchase": lambda: compute_retention(store, f, cohort="first_purchase", period="week", periods=8),
        "retention watch_seconds week": lambda: compute_retention(store, f, period="week", measure="watch_seconds", periods=8),
        "retention revenue day": lambda: compute_retention(store, f, measure="revenue", periods=14),
        "timing audience activity": lambda: audience_activity(store, f),
        "timing views (page call)": lambda: compute_timing(store, f, outcome="views"),
        "timing ctr (page call)": lambda: compute_timing(store, f, outcome="ctr"),
    }
    only = [q.strip() for q in args.only.split(",") if q.strip()]
    proc = _PROC
    peer()  # warm-up
    print(f"{'query':<40}{'median ms':>10}{'cpu ms':>8}{'peer ms':>9}{'x peer':>8}{'<=500ms':>9}")
    for name, fn in queries.items():
        if name.startswith("peer") or (only and name not in only):
            continue
        fn()  # warm-up
        q_times, p_times, q_cpu, p_cpu = [], [], [], []
        for _ in range(args.repeat):
            p_times.append(_once(peer))
            p_cpu.append(_CPU[-1])
            q_times.append(_once(fn))
            q_cpu.append(_CPU[-1])
        secs, base, cpu = statistics.median(q_times), statistics.median(p_times), statistics.median(q_cpu)
        print(
            f"{name:<40}{secs * 1000:>10.0f}{cpu * 1000:>8.0f}{base * 1000:>9.0f}{secs / base:>8.1f}"
            f"{'yes' if secs <= 0.5 else 'NO':>9}",
            flush=True,
        )
        emit("retention_timing", name, side(secs, cpu, peak_rss_mb()), side(base, statistics.median(p_cpu)),
             peer_name="SQL: distinct user-days, same process", target=("wall_s", 0.5),
             note="median; peak RSS of the one process")
    print(f"peak RSS {proc.memory_info().rss / 2**20:,.0f} MiB")
    store.close()


if __name__ == "__main__":
    main()
