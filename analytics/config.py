"""Settings read once at the boundary (CLI flags, environment, dashboard config)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analytics.errors import BadInput

DEFAULT_DB = Path("data") / "reelytics.duckdb"
DEFAULT_TZ = "Asia/Shanghai"

#: The engines that answer analytic queries: the embedded DuckDB store, or Apache Spark over Parquet.
ENGINES = ("duckdb", "spark")
DEFAULT_SPARK_URL = "local[2]"


def default_db_path() -> Path:
    """The database file: ``REELYTICS_DB`` if set, else ``data/reelytics.duckdb``."""
    return Path(os.environ.get("REELYTICS_DB") or DEFAULT_DB)


def default_timezone() -> str:
    """The configured zone for local times without an offset (``REELYTICS_TZ``)."""
    return os.environ.get("REELYTICS_TZ") or DEFAULT_TZ


def default_engine() -> str:
    """The engine of analytic queries: ``REELYTICS_ENGINE`` if set, else ``duckdb``."""
    return os.environ.get("REELYTICS_ENGINE") or "duckdb"


def default_spark_url() -> str:
    """Where Spark runs: ``REELYTICS_SPARK_URL`` (``local[N]`` or ``sc://host:port``), else ``local[2]``."""
    return os.environ.get("REELYTICS_SPARK_URL") or DEFAULT_SPARK_URL


def default_spark_data(db_path: Path) -> str:
    """The Parquet dataset Spark reads: ``REELYTICS_SPARK_DATA`` (a folder or a lake URL), else the
    ``parquet`` folder next to the database (where ``reelytics export --parquet`` writes by default)."""
    return os.environ.get("REELYTICS_SPARK_DATA") or str(db_path.resolve().parent / "parquet")


def check_engine(name: str) -> str:
    """``name`` if it is an engine; bad input naming the choices otherwise."""
    if name not in ENGINES:
        raise BadInput(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}", code="bad_engine", value=name)
    return name


def parse_timezone(name: str) -> ZoneInfo:
    """Return the zone named ``name`` or raise :class:`BadInput` naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadInput(
            f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai or UTC",
            code="bad_timezone",
            value=name,
        ) from exc


@dataclass(frozen=True)
class Settings:
    """Process-wide settings."""

    db_path: Path = field(default_factory=default_db_path)
    timezone: str = field(default_factory=default_timezone)
    engine: str = field(default_factory=default_engine)
    spark_url: str = field(default_factory=default_spark_url)
    spark_data: str | None = None  # None: default_spark_data(db_path)

    @property
    def parquet_location(self) -> str:
        """The Parquet dataset of the Spark engine (and the default target of ``export --parquet``)."""
        return self.spark_data or default_spark_data(self.db_path)

    @property
    def data_dir(self) -> Path:
        """Folder holding the database, uploads staging and saved models."""
        return self.db_path.resolve().parent

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "staging"
