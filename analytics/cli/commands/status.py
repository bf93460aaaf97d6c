"""``reelytics status``: the engine, where its data is, the schema version and row counts."""

from __future__ import annotations

from analytics.cli.main import Output


def register(sub) -> None:
    p = sub.add_parser("status", help="show the engine, the database file or Parquet dataset, schema version and row counts")
    p.set_defaults(func=run)


def run(args, ctx) -> Output:
    source = ctx.source
    counts = source.counts()
    if source.engine == "spark":
        where = {"data": source.data, "spark_url": source.url}
    else:
        where = {"db": str(source.path)}
    payload = {"engine": source.engine, **where, "schema_version": source.schema_version, "counts": counts}
    text = f"{' '.join(where.values())}  ({source.engine}, schema {source.schema_version})\n" + "\n".join(
        f"  {k:<8} {v:>12,}" for k, v in counts.items()
    )
    return Output(payload, text)
