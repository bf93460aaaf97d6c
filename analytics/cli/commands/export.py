"""``reelytics export --parquet [DIR]``: the canonical tables as a Parquet dataset for Spark."""

from __future__ import annotations

import os
from pathlib import Path

from analytics.cli.main import Output
from analytics.errors import BadInput


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        description="Writes DIR/events (partitioned by the UTC date of each event), DIR/items, DIR/spend, "
        "DIR/uploads, DIR/upload_rejects and DIR/meta. An earlier dataset at DIR is replaced whole; "
        "see docs/scale-out.md.",
    )
    p.add_argument("--parquet", nargs="?", const="", default=None, metavar="DIR",
                   help="the folder to write (default: --spark-data, $REELYTICS_SPARK_DATA or the parquet "
                   "folder next to the database)")
    p.set_defaults(func=run, serves_spark=True)


def run(args, ctx) -> Output:
    from analytics.store.parquet import export_parquet
    from analytics.store.spark import is_lake_url

    if args.parquet is None:
        raise BadInput("export: say what to write: --parquet [DIR]", code="usage")
    target = args.parquet or ctx.settings.parquet_location
    if is_lake_url(target):
        raise BadInput(
            f"export writes a local folder, not {target}; write one, then copy it to the lake with its own tools",
            code="parquet_not_local",
            path=target,
        )
    target = os.path.abspath(Path(target).expanduser())  # a dataset's link is kept, not followed to its version
    written = export_parquet(ctx.store, target)
    payload = {"parquet": target, "rows": written}
    text = f"wrote {target}\n" + "\n".join(f"  {k:<15} {v:>12,}" for k, v in written.items())
    return Output(payload, text)
