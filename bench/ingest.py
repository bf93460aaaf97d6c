"""Benchmark: the full validated ingest against a bare DuckDB ``CREATE TABLE AS SELECT * FROM read_csv``.

    python bench/ingest.py --rows 10000000

Generates a CSV of canonical events under bench/out/ (kept between runs), then in one process
times (1) a bare CTAS of the file into a fresh database and (2) ``analytics.ingest.ingest_file``
into another fresh database, and prints both times, their ratio and the peak RSS of this process
and its children (sampled every 50 ms with psutil). Targets: ratio <= 1.5, peak RSS <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

import duckdb
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analytics.ingest import ingest_file  # noqa: E402
from analytics.store.storage import Store  # noqa: E402

OUT = REPO / "bench" / "out"


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Canonical event rows: ISO local times, 200k users, 5k videos, realistic event mix."""
    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed / 100})")
    con.execute(
        f"""COPY (
        SELECT strftime(TIMESTAMP '2026-01-01' + to_seconds(CAST(i * 3 + (hash(i) % 3) AS BIGINT)), '%Y-%m-%d %H:%M:%S') AS event_time,
               'u' || (hash(i * 7) % 200000) AS user_id,
               CASE WHEN r < 0.70 THEN 'view' WHEN r < 0.80 THEN 'impression' WHEN r < 0.88 THEN 'like'
                    WHEN r < 0.91 THEN 'comment' WHEN r < 0.93 THEN 'share' WHEN r < 0.95 THEN 'follow'
                    WHEN r < 0.98 THEN 'click' WHEN r < 0.995 THEN 'add_to_cart' ELSE 'purchase' END AS event_type,
               'v' || (hash(i * 13) % 5000) AS item_id,
               CASE WHEN r < 0.70 THEN round(random() * 60, 1) END AS watch_seconds,
               CASE WHEN r < 0.70 THEN 15 + (hash(i * 13) % 5000) % 90 END AS video_seconds,
               ['douyin', 'kuaishou', 'bilibili'][CAST(1 + hash(i) % 3 AS BIGINT)] AS channel,
               CASE WHEN r >= 0.995 THEN 99.00 END AS revenue
        FROM (SELECT range AS i, random() AS r FROM range({rows}))
    ) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    con.close()


class PeakRss:
    """Peak resident memory of this process and its children, sampled in a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        proc = psutil.Process()
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.05)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the databases under bench/out/")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    csv = OUT / f"events_{args.rows}.csv"
    if not csv.exists():
        t = time.perf_counter()
        generate(csv, args.rows)
        print(f"generated {csv.name}: {csv.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - t:.1f} s")
    work = OUT / "ingest_bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    with PeakRss() as rss_bare:
        t = time.perf_counter()
        con = duckdb.connect(str(work / "bare.duckdb"))
        n_bare = con.execute("CREATE TABLE events AS SELECT * FROM read_csv(?)", [str(csv)]).fetchone()[0]
        con.close()
        bare = time.perf_counter() - t

    with PeakRss() as rss_full:
        t = time.perf_counter()
        store = Store(work / "data" / "reelytics.duckdb", read_paths=[csv])
        report = ingest_file(store, csv, timezone="Asia/Shanghai")
        store.close()
        full = time.perf_counter() - t

    print(f"rows                 {args.rows:>12,}  (bare {n_bare:,}; ingest accepted {report.rows_accepted:,}, "
          f"rejected {report.rows_rejected:,}, duplicates {report.rows_duplicate:,})")
    def mem(n: int) -> str:
        return f"{n / 1e9:.2f} GB ({n / 2**30:.2f} GiB)"

    print(f"bare DuckDB CTAS     {bare:>10.2f} s   peak RSS {mem(rss_bare.peak)}")
    print(f"validated ingest     {full:>10.2f} s   peak RSS {mem(rss_full.peak)}")
    print(f"ratio ingest / bare  {full / bare:>10.2f}     (target <= 1.5)")
    print(f"peak RSS (whole run) {mem(max(rss_bare.peak, rss_full.peak))}   (target <= 1.5 GB)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
