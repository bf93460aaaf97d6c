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

A dataset is versioned (:func:`replace_directory`): ``DIR`` is a symbolic link to its current version,
a hidden folder ``.DIR.v-TOKEN`` next to it. A new version (an export, or an ingest on Spark,
:mod:`analytics.store.spark_ingest`) is written completely into a new folder and switched to by one
rename of a new link over ``DIR``, so a reader sees the old dataset or the new one, never half of one;
writers of one dataset take its lock file ``.DIR.lock`` in turn (see ``docs/scale-out.md`` for what a
file system does not guarantee).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

from analytics.errors import BadInput, StorageError
from analytics.store.schema import TABLE_COLUMNS
from analytics.store.storage import Store

#: The tables of a dataset, in the order they are written, with the registry and the meta facts.
DATASET_TABLES: tuple[str, ...] = (*TABLE_COLUMNS, "uploads", "upload_rejects", "meta")

#: The facts of the exported database in ``meta`` (an ingest on Spark drops them from its version).
EXPORT_FACTS = ("data_version", "content_version")

#: The folder whose presence marks a directory as a Reelytics Parquet dataset.
MARKER = "meta"

#: The partition column of ``events`` (the UTC date of ``event_time``); not a column of the table.
PARTITION = "event_date"

T = TypeVar("T")


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

    directory = Path(directory)
    with dataset_lock(directory):
        return replace_directory(directory, write)


def _checked(directory: Path) -> Path:
    """``directory`` made absolute (a link to it is kept, not followed); refused when it is a file or a
    folder of other files."""
    directory = Path(os.path.abspath(directory.expanduser()))
    if directory.exists() and not directory.is_dir():
        raise BadInput(f"{directory} is a file, not a folder", code="parquet_not_dir", path=str(directory))
    if directory.is_dir() and any(directory.iterdir()) and not is_dataset(directory):
        raise BadInput(
            f"{directory} holds files that are not a Reelytics Parquet dataset; choose an empty or new folder",
            code="parquet_not_dataset",
            path=str(directory),
        )
    return directory


@contextmanager
def dataset_lock(directory: Path) -> Iterator[None]:
    """Hold the lock of the dataset at ``directory`` (its file ``.NAME.lock`` next to it): one writer
    at a time among the processes of one machine (an advisory ``flock``; see docs/scale-out.md)."""
    directory = _checked(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f".{directory.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_version(directory: Path) -> Path | None:
    """The folder holding the current version of the dataset at ``directory`` (``None``: none yet)."""
    directory = Path(os.path.abspath(directory.expanduser()))
    return Path(os.path.realpath(directory)) if is_dataset(directory) else None


def replace_directory(directory: Path, write: Callable[[Path], T]) -> T:
    """Run ``write(new_version)`` and switch ``directory`` to the new version by one rename.

    The caller holds :func:`dataset_lock`. The new version is complete before the switch: a link to
    it is renamed over ``directory`` (atomic on a POSIX file system). A failure leaves the dataset as
    it was and removes the unfinished version. After the switch, the version just replaced is kept
    (queries still reading it finish) and older ones are deleted; so is any version a crashed writer
    left unfinished. A folder written by an older export (not a link) is moved to a version first."""
    directory = _checked(directory)
    parent, name = directory.parent, directory.name
    parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    new = parent / f".{name}.v-{token}"
    new.mkdir()
    try:
        written = write(new)
        previous = current_version(directory)
        if directory.is_dir() and not directory.is_symlink():
            previous = None
            if any(directory.iterdir()):  # a dataset of an older export: becomes a version
                previous = parent / f".{name}.v-{uuid.uuid4().hex[:12]}"
                os.rename(directory, previous)
            else:
                directory.rmdir()
        link = parent / f".{name}.link-{token}"
        os.symlink(new.name, link)
        os.replace(link, directory)  # the switch
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    keep = {new.name, previous.name if previous is not None else None}
    for stale in parent.glob(f".{name}.v-*"):
        if stale.name not in keep:
            shutil.rmtree(stale, ignore_errors=True)
    for stale in parent.glob(f".{name}.link-*"):
        stale.unlink(missing_ok=True)
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
        reader = cur.execute(select, params).to_arrow_reader()
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
