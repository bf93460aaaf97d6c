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
* ``reelytics --json kpis`` (the latest complete 28 days against the 28 before; no target) and
  ``reelytics --json kpis --by video`` (target <= 2 s CPU), each in two states of the database:
  *as sampled* (no persisted accelerator structure: whatever other benchmarks persisted in the
  shared sample is forgotten in the copy; each run gets a fresh copy, so a run pays for what
  the command itself builds and stores, such as the hourly rollup), and *persisted* (the hourly
  rollup, the breakdown by video and the funnel order built beforehand by ``reelytics prepare``
  from the database as sampled, as the dashboard's first views leave them; the build is one
  one-shot run, reported without a target);
* ``reelytics --json funnel --steps view,click,purchase --window 7d`` (the funnel of bench/funnel.py)
  against chDB in a one-shot process reading the Parquet file with ``windowFunnel`` (target <= 1.0x
  chDB's CPU time), in both states: as sampled (the command reads the events) and persisted (it
  reads the persisted funnel order in part). The counts of all are compared.
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

from _result import emit, same_answer, side
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


def _forget_child(db: str) -> None:
    """Make ``db`` a database as sampled: forget every persisted accelerator structure (its ``meta``
    key; a structure whose key does not match the data is never used), whatever other benchmarks
    left in the shared sample. Prints the state (none)."""
    from analytics.store.storage import Store

    store = Store(db)
    with store.cursor() as cur:
        for key in _state(store):
            store.set_meta(cur, key, None)
    print(json.dumps({"state": _state(store)}))
    store.close()


def _state(store) -> list[str]:
    """The persisted accelerator structures current in ``store`` (their ``meta`` keys)."""
    version = store.content_version()
    return sorted(key for key, value in store.meta_like("").items() if value.endswith(version) and key != "schema_version")



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
    state = _state(store)
    store.close()
    print(json.dumps({"db": str(db), "parquet": str(parquet), "events": events, "state": state}))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_sample_args(ap, repeat=3)
    ap.add_argument("--chdb-child", help=argparse.SUPPRESS)
    ap.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--forget-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.chdb_child:
        return _chdb_child(args.chdb_child)
    if args.forget_child:
        return _forget_child(args.forget_child)
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
    print(f"persisted structures in {db.name}: {', '.join(setup['state']) or 'none'}")

    with tempfile.TemporaryDirectory(prefix="reelytics-bench-cli-") as tmp:
        sampled, copy, fresh, built = (
            Path(tmp) / f"{db.stem}{suffix}.duckdb" for suffix in ("_sampled", "", "_fresh", "_persisted")
        )
        shutil.copy(db, sampled)
        forgot = subprocess.run([sys.executable, SCRIPT, "--forget-child", str(sampled)], capture_output=True, text=True,
                                check=True)
        setup["state"] = json.loads(forgot.stdout.strip().splitlines()[-1])["state"]  # as sampled: none
        shutil.copy(sampled, copy)
        shutil.copy(sampled, built)

        def cli(path: Path) -> list[str]:
            return [sys.executable, "-m", "analytics", "--db", str(path)]

        # the structures the dashboard's first views build, built as a CLI user builds them, once
        build_wall, build_cpu, build_rss, said = one_shot([*cli(built), "--json", "prepare"], ROOT)
        build = {"state": json.loads(said)["prepared"], "figures": side(build_wall, build_cpu, build_rss)}
        print(f"persisted state: {', '.join(build['state'])}; `reelytics prepare` took {build_wall:.1f} s, "
              f"{build_cpu:.2f} s CPU, peak RSS {build_rss:.0f} MiB")

        cases = {  # name: (the database to copy afresh before each run, or None; the command)
            "help": (None, [sys.executable, "-m", "analytics", "--help"]),
            "kpis": (fresh, [*cli(fresh), "--json", "kpis"]),
            "kpis_by_video": (fresh, [*cli(fresh), "--json", "kpis", "--by", "video"]),
            "kpis_persisted": (None, [*cli(built), "--json", "kpis"]),
            "kpis_by_video_persisted": (None, [*cli(built), "--json", "kpis", "--by", "video"]),
            "funnel": (None, [*cli(copy), "--json", "funnel", "--steps", ",".join(STEPS), "--window", WINDOW]),
            "funnel_persisted": (None, [*cli(built), "--json", "funnel", "--steps", ",".join(STEPS), "--window", WINDOW]),
            "chdb_funnel": (None, [sys.executable, SCRIPT, "--chdb-child", parquet]),
        }
        runs: dict[str, list[dict]] = {name: [] for name in cases}
        outputs: dict[str, str] = {}
        for round_ in range(args.repeat + 1):  # round 0 warms the file cache and is not counted
            for name, (afresh, command) in cases.items():  # interleaved: ours, then chDB, in every round
                if afresh is not None:
                    shutil.copy(sampled, afresh)
                wall, cpu, rss, outputs[name] = one_shot(command, ROOT)
                figures = {"wall": wall, "cpu": cpu, "rss": rss}
                if round_:
                    runs[name].append(figures)
        for name in ("kpis", "kpis_by_video"):
            assert same_answer(json.loads(outputs[name]), json.loads(outputs[f"{name}_persisted"])), f"{name}: the two states differ"

    ours = json.loads(outputs["funnel"])
    counts = [s["count"] for s in ours["steps"]]
    peer_counts = json.loads(outputs["chdb_funnel"])
    persisted_counts = [s["count"] for s in json.loads(outputs["funnel_persisted"])["steps"]]
    print(f"funnel counts: reelytics {counts}, with the persisted funnel order {persisted_counts}, chDB {peer_counts}")
    assert counts == persisted_counts == peer_counts, "the CLI funnel and chDB count different users per step"

    med = {name: side(*(statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "rss"))) for name, rs in runs.items()}
    print(f"median of {args.repeat} one-shot runs   wall s    cpu s   peak RSS MiB")
    for name, figures in med.items():
        print(f"  {name:<26} {figures['wall_s']:8.2f} {figures['cpu_s']:8.2f} {figures['peak_rss_mb']:10.0f}")
    note = f"{events:,} events"
    emit("cli", "reelytics --help", med["help"], target=("cpu_s", 0.5), note="one-shot process")
    sampled = f"as sampled: {', '.join(setup['state']) or 'no persisted accelerator table'}"
    persisted = f"persisted: {', '.join(build['state'])}"
    emit("cli", "reelytics prepare (once; every upload then keeps the structures current)", build["figures"],
         note=f"one-shot process, one run; {note}; builds {', '.join(build['state'])} from the database as sampled")
    emit("cli", "reelytics --json kpis", med["kpis"], note=f"one-shot process; {note}; {sampled}")
    emit("cli", "reelytics --json kpis (persisted structures)", med["kpis_persisted"],
         note=f"one-shot process; {note}; {persisted}")
    emit("cli", "reelytics --json kpis --by video", med["kpis_by_video"], target=("cpu_s", 2.0),
         note=f"one-shot process; {note}; {sampled}")
    emit("cli", "reelytics --json kpis --by video (persisted structures)", med["kpis_by_video_persisted"],
         target=("cpu_s", 2.0), note=f"one-shot process; {note}; {persisted}")
    emit("cli", "reelytics --json funnel (view, click, purchase; 7d)", med["funnel"], med["chdb_funnel"],
         peer_name="chDB windowFunnel, one-shot process reading Parquet", target=("ratio", 1.0),
         note=f"one-shot processes; {note}; {sampled}")
    emit("cli", "reelytics --json funnel (view, click, purchase; 7d), persisted structures", med["funnel_persisted"],
         med["chdb_funnel"], peer_name="chDB windowFunnel, one-shot process reading Parquet", target=("ratio", 1.0),
         note=f"one-shot processes; {note}; {persisted}, the funnel order read in part")


if __name__ == "__main__":
    main()
