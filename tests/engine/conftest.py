"""The same ibis expressions on DuckDB and on Apache Spark (local[2]) over the same rows.

Spark needs Java: scripts/setup.sh --test installs it. Rows are copied as Python values, so the Spark
side sees exactly the rows the DuckDB store holds.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys

import pytest

pytestmark = pytest.mark.engine


@pytest.fixture(scope="session")
def spark():
    """The one Spark application of the test run (local[2], loopback, UI off); it also serves Spark
    Connect on a free loopback port (:func:`spark_connect_url`)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("Java not found: run scripts/setup.sh --test (installs Debian's default-jre-headless)")
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers (ingest on Spark) run this Python
    session = (
        SparkSession.builder.master("local[2]")
        .appName("reelytics-engine-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "1g")
        .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
        .config("spark.connect.grpc.binding.address", "127.0.0.1")
        .config("spark.connect.grpc.binding.port", str(_CONNECT_PORT))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_CONNECT_PORT = _free_port()


@pytest.fixture(scope="session")
def spark_connect_url(spark) -> str:
    """``sc://127.0.0.1:PORT``: the Spark Connect server of the test run's Spark application."""
    return f"sc://127.0.0.1:{_CONNECT_PORT}"


def _engines(store, spark):
    import ibis

    from analytics.store.schema import TABLE_COLUMNS
    from analytics.store.storage import IbisSource

    spark_backend = IbisSource(ibis.pyspark.connect(spark), "spark")

    def sync():
        for table, columns in TABLE_COLUMNS.items():
            cols = ", ".join(f'"{c}"' for c in columns)
            rows = list(store.query(f'SELECT {cols} FROM "{table}"').rows)
            spark.createDataFrame(rows, schema=_spark_schema(columns)).createOrReplaceTempView(table)

    return store, spark_backend, sync


@pytest.fixture
def engines(store, spark):
    """``(duckdb_source, spark_source, sync)`` over ``store``; call ``sync()`` after inserting rows."""
    return _engines(store, spark)


@pytest.fixture
def sample_engines(sample_store, spark):
    """``(duckdb_source, spark_source)`` over the same copy of the sample data."""
    duck, spark_backend, sync = _engines(sample_store, spark)
    sync()
    return duck, spark_backend


def _spark_schema(columns):
    from pyspark.sql import types as T

    mapping = {
        "TIMESTAMP": T.TimestampNTZType(),
        "VARCHAR": T.StringType(),
        "DOUBLE": T.DoubleType(),
        "DECIMAL(18,2)": T.DecimalType(18, 2),
        "INTEGER": T.IntegerType(),
        "DATE": T.DateType(),
    }
    return T.StructType([T.StructField(c, mapping[t], True) for c, t in columns.items()])


def forget_store(db) -> None:
    """Close and forget the process's store of ``db`` (a test's database, opened through the CLI)."""
    from analytics.store import storage

    opened = storage._STORES.pop(db.resolve(), None)
    if opened is not None:
        opened.close()
