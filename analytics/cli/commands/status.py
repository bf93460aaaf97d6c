"""``reelytics status``: the engine, where its data is, the schema version, row counts and the
persisted accelerator structures; ``reelytics prepare``: build those structures now."""

from __future__ import annotations

import time

from analytics.cli.main import Output
from analytics.cli.progress_bar import StderrProgress
from analytics.progress import no_progress


def register(sub) -> None:
    p = sub.add_parser("status")
    p.set_defaults(func=run)
    p = sub.add_parser(
        "prepare",
        description="Build the structures that answer KPIs, breakdowns and funnels fast (the hourly "
        "rollup, the breakdown tables, the funnels' event order) for the data as it is now, as the "
        "dashboard does with an upload. Every upload keeps them current from then on; a database "
        "filled and read by the CLI alone otherwise never has them.",
    )
    p.add_argument("--by", default="video", metavar="DIM[,DIM]",
                   help="breakdowns to prepare: video, creator, category, course (default: video, the Overview's ranking)")
    p.set_defaults(func=run_prepare)


def run(args, ctx) -> Output:
    source = ctx.source
    counts = source.counts()
    if source.engine == "spark":
        where = {"data": source.data, "spark_url": source.url}
    else:
        where = {"db": str(source.path)}
    from analytics.query import engine

    structures = engine.structures(source)
    payload = {"engine": source.engine, **where, "schema_version": source.schema_version, "counts": counts,
               "structures": structures}
    lines = [f"{' '.join(where.values())}  ({source.engine}, schema {source.schema_version})"]
    lines += [f"  {k:<8} {v:>12,}" for k, v in counts.items()]
    if structures:
        lines.append("persisted structures:")
        lines += _structure_lines(structures)
    return Output(payload, "\n".join(lines))


def run_prepare(args, ctx) -> Output:
    from analytics.query import engine

    dimensions = tuple(d.strip() for d in args.by.split(",") if d.strip())
    store = ctx.store
    progress = no_progress if args.json else StderrProgress("prepare")
    t0 = time.perf_counter()
    names = engine.prepare(store, ctx.settings.timezone, dimensions, progress)
    seconds = time.perf_counter() - t0
    structures = engine.structures(store)
    payload = {"prepared": list(names), "seconds": round(seconds, 3), "structures": structures}
    text = f"prepared in {seconds:.1f} s (kept current at every upload from now on):\n" + "\n".join(
        _structure_lines({name: structures.get(name, False) for name in names})
    )
    return Output(payload, text)


def _structure_lines(structures: dict[str, bool]) -> list[str]:
    labels = {name: _label(name) for name in structures}
    width = max(map(len, labels.values()), default=0)
    return [f"  {labels[name]:<{width}}  {'current' if current else 'out of date (prepare rebuilds it)'}"
            for name, current in structures.items()]


def _label(name: str) -> str:
    """A structure's ``meta`` key in words."""
    if name.startswith("accel_breakdown|"):
        _, by, timezone = name.split("|", 2)
        return f"breakdown by {by} ({timezone})"
    return {"kpi_rollup_key": "hourly KPI rollup", "accel_funnel_order": "funnels' event order"}.get(name, name)
