"""Persisted accelerators: their disk and memory cost, loading them vs the portable answer, and the
upkeep of a 100k-event upload (appended to them) vs rebuilding them whole.

    OPENBLAS_NUM_THREADS=1 python bench/accelerators.py --db SAMPLE.duckdb [--rows 100000] [--rounds 2]

``--db`` is only read: it is copied into a scratch folder (``--work``, default a temporary one)
and every step runs on copies. Every measured side is a process of its own (so its peak RSS is
true: ``ru_maxrss`` of that child, from ``wait4``); the CPU and wall time printed are those of the
measured work inside it (imports and opening excluded), and the peers run interleaved (ABAB).

1. *build*: one process builds each persisted structure (hourly rollup; breakdown parts of
   ``--dims`` in the time zone; funnel event order) and reports its build time and, after a
   checkpoint, the storage blocks its tables hold (its disk cost) and its rows;
2. *one-shot load vs portable*: a fresh process answers a query from the persisted structure (as a
   one-shot CLI command does: it never builds; the breakdown tables are queried in DuckDB, not
   loaded) and another answers it the portable way; the in-memory size of what was loaded is printed;
3. *upkeep*: a ``--rows`` event upload (copies of existing events moved a week later, a tenth of
   them under new user ids) is committed, then one process runs the upkeep that follows an upload
   (:func:`analytics.query.engine.after_upload`: rows appended) and another rebuilds the same
   structures whole.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _sample_db import one_shot

ZONE = "Asia/Shanghai"
UPLOAD_SQL = """
INSERT INTO events BY NAME
SELECT * REPLACE (
    event_time + INTERVAL 7 DAY AS event_time,
    CASE WHEN hash(rowid) % 10 = 0 THEN 'new-' || user_id ELSE user_id END AS user_id,
    ? AS upload_id)
FROM events USING SAMPLE reservoir({rows} ROWS) REPEATABLE (7)
"""


# -- children ---------------------------------------------------------------------------------
def _structures(store, dims, zone):
    from analytics.metrics.funnels import FunnelSpec, parse_steps
    from analytics.query.filters import Filters
    from analytics.query.layer import Components, FunnelEvents

    spec = FunnelSpec(parse_steps("view[watch_ratio>=0.5],click,purchase"), window_seconds=7 * 86400)
    everything = Filters(timezone=zone)
    return {
        "rollup": Components(everything, ()),
        **{f"breakdown {d}": Components(everything, (d,)) for d in dims},
        "funnel_order": FunnelEvents(spec, Filters(timezone=zone, channels=("douyin",))),
    }


def _tables_of(name: str) -> tuple[str, ...]:
    from analytics.query.accel import breakdown, funnel_order, rollup

    if name == "rollup":
        return (rollup.ROLLUP_TABLE,)
    if name == "funnel_order":
        return (funnel_order.USERS_TABLE, funnel_order.EVENTS_TABLE)
    return breakdown._tables(name.split()[1], ZONE)


def _child(args) -> dict:
    from analytics.query import engine
    from analytics.query.accel import breakdown, funnel_order, rollup
    from analytics.store.storage import Store

    store = Store(args.child_db)
    dims = args.dims.split(",")
    zone = ZONE
    queries = _structures(store, dims, zone)
    out: dict = {}
    c0, w0 = time.process_time(), time.perf_counter()
    if args.child == "build":
        block = int(store.query("SELECT block_size FROM pragma_database_size()").scalar())
        for name, query in queries.items():
            s0, t0 = time.process_time(), time.perf_counter()
            with engine.using(name.split()[0]):
                engine.ask(store, query)
            out[name] = {"cpu": time.process_time() - s0, "wall": time.perf_counter() - t0}
        store.query("CHECKPOINT")
        for name in queries:
            tables = _tables_of(name)
            blocks = sum(int(store.query(f"SELECT count(DISTINCT block_id) FROM pragma_storage_info('{t}') "
                                         "WHERE block_id >= 0").scalar()) for t in tables)
            rows = int(store.query(f'SELECT count(*) FROM "{tables[-1]}"').scalar())
            out[name].update(disk_mib=blocks * block / 2**20, rows=rows)
    elif args.child in ("load", "portable"):
        query = queries[args.query]
        if args.child == "load":
            path = "breakdown_tables" if args.query.startswith("breakdown") else args.query.split()[0]
            acc = next(a for a in engine.ACCELERATORS if a.name == path)  # the path a one-shot command takes
            assert acc.is_ready(store, query), "the persisted structure is not current"
            engine.ask(store, query)  # uses it: held nowhere, persisted and current
            out["nbytes_mib"] = (breakdown.nbytes() + sum(i.nbytes for i in funnel_order._CACHE.values())) / 2**20
        else:
            with engine.using(engine.PORTABLE):
                engine.ask(store, query)
    elif args.child == "append":
        engine.after_upload(store, args.upload_id, "events")
    elif args.child == "rebuild":
        key = store.content_version()
        rollup.refresh(store, force=True)
        for meta_key in store.meta_like(breakdown.META_PREFIX):
            _, by, tz = meta_key.split("|", 2)
            breakdown._persist(store, by, tz, key)
        funnel_order._persist(store, key)
    out["cpu"], out["wall"] = time.process_time() - c0, time.perf_counter() - w0
    store.close()
    return out


def _run(args, db: Path, child: str, **extra) -> dict:
    """Run one child on ``db``; its report plus its true peak RSS (MiB)."""
    cmd = [sys.executable, __file__, "--child", child, "--child-db", str(db), "--dims", args.dims]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    _, _, peak, out = one_shot(cmd, ROOT)
    report = json.loads(out.strip().splitlines()[-1])
    report["peak_mib"] = peak
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, help="sample database to copy (only read)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--rows", type=int, default=100_000, help="events in the appended upload")
    ap.add_argument("--rounds", type=int, default=2, help="ABAB rounds of each comparison")
    ap.add_argument("--dims", default="video,creator", help="breakdown dimensions to persist")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-db", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--query", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--upload-id", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
        return
    if args.db is None:
        ap.error("--db is required")
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        _bench(args, Path(tmp))


def _bench(args, work: Path) -> None:
    from analytics.store.storage import Store
    from analytics.store.uploads import register_upload

    base = work / "base.duckdb"
    shutil.copyfile(args.db, base)
    store = Store(base)
    n = store.counts()["events"]
    store.close()
    print(f"events: {n:,}; cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")

    built = _run(args, base, "build")
    print("\n1. persisted structures (built once; disk: storage blocks of their tables after a checkpoint)")
    print(f"{'structure':<22}{'build cpu s':>12}{'wall s':>9}{'disk MiB':>10}{'rows':>12}")
    names = [k for k in built if isinstance(built[k], dict)]
    for name in names:
        b = built[name]
        print(f"{name:<22}{b['cpu']:12.2f}{b['wall']:9.2f}{b['disk_mib']:10.1f}{b['rows']:12,}")
    print(f"(all built in one process: peak RSS {built['peak_mib']:,.0f} MiB)")

    print("\n2. a one-shot process: load the persisted structure and answer vs the portable answer "
          f"(median of {args.rounds}, ABAB)")
    print(f"{'query':<22}{'load cpu s':>11}{'wall s':>8}{'peak MiB':>10}{'held MiB':>10}"
          f"{'portable cpu s':>16}{'wall s':>8}{'peak MiB':>10}{'cpu ratio':>11}")
    for name in names:
        loads, ports = [], []
        for _ in range(args.rounds):
            loads.append(_run(args, base, "load", query=name))
            ports.append(_run(args, base, "portable", query=name))
        lc, lw, lp = (statistics.median(r[k] for r in loads) for k in ("cpu", "wall", "peak_mib"))
        pc, pw, pp = (statistics.median(r[k] for r in ports) for k in ("cpu", "wall", "peak_mib"))
        held = loads[-1]["nbytes_mib"]
        print(f"{name:<22}{lc:11.2f}{lw:8.2f}{lp:10,.0f}{held:10,.0f}{pc:16.2f}{pw:8.2f}{pp:10,.0f}{lc / pc:10.2f}x")

    appended = work / "appended.duckdb"
    shutil.copyfile(base, appended)
    store = Store(appended)
    with store.transaction() as cur:
        upload_id = register_upload(cur, kind="events", file_name="bench.csv", sha256="bench", rows_accepted=args.rows)
        cur.execute(UPLOAD_SQL.format(rows=int(args.rows)), [upload_id])
    store.query("CHECKPOINT")
    store.close()
    print(f"\n3. upkeep after a {args.rows:,}-event upload: rows appended vs every structure rebuilt "
          f"(median of {args.rounds}, ABAB)")
    runs: dict[str, list[dict]] = {"append": [], "rebuild": []}
    for _ in range(args.rounds):
        for side, reports in runs.items():
            copy = work / "round.duckdb"
            shutil.copyfile(appended, copy)
            reports.append(_run(args, copy, side, upload_id=upload_id))
            copy.unlink()
    print(f"{'side':<22}{'cpu s':>8}{'wall s':>9}{'peak MiB':>10}   runs (cpu s)")
    for side, reports in runs.items():
        c, w, p = (statistics.median(r[k] for r in reports) for k in ("cpu", "wall", "peak_mib"))
        print(f"{side:<22}{c:8.2f}{w:9.2f}{p:10,.0f}   {', '.join(format(r['cpu'], '.2f') for r in reports)}")
    a, r = (statistics.median(x["cpu"] for x in runs[s]) for s in ("append", "rebuild"))
    wa, wr = (statistics.median(x["wall"] for x in runs[s]) for s in ("append", "rebuild"))
    print(f"append / rebuild: cpu {a / r:.3f}x, wall {wa / wr:.3f}x")


if __name__ == "__main__":
    main()
