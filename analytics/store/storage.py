"""The one owner of execution: every query of the library runs here.

A *source* holds the canonical tables and runs queries over them: :meth:`Source.table` gives an
ibis table, :meth:`Source.execute` / :meth:`Source.to_arrow` run an ibis expression and return a
DataFrame or an Arrow table, with every engine error translated into
:class:`~analytics.errors.StorageError`. Feature modules take a source and never touch a
connection, a cursor or a backend. :class:`Store` is the embedded DuckDB source (the default);
:class:`IbisSource` runs the same expressions on any other ibis backend (Apache Spark).

One connection per process (:func:`open_store`), a cursor per unit of work (:meth:`Store.cursor`),
every value bound as a parameter (but for the store's own set-up statements, written with quoted
literals: DuckDB's Python client imports pandas to bind any parameter, which a one-shot command that
binds none never pays). Query-time access to files is locked down: the connection may
read only the data folder and the files it was opened for (DuckDB ``allowed_directories`` /
``allowed_paths`` with ``enable_external_access = false``). DuckDB errors surface as
:class:`~analytics.errors.StorageError`.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from analytics.errors import ReelyticsError, StorageError
from analytics.store.schema import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


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


class Source:
    """Canonical tables on one engine and the one way to run a query over them."""

    engine: str = "ibis"

    def _backend(self):  # pragma: no cover - every source defines it
        raise NotImplementedError

    def _translate(self, exc: Exception) -> StorageError | None:
        """The library error for an engine error (``None``: not an engine error)."""
        return None

    @contextmanager
    def _engine_errors(self) -> Iterator[None]:
        try:
            yield
        except ReelyticsError:
            raise
        except Exception as exc:
            translated = self._translate(exc)
            if translated is None:
                raise
            raise translated from exc

    def table(self, name: str):
        """The canonical table ``name`` as an ibis table (``events``, ``items``, ``spend``, ...).

        Looked up once per thread (an engine reads a table's schema on every lookup); the schemas
        change only in migrations, and derived tables are replaced with the same columns."""
        tables = self._tables()
        found = tables.get(name)
        if found is None:
            with self._engine_errors():
                found = tables[name] = self._backend().table(name)
        return found

    def _tables(self) -> dict[str, Any]:
        tables = getattr(self, "_table_cache", None)
        if tables is None:
            tables = self._table_cache = {}
        return tables

    def execute(self, expr) -> pd.DataFrame:
        """Run an ibis expression (a table) and return a pandas DataFrame."""
        with self._engine_errors():
            return expr.to_pandas()

    def to_arrow(self, expr) -> pa.Table:
        """Run an ibis table expression and return a ``pyarrow.Table``."""
        with self._engine_errors():
            return expr.to_pyarrow()

    def scalar(self, expr) -> Any:
        """Run an ibis scalar expression and return its Python value."""
        with self._engine_errors():
            return expr.to_pandas()

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one query written in the SQL every engine reads (tables by name, literals inline) and
        return its rows as tuples of Python values."""
        with self._engine_errors():
            table = self._backend().sql(sql).to_pyarrow()
        return list(zip(*(column.to_pylist() for column in table.columns)))

    def counts(self) -> dict[str, int]:
        """Row counts of the canonical tables and the uploads registry."""
        (row,) = self._rows("SELECT " + ", ".join(f"(SELECT count(*) FROM {t}) AS {t}" for t in _COUNTED))
        return {t: int(n) for t, n in zip(_COUNTED, row)}

    def is_empty(self) -> bool:
        return all(v == 0 for k, v in self.counts().items() if k != "uploads")

    def data_version(self, *, without_upload: int | None = None) -> str:
        """A token that changes whenever an upload lands or is removed (cache and model key): the
        number of uploads, the last upload id and the rows they accepted.

        ``without_upload``: the token as it was before that upload (the last one) landed."""
        where = "" if without_upload is None else f" WHERE upload_id <> {int(without_upload)}"
        ((n, last, rows),) = self._rows(
            f"SELECT count(*), coalesce(max(upload_id), 0), coalesce(sum(rows_accepted), 0) FROM uploads{where}"
        )
        return f"{int(n)}-{int(last)}-{int(rows)}"

    def get_meta(self, key: str) -> str | None:
        """A value of the ``meta`` table (``schema_version``, accelerator keys, ...)."""
        if not _META_KEY.fullmatch(key):
            raise ValueError(f"not a meta key: {key!r}")
        found = self._rows(f"SELECT value FROM meta WHERE key = '{key}' LIMIT 1")
        return None if not found else str(found[0][0])

    @property
    def schema_version(self) -> int:
        return int(self.get_meta("schema_version"))

    def span(self) -> tuple[Any, Any]:
        """First and last ``event_time`` of every event (naive UTC; ``None`` without events)."""
        ((lo, hi),) = self._rows("SELECT min(event_time), max(event_time) FROM events")
        return lo, hi


#: The tables :meth:`Source.counts` counts.
_COUNTED = ("events", "items", "spend", "uploads")
#: What a ``meta`` key may hold (keys are the library's own names; they are written into the SQL).
_META_KEY = re.compile(r"[\w|/:.+ -]+")


class IbisSource(Source):
    """The canonical tables of another ibis backend (for example Spark over Parquet or a lake)."""

    def __init__(self, backend, engine: str) -> None:
        self.__backend = backend
        self.engine = engine

    def _backend(self):
        return self.__backend

    def _translate(self, exc: Exception) -> StorageError | None:
        module = type(exc).__module__ or ""
        if module.startswith(("pyspark", "py4j", "ibis")):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return StorageError(f"{self.engine} error: {first}", code="engine_error", engine=self.engine)
        return None


class Store(Source):
    """A DuckDB database file holding the canonical tables (see :mod:`analytics.store.schema`)."""

    engine = "duckdb"

    def __init__(self, path: str | Path, *, read_paths: Iterable[str | Path] = ()) -> None:
        self.path = Path(path).resolve()
        self.data_dir = self.path.parent
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.staging_dir = self.data_dir / "staging"
        self.staging_dir.mkdir(exist_ok=True)
        self._local = threading.local()
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
        con.execute(f"SET allowed_directories = {_text_list([str(self.data_dir) + '/'])}")
        if read_paths:
            con.execute(f"SET allowed_paths = {_text_list([str(p) for p in read_paths])}")
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
            cur.execute(f"INSERT OR REPLACE INTO meta VALUES ('schema_version', '{int(SCHEMA_VERSION)}')")

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
            rel = _execute(cur, sql, params)
            columns = tuple(d[0] for d in rel.description or ())
            return Result(columns, tuple(rel.fetchall()))

    def arrow(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None):
        """Run one read query and return a ``pyarrow.Table``."""
        with self.cursor() as cur:
            return _execute(cur, sql, params).to_arrow_table()

    def numpy(self, sql: str) -> dict[str, Any]:
        """Run one read query and return its columns as numpy arrays (masked where a column holds
        NULLs): for integer columns, no Arrow in between, and no pandas imported."""
        with self.cursor() as cur:
            return cur.execute(sql).fetchnumpy()

    def _backend(self):
        """This thread's ibis DuckDB backend over its own cursor of the connection (never handed out).

        One per thread: tables of one query must come from one backend, and a DuckDB cursor must
        not be used by two threads at once.
        """
        backend = getattr(self._local, "backend", None)
        if backend is None:
            import ibis

            backend = self._local.backend = ibis.duckdb.from_connection(self._con.cursor())
        return backend

    def _tables(self) -> dict[str, Any]:
        tables = getattr(self._local, "tables", None)
        if tables is None:
            tables = self._local.tables = {}
        return tables

    def _translate(self, exc: Exception) -> StorageError | None:
        if isinstance(exc, duckdb.Error):
            return StorageError(f"database error: {exc}", code="db_error")
        return None

    def sql_table(self, sql: str):
        """An ibis table over a DuckDB query (for accelerators that read DuckDB-only columns such as ``rowid``)."""
        with self._engine_errors():
            return self._backend().sql(sql)

    def create_table_as(self, cur, name: str, expr) -> None:
        """``CREATE OR REPLACE TABLE name AS`` an ibis expression, inside the transaction ``cur``."""
        import ibis

        cur.execute(f'CREATE OR REPLACE TABLE "{name}" AS {ibis.to_sql(expr, dialect="duckdb")}')

    def insert_into(self, cur, name: str, expr) -> None:
        """Append the rows of an ibis expression to the table ``name`` (columns matched by name),
        inside the transaction ``cur``."""
        import ibis

        cur.execute(f'INSERT INTO "{name}" BY NAME {ibis.to_sql(expr, dialect="duckdb")}')

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self.query(sql).rows)

    # -- facts -------------------------------------------------------------------------------
    def content_version(self, *, without_upload: int | None = None) -> str:
        """A token that changes whenever the events or the catalog change (the key of every derived
        structure: rollups, accelerator tables, in-memory indexes). Every write of the library goes
        through an upload, which changes :meth:`data_version`; a write outside uploads changes the
        token only when it changes a table's row count, the latest event time or the catalog's
        durations.

        ``without_upload``: the token as it was before that upload (the last one) landed, computed
        from the rows of every other upload (what an accelerator kept current then was keyed by)."""
        where, params = self._without(without_upload)
        facts = self.query(
            f"SELECT (SELECT count(*) FROM events{where}), (SELECT max(event_time) FROM events{where}), "
            f"(SELECT count(*) FROM items{where}), (SELECT sum(duration_seconds) FROM items{where})",
            params * 4 if params else None,
        ).rows[0]
        return "|".join([self.data_version(without_upload=without_upload), *map(str, facts)])

    @staticmethod
    def _without(upload_id: int | None) -> tuple[str, list[Any]]:
        return ("", []) if upload_id is None else (" WHERE upload_id <> ?", [upload_id])

    def meta_like(self, prefix: str) -> dict[str, str]:
        """Every ``meta`` entry whose key starts with ``prefix`` (read like :meth:`get_meta`, without
        a bound parameter, which would import pandas)."""
        if prefix and not _META_KEY.fullmatch(prefix):
            raise ValueError(f"not a meta key prefix: {prefix!r}")
        return {str(k): str(v) for k, v in self._rows(f"SELECT key, value FROM meta WHERE starts_with(key, '{prefix}')")}

    @staticmethod
    def set_meta(cur, key: str, value: str | None) -> None:
        """Set (or, with ``None``, delete) a ``meta`` entry inside the transaction ``cur``."""
        if value is None:
            cur.execute("DELETE FROM meta WHERE key = ?", [key])
        else:
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def close(self) -> None:
        self._con.close()


def _execute(cur, sql: str, params: Sequence[Any] | dict[str, Any] | None):
    """Run ``sql`` on a cursor of its own with ``params`` bound to its ``?`` or ``$name`` placeholders.

    DuckDB's Python client imports pandas to bind any parameter (half a second of a one-shot command
    that otherwise needs none). When every value is a number, a boolean, a date, a naive time or
    ``None``, the statement is prepared and executed with the values as typed literals instead: the
    same types as bound values, and no caller's text reaches the SQL. Any other value (text) is bound."""
    if params is None:
        return cur.execute(sql)
    values = params.values() if isinstance(params, dict) else params
    literals = [_typed_literal(v) for v in values]
    if any(lit is None for lit in literals):
        return cur.execute(sql, params)
    if isinstance(params, dict):
        literals = [f"{name} := {lit}" for name, lit in zip(params, literals)]
    cur.execute(f"PREPARE reelytics_statement AS {sql}")  # the cursor is this statement's alone
    return cur.execute(f"EXECUTE reelytics_statement({', '.join(literals)})")


def _typed_literal(value: Any) -> str | None:
    """``value`` as a DuckDB literal of the type binding it gives, for the types no text can
    enter; ``None`` for any other value."""
    kind = type(value)  # exact types: a subclass (an enum, a pandas timestamp) is bound
    if value is None:
        return "NULL"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return f"'{value!r}'::DOUBLE"
    if kind is dt.datetime:
        return None if value.tzinfo is not None else f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if kind is dt.date:
        return f"DATE '{value.isoformat()}'"
    return None


def _text_list(values: Sequence[str]) -> str:
    """A DuckDB list literal of text values (each quoted, its quotes doubled)."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


#: DuckDB exception types that a DuckDB-specific step (the ingest staging SQL) tells apart.
EngineError = duckdb.Error
PermissionDenied = duckdb.PermissionException
OutOfMemory = duckdb.OutOfMemoryException
MissingTable = duckdb.CatalogException
BadData = duckdb.InvalidInputException
Interrupted = duckdb.InterruptException


def _throwaway(allowed: Sequence[Path] = ()) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB locked down like a store: UTC, no file or network access but ``allowed``."""
    con = duckdb.connect()
    if allowed:
        con.execute(f"SET allowed_paths = {_text_list([str(p.resolve()) for p in allowed])}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_external_access = false")
    return con


@contextmanager
def scratch(tables: dict[str, Any]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A throw-away in-memory DuckDB holding only ``tables`` (Arrow tables by name), locked down like a
    store (UTC, no file or network access): for checking rows before they reach any database."""
    con = _throwaway()
    try:
        for name, table in tables.items():
            con.register(name, table)
        yield con
    except duckdb.Error as exc:
        raise StorageError(f"database error: {exc}", code="db_error") from exc
    finally:
        con.close()


@contextmanager
def file_reader(read: Path, write: Path | None = None, seconds: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A throw-away in-memory DuckDB that may read the file ``read`` (and write the file ``write``) and
    no other: for turning a file into one an upload reads (JSON records into a CSV). After ``seconds``
    the statement running is interrupted (:data:`Interrupted`). DuckDB's own errors pass through:
    the caller words what a bad file is."""
    con = _throwaway([p for p in (read, write) if p is not None])
    timer = None
    if seconds is not None:
        timer = threading.Timer(max(seconds, 0.0), con.interrupt)
        timer.daemon = True
        timer.start()
    try:
        con.execute("SET enable_progress_bar = false")
        yield con
    finally:
        if timer is not None:
            timer.cancel()
        con.close()


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
