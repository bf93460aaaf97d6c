"""The bounds of one upload: how wide, how big and how slow a file may be, and which times are plausible.

Each limit has a default and an environment variable that overrides it (read when an upload starts):

=========================  ==============================  ==========================================
limit                      variable                        default
=========================  ==============================  ==========================================
columns of a file          ``REELYTICS_MAX_COLUMNS``        256
bytes of one cell          ``REELYTICS_MAX_CELL_BYTES``     65,536 (64 KiB); a longer cell rejects its row
bytes of one line          ``REELYTICS_MAX_LINE_BYTES``     1,048,576 (1 MiB); a longer line is rejected
decompressed workbook      ``REELYTICS_MAX_XLSX_BYTES``     536,870,912 (512 MiB) over all parts
workbook shared strings    ``REELYTICS_MAX_XLSX_STRINGS``   67,108,864 (64 MiB) decompressed (held in memory)
conversion time            ``REELYTICS_MAX_CONVERT_SECONDS`` 900 (Excel or legacy-encoding conversion)
first plausible day        ``REELYTICS_PLAUSIBLE_FROM``     1990-01-01 (UTC); earlier times reject their row
last plausible day         ``REELYTICS_PLAUSIBLE_TO``       2100-12-31 (UTC); later times reject their row
=========================  ==============================  ==========================================
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from analytics.errors import BadInput


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.replace("_", "").strip())
    except ValueError:
        value = 0
    if value <= 0:
        raise BadInput(f"{name} must be a positive whole number, got {raw!r}", code="bad_setting", name=name, value=raw)
    return value


def _day(name: str, default: dt.date) -> dt.date:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise BadInput(f"{name} must be a day as YYYY-MM-DD, got {raw!r}", code="bad_setting", name=name, value=raw) from None


@dataclass(frozen=True)
class Limits:
    max_columns: int = 256
    max_cell_bytes: int = 64 * 1024
    max_line_bytes: int = 1 << 20
    max_xlsx_bytes: int = 512 << 20
    max_xlsx_strings: int = 64 << 20
    max_convert_seconds: int = 900
    plausible_from: dt.date = dt.date(1990, 1, 1)
    plausible_to: dt.date = dt.date(2100, 12, 31)

    @classmethod
    def from_env(cls) -> Limits:
        d = cls()
        limits = cls(
            max_columns=_int("REELYTICS_MAX_COLUMNS", d.max_columns),
            max_cell_bytes=_int("REELYTICS_MAX_CELL_BYTES", d.max_cell_bytes),
            max_line_bytes=_int("REELYTICS_MAX_LINE_BYTES", d.max_line_bytes),
            max_xlsx_bytes=_int("REELYTICS_MAX_XLSX_BYTES", d.max_xlsx_bytes),
            max_xlsx_strings=_int("REELYTICS_MAX_XLSX_STRINGS", d.max_xlsx_strings),
            max_convert_seconds=_int("REELYTICS_MAX_CONVERT_SECONDS", d.max_convert_seconds),
            plausible_from=_day("REELYTICS_PLAUSIBLE_FROM", d.plausible_from),
            plausible_to=_day("REELYTICS_PLAUSIBLE_TO", d.plausible_to),
        )
        if limits.plausible_from > limits.plausible_to:
            raise BadInput(
                "REELYTICS_PLAUSIBLE_FROM is after REELYTICS_PLAUSIBLE_TO", code="bad_setting", name="REELYTICS_PLAUSIBLE_FROM"
            )
        return limits

    @property
    def plausible_start(self) -> dt.datetime:
        """First plausible instant (naive UTC)."""
        return dt.datetime.combine(self.plausible_from, dt.time())

    @property
    def plausible_end(self) -> dt.datetime:
        """First instant after the plausible range (naive UTC)."""
        return dt.datetime.combine(self.plausible_to + dt.timedelta(days=1), dt.time())
