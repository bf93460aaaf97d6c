"""Run every benchmark under bench/ and write bench/RESULTS.md from their ``RESULT`` lines.

    OPENBLAS_NUM_THREADS=1 python bench/run_all.py [--events 10m|1m] [--only NAME ...] [--out FILE]

Each script runs in a process of its own, one after the other (never two at once), with the sizes of
``--events`` (default ``10m``, the size the targets are stated for): the sample database of
:mod:`analytics.sample` (55,000 users x 60 days is about 10M events, 5,500 users about 1M),
the ingest CSV (the events of that database, exported once) and the ALS interactions (5M or 1M). The sample database is built once
under ``data/bench/`` and shared by the scripts that read one. Every script prints its measurements
as ``RESULT {json}`` lines (bench/_result.py); this script gathers them, with the machine (CPU
model, cores, memory), the load average before and after each script, the date, the Python and
DuckDB versions and the size of each data set, into one Markdown file: for every measurement both
sides (wall, CPU, peak RSS), the ratio and the target with pass or fail. A script's full output goes
to ``bench/out/NAME.log``. Exit status 1 when a script failed, else 0 (a missed target is reported
in the file, not as a failure).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
DAYS = 60
SEED = 7

#: Per size: users of the sample database (whose events are also the ingest CSV), ALS interactions / users / items.
SIZES = {
    "10m": {"users": 55_000, "als": (5_000_000, 100_000, 20_000)},
    "1m": {"users": 5_500, "als": (1_000_000, 20_000, 4_000)},
}


def scripts() -> list[str]:
    """Every benchmark script: ``bench/NAME.py`` except helpers (``_*.py``) and this one."""
    return sorted(p.stem for p in BENCH.glob("*.py") if not p.name.startswith("_") and p.stem != "run_all")


def sample_db(size: str) -> Path:
    return ROOT / "data" / "bench" / f"sample_{SIZES[size]['users']}x{DAYS}_s{SEED}.duckdb"


def arguments(name: str, size: str) -> list[str]:
    """The options that give script ``name`` the data of ``size`` (none for a script not known here)."""
    s = SIZES[size]
    if name == "als":
        events, users, items = s["als"]
        return ["--events", str(events), "--users", str(users), "--items", str(items)]
    if name in {"cli", "completion", "explain", "funnel", "ingest", "overview", "retention_timing"}:
        return ["--users", str(s["users"]), "--days", str(DAYS), "--seed", str(SEED), "--db", str(sample_db(size))]
    if name in {"accelerators", "pages", "upload_memory"}:
        return ["--db", str(sample_db(size))]
    if name in {"als_scale", "scale_out"}:  # Spark beside DuckDB: one round each
        return ["--db", str(sample_db(size)), "--rounds", "1"]
    if name == "load":  # the sessions target is stated at 1M events; the run's size after it
        sizes = ["1m"] + ([size] if size != "1m" else [])
        return [arg for each in sizes for arg in ("--db", str(sample_db(each)))] + ["--budget", "600"]
    return []


def needed(names: list[str], size: str) -> list[str]:
    """The sizes whose sample database the scripts ``names`` read (built before the first runs)."""
    return sorted({size} | ({"1m"} if "load" in names else set()))


def datasets(size: str, main: bool = True) -> list[str]:
    """The size of each data set, counted (the sample database is built here when missing); with
    ``main`` false, only the sample database's line (a size read by the load benchmark alone)."""
    code = (
        "import argparse, sys; sys.path.insert(0, 'bench'); from _sample_db import sample_store; "
        f"s = sample_store(__import__('pathlib').Path({str(sample_db(size))!r}), "
        f"argparse.Namespace(users={SIZES[size]['users']}, days={DAYS}, seed={SEED})); "
        "c = s.counts(); s.close(); print(c['events'], c['items'], c['spend'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    events, items, spend = out.stdout.split()[-3:]
    events_, users, items_ = SIZES[size]["als"]
    if not main:
        return [f"sample database ({SIZES[size]['users']:,} users x {DAYS} days, seed {SEED}; load): {int(events):,} events"]
    return [
        (f"sample database ({SIZES[size]['users']:,} users x {DAYS} days, seed {SEED}; cli, completion, explain, "
         f"funnel, load, overview, retention_timing): {int(events):,} events, {int(items):,} items, {int(spend):,} spend rows"),
        f"ingest CSV: the {int(events):,} events of the sample database, exported once",
        f"ALS: {events_:,} synthetic interactions ({users:,} users x {items_:,} items)",
    ]


def run(name: str, size: str) -> dict:
    """Run ``bench/NAME.py``; its results, exit status, seconds and the load average around it."""
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"{name}.log"
    argv = [sys.executable, str(BENCH / f"{name}.py"), *arguments(name, size)]
    before, t0 = os.getloadavg(), time.perf_counter()
    with log.open("w") as out:
        status = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, check=False).returncode
    seconds, after = time.perf_counter() - t0, os.getloadavg()
    text = log.read_text(errors="replace")
    results = [json.loads(line[len("RESULT "):]) for line in text.splitlines() if line.startswith("RESULT ")]
    last = next((line for line in reversed(text.splitlines()) if line.strip()), "")
    print(f"{name}: exit {status}, {len(results)} result(s), {seconds:.0f} s", flush=True)
    return {"name": name, "argv": argv[1:], "status": status, "seconds": seconds, "load_before": before,
            "load_after": after, "results": results, "last_line": last}


def machine() -> list[str]:
    import duckdb

    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    mem_kb = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), 0)
    return [f"CPU: {cpu}, {os.cpu_count()} cores", f"memory: {mem_kb / 2**20:.1f} GiB",
            f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, {platform.system()} {platform.release()}"]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _num(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _target(result: dict) -> str:
    target = result.get("target")
    if not target:
        return "–"
    metric, bound = target["metric"], target["max"]
    return {"ratio": f"≤ {bound:g}×", "wall_s": f"≤ {bound:g} s wall", "cpu_s": f"≤ {bound:g} s CPU",
            "peak_rss_mb": f"≤ {bound:,.0f} MiB"}[metric]


def markdown(size: str, runs: list[dict], started: dt.datetime, load_before, load_after, facts: list[str]) -> str:
    lines = [
        "# Benchmark results",
        "",
        (f"Written by `python bench/run_all.py --events {size}` on {started:%Y-%m-%d %H:%M} UTC "
         f"(took {(dt.datetime.now(dt.UTC) - started).total_seconds() / 60:.0f} min)."),
        "",
        *[f"- {fact}" for fact in machine()],
        f"- load average (1, 5, 15 min): {_load(load_before)} before, {_load(load_after)} after",
        *[f"- {fact}" for fact in facts],
        "",
        ("Each side: median wall seconds, CPU seconds (user + system, all threads) and peak RSS in MiB "
         "(the kernel's high-water mark; for a peer run inside the same process the one process's peak is "
         "given on ours). The ratio is ours / peer on CPU time where both sides have it, else on wall time. "
         "Every script's own output, with more detail, is in `bench/out/NAME.log` when it runs."),
        "",
    ]
    passed = [r["pass"] for run in runs for r in run["results"] if r["pass"] is not None]
    lines += [f"Targets met: {sum(passed)} of {len(passed)}.", ""]
    for run in runs:
        lines += [f"## {run['name']}", "",
                  (f"`python bench/{run['name']}.py {' '.join(_short(a) for a in run['argv'][1:])}` — exit {run['status']}, "
                   f"{run['seconds']:.0f} s, load average {run['load_before'][0]:.1f} before, {run['load_after'][0]:.1f} after."),
                  ""]
        if run["status"] != 0:
            lines += [f"Failed: `{run['last_line'][:300]}`", ""]
        if not run["results"]:
            lines += ["No RESULT lines.", ""]
            continue
        lines += [("| measurement | ours wall s | ours CPU s | ours RSS MiB | peer | peer wall s | peer CPU s | "
                   "peer RSS MiB | ratio | target | met |"),
                  "|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|"]
        for r in run["results"]:
            ours, peer = r["ours"], r.get("peer") or {}
            ratio = "–" if r.get("ratio") is None else f"{r['ratio']:.2f}× ({r['ratio_of']})"
            met = {True: "yes", False: "**no**", None: "–"}[r["pass"]]
            lines.append(
                f"| {r['name']} | {_num(ours.get('wall_s'), 3)} | {_num(ours.get('cpu_s'), 3)} | "
                f"{_num(ours.get('peak_rss_mb'), 0)} | {r.get('peer_name') or '–'} | {_num(peer.get('wall_s'), 3)} | "
                f"{_num(peer.get('cpu_s'), 3)} | {_num(peer.get('peak_rss_mb'), 0)} | {ratio} | {_target(r)} | {met} |"
            )
        notes = sorted({r["note"] for r in run["results"] if r.get("note")})
        lines += ["", *[f"Note: {n}." for n in notes], ""]
    return "\n".join(lines).rstrip() + "\n"


def _load(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _short(arg: str) -> str:
    """A path inside the repository as a relative path (the file names no machine's folders)."""
    try:
        return str(Path(arg).relative_to(ROOT))
    except ValueError:
        return arg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", choices=sorted(SIZES), default="10m", help="data size (default 10m, as the targets)")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help=f"run only this benchmark (repeatable): {', '.join(scripts())}")
    ap.add_argument("--out", type=Path, default=BENCH / "RESULTS.md", help="file to write (default bench/RESULTS.md)")
    args = ap.parse_args(argv)
    unknown = sorted(set(args.only) - set(scripts()))
    if unknown:
        ap.error(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(scripts())}")
    names = args.only or scripts()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    started, load_before = dt.datetime.now(dt.UTC), os.getloadavg()
    facts = [fact for each in needed(names, args.events) for fact in datasets(each, main=each == args.events)]
    runs = [run(name, args.events) for name in names]
    args.out.write_text(markdown(args.events, runs, started, load_before, os.getloadavg(), facts), encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if any(r["status"] != 0 for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
