"""Set-up shared by the benchmark scripts: the sample-size options and a store holding the sample."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when used: bench/cli.py parses these options in a process kept small
    from analytics.store.storage import Store


def add_sample_args(parser: argparse.ArgumentParser, *, repeat: int = 3) -> None:
    """``--users --days --seed`` (55,000 x 60 days is about 10M events), ``--db`` and ``--repeat``."""
    parser.add_argument("--users", type=int, default=55_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, default=None, help="database file to reuse or create")
    parser.add_argument("--repeat", type=int, default=repeat)


def sample_store(path: Path, args: argparse.Namespace) -> Store:
    """Open ``path`` and load the sample of ``args`` into it unless it already holds events."""
    from analytics.store.storage import Store

    store = Store(path)
    if store.counts()["events"] == 0:
        from analytics.sample import load_sample

        t0 = time.perf_counter()
        load_sample(store, users=args.users, days=args.days, seed=args.seed)
        print(f"built {path.name} in {time.perf_counter() - t0:.1f} s")
    return store


def answered_by(path: str, fn, *args):
    """``fn(*args)`` answered by one path of the query layer (an accelerator's name or "portable")."""
    from analytics.query import engine

    with engine.using(path):
        return fn(*args)


#: Runs argv[1:] and reports its exit status, CPU time and peak RSS on stderr. A fresh process of its
#: own starts the measured one: Linux carries the memory high-water mark of the process that forks
#: across exec, so a child started straight from a large benchmark process would report its size.
_LAUNCHER = (
    "import json, os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); _, status, u = os.wait4(p.pid, 0); "
    "print(json.dumps([status, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024]), file=sys.stderr)"
)


def one_shot(cmd: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """Run ``cmd`` in a process of its own: its wall time, CPU time (user + system, all threads),
    true peak RSS (MiB) and standard output."""
    import json
    import subprocess
    import sys

    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], cwd=cwd, capture_output=True, check=True)
    wall = time.perf_counter() - t0
    status, cpu, peak = json.loads(done.stderr.decode().strip().splitlines()[-1])
    if status != 0:
        raise SystemExit(f"{cmd[:4]} failed ({status}): {done.stderr.decode()[-2000:]}")
    return wall, cpu, peak, done.stdout.decode()
