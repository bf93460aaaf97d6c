"""Benchmark: the validated ingest of a CSV against DuckDB's own ``read_csv`` of the same file.

    OPENBLAS_NUM_THREADS=1 python bench/ingest.py --db SAMPLE.duckdb [--repeat 3]

The CSV is the events table of a sample database (``--db``; built with :mod:`analytics.sample` from
``--users --days --seed`` when the file does not exist yet, 55,000 x 60 days being about 10M events;
an existing database is only read), written once with DuckDB's ``COPY`` to a folder under the system's
temporary folder and kept there between runs (``--csv-dir`` to choose another). Both sides are a
one-shot process of their own, each starting from a fresh database file:

* bare DuckDB: ``read_csv`` (types detected by DuckDB) inserted into a table with the same columns as
  Reelytics' ``events`` table -- the same work minus every validation;
* Reelytics: ``python -m analytics --tz UTC --json ingest FILE`` (the CLI one-shot: sniffing, mapping,
  checksum, every rejection rule, duplicates, warnings, the quality report, one transaction).

The two run interleaved (bare, ingest, bare, ingest ...; ``--repeat`` pairs). For each run: wall time,
CPU time of the process and its threads, and true peak resident memory -- the kernel's high-water
mark from ``wait4`` (``ru_maxrss``), not a sample. Prints the medians, the ingest/bare ratios of wall
and CPU time (target <= 1.2) and the ingest's peak RSS (target <= 1.5 GB), with the load average
before and after (on a loaded machine the CPU ratio is the steadier figure).

``--rules`` then prices the validation, in this process on the same file: DuckDB's typed read into a
table (the bare side's work), the file read as text, the ingest's whole row transform (every rule, and
again without the per-cell tests the file's facts rule out), the transform written to a
table, and each rule's expression alone over the text columns (CPU seconds, best of three).
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analytics.store.schema import EVENT_COLUMNS

sys.path.insert(0, str(REPO / "bench"))
from _result import emit, side as result_side  # noqa: E402
from _sample_db import one_shot  # noqa: E402

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

TARGET_RATIO = 1.2
TARGET_RSS = 1.5e9

#: The bare side: one process, one statement into a table shaped like the events table.
BARE = """
import sys, duckdb
con = duckdb.connect(sys.argv[2])
con.execute("SET enable_progress_bar = false")
con.execute(sys.argv[3])
n = con.execute("INSERT INTO events SELECT *, 0, NULL FROM read_csv(?)", [sys.argv[1]]).fetchone()[0]
con.close()
print(n)
"""


def export_csv(db: Path, args: argparse.Namespace, folder: Path) -> Path:
    """The events of ``db`` as a CSV in ``folder`` (written once, then reused while ``db`` is unchanged)."""
    import duckdb

    if not db.exists():
        sys.path.insert(0, str(REPO / "bench"))
        from _sample_db import sample_store

        sample_store(db, args).close()
    stat = db.stat()
    csv = folder / f"{db.stem}-{stat.st_size}-{int(stat.st_mtime)}.csv"
    if csv.exists():
        return csv
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    part = csv.with_suffix(".part")
    con = duckdb.connect(str(db), read_only=True)
    con.execute(
        f"COPY (SELECT * EXCLUDE (upload_id, props) FROM events) TO '{part}' (HEADER, DELIMITER ',', FORMAT csv)"
    )
    con.close()
    part.rename(csv)
    print(f"wrote {csv} ({csv.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t:.1f} s")
    return csv


def measure(side: str, csv: Path, work: Path) -> dict:
    """Run one side in a fresh process against a fresh database; wall, CPU and peak RSS (bytes)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db = work / "reelytics.duckdb"
    if side == "bare":
        ddl = "CREATE TABLE events (" + ", ".join(f'"{c}" {t}' for c, t in EVENT_COLUMNS.items())
        ddl += ", upload_id INTEGER NOT NULL, props MAP(VARCHAR, VARCHAR))"
        cmd = [sys.executable, "-c", BARE, str(csv), str(db), ddl]
    else:
        cmd = [sys.executable, "-m", "analytics", "--db", str(db), "--tz", "UTC", "--json", "ingest", str(csv)]
    wall, cpu, peak_mib, out = one_shot(cmd, REPO)
    if side == "bare":
        rows = {"rows": int(out.strip())}
    else:
        report = json.loads(out)
        rows = {k: report[k] for k in ("rows_read", "rows_accepted", "rows_rejected", "rows_duplicate")}
    shutil.rmtree(work, ignore_errors=True)
    return {"wall": wall, "cpu": cpu, "rss": peak_mib * 2**20, **rows}


def price_rules(csv: Path) -> None:
    """CPU seconds of each part of the validation on ``csv`` (best of three, one DuckDB connection)."""
    import duckdb

    from analytics.ingest import pipeline, readers
    from analytics.ingest.limits import Limits
    from analytics.ingest.mapping import EVENT_ALIASES
    from analytics.ingest.timestamps import time_sql

    prep = pipeline._prepare(csv, "events", None, None, None, None, Limits(), True)
    facts = readers.text_facts(csv, prep.limits.max_line_bytes)
    params: dict = {}
    source = pipeline._source_sql(prep.sniffed, csv, params, prep.limits)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = '{pipeline.INGEST_MEMORY_LIMIT}'")
    n = len(prep.sniffed.headers)
    col = {c.target: f"c{prep.sniffed.headers.index(c.source)}" for c in prep.plan.columns}

    def cpu(sql: str, p: dict | None = None) -> float:
        best = float("inf")
        for _ in range(3):
            t = time.process_time()
            con.execute(sql, pipeline._used(sql, p or {})).fetchall()
            best = min(best, time.process_time() - t)
        return best

    def agg(exprs: list[str], table: str = "_text") -> float:
        return cpu("SELECT " + ", ".join(f"count({e})" for e in exprs) + f" FROM {table}")

    lines = [("bare: typed read_csv into a table", cpu("CREATE OR REPLACE TEMP TABLE _bare AS SELECT * FROM read_csv(?)".replace("?", f"'{csv}'")))]
    lines.append(("read as text into a table", cpu(f"CREATE OR REPLACE TEMP TABLE _text AS SELECT * FROM {source}", params)))
    base = agg([f"c{i}" for i in range(n)])
    for facts_given, label in ((None, "every rule"), (facts, "rules the file's facts leave")):
        stage, sp = pipeline._stage_sql(prep, source, "UTC", None, facts_given)
        lines.append((f"whole transform, {label} (read included)", cpu(
            "SELECT count(_reason), count(_h), count(event_time), count(watch_seconds), count(user_id) FROM (" + stage + ")",
            {**params, **sp})))
    stage, sp = pipeline._stage_sql(prep, source, "UTC", None, facts)
    lines.append(("the transform written to a table", cpu(f"CREATE OR REPLACE TEMP TABLE _stage AS {stage}", {**params, **sp})))
    each = {
        "trim every cell": [f"nullif(trim(c{i}), '')" for i in range(n)],
        "trim guarded (ASCII file)": [f"CASE WHEN starts_with(c{i}, ' ') OR ends_with(c{i}, ' ') THEN trim(c{i}) ELSE c{i} END" for i in range(n)],
        "NUL byte test of every cell": [f"strpos(c{i}, chr(0)) > 0" for i in range(n)],
        "cell length test of every cell": [f"strlen(c{i}) > 65536" for i in range(n)],
        "event time parsing": [time_sql(col["event_time"], "'UTC'", offset_param="0")],
        "numbers (watch, video, revenue, lesson)": [pipeline._num(col[c]) for c in ("watch_seconds", "video_seconds", "revenue", "lesson") if c in col],
        "event type aliases": [pipeline._alias_case(col["event_type"], EVENT_ALIASES)],
        "formula test (regex on every text cell)": [f"regexp_matches(c{i}, '^(?:[=+@\\t\\r]|-[^0-9.])')" for i in range(n)],
        "formula test guarded (< 'A')": [f"CASE WHEN c{i} < 'A' THEN regexp_matches(c{i}, '^(?:[=+@\\t\\r]|-[^0-9.])') END" for i in range(n)],
        "row hash": ["hash(" + ", ".join(f"c{i}" for i in range(n)) + ")"],
    }
    for label, exprs in each.items():
        lines.append((f"rule: {label}", agg(exprs) - base))
    print(f"rules priced on {csv.name} (CPU seconds, best of 3; a rule's own cost is over a plain scan of the text)")
    for label, seconds in lines:
        print(f"  {label:<64} {seconds:7.2f}")


def compare(csv: Path, repeat: int) -> None:
    """``repeat`` interleaved pairs of runs (bare, ingest); prints each run, the medians and the ratios."""
    work = Path(tempfile.mkdtemp(prefix="reelytics-ingest-bench-"))
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {"bare": [], "ingest": []}
    try:
        for i in range(repeat):
            for side in ("bare", "ingest"):
                r = measure(side, csv, work / side)
                runs[side].append(r)
                print(f"run {i + 1} {side:<6}  wall {r['wall']:7.2f} s  cpu {r['cpu']:7.2f} s  peak RSS {r['rss'] / 1e9:.2f} GB",
                      flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    def med(side: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[side])

    ing = runs["ingest"][-1]
    print(f"file            {csv.name}: {csv.stat().st_size / 1e6:,.0f} MB, {runs['bare'][-1]['rows']:,} rows; "
          f"ingest read {ing['rows_read']:,}, accepted {ing['rows_accepted']:,}, rejected {ing['rows_rejected']:,}, "
          f"duplicates {ing['rows_duplicate']:,}")
    print(f"load average    {load_before[0]:.1f} before, {load_after[0]:.1f} after ({os.cpu_count()} CPUs)")
    for side, label in (("bare", "bare DuckDB read_csv"), ("ingest", "reelytics ingest (CLI)")):
        print(f"{label:<24} wall {med(side, 'wall'):7.2f} s  cpu {med(side, 'cpu'):7.2f} s  "
              f"peak RSS {max(r['rss'] for r in runs[side]) / 1e9:.2f} GB  (median of {repeat}; RSS the highest)")
    for key in ("wall", "cpu"):
        ratio = med("ingest", key) / med("bare", key)
        print(f"ratio ingest/bare {key:<4}  {ratio:5.2f}   (target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'not met'})")
    rss = max(r["rss"] for r in runs["ingest"])
    print(f"peak RSS of the ingest  {rss / 1e9:.2f} GB   (target <= {TARGET_RSS / 1e9:.1f} GB: "
          f"{'met' if rss <= TARGET_RSS else 'not met'})")
    ours, peer = (result_side(med(s, "wall"), med(s, "cpu"), max(r["rss"] for r in runs[s]) / 2**20) for s in ("ingest", "bare"))
    rows = runs["bare"][-1]["rows"]
    emit("ingest", f"validated ingest of a {rows:,}-row CSV", ours, peer, peer_name="bare DuckDB read_csv into the events table",
         target=("ratio", TARGET_RATIO), note=f"one-shot processes, median of {repeat} interleaved pairs")
    emit("ingest", "peak RSS of the ingest process", ours, target=("peak_rss_mb", TARGET_RSS / 2**20), note="target 1.5 GB")


def main() -> None:
    sys.path.insert(0, str(REPO / "bench"))
    from _sample_db import add_sample_args

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_sample_args(ap, repeat=3)
    ap.add_argument("--csv-dir", type=Path, default=Path(tempfile.gettempdir()) / "reelytics-bench")
    ap.add_argument("--rules", action="store_true", help="also price each part of the validation")
    args = ap.parse_args()
    db = args.db or REPO / "data" / "bench" / f"sample_{args.users}x{args.days}_s{args.seed}.duckdb"
    csv = export_csv(db.resolve(), args, args.csv_dir)
    if args.repeat > 0:
        compare(csv, args.repeat)
    if args.rules:
        price_rules(csv)


if __name__ == "__main__":
    main()
