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
