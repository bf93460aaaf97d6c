"""The one owner of the DuckDB database.

One connection per process (:func:`open_store`), a cursor per unit of work (:meth:`Store.cursor`),
every value bound as a parameter. Query-time access to files is locked down: the connection may
read only the data folder and the files it was opened for (DuckDB ``allowed_directories`` /
``allowed_paths`` with ``enable_external_access = false``). DuckDB errors surface as
:class:`~analytics.errors.StorageError`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from analytics.errors import StorageError
from analytics.schema import MIGRATIONS, SCHEMA_VERSION


@dataclass(frozen=True)
class Result:
    """Rows of one query: column names and tuples."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def df(self):
        import pandas as pd

        return pd.DataFrame(list(self.rows), columns=list(self.columns))

    def __len__(self) -> int:
        return len(self.rows)


class Store:
    """A DuckDB database file holding the canonical tables (see :mod:`analytics.schema`)."""

    def __init__(self, path: str | Path, *, read_paths: Iterable[str | Path] = ()) -> None:
        self.path = Path(path).resolve()
        self.data_dir = self.path.parent
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.staging_dir = self.data_dir / "staging"
        self.staging_dir.mkdir(exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            if "lock" in str(exc).lower():
                raise StorageError(
                    f"the database {self.path} is in use by another process (a running dashboard or "
                    "command); DuckDB allows one writer at a time: stop that process, or point --db / "
                    "REELYTICS_DB at another file",
                    code="db_locked",
                    path=str(self.path),
                ) from exc
            raise StorageError(
                f"cannot open the database {self.path.name}: {exc}", code="db_open", path=str(self.path)
            ) from exc
        self._lock_down([Path(p).resolve() for p in read_paths])
        self._migrate()

    # -- connection set-up -------------------------------------------------------------------
    def _lock_down(self, read_paths: Sequence[Path]) -> None:
        con = self._con
        con.execute("SET allowed_directories = ?", [[str(self.data_dir) + "/"]])
        if read_paths:
            con.execute("SET allowed_paths = ?", [[str(p) for p in read_paths]])
        # Sessions compute in UTC; local zones are applied explicitly where a person reads times.
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_external_access = false")

    def _migrate(self) -> None:
        with self.transaction() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
            row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"the database has schema version {version}, newer than this Reelytics "
                    f"({SCHEMA_VERSION}); upgrade Reelytics",
                    code="schema_too_new",
                    version=version,
                )
            for statements in MIGRATIONS[version:]:
                for sql in statements:
                    cur.execute(sql)
            cur.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )

    # -- units of work -----------------------------------------------------------------------
    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for one unit of work; DuckDB errors become :class:`StorageError`."""
        cur = self._con.cursor()
        try:
            yield cur
        except duckdb.Error as exc:
            raise StorageError(f"database error: {exc}", code="db_error") from exc
        finally:
            cur.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside ``BEGIN``/``COMMIT``; any exception rolls back explicitly.

        DuckDB turns a ``COMMIT`` after a failed statement into a silent rollback, so the commit
        is only issued when the block finished without an exception.
        """
        with self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Result:
        """Run one read query with bound parameters and return its rows."""
        with self.cursor() as cur:
            rel = cur.execute(sql, params) if params is not None else cur.execute(sql)
            columns = tuple(d[0] for d in rel.description or ())
            return Result(columns, tuple(rel.fetchall()))

    def arrow(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None):
        """Run one read query and return a ``pyarrow.Table``."""
        with self.cursor() as cur:
            rel = cur.execute(sql, params) if params is not None else cur.execute(sql)
            return rel.to_arrow_table()

    def ibis(self):
        """An ibis DuckDB backend over a fresh cursor of this store's connection."""
        import ibis

        return ibis.duckdb.from_connection(self._con.cursor())

    # -- facts -------------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return int(self.query("SELECT value FROM meta WHERE key = 'schema_version'").scalar())

    def counts(self) -> dict[str, int]:
        """Row counts of the canonical tables and the uploads registry."""
        return {
            t: int(self.query(f'SELECT count(*) FROM "{t}"').scalar())
            for t in ("events", "items", "spend", "uploads")
        }

    def is_empty(self) -> bool:
        return all(v == 0 for k, v in self.counts().items() if k != "uploads")

    def data_version(self) -> str:
        """A token that changes whenever an upload lands or is removed (cache and model key)."""
        n, last, rows = self.query(
            "SELECT count(*), coalesce(max(upload_id), 0), coalesce(sum(rows_accepted), 0) FROM uploads"
        ).rows[0]
        return f"{n}-{last}-{rows}"

    def get_meta(self, key: str) -> str | None:
        return self.query("SELECT value FROM meta WHERE key = ?", [key]).scalar()

    def close(self) -> None:
        self._con.close()


_STORES: dict[Path, Store] = {}
_STORES_LOCK = threading.Lock()


def open_store(path: str | Path, *, read_paths: Iterable[str | Path] = ()) -> Store:
    """The process-wide :class:`Store` for ``path`` (one connection per process and file)."""
    key = Path(path).resolve()
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = Store(key, read_paths=read_paths)
        return store
