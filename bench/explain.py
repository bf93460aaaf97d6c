"""Benchmark: explaining a KPI change across every dimension, against a plain group-by of the same data.

    python bench/explain.py                       # ~10M events (55,000 users x 60 days), built once
    python bench/explain.py --users 12000         # smaller
    python bench/explain.py --db data/bench.duckdb --kpi ctr

Runs as the dashboard does (one process, the in-memory breakdown index for creator, category,
video and course; its one-off build time is printed). For each repeat it times
:func:`analytics.metrics.explain.explain` of the last 7 days against the 7 before over all dimensions,
and a plain DuckDB ``GROUP BY`` per dimension and period of the KPI's two event counts (no
distinct users, no decomposition). Prints the median wall time of both, their ratio, the CPU
time of the explanation and the peak resident memory of the process. Target: 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _result import emit, side  # noqa: E402
from _sample_db import add_sample_args, sample_store  # noqa: E402

from analytics.metrics.explain import explain  # noqa: E402
from analytics.metrics.kpis import DIMENSIONS, resolve_period  # noqa: E402
from analytics.query.filters import Filters  # noqa: E402

TARGET_S = 1.0

#: The dimension as a column of events joined with the catalog (``c``), for the baseline.
_COLUMN = {"channel": "e.channel", "campaign": "e.campaign", "variant": "e.variant", "creator": "c.creator",
           "category": "c.category", "video": "e.item_id", "course": "coalesce(e.course_id, c.course_id)"}


def _group_by(store, dim: str, period: Filters) -> int:
    """Views and clicks per value of ``dim`` in ``period``: the plain aggregate a CTR split needs."""
    start, end = period.utc_bounds()
    sql = f"""
        SELECT {_COLUMN[dim]} AS g, count(*) FILTER (WHERE event_type = 'view') AS views,
               count(*) FILTER (WHERE event_type = 'click') AS clicks
        FROM events e LEFT JOIN (SELECT item_id, max(creator) AS creator, max(category) AS category,
                                        max(course_id) AS course_id FROM items GROUP BY item_id) c USING (item_id)
        WHERE e.event_time >= ? AND e.event_time < ? GROUP BY ALL"""
    return len(store.query(sql, [start, end]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_sample_args(parser, repeat=5)
    parser.add_argument("--kpi", default="conversion")
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp(prefix="reelytics-bench-")) / "bench.duckdb"
    store = sample_store(path, args)
    events = store.counts()["events"]
    whole = resolve_period(store, Filters())
    current = Filters(whole.date_to - dt.timedelta(days=6), whole.date_to)
    previous = current.previous_period()
    print(f"{events:,} events; {args.kpi} {current.date_from}..{current.date_to} against "
          f"{previous.date_from}..{previous.date_to}, dimensions: {', '.join(DIMENSIONS)}")

    t = time.perf_counter()
    explain(store, args.kpi, current)  # builds the breakdown index (once per data change)
    print(f"first explanation, building the in-memory index: {time.perf_counter() - t:8.2f} s")

    walls, cpus, plain = [], [], []
    for _ in range(args.repeat):
        w, c = time.perf_counter(), time.process_time()
        result = explain(store, args.kpi, current)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
        w = time.perf_counter()
        for dim in DIMENSIONS:
            for period in (previous, current):
                _group_by(store, dim, period)
        plain.append(time.perf_counter() - w)
    wall, base = statistics.median(walls), statistics.median(plain)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    top = result.contributors[0] if result.contributors else None
    print(f"explain (all dimensions)      {wall * 1000:8.0f} ms wall  {statistics.median(cpus) * 1000:8.0f} ms CPU"
          f"   target {TARGET_S * 1000:.0f} ms: {'met' if wall <= TARGET_S else 'MISSED'}")
    print(f"plain group-by (same data)    {base * 1000:8.0f} ms wall")
    print(f"ratio explain / group-by      {wall / base:8.2f}")
    print(f"peak RSS                      {peak:8.0f} MiB")
    emit("explain", f"explain {args.kpi}, all dimensions", side(wall, statistics.median(cpus), peak), side(base),
         peer_name="plain DuckDB group-by per dimension and period, same process", target=("wall_s", TARGET_S),
         note="median; peak RSS of the one process")
    if top is not None:
        print(f"check: {args.kpi} {result.previous:.4f} -> {result.current:.4f}; first: {top.dimension} {top.value} "
              f"{top.effect} {top.contribution:+.5f} ({top.share:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
