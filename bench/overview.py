"""Benchmark: every Overview and ROI query on a large sample, against the same aggregate in bare SQL.

    python bench/overview.py                      # ~10M events (55,000 users x 60 days), built once
    python bench/overview.py --users 5000         # smaller
    python bench/overview.py --db data/bench.duckdb  # reuse (or create) a database file

For each query it prints the median wall time of the library function (the path the pages use:
ibis over DuckDB, the hourly rollup, and for creator, category, video and course the in-memory
breakdown index, whose build time is printed once) and of a hand-written DuckDB SQL query
computing the same aggregate in the same process, and their ratio. Targets: <= 300 ms per Overview query, <= 500 ms for ROI.
A printed "check" confirms the two paths agree on the headline numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from _result import emit, peak_rss_mb, side  # noqa: E402
from _sample_db import add_sample_args, answered_by, sample_store  # noqa: E402

from analytics.metrics.kpis import (  # noqa: E402
    breakdown,
    daily_series,
    kpi_report,
    kpi_values,
    resolve_period,
    top_bottom_videos,
)
from analytics.metrics.roi import compute_roi  # noqa: E402
from analytics.query import engine  # noqa: E402
from analytics.query.filters import Filters  # noqa: E402

TARGET_MS = 300.0
ROI_TARGET_MS = 500.0

# -- the same aggregates in bare DuckDB SQL -------------------------------------------------------
_CATALOG = """(SELECT item_id, max(duration_seconds) AS secs, max(creator) AS creator, max(category) AS category,
                      max(kind) AS kind, max(course_id) AS item_course
               FROM items GROUP BY item_id)"""

def _sql(group: str | None, start, end) -> tuple[str, list]:
    """The two-stage aggregate of :func:`analytics.metrics.kpis.event_components`, written by hand."""
    key = f"{group} AS g," if group else ""
    gkey = "g," if group else ""
    buyer = "sum(orders) OVER (PARTITION BY u.user_id) > 0" if group else "orders > 0"
    sql = f"""
WITH e AS (
  SELECT e0.*, c.creator, c.category, c.kind, c.item_course,
         CASE WHEN coalesce(CASE WHEN e0.video_seconds > 0 THEN e0.video_seconds END,
                            CASE WHEN c.secs > 0 THEN c.secs END) IS NULL THEN NULL
              ELSE least(greatest(e0.watch_seconds, 0) / coalesce(CASE WHEN e0.video_seconds > 0 THEN e0.video_seconds END,
                                                              CASE WHEN c.secs > 0 THEN c.secs END), 1.0) END AS ratio
  FROM events e0 LEFT JOIN {_CATALOG} c USING (item_id)
  WHERE e0.event_time >= ? AND e0.event_time < ?
),
u AS (
  SELECT {key} e.user_id,
    count(*) FILTER (WHERE event_type = 'view') AS views,
    sum(greatest(watch_seconds, 0)) FILTER (WHERE event_type = 'view') AS watch_seconds,
    sum(ratio) FILTER (WHERE event_type = 'view') AS ratio_sum,
    count(ratio) FILTER (WHERE event_type = 'view') AS views_with_length,
    count(*) FILTER (WHERE event_type = 'view' AND ratio >= 0.9) AS complete_views,
    count(*) FILTER (WHERE event_type IN ('like', 'comment', 'share')) AS interactions,
    count(*) FILTER (WHERE event_type = 'follow') AS follows,
    count(*) FILTER (WHERE event_type = 'click') AS clicks,
    count(*) FILTER (WHERE event_type = 'purchase') AS orders,
    count(*) FILTER (WHERE event_type = 'refund') AS refunds,
    sum(revenue::DOUBLE) FILTER (WHERE event_type = 'purchase') AS gross,
    sum(abs(revenue::DOUBLE)) FILTER (WHERE event_type = 'refund') AS refunded
  FROM e GROUP BY ALL
),
n AS (SELECT user_id FROM events WHERE event_type = 'purchase' GROUP BY user_id
      HAVING min(event_time) >= ? AND min(event_time) < ?),
f AS (SELECT u.*, {buyer} AS buyer, n.user_id IS NOT NULL AS new FROM u LEFT JOIN n ON n.user_id = u.user_id)
SELECT {gkey}
  count(*) AS active_users, count_if(views > 0) AS viewers, count_if(views > 0 AND buyer) AS converted_viewers,
  count_if(orders > 0) AS purchasers, count_if(orders > 0 AND new) AS new_buyers,
  sum(views) AS views, sum(watch_seconds) AS watch_seconds, sum(ratio_sum) AS ratio_sum,
  sum(views_with_length) AS views_with_length, sum(complete_views) AS complete_views,
  sum(interactions) AS interactions, sum(follows) AS follows, sum(clicks) AS clicks, sum(orders) AS orders,
  sum(refunds) AS refunds, coalesce(sum(gross), 0) - coalesce(sum(refunded), 0) AS revenue
FROM f {"GROUP BY g" if group else ""}"""
    return sql, [start, end, start, end]


def _spend_sql(group: str | None, period: Filters) -> tuple[str, list]:
    key = f"{group} AS g," if group else ""
    tail = "GROUP BY ALL" if group else ""
    return (f"SELECT {key} sum(spend::DOUBLE) AS spend FROM spend WHERE date >= ? AND date <= ? {tail}",
            [period.date_from, period.date_to])


GROUPS = {
    "channel": "e.channel",
    "campaign": "e.campaign",
    "creator": "e.creator",
    "category": "e.category",
    "video": "e.item_id",
    "course": "coalesce(e.course_id, e.item_course, CASE WHEN e.kind IN ('course','ebook','live','consult') THEN e.item_id END)",
}


def _time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_sample_args(parser, repeat=5)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: DuckDB's choice)")
    args = parser.parse_args()

    folder = None
    path = args.db
    if path is None:
        folder = tempfile.TemporaryDirectory(prefix="reelytics-bench-")
        path = Path(folder.name) / "bench.duckdb"
    store = sample_store(path, args)
    with store.cursor() as cur:
        cur.execute("SET enable_progress_bar = false")
    if args.threads:
        with store.cursor() as cur:
            cur.execute(f"SET threads = {int(args.threads)}")
    counts = store.counts()
    threads = store.query("SELECT current_setting('threads')").scalar()
    print(f"events {counts['events']:,}  items {counts['items']:,}  spend rows {counts['spend']:,}  "
          f"DuckDB threads {threads}  CPUs {os.cpu_count()}")

    period = resolve_period(store, Filters())
    start, end = period.utc_bounds()

    rows = []

    def bench(name, lib, sql=None, target=TARGET_MS):
        lib()  # warm: first compile and catalog caches
        lib_ms, out = _time(lib, args.repeat)
        sql_ms = None
        if sql is not None:
            sql()
            sql_ms, _ = _time(sql, args.repeat)
        ratio = f"{lib_ms / sql_ms:8.2f}" if sql_ms else f"{'':>8}"
        sql_txt = f"{sql_ms:13.1f}" if sql_ms is not None else f"{'—':>13}"
        ok = "yes" if lib_ms <= target else "NO"
        print(f"{name:<28}{lib_ms:12.1f}{sql_txt}{ratio}{target:9.0f}  {ok}", flush=True)
        emit("overview", name.strip(), side(lib_ms / 1000, None, peak_rss_mb()),
             None if sql_ms is None else side(sql_ms / 1000), peer_name="hand-written DuckDB SQL, same process",
             target=("wall_s", target / 1000), note="median wall; peak RSS of the one process")
        rows.append((name, lib_ms, sql_ms))
        return out

    def raw(group=None):
        sql, params = _sql(group, start, end)
        return lambda: store.query(sql, params)

    from analytics.query.accel.rollup import refresh as refresh_rollup

    t = time.perf_counter()
    refresh_rollup(store, force=True)
    rollup_rows = store.query("SELECT count(*) FROM kpi_rollup").scalar()
    print(f"{'hourly rollup build (once per data change)':<44}{(time.perf_counter() - t) * 1000:10.0f} ms  "
          f"({rollup_rows:,} rows; used by cards, series, channel/campaign breakdowns, ROI)")
    print(f"period {period.date_from} .. {period.date_to} (whole span), repeat {args.repeat}, median ms\n")
    print(f"{'query':<28}{'library ms':>12}{'bare SQL ms':>13}{'ratio':>8}{'target':>9}  ok")
    floor_sql = "SELECT count(*) FILTER (WHERE event_type = 'view') FROM events WHERE event_time >= ? AND event_time < ?"
    bench("floor: one pass, count views", lambda: store.query(floor_sql, [start, end]))
    values = bench("kpi cards", lambda: kpi_values(store, period), raw())
    from analytics.metrics.kpis import event_components

    bench("kpi cards without rollup", lambda: answered_by("portable", event_components, store, period), raw())
    day_expr = "(e.event_time + INTERVAL 8 HOUR)::DATE"
    bench("sparkline series (daily)", lambda: daily_series(store, period), raw(day_expr))
    from analytics.query.accel import breakdown as breakdown_index

    print()
    for by in breakdown_index.INDEX_DIMENSIONS:
        t = time.perf_counter()
        breakdown_index.components(store, period, by)
        print(f"breakdown index by {by:<9} (once per data change, dashboard process){(time.perf_counter() - t) * 1000:10.0f} ms")
    held = breakdown_index.nbytes()
    print(f"breakdown indexes held: {held / 2**20:,.0f} MiB\n")
    engine.keep_in_memory(True)  # from here on, as the dashboard process asks
    for by, expr in GROUPS.items():
        spend_sql = _spend_sql(expr.replace("e.", ""), period) if by in ("channel", "campaign") else None

        def sql_fn(expr=expr, spend_sql=spend_sql):
            out = raw(expr)()
            if spend_sql:
                store.query(*spend_sql)
            return out

        bench(f"breakdown by {by}", lambda by=by: breakdown(store, period, by), sql_fn)
    bench("top/bottom videos (views)", lambda: top_bottom_videos(store, period, "views"), raw("e.item_id"))
    bench("top/bottom videos (ctr)", lambda: top_bottom_videos(store, period, "ctr"), raw("e.item_id"))
    bench("top/bottom (conversion)", lambda: top_bottom_videos(store, period, "conversion"), raw("e.item_id"))
    print("without the index (a one-shot CLI call):")
    engine.keep_in_memory(False)  # a one-shot command: no accelerator held in memory
    bench("  breakdown by video", lambda: answered_by("portable", breakdown, store, period, "video"), raw("e.item_id"))
    bench("  breakdown by creator", lambda: answered_by("portable", breakdown, store, period, "creator"), raw("e.creator"))

    def roi_sql():
        out = raw("e.campaign")()
        store.query(*_spend_sql("campaign", period))
        raw()()  # totals
        return out

    bench("roi by campaign", lambda: compute_roi(store, period, "campaign"), roi_sql, ROI_TARGET_MS)
    bench("roi by campaign x channel", lambda: compute_roi(store, period, "campaign_channel"), roi_sql, ROI_TARGET_MS)
    print()
    from analytics.metrics.kpis import EXTERNAL_COMPUTE

    for names, compute in EXTERNAL_COMPUTE.items():
        bench(f"{', '.join(names)} (other module)", lambda compute=compute: compute(store, period))
    bench("whole kpi report (page)", lambda: kpi_report(store, period, external=False), None, 3 * TARGET_MS)

    # the two paths agree on the headline numbers
    check = store.query(*_sql(None, start, end)).records()[0]
    agree = all(
        abs(float(values[k]) - float(check[c])) <= 1e-6 * max(1.0, abs(float(check[c])))
        for k, c in (("views", "views"), ("orders", "orders"), ("active_users", "active_users"),
                     ("revenue", "revenue"), ("new_buyers", "new_buyers"))
    )
    conv = check["converted_viewers"] / check["viewers"] if check["viewers"] else None
    agree = agree and (conv is None or abs(values["conversion"] - conv) < 1e-9)
    print(f"\ncheck: library and bare SQL agree on views, orders, users, revenue, new buyers, conversion: {agree}")
    print(f"peak RSS {psutil.Process().memory_info().rss / 2**20:,.0f} MiB; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs (timings scale with it)")
    page = [r for r in rows if not r[0].startswith(("floor", "kpi cards without", " ", "roi", "whole")) and "other" not in r[0]]
    worst = max(page, key=lambda r: r[1])
    print(f"slowest Overview query: {worst[0]} {worst[1]:.0f} ms")
    store.close()
    if folder is not None:
        folder.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
