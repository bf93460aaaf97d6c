"""Benchmark: the full validated ingest against a bare DuckDB ``CREATE TABLE AS SELECT * FROM read_csv``.

    python bench/ingest.py --rows 10000000

Generates a CSV of canonical events under bench/out/ (kept between runs), then runs (1) a bare CTAS
of the file into a fresh database and (2) ``analytics.ingest.ingest_file`` into another fresh
database, each in a process of its own, and prints both times, their ratio and each process's true
peak resident memory: the kernel's high-water mark (``ru_maxrss`` from ``wait4``), not a sample.
Targets: ratio <= 1.5, peak RSS of the ingest <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from _result import emit, side

REPO = Path(__file__).resolve().parents[1]
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


def child(step: str, csv: Path, work: Path) -> None:
    """One measured step, run in a process of its own; prints a JSON line."""
    t = time.perf_counter()
    if step == "bare":
        con = duckdb.connect(str(work / "bare.duckdb"))
        n = con.execute("CREATE TABLE events AS SELECT * FROM read_csv(?)", [str(csv)]).fetchone()[0]
        con.close()
        out = {"rows": n}
    else:
        sys.path.insert(0, str(REPO))
        from analytics.ingest import ingest_file
        from analytics.store.storage import Store

        store = Store(work / "data" / "reelytics.duckdb", read_paths=[csv])
        report = ingest_file(store, csv, timezone="Asia/Shanghai")
        store.close()
        out = {"rows": report.rows_read, "accepted": report.rows_accepted, "rejected": report.rows_rejected,
               "duplicates": report.rows_duplicate}
    out["seconds"] = time.perf_counter() - t
    print(json.dumps(out), flush=True)


def measure(step: str, csv: Path, work: Path) -> dict:
    """Run ``step`` in a child process; its result and its peak RSS in bytes (``ru_maxrss`` is KiB)."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", step, "--csv", str(csv), "--work", str(work)], stdout=subprocess.PIPE, text=True
    )
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{step} failed with status {proc.returncode}")
    return {**json.loads(out.strip().splitlines()[-1]), "peak_rss": usage.ru_maxrss * 1024,
            "cpu": usage.ru_utime + usage.ru_stime}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the databases under bench/out/")
    ap.add_argument("--child", choices=["bare", "ingest"], help=argparse.SUPPRESS)
    ap.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.csv, args.work)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    csv = OUT / f"events_{args.rows}.csv"
    if not csv.exists():
        t = time.perf_counter()
        generate(csv, args.rows)
        print(f"generated {csv.name}: {csv.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - t:.1f} s")
    work = OUT / "ingest_bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    bare = measure("bare", csv, work)
    full = measure("ingest", csv, work)

    def mem(n: int) -> str:
        return f"{n / 1e9:.2f} GB ({n / 2**30:.2f} GiB)"

    print(f"rows                 {args.rows:>12,}  (bare {bare['rows']:,}; ingest read {full['rows']:,}, accepted "
          f"{full['accepted']:,}, rejected {full['rejected']:,}, duplicates {full['duplicates']:,})")
    print(f"bare DuckDB CTAS     {bare['seconds']:>10.2f} s   peak RSS {mem(bare['peak_rss'])}")
    print(f"validated ingest     {full['seconds']:>10.2f} s   peak RSS {mem(full['peak_rss'])}")
    print(f"ratio ingest / bare  {full['seconds'] / bare['seconds']:>10.2f}     (target <= 1.5)")
    print(f"peak RSS of the ingest process {mem(full['peak_rss'])}   (target <= 1.5 GB)")
    ours, peer = (side(r["seconds"], r["cpu"], r["peak_rss"] / 2**20) for r in (full, bare))
    emit("ingest", f"validated ingest of a {args.rows:,}-row CSV", ours, peer, peer_name="bare DuckDB CTAS from read_csv",
         target=("ratio", 1.2), note="one process each")
    emit("ingest", "peak RSS of the ingest process", ours, target=("peak_rss_mb", 1.5e9 / 2**20), note="target 1.5 GB")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
