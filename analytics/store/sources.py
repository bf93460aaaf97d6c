"""The source that answers analytic queries, by the configured engine.

``duckdb`` (the default): the embedded store. ``spark``: Apache Spark over the Parquet dataset
written by ``reelytics export --parquet`` (pyspark is imported only then).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from analytics.config import Settings, check_engine
from analytics.store.storage import Source, open_store


def open_source(settings: Settings, *, read_paths: Iterable[str | Path] = ()) -> Source:
    """The source of ``settings.engine``: the DuckDB store, or a Spark source over the Parquet dataset."""
    if check_engine(settings.engine) == "spark":
        from analytics.store.spark import open_spark_source

        return open_spark_source(settings.parquet_location, settings.spark_url)
    return open_store(settings.db_path, read_paths=read_paths)
