"""``reelytics status``: where the database is, its schema version and row counts."""

from __future__ import annotations

from analytics.cli.main import Output


def register(sub) -> None:
    p = sub.add_parser("status")
    p.set_defaults(func=run)


def run(args, ctx) -> Output:
    store = ctx.store
    counts = store.counts()
    payload = {"db": str(store.path), "schema_version": store.schema_version, "counts": counts}
    text = f"{store.path}  (schema {store.schema_version})\n" + "\n".join(
        f"  {k:<8} {v:>12,}" for k, v in counts.items()
    )
    return Output(payload, text)
