"""Recommendations at scale: three ways to train the same ALS model on the same events, measured.

    OPENBLAS_NUM_THREADS=1 python bench/als_scale.py --db SAMPLE.duckdb [--rounds 2] [--spark-url local[2]]

The database is copied into a temporary folder (the original is only read) and exported as Parquet
there (:func:`analytics.store.parquet.export_parquet`). Then, each in a fresh child process, in
interleaved rounds (A B C A B C ...):

* ``duckdb+implicit``: :func:`analytics.recsys.scale_out.train_on_source` on the DuckDB store
  (matrix aggregated by DuckDB, implicit ALS on the CPU);
* ``spark-als``: the same on a Spark source over the Parquet (``kind="spark-als"``: weights
  aggregated on Spark, Spark ML ``ALS(implicitPrefs=True)`` trains there);
* ``spark+implicit``: the same Spark source, ``kind="als"`` (weights aggregated on Spark, the
  (user, item, weight) pairs collected as COO, implicit ALS in the driver).

Every case trains twice: on every event (the time reported) and on the events up to a cutoff day
(the days holding the first 80% of events) for quality: precision / recall / MAP / NDCG at 10 of
the items each user meets for the first time after the cutoff, seen items never recommended,
the same held-out pairs for every case (:mod:`analytics.recsys.ranking`).

Reported per case (median over rounds): training wall seconds (Spark's start is reported apart),
CPU seconds of the child and of its JVM, and the peak resident memory of the process tree (the
sum of the child's and the JVM's RSS, sampled every 50 ms, and the child's own ``ru_maxrss``).
Same parameters everywhere (fixed, no search). Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-memory 4g pyspark-shell")  # local[N]: the JVM heap
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil

CASES = ("duckdb+implicit", "spark-als", "spark+implicit")


class TreeMeter:
    """Peak summed RSS of this process and its descendants (the Spark JVM), sampled in a thread."""

    def __init__(self, every: float = 0.05) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def jvm_cpu() -> float:
    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def own_cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def child(case: str, db: Path, parquet: Path, url: str, cutoff: dt.date, factors: int, iterations: int) -> dict:
    meter = TreeMeter()
    from analytics.query.filters import Filters
    from analytics.recsys.evaluation import _relevant
    from analytics.recsys.ranking import ranking_metrics
    from analytics.recsys.recommend import AlsParams, interaction_weights
    from analytics.recsys.scale_out import train_on_source
    from analytics.store.storage import Store

    params = AlsParams(factors=factors, iterations=iterations, regularization=0.05, alpha=2.0, gpu="off")
    out: dict = {"case": case}
    t0 = time.perf_counter()
    if case == "duckdb+implicit":
        source = Store(db)
    else:
        from analytics.store.spark import open_spark_source

        source = open_spark_source(str(parquet), url)
        source.table("events")
    out["start_s"] = time.perf_counter() - t0
    kind = "spark-als" if case == "spark-als" else "als"
    cpu0, jvm0, t0 = own_cpu(), jvm_cpu(), time.perf_counter()
    model = train_on_source(source, params, kind=kind)
    out["train_s"] = time.perf_counter() - t0
    out["cpu_s"] = own_cpu() - cpu0
    out["jvm_cpu_s"] = jvm_cpu() - jvm0
    print(f"{case}: trained in {out['train_s']:.1f} s wall, cpu {out['cpu_s']:.1f} + jvm {out['jvm_cpu_s']:.1f} s",
          flush=True)
    out["users"], out["items"], out["pairs"] = len(model.user_ids), len(model.item_ids), model.matrix.nnz

    # quality: train on the events up to the cutoff day, score the first-time items after it
    train = train_on_source(source, params, kind=kind, filters=Filters(date_to=cutoff, timezone="UTC"))
    events = source.table("events")
    later = events.filter(events.event_time >= dt.datetime.combine(cutoff + dt.timedelta(days=1), dt.time()))
    held = source.to_arrow(interaction_weights(source, later, params))
    test = _relevant(train.matrix, held["user_id"], held["item_id"])
    U, V = train.user_factors, train.item_factors
    m = ranking_metrics(case, lambda rows: U[rows] @ V.T, train.user_items, test, 10, auc=False)
    out.update(test_users=m.users, precision_at_10=m.precision_at_k, recall_at_10=m.recall_at_k,
               map_at_10=m.map_at_k, ndcg_at_10=m.ndcg_at_k)
    out["peak_tree_rss_mb"] = meter.stop() / 2**20
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_child(cmd: list[str]) -> dict:
    """Run a child, echo its progress lines as they come, return its result."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as child_process:
        result = None
        for line in child_process.stdout:
            if line.startswith("RESULT "):
                result = json.loads(line[7:])
            else:
                print("  " + line.rstrip(), flush=True)
    if result is None:
        sys.exit(f"{cmd[3]} failed (exit status {child_process.returncode})")
    return result



def prepare(original: Path, work: Path) -> Path:
    """A copy of the database in ``work`` and its Parquet export in ``work/parquet`` (kept when there)."""
    from analytics.store.parquet import export_parquet
    from analytics.store.storage import Store

    db = work / "copy.duckdb"
    if not (work / "parquet").exists():
        work.mkdir(parents=True, exist_ok=True)
        shutil.copy(original, db)
        t0 = time.perf_counter()
        store = Store(db)
        rows = export_parquet(store, work / "parquet")
        store.close()
        print(f"{rows.get('events'):,} events; Parquet export {time.perf_counter() - t0:.1f} s", flush=True)
    return db


def cutoff_day(db: Path) -> dt.date:
    """The UTC day by which 80% of the events have happened."""
    from analytics.store.storage import Store

    store = Store(db)
    events = store.table("events")
    q = store.scalar(events.event_time.epoch_seconds().quantile(0.8))
    store.close()
    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=float(q))).date()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, required=True, help="sample database (only read: it is copied)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--spark-url", default="local[2]")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--work", type=Path, default=None,
                    help="folder for the copy and the Parquet, kept and reused when given (default: a temporary one)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--cutoff", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = child(args.child, args.db, args.parquet, args.spark_url, dt.date.fromisoformat(args.cutoff),
                       args.factors, args.iterations)
        print("RESULT " + json.dumps(result))
        return

    work = args.work or Path(tempfile.mkdtemp(prefix="als-scale-"))
    try:
        db = prepare(args.db, work)
        cutoff = cutoff_day(db)
        print(f"quality split: train on events up to {cutoff} (UTC), test on first-time items after it", flush=True)
        results: dict[str, list[dict]] = {c: [] for c in args.cases.split(",")}
        for r in range(args.rounds):
            for case, done_runs in results.items():
                cmd = [sys.executable, __file__, "--child", case, "--db", str(db), "--parquet", str(work / "parquet"),
                       "--spark-url", args.spark_url, "--cutoff", cutoff.isoformat(), "--factors", str(args.factors),
                       "--iterations", str(args.iterations)]
                res = run_child(cmd)
                done_runs.append(res)
                print(f"round {r + 1} {case}: train {res['train_s']:.1f} s wall, cpu {res['cpu_s']:.1f} + jvm "
                      f"{res['jvm_cpu_s']:.1f} s, peak tree RSS {res['peak_tree_rss_mb']:.0f} MB", flush=True)
        print(f"\nload average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; "
              f"{os.cpu_count()} CPUs; factors {args.factors}, iterations {args.iterations}")
        head = ("case", "start s", "train s", "cpu s", "jvm cpu s", "peak MB", "P@10", "R@10", "MAP@10", "NDCG@10")
        print(" | ".join(head))
        base = None
        for case, runs in results.items():
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "case"}
            base = base or med
            print(f"{case} | {med['start_s']:.1f} | {med['train_s']:.1f} | {med['cpu_s']:.1f} | {med['jvm_cpu_s']:.1f} | "
                  f"{med['peak_tree_rss_mb']:.0f} | {med['precision_at_10']:.4f} | {med['recall_at_10']:.4f} | "
                  f"{med['map_at_10']:.4f} | {med['ndcg_at_10']:.4f}")
            print(f"  ratio to {next(iter(results))}: train wall {med['train_s'] / base['train_s']:.2f}x, "
                  f"cpu {(med['cpu_s'] + med['jvm_cpu_s']) / (base['cpu_s'] + base['jvm_cpu_s']):.2f}x, "
                  f"peak RSS {med['peak_tree_rss_mb'] / base['peak_tree_rss_mb']:.2f}x; "
                  f"{runs[0]['users']} users, {runs[0]['items']} items, {runs[0]['pairs']} pairs, "
                  f"{runs[0]['test_users']} test users")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
