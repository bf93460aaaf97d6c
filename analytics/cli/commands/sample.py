"""``reelytics sample``: generate realistic sample data and load it (or write it as CSV files)."""

from __future__ import annotations

import sys
from pathlib import Path

from analytics.cli.main import Output
from analytics.cli.progress_bar import StderrProgress
from analytics.progress import no_progress

_ROWS = {"events": "events", "items": "catalog items", "spend": "spend rows"}


def register(sub) -> None:
    p = sub.add_parser("sample")
    p.add_argument("--users", type=int, default=2000, help="number of users (default 2000)")
    p.add_argument("--days", type=int, default=60, help="days of activity (default 60)")
    p.add_argument("--start", metavar="YYYY-MM-DD", help="first local day (default 2026-09-01)")
    p.add_argument("--seed", type=int, default=7, help="random seed; the same seed gives the same data (default 7)")
    p.add_argument("--if-empty", action="store_true", help="load only when the database has no events yet")
    p.add_argument("--no-incidents", action="store_true",
                   help="leave out the planted incidents (samples of 42 days or more; see docs/sample-data.md)")
    p.add_argument(
        "--export", type=Path, metavar="DIR", help="write events.csv, items.csv, spend.csv to DIR instead of loading"
    )
    p.set_defaults(func=run)


def run(args, ctx) -> Output:
    from analytics.query.filters import parse_date
    from analytics.sample import generate, load_sample, sample_name, write_csv

    start = parse_date(args.start, "--start")
    incidents = not args.no_incidents
    name = sample_name(args.users, args.days, args.seed, start, incidents)
    if args.export is not None:
        data = generate(users=args.users, days=args.days, seed=args.seed, start=start, incidents=incidents)
        paths = write_csv(data, args.export)
        payload = {"sample": name, "counts": data.counts, "files": {k: str(v) for k, v in paths.items()}}
        text = f"{name} written to {args.export}\n" + "\n".join(
            f"  {k:<8} {v:>12,}  {paths[k].name}" for k, v in data.counts.items()
        )
        return Output(payload, text)
    store = ctx.store
    progress = no_progress if args.json else StderrProgress("sample", sys.stderr)
    existing = store.counts()["events"]
    counts = load_sample(
        store, args.users, args.days, args.seed, progress=progress, if_empty=args.if_empty, start=start,
        incidents=incidents,
    )
    payload = {"sample": name, "counts": counts, "db": str(store.path), "existing_events": existing}
    if any(counts.values()):
        added = ", ".join(f"{v:,} {_ROWS[k]}" for k, v in counts.items())
        return Output({**payload, "status": "loaded", "reason": None}, f"{name}: loaded {added} into {store.path}")
    if args.if_empty and existing:
        reason = "not_empty"
        text = (f"{name}: skipped, nothing loaded: {store.path} already holds {existing:,} events "
                "(--if-empty loads only into a database without events)")
    else:
        reason = "already_loaded"
        text = f"{name}: skipped, nothing loaded: this sample is already in {store.path}"
    return Output({**payload, "status": "skipped", "reason": reason}, text)
