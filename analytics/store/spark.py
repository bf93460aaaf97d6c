"""Apache Spark as a source: the canonical tables read from a Parquet dataset, queried through ibis.

:func:`open_spark_source` takes the dataset written by ``reelytics export --parquet DIR`` (a local
folder or a lake URL such as ``s3a://bucket/reelytics``) and a Spark URL: ``local[N]`` runs Spark
in this process (Java 17), ``sc://host:port`` connects to a Spark Connect server of a cluster. Every
source gets a session of its own (its own temporary views over the dataset) on the one Spark
application of the process. pyspark is imported here only, when a Spark source is opened.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

from analytics.errors import BadInput, StorageError
from analytics.store.parquet import DATASET_TABLES, MARKER, is_dataset
from analytics.store.schema import TABLE_COLUMNS
from analytics.store.storage import IbisSource

#: The Spark URLs understood: ``local``, ``local[N]``, ``local[*]`` and ``sc://host:port``.
_LOCAL = re.compile(r"local(\[(\d+|\*)\])?")
_CONNECT = re.compile(r"sc://[^/\s]+(/.*)?")
_LAKE = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)

_LOCK = threading.Lock()

#: Spark SQL types of the DuckDB column types of the canonical tables.
_SPARK_TYPES = {
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "VARCHAR": "STRING",
    "DOUBLE": "DOUBLE",
    "DECIMAL(18,2)": "DECIMAL(18,2)",
    "INTEGER": "INT",
    "DATE": "DATE",
}

#: The columns of each table of a dataset as Spark reads them, with their Spark types (declared, so
#: no file is read to infer them; a file that disagrees fails the query that reads it).
SPARK_COLUMNS: dict[str, dict[str, str]] = {
    **{
        table: {
            **{c: _SPARK_TYPES[t] for c, t in columns.items()},
            "upload_id": "INT",
            "props": "MAP<STRING, STRING>",
        }
        for table, columns in TABLE_COLUMNS.items()
    },
    "uploads": {
        "upload_id": "INT", "kind": "STRING", "file_name": "STRING", "file_sha256": "STRING",
        "created_at": "TIMESTAMP_NTZ", "rows_accepted": "BIGINT", "rows_rejected": "BIGINT",
        "rows_duplicate": "BIGINT", "mapping": "STRING", "report": "STRING",
    },
    "upload_rejects": {"upload_id": "INT", "line": "BIGINT", "reason": "STRING", "raw": "STRING"},
    "meta": {"key": "STRING", "value": "STRING"},
}


class SparkSource(IbisSource):
    """The canonical tables of one Parquet dataset on a Spark session."""

    def __init__(self, backend, session, data: str, url: str) -> None:
        super().__init__(backend, "spark")
        self.session = session
        self.data = data
        self.url = url

    @property
    def path(self) -> str:
        """Where the data is (the dataset's folder or lake URL), as :attr:`Store.path` for DuckDB."""
        return self.data


#: Open sources by (location, Spark URL, dataset identity): a dataset replaced in place gets new views.
_SOURCES: dict[tuple[str, str, Any], SparkSource] = {}


def check_spark_url(url: str) -> str:
    """``url`` if it is a Spark URL this library opens; bad input otherwise."""
    if _LOCAL.fullmatch(url) or _CONNECT.fullmatch(url):
        return url
    raise BadInput(
        f"unknown Spark URL {url!r}; use local[N] (Spark in this process) or sc://host:port (Spark Connect)",
        code="bad_spark_url",
        value=url,
    )


def is_lake_url(data: str) -> bool:
    """Whether ``data`` names a dataset by URL (``s3a://``, ``hdfs://``, ``abfss://``, ...), not a local folder."""
    return _LAKE.match(data) is not None


def dataset_location(data: str) -> str:
    """The dataset's location as Spark reads it: a lake URL as given, a local folder made absolute
    (and checked: it must hold a dataset written by ``export --parquet``)."""
    if is_lake_url(data):
        return data.rstrip("/")
    folder = Path(os.path.abspath(Path(data).expanduser()))  # the link to the current version is kept
    if not is_dataset(folder):
        raise BadInput(
            f"no Reelytics Parquet dataset at {folder}; write one with: reelytics export --parquet {folder}",
            code="no_parquet_dataset",
            path=str(folder),
        )
    return str(folder)


def dataset_identity(location: str) -> Any:
    """What changes when a local dataset is replaced (its current version, and that version's marker
    folder); ``None`` for a lake URL, whose replacement a running process does not see (open the source
    again in a new process)."""
    if is_lake_url(location):
        return None
    version = os.path.realpath(location)
    marker = os.stat(Path(version) / MARKER)
    return version, marker.st_ino, marker.st_mtime_ns


def open_spark_source(data: str, url: str = "local[2]") -> SparkSource:
    """A source over the Parquet dataset at ``data`` (folder or lake URL) on the Spark at ``url``.

    The source of one dataset is opened once per process (and again when the dataset was replaced)."""
    check_spark_url(url)
    location = dataset_location(str(data))
    key = (location, url, dataset_identity(location))
    with _LOCK:
        found = _SOURCES.get(key)
    if found is None:
        found = _open(location, url)
        with _LOCK:
            for stale in [k for k in _SOURCES if k[:2] == key[:2]]:
                del _SOURCES[stale]
            _SOURCES[key] = found
    return found


def _open(location: str, url: str) -> SparkSource:
    session = _new_session(url)
    import ibis

    source = SparkSource(ibis.pyspark.connect(session), session, location, url)
    # A local dataset is read from its current version's folder: a later version switched in by a
    # writer does not move the files under the queries of this source.
    version = location if is_lake_url(location) else os.path.realpath(location)
    with source._engine_errors():
        for table in DATASET_TABLES:
            read_table(session, version, table).createOrReplaceTempView(table)
    return source


def read_table(session, version: str, table: str):
    """A Spark DataFrame of one table of the dataset version at ``version``, with its declared columns
    (without the partition column)."""
    columns = SPARK_COLUMNS[table]
    schema = ", ".join(f"`{c}` {t}" for c, t in columns.items())
    return session.read.schema(schema).parquet(f"{version}/{table}").select(*columns)


def _new_session(url: str) -> Any:
    """A fresh session (its own temporary views) on the process's Spark application for ``url``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise StorageError(
            "the Spark engine needs pyspark: pip install 'reelytics[spark]'", code="no_pyspark"
        ) from exc
    with _LOCK:
        if _CONNECT.fullmatch(url):
            try:
                session = SparkSession.builder.remote(url).create()
            except Exception as exc:  # the client raises its own kinds for an unreachable server
                raise StorageError(
                    f"cannot reach Spark Connect at {url}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
                    code="spark_unreachable",
                    url=url,
                ) from exc
        else:
            if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
                raise StorageError(
                    "Spark in this process needs Java 17 (install a JRE, or set JAVA_HOME); "
                    "or connect to a cluster with --spark-url sc://host:port",
                    code="no_java",
                )
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers (ingest) run this Python
            given = _LOCAL.fullmatch(url).group(2)  # local: 1 thread; local[*]: one per core
            threads = 1 if given is None else (os.cpu_count() or 1) if given == "*" else int(given)
            application = (
                SparkSession.builder.master(url)
                .appName("reelytics")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.session.timeZone", "UTC")
                # one machine: a few shuffle partitions per thread, not the cluster default of 200
                .config("spark.sql.shuffle.partitions", str(2 * threads))
                .getOrCreate()
            )
            application.sparkContext.setLogLevel("ERROR")
            session = application.newSession()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session
