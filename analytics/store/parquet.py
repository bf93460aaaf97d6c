"""The canonical tables as a Parquet dataset: what Apache Spark (or any lake engine) reads.

:func:`export_parquet` writes one folder per table under a directory::

    DIR/events/event_date=YYYY-MM-DD/*.parquet   events, partitioned by their UTC date
    DIR/items/  DIR/spend/                       the catalog and the marketing spend
    DIR/uploads/  DIR/upload_rejects/            the uploads registry and its rejected rows
    DIR/meta/                                    schema version and the data tokens of the export

Columns keep their canonical types (timestamps without a zone holding UTC, ``DECIMAL(18,2)``
money, ``props`` as a string map). DuckDB writes the files (``COPY ... (FORMAT parquet,
PARTITION_BY ...)``) on a connection of its own that may write only into the new folder, reading the
store's rows as a stream, so the store's own connection stays locked down.

A directory is replaced whole (:func:`replace_directory`): the new dataset is written next to it and
renamed into place, so a reader sees the old dataset or the new one, never half of one (see
``docs/scale-out.md`` for what a file system does not guarantee).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from analytics.errors import BadInput, StorageError
from analytics.store.schema import TABLE_COLUMNS
from analytics.store.storage import Store

#: The tables of a dataset, in the order they are written, with the registry and the meta facts.
DATASET_TABLES: tuple[str, ...] = (*TABLE_COLUMNS, "uploads", "upload_rejects", "meta")

#: The folder whose presence marks a directory as a Reelytics Parquet dataset.
MARKER = "meta"

#: The partition column of ``events`` (the UTC date of ``event_time``); not a column of the table.
PARTITION = "event_date"


def table_columns(table: str) -> tuple[str, ...] | None:
    """The columns a reader keeps of ``table`` (``None``: every column of the files)."""
    columns = TABLE_COLUMNS.get(table)
    return None if columns is None else (*columns, "upload_id", "props")


def is_dataset(directory: Path) -> bool:
    return (directory / MARKER).is_dir()


def export_parquet(store: Store, directory: str | Path) -> dict[str, int]:
    """Write the canonical tables of ``store`` as Parquet under ``directory``; returns rows per table.

    An existing dataset at ``directory`` is replaced whole; an existing folder that is not one (and
    not empty) is refused, so nothing of a person's files is ever deleted."""
    facts = {
        "data_version": store.data_version(),
        "content_version": store.content_version(),
    }

    def write(target: Path) -> dict[str, int]:
        written = {}
        for table in DATASET_TABLES:
            written[table] = _copy_table(store, table, target, facts)
        return written

    return replace_directory(Path(directory), write)


def replace_directory(directory: Path, write: Callable[[Path], dict[str, int]]) -> dict[str, int]:
    """Run ``write(new_folder)`` and swap the new folder into ``directory`` by renames.

    The new dataset is complete before anything is renamed; a failure leaves the old dataset as it
    was and removes the unfinished one."""
    directory = directory.expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise BadInput(f"{directory} is a file, not a folder", code="parquet_not_dir", path=str(directory))
    if directory.is_dir() and any(directory.iterdir()) and not is_dataset(directory):
        raise BadInput(
            f"{directory} holds files that are not a Reelytics Parquet dataset; choose an empty or new folder",
            code="parquet_not_dataset",
            path=str(directory),
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    new = directory.parent / f".{directory.name}.new-{token}"
    old = directory.parent / f".{directory.name}.old-{token}"
    new.mkdir()
    try:
        written = write(new)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    if directory.exists():
        os.rename(directory, old)
    os.rename(new, directory)
    shutil.rmtree(old, ignore_errors=True)
    return written


def _copy_table(store: Store, table: str, target: Path, facts: dict[str, str]) -> int:
    if table == "meta":
        select = (
            "SELECT key, value FROM meta WHERE key = 'schema_version' "
            "UNION ALL SELECT * FROM (VALUES ('data_version', ?), ('content_version', ?))"
        )
        params = [facts["data_version"], facts["content_version"]]
    else:
        columns = table_columns(table)
        cols = "*" if columns is None else ", ".join(f'"{c}"' for c in columns)
        select, params = f'SELECT {cols} FROM "{table}"', None
    folder = target / table
    folder.mkdir()
    with store.cursor() as cur:
        rows = int(cur.execute(f"SELECT count(*) FROM ({select})", params).fetchone()[0])
        partitioned = table == "events" and rows > 0  # an empty table still gets a file: its schema
        if partitioned:
            select = f'SELECT *, CAST("event_time" AS DATE) AS {PARTITION} FROM ({select})'
        reader = cur.execute(select, params).fetch_record_batch()
        with _writer(target) as con:
            con.register("_rows", reader)
            if partitioned:
                con.execute(f"COPY _rows TO {_literal(folder)} (FORMAT parquet, PARTITION_BY ({PARTITION}), OVERWRITE_OR_IGNORE)")
            else:
                con.execute(f"COPY _rows TO {_literal(folder / 'part-0.parquet')} (FORMAT parquet)")
    return rows


def _literal(path: Path) -> str:
    """A path as an SQL string literal (``COPY ... TO`` takes no bound parameter)."""
    return "'" + str(path).replace("'", "''") + "'"


@contextmanager
def _writer(folder: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB that may write only under ``folder`` (UTC, no other file or network access)."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET allowed_directories = ?", [[str(folder) + "/"]])
        con.execute("SET enable_external_access = false")
        yield con
    except duckdb.Error as exc:
        raise StorageError(f"cannot write Parquet to {folder}: {exc}", code="parquet_write", path=str(folder)) from exc
    finally:
        con.close()
