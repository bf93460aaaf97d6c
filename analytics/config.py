"""Settings read once at the boundary (CLI flags, environment, dashboard config)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analytics.errors import BadInput

DEFAULT_DB = Path("data") / "reelytics.duckdb"
DEFAULT_TZ = "Asia/Shanghai"


def default_db_path() -> Path:
    """The database file: ``REELYTICS_DB`` if set, else ``data/reelytics.duckdb``."""
    return Path(os.environ.get("REELYTICS_DB") or DEFAULT_DB)


def default_timezone() -> str:
    """The configured zone for local times without an offset (``REELYTICS_TZ``)."""
    return os.environ.get("REELYTICS_TZ") or DEFAULT_TZ


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
