"""The same analytics on DuckDB and on Apache Spark, measured: where the crossover lies.

    OPENBLAS_NUM_THREADS=1 python bench/scale_out.py --db SAMPLE.duckdb [--rounds 2] [--spark-url local[2]]

The database is copied into a temporary folder (the original is only read) and exported as Parquet
(:func:`analytics.store.parquet.export_parquet`). Each engine then runs in a fresh child process,
alternately (DuckDB, Spark, DuckDB, Spark, ...): DuckDB on the copy, Spark on a source over the
Parquet (:func:`analytics.store.spark.open_spark_source`). A child opens its engine (timed: for
Spark the JVM's start and the Parquet footers), runs a trivial query (Spark's fixed cost per query:
planning and scheduling a job), then each analytic query twice, the second run timed (``--no-warm-up``:
the first run, once):

* KPIs overview (every KPI of the whole span), KPIs by video (the breakdown),
* a 3-step funnel (view, click, purchase within 7 days, users),
* cohort retention (first seen, daily, 14 periods), timing (views by local weekday and hour),
* video completion.

Both engines answer by the portable path (``engine.using("portable")``: DuckDB's accelerators, which
do not exist on Spark, are left out), so both run the same ibis expressions. Both answers are checked equal. Reported per
query: median wall and CPU seconds (the child's CPU plus, for Spark, the JVM's), and per engine the
peak resident memory of the process tree (child + JVM, sampled every 50 ms). The local Spark JVM
gets a 4 GB heap (``PYSPARK_SUBMIT_ARGS``; Spark's default of 1 GB is for clusters). Not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _result import same_answer
from _sample_db import answered_by
from als_scale import TreeMeter, jvm_cpu, own_cpu, prepare, run_child

ENGINES = ("duckdb", "spark")



def queries():
    """``{name: fn(source, filters) -> comparable answer}``: what the pages and the CLI ask."""
    from analytics.metrics.completion import video_completion
    from analytics.metrics.funnels import FunnelSpec, parse_steps, step_counts
    from analytics.metrics.kpis import breakdown, kpi_values
    from analytics.metrics.retention import compute_retention
    from analytics.metrics.timing import compute_timing

    funnel = FunnelSpec(parse_steps("view,click,purchase"), window_seconds=7 * 86400)

    def rows(frame):  # the rows of a table, order-free (sorted on values rounded to 6 decimals)
        records = json.loads(frame.to_json(orient="records", date_format="iso", double_precision=15))
        return sorted(records, key=lambda r: json.dumps({k: round(v, 6) if isinstance(v, float) else v
                                                         for k, v in r.items()}, sort_keys=True))

    def retention(result):
        values = [[None if v is None or math.isnan(v) else float(v) for v in row] for row in result.values]
        return [list(map(str, result.cohorts)), list(result.sizes), values]

    return {
        "kpis overview": lambda s, f: kpi_values(s, f),
        "kpis by video": lambda s, f: rows(breakdown(s, f, "video").table),
        "funnel 3 steps": lambda s, f: list(step_counts(s, funnel, f)),
        "retention": lambda s, f: retention(compute_retention(s, f, periods=14)),
        "timing": lambda s, f: rows(compute_timing(s, f, outcome="views").cells),
        "completion": lambda s, f: rows(video_completion(s, f).videos),
    }


def child(engine: str, db: Path, parquet: Path, url: str, warm: bool) -> dict:
    meter = TreeMeter()
    from analytics.metrics.kpis import resolve_period
    from analytics.query.filters import Filters

    out: dict = {"engine": engine, "queries": {}}
    t0 = time.perf_counter()
    if engine == "duckdb":
        from analytics.store.storage import Store

        source = Store(db)
    else:
        from analytics.store.spark import open_spark_source

        source = open_spark_source(str(parquet), url)
    items = source.table("items")
    source.scalar(items.count())
    out["open_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    source.scalar(items.count())
    out["trivial_s"] = time.perf_counter() - t0
    period = resolve_period(source, Filters(timezone="Asia/Shanghai"))
    print(f"{engine}: opened in {out['open_s']:.1f} s, trivial query {out['trivial_s']:.2f} s", flush=True)
    for name, fn in queries().items():
        for run in range(1 + warm):
            cpu0, jvm0, t0 = own_cpu(), jvm_cpu(), time.perf_counter()
            answer = answered_by("portable", fn, source, period)
            wall, cpu = time.perf_counter() - t0, own_cpu() - cpu0 + jvm_cpu() - jvm0
            print(f"{engine}: {name} {'warm' if run else 'first'} run {wall:.2f} s wall, {cpu:.2f} s cpu", flush=True)
        out["queries"][name] = {"wall_s": wall, "cpu_s": cpu, "answer": json.loads(json.dumps(answer, default=str))}
    out["peak_tree_rss_mb"] = meter.stop() / 2**20
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, required=True, help="sample database (only read: it is copied)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--spark-url", default="local[2]")
    ap.add_argument("--no-warm-up", action="store_true", help="time each query's first run (default: run it twice, time the second)")
    ap.add_argument("--work", type=Path, default=None,
                    help="folder for the copy and the Parquet, kept and reused when given (default: a temporary one)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.db, args.parquet, args.spark_url, not args.no_warm_up)))
        return

    work = args.work or Path(tempfile.mkdtemp(prefix="scale-out-"))
    try:
        db = prepare(args.db, work)
        runs: dict[str, list[dict]] = {e: [] for e in ENGINES}
        for r in range(args.rounds):
            for engine in ENGINES:
                cmd = [sys.executable, __file__, "--child", engine, "--db", str(db), "--parquet", str(work / "parquet"),
                       "--spark-url", args.spark_url] + (["--no-warm-up"] if args.no_warm_up else [])
                res = run_child(cmd)
                runs[engine].append(res)
                print(f"round {r + 1} {engine}: open {res['open_s']:.1f} s, trivial query {res['trivial_s']:.2f} s, "
                      + ", ".join(f"{q} {v['wall_s']:.2f}" for q, v in res["queries"].items())
                      + f"; peak tree RSS {res['peak_tree_rss_mb']:.0f} MB", flush=True)
        la = os.getloadavg()
        print(f"\n{os.cpu_count()} CPUs, load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}; Spark {args.spark_url}; "
              f"median of {args.rounds} rounds")

        def med(engine, pick):
            return statistics.median(pick(run) for run in runs[engine])

        for engine in ENGINES:
            print(f"{engine}: open {med(engine, lambda r: r['open_s']):.2f} s, trivial query "
                  f"{med(engine, lambda r: r['trivial_s']):.3f} s, peak tree RSS "
                  f"{med(engine, lambda r: r['peak_tree_rss_mb']):.0f} MB")
        print("query | duckdb wall s | duckdb cpu s | spark wall s | spark cpu s | wall ratio spark/duckdb | cpu ratio | same")
        total = {e: 0.0 for e in ENGINES}
        for q in runs["duckdb"][0]["queries"]:
            d_wall, s_wall = (med(e, lambda r, q=q: r["queries"][q]["wall_s"]) for e in ENGINES)
            d_cpu, s_cpu = (med(e, lambda r, q=q: r["queries"][q]["cpu_s"]) for e in ENGINES)
            same = all(same_answer(r["queries"][q]["answer"], runs["duckdb"][0]["queries"][q]["answer"])
                       for e in ENGINES for r in runs[e])
            total["duckdb"] += d_wall
            total["spark"] += s_wall
            print(f"{q} | {d_wall:.2f} | {d_cpu:.2f} | {s_wall:.2f} | {s_cpu:.2f} | {s_wall / d_wall:.1f}x | "
                  f"{s_cpu / max(d_cpu, 1e-9):.1f}x | {'yes' if same else 'NO'}")
        print(f"all six | {total['duckdb']:.2f} | | {total['spark']:.2f} | | {total['spark'] / total['duckdb']:.1f}x | |")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
