"""Benchmark the CLI as people run it: each command a one-shot process, against its target or a
one-shot chDB process doing the same funnel.

    OPENBLAS_NUM_THREADS=1 python bench/cli.py [--users 55000 --days 60] [--db PATH] [--repeat 3]

Builds (once) a sample database of ``users x days`` with :mod:`analytics.sample` (55,000 users x 60
days is about 10M events) under ``data/bench/`` and writes its events once to Parquet for chDB. The
commands run against a copy of the database (the CLI may store what it derives in the file). Each
run is a fresh process; its wall time, CPU time (user + system, all threads) and true peak RSS
(``ru_maxrss`` from ``wait4``) are recorded. The cases run interleaved (one run of each in turn,
``--repeat`` rounds after a warm-up round), medians are printed:

* ``reelytics --help`` (target <= 0.5 s CPU);
* ``reelytics --json kpis`` (the latest complete 28 days against the 28 before; no target);
* ``reelytics --json kpis --by video`` (target <= 2 s CPU);
* ``reelytics --json funnel --steps view,click,purchase --window 7d`` (the funnel of bench/funnel.py)
  against chDB in a one-shot process reading the Parquet file with ``windowFunnel`` (target <= 1.0x
  chDB's CPU time), twice: on the database as the sample holds it (no persisted funnel order: the
  command reads the events), and on a copy holding the persisted funnel order (built here as the
  dashboard's first funnel builds it; ingest keeps it current after), which the command then reads
  in part. The state of each database is printed; the counts of all are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(Path(__file__).resolve())
sys.path.insert(0, str(ROOT))

from _result import emit, side
from _sample_db import add_sample_args, one_shot

STEPS = ("view", "click", "purchase")
WINDOW = "7d"
WINDOW_SECONDS = 7 * 86400


def _chdb_child(parquet: str) -> None:
    """The peer: one process that reads the Parquet file and computes the funnel's counts per step."""
    import chdb

    conds = ", ".join(f"event_type = '{s}'" for s in STEPS)
    types = ", ".join(repr(s) for s in STEPS)
    sql = (
        f"SELECT level, count() AS n FROM (SELECT user_id, windowFunnel({WINDOW_SECONDS * 1_000_000})"
        f"(toUInt64(toUnixTimestamp64Micro(event_time)), {conds}) AS level "
        f"FROM file('{parquet}', Parquet) WHERE event_type IN ({types}) GROUP BY user_id) GROUP BY level"
    )
    rows = [line.split(",") for line in str(chdb.query(sql, "CSV")).split()]
    by_level = {int(level): int(n) for level, n in rows}
    print(json.dumps([sum(n for lv, n in by_level.items() if lv >= i) for i in range(1, len(STEPS) + 1)]))


def _persist_funnel_order(db: str) -> None:
    """Build the persisted funnel order in ``db`` as the dashboard's first funnel does."""
    import time

    from analytics.query.accel import funnel_order
    from analytics.store.storage import Store

    store = Store(db)
    t0 = time.process_time()
    funnel_order.event_index(store)
    print(json.dumps({"current": funnel_order.is_current(store), "cpu_s": round(time.process_time() - t0, 2)}))
    store.close()


def _prepare(args: argparse.Namespace) -> None:
    """Build the sample database and the Parquet file once; print their paths and the event count.

    Runs in a process of its own: the measured commands are started by a parent that stays small,
    since a child's peak RSS counts the parent's memory it was forked from."""
    from _sample_db import sample_store

    db = args.db or ROOT / "data" / "bench" / f"sample_{args.users}x{args.days}_s{args.seed}.duckdb"
    store = sample_store(db, args)
    events = store.counts()["events"]
    parquet = db.with_name(f"{db.stem}_funnel_events.parquet")
    if not parquet.exists():  # the columns the funnel reads, as stored
        import pyarrow.parquet as pq

        ev = store.table("events")
        pq.write_table(store.to_arrow(ev.select("user_id", "event_type", "event_time")), parquet)
    from analytics.query.accel import funnel_order

    persisted = funnel_order.is_current(store)
    store.close()
    print(json.dumps({"db": str(db), "parquet": str(parquet), "events": events, "funnel_order": persisted}))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_sample_args(ap, repeat=3)
    ap.add_argument("--chdb-child", help=argparse.SUPPRESS)
    ap.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--persist-funnel-order", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.chdb_child:
        return _chdb_child(args.chdb_child)
    if args.persist_funnel_order:
        return _persist_funnel_order(args.persist_funnel_order)
    if args.prepare:
        return _prepare(args)

    argv = sys.argv[1:] if argv is None else argv
    prepared = subprocess.run([sys.executable, SCRIPT, "--prepare", *argv], capture_output=True, text=True, check=False)
    if prepared.returncode != 0:
        raise SystemExit(f"preparing the sample failed: {prepared.stderr.strip()[-800:]}")
    *built, line = prepared.stdout.strip().splitlines()
    for said in built:  # "built ... in N s" when the sample was made now
        print(said)
    setup = json.loads(line)
    db, parquet, events = Path(setup["db"]), setup["parquet"], setup["events"]
    print(f"events: {events:,} ({db.name}); cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")
    print(f"persisted funnel order in {db.name}: {'current' if setup['funnel_order'] else 'none'}")

    with tempfile.TemporaryDirectory(prefix="reelytics-bench-cli-") as tmp:
        copy = Path(tmp) / db.name
        shutil.copy(db, copy)
        with_order = Path(tmp) / f"{db.stem}_funnel_order{db.suffix}"
        shutil.copy(db, with_order)
        built = subprocess.run([sys.executable, SCRIPT, "--persist-funnel-order", str(with_order)], cwd=ROOT,
                               capture_output=True, text=True, check=True)
        order = json.loads(built.stdout.strip().splitlines()[-1])
        assert order["current"], "the funnel order was not persisted"
        print(f"persisted funnel order built in a copy ({order['cpu_s']:.1f} s CPU, as the dashboard's first funnel)")
        cli = [sys.executable, "-m", "analytics", "--db", str(copy)]
        cases = {
            "help": [sys.executable, "-m", "analytics", "--help"],
            "kpis": [*cli, "--json", "kpis"],
            "kpis_by_video": [*cli, "--json", "kpis", "--by", "video"],
            "funnel": [*cli, "--json", "funnel", "--steps", ",".join(STEPS), "--window", WINDOW],
            "funnel_persisted": [sys.executable, "-m", "analytics", "--db", str(with_order), "--json", "funnel",
                                 "--steps", ",".join(STEPS), "--window", WINDOW],
            "chdb_funnel": [sys.executable, SCRIPT, "--chdb-child", parquet],
        }
        runs: dict[str, list[dict]] = {name: [] for name in cases}
        outputs: dict[str, str] = {}
        for round_ in range(args.repeat + 1):  # round 0 warms the file cache and is not counted
            for name, command in cases.items():  # interleaved: ours, then chDB, in every round
                wall, cpu, rss, outputs[name] = one_shot(command, ROOT)
                figures = {"wall": wall, "cpu": cpu, "rss": rss}
                if round_:
                    runs[name].append(figures)

    ours = json.loads(outputs["funnel"])
    counts = [s["count"] for s in ours["steps"]]
    peer_counts = json.loads(outputs["chdb_funnel"])
    persisted_counts = [s["count"] for s in json.loads(outputs["funnel_persisted"])["steps"]]
    print(f"funnel counts: reelytics {counts}, with the persisted funnel order {persisted_counts}, chDB {peer_counts}")
    assert counts == persisted_counts == peer_counts, "the CLI funnel and chDB count different users per step"

    med = {name: side(*(statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "rss"))) for name, rs in runs.items()}
    print(f"median of {args.repeat} one-shot runs   wall s    cpu s   peak RSS MiB")
    for name, figures in med.items():
        print(f"  {name:<22} {figures['wall_s']:8.2f} {figures['cpu_s']:8.2f} {figures['peak_rss_mb']:10.0f}")
    note = f"{events:,} events"
    emit("cli", "reelytics --help", med["help"], target=("cpu_s", 0.5), note="one-shot process")
    emit("cli", "reelytics --json kpis", med["kpis"], note=f"one-shot process; {note}")
    emit("cli", "reelytics --json kpis --by video", med["kpis_by_video"], target=("cpu_s", 2.0),
         note=f"one-shot process; {note}")
    state = "current" if setup["funnel_order"] else "none"
    emit("cli", "reelytics --json funnel (view, click, purchase; 7d)", med["funnel"], med["chdb_funnel"],
         peer_name="chDB windowFunnel, one-shot process reading Parquet", target=("ratio", 1.0),
         note=f"one-shot processes; {note}; persisted funnel order: {state}")
    emit("cli", "reelytics --json funnel (view, click, purchase; 7d), persisted funnel order", med["funnel_persisted"],
         med["chdb_funnel"], peer_name="chDB windowFunnel, one-shot process reading Parquet", target=("ratio", 1.0),
         note=f"one-shot processes; {note}; persisted funnel order: current (built by the dashboard's first funnel, "
              "kept at ingest), read in part")


if __name__ == "__main__":
    main()
