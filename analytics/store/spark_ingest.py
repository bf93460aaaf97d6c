"""Ingest on Spark, the engine's part: stage a file, find its new rows, publish a new dataset version.

:mod:`analytics.ingest.spark` decides what is read and checked; this module runs it on the Spark
session of a :class:`~analytics.store.spark.SparkSource` over a local Parquet dataset:

1. :func:`stage_csv`: Spark's CSV reader in ``PERMISSIVE`` mode reads every column as text, with a
   corrupt-record column (``_corrupt``: the raw line of a record with the wrong number of fields).
   Each partition's rows then go through the ingest's row transform, one DuckDB ``SELECT`` in the
   Python worker (``mapInArrow``): the very statement the DuckDB ingest stages a file with. The
   staged rows are written once as Parquet in a staging folder next to the dataset and read back as
   a view of the session, so every count and check reads them without reading the file again.
2. :func:`new_rows`: the accepted rows less the exact duplicates, within the file and against the rows
   the dataset already holds (a row's identity: every column and its ``props``).
3. :func:`publish`: a new version of the dataset -- the current version's files linked (not
   copied), the new rows, rejected rows and the registry row added -- switched to by one rename
   (:func:`analytics.store.parquet.replace_directory`).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics.errors import BadInput, StorageError
from analytics.store.parquet import (
    DATASET_TABLES,
    EXPORT_FACTS,
    PARTITION,
    current_version,
    dataset_lock,
    replace_directory,
)
from analytics.store.schema import TABLE_COLUMNS
from analytics.store.spark import SPARK_COLUMNS, SparkSource, is_lake_url, read_table

#: Spark's names of the text encodings the ingest detects.
_SPARK_ENCODINGS = {"utf-8": "UTF-8", "utf8": "UTF-8", "utf-8-sig": "UTF-8", "gbk": "GBK", "gb18030": "GB18030"}


@dataclass
class Staged:
    """A file staged on Spark: ``table`` (ibis) over the view ``view`` of the staged rows in ``folder``.

    Columns: the transform's own (canonical columns, ``props``, ``_formula``, ``_reason``, ...), plus
    ``_rid`` (the row's position in the file: increasing, not a line number) and ``_fields`` (the
    number of fields of a record the reader found ragged; NULL for every other row)."""

    source: SparkSource
    view: str
    folder: Path
    table: Any

    def close(self) -> None:
        for view in (self.view, f"{self.view}_new"):
            self.source.session.catalog.dropTempView(view)
        shutil.rmtree(self.folder, ignore_errors=True)


def dataset_folder(source: SparkSource) -> Path:
    """The local folder of the source's dataset (an ingest on Spark writes a new version next to it)."""
    if is_lake_url(source.data):
        raise BadInput(
            f"an ingest on Spark writes a local dataset folder, not {source.data}; ingest into a local "
            "folder (or the DuckDB store) and copy it to the lake",
            code="spark_ingest_lake",
            url=source.data,
        )
    return Path(source.data)


def stage_csv(
    source: SparkSource,
    path: Path,
    *,
    delimiter: str,
    header: bool,
    encoding: str,
    n_columns: int,
    transform: str,
    params: dict[str, Any],
    output: dict[str, str],
) -> Staged:
    """Read the delimited text file ``path`` with Spark (columns ``c0..c{n-1}`` as text) and run the
    DuckDB ``transform`` (a SELECT over the relation ``_rx_src``, bound to ``params``) on every
    partition; ``output``: the transform's columns and their Spark types, in order. The caller holds
    :func:`analytics.store.parquet.dataset_lock`."""
    session = source.session
    folder = dataset_folder(source)
    for stale in folder.parent.glob(f".{folder.name}.stage-*"):  # a crashed ingest's (the caller holds the lock)
        shutil.rmtree(stale, ignore_errors=True)
    staging = folder.parent / f".{folder.name}.stage-{uuid.uuid4().hex[:12]}"
    schema = ", ".join(f"c{i} STRING" for i in range(n_columns)) + ", _corrupt STRING"
    reader = (
        session.read.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt")
        .option("header", header)
        .option("sep", delimiter)
        .option("quote", '"')
        .option("escape", '"')
        .option("encoding", _SPARK_ENCODINGS.get(encoding.lower(), encoding))
    )
    from pyspark.sql import functions as F

    out_schema = ", ".join(f"`{c}` {t}" for c, t in output.items()) + ", _rid BIGINT, _corrupt STRING"
    run = _partition_transform(transform, params)
    try:
        with source._engine_errors():
            frame = reader.csv(path.resolve().as_uri()).withColumn("_rid", F.monotonically_increasing_id())
            staged = frame.mapInArrow(run, out_schema)
            # fields of a ragged record: its delimiters outside quoted cells, plus one
            unquoted = F.regexp_replace("_corrupt", '"([^"]|"")*"', "")
            fields = F.size(F.split(unquoted, re.escape(delimiter), -1))
            staged = staged.withColumn("_fields", F.when(F.col("_corrupt").isNotNull(), fields).cast("INT"))
            staged = staged.withColumn("_raw", F.coalesce("_corrupt", "_raw")).drop("_corrupt")
            staged.write.parquet(str(staging / "rows"))
            view = f"_rx_stage_{staging.name.rsplit('-', 1)[1]}"
            session.read.parquet(str(staging / "rows")).createOrReplaceTempView(view)
            table = source._backend().table(view)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Staged(source, view, staging, table)


def _partition_transform(transform: str, params: dict[str, Any]) -> Callable:
    """The function ``mapInArrow`` runs on each partition: the DuckDB transform over its batches, with
    each row's ``_rid`` and ``_corrupt`` passed through (the transform keeps the order of its rows).

    It refers to nothing of this project (it is shipped by value): an executor needs only duckdb and
    pyarrow. Its connection is locked down as :func:`analytics.store.storage.scratch`'s."""

    def run(batches):
        import duckdb
        import pyarrow as pa

        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_external_access = false")
            for batch in batches:
                con.register("_rx_src", pa.Table.from_batches([batch]))
                result = con.execute(transform, params).fetch_arrow_table()
                con.unregister("_rx_src")
                result = result.append_column("_rid", batch.column("_rid"))
                yield from result.append_column("_corrupt", batch.column("_corrupt")).to_batches()
        finally:
            con.close()

    return run


def _frame(source: SparkSource, expr) -> Any:
    """An ibis expression of the source as a Spark DataFrame."""
    return source.session.sql(source._backend().compile(expr))


def _identity(columns: list[str]):
    """A row's identity as one text (every column and the ``props`` entries in key order): exact, and
    comparable where Spark compares no map."""
    from pyspark.sql import functions as F

    entries = F.array_sort(F.map_entries("props"))
    return F.to_json(F.struct(*[F.col(c) for c in columns], entries.alias("props")))


def new_rows(staged: Staged, accepted, kind: str) -> tuple[str, int]:
    """The rows of ``accepted`` (an ibis expression over the staged rows: canonical columns and
    ``props``) that are neither an earlier row of the file nor a row of the dataset's ``kind``; kept
    as Parquet in the staging folder. Returns (their view, their count)."""
    from pyspark.sql import functions as F

    source, columns = staged.source, list(TABLE_COLUMNS[kind])
    with source._engine_errors():
        rows = _frame(source, accepted).select(*columns, "props")
        rows = rows.withColumn("_key", _identity(columns)).dropDuplicates(["_key"])
        stored = read_table(source.session, str(current_version(dataset_folder(source))), kind)
        if kind == "events":  # only stored events inside the file's span can equal one of its rows
            span = rows.agg(F.min("event_time").alias("lo"), F.max("event_time").alias("hi")).first()
            stored = stored.filter(F.col("event_time").between(span["lo"], span["hi"]))
        stored = stored.select(_identity(columns).alias("_key"))
        fresh = rows.join(stored, "_key", "left_anti").drop("_key")
        fresh.write.parquet(str(staged.folder / "new"))
        view = f"{staged.view}_new"
        frame = source.session.read.parquet(str(staged.folder / "new"))
        frame.createOrReplaceTempView(view)
        return view, int(frame.count())


def next_upload_id(source: SparkSource) -> int:
    uploads = source.table("uploads")
    return int(source.scalar(uploads.upload_id.max().fill_null(0))) + 1


def publish(
    staged: Staged,
    kind: str,
    new_view: str,
    rejects,
    upload: dict[str, Any],
    before_switch: Callable[[], None] = lambda: None,
) -> Path:
    """Write the dataset's next version -- the current one's files linked, plus the rows of
    ``new_view`` (with ``upload["upload_id"]``), the ``rejects`` (an ibis expression with the columns
    of ``upload_rejects``), the registry row ``upload``, and ``meta`` without the facts of the export
    (they no longer describe the data) -- and switch to it.
    The caller holds :func:`analytics.store.parquet.dataset_lock`. Returns the new version's folder."""
    from pyspark.sql import functions as F

    source, session = staged.source, staged.source.session
    folder = dataset_folder(source)
    current = current_version(folder)
    if current is None:
        raise StorageError(f"no dataset at {folder}", code="no_parquet_dataset", path=str(folder))
    upload_id = int(upload["upload_id"])

    def write(new: Path) -> Path:
        with source._engine_errors():
            for table in DATASET_TABLES:
                if table not in ("uploads", "meta"):
                    _link_tree(current / table, new / table)
            rows = session.table(new_view).withColumn("upload_id", F.lit(upload_id).cast("INT"))
            rows = rows.select(*SPARK_COLUMNS[kind])
            if kind == "events":
                rows.withColumn(PARTITION, F.to_date("event_time")).write.mode("append").partitionBy(PARTITION).parquet(
                    str(new / kind)
                )
            else:
                rows.write.mode("append").parquet(str(new / kind))
            _frame(source, rejects).write.mode("append").parquet(str(new / "upload_rejects"))
            row = session.createDataFrame([tuple(upload[c] for c in SPARK_COLUMNS["uploads"])], _ddl("uploads"))
            read_table(session, str(current), "uploads").unionByName(row).coalesce(1).write.parquet(str(new / "uploads"))
            kept = read_table(session, str(current), "meta").filter(~F.col("key").isin(list(EXPORT_FACTS)))
            kept.coalesce(1).write.parquet(str(new / "meta"))
        before_switch()
        return new

    return replace_directory(folder, write)


def _ddl(table: str) -> str:
    return ", ".join(f"`{c}` {t}" for c, t in SPARK_COLUMNS[table].items())


def _link_tree(source: Path, target: Path) -> None:
    """``target`` holding hard links to every file under ``source`` (data files are never changed in
    place, so two versions may share them); a copy where the file system links nothing."""
    for root, _dirs, files in os.walk(source):
        into = target / Path(root).relative_to(source)
        into.mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                os.link(Path(root) / name, into / name)
            except OSError:
                shutil.copy2(Path(root) / name, into / name)


__all__ = ["Staged", "dataset_folder", "dataset_lock", "new_rows", "next_upload_id", "publish", "stage_csv"]
