"""CSV and Excel exports that carry the applied filters and are safe against formula injection.

A spreadsheet treats a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return as a
formula (OWASP "CSV injection"); such text cells are prefixed with a single quote. Numbers are left
as numbers, so a negative revenue stays numeric.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Return ``value`` with a leading quote if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are neutralised."""
    out = df.copy()
    out.columns = [neutralise(str(c)) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    return out


def _filter_lines(filters: Mapping[str, Any] | None) -> list[str]:
    if not filters:
        return []
    return [f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in filters.items()]


def to_csv_bytes(df: pd.DataFrame, filters: Mapping[str, Any] | None = None, title: str = "") -> bytes:
    """UTF-8 (with BOM, so Excel opens Chinese text correctly) CSV; filters as leading ``#`` lines."""
    buf = io.StringIO()
    if title:
        buf.write(f"# {neutralise(title)}\n")
    for line in _filter_lines(filters):
        buf.write(f"# filter {neutralise(line)}\n")
    safe_frame(df).to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_excel_bytes(df: pd.DataFrame, filters: Mapping[str, Any] | None = None, title: str = "") -> bytes:
    """An .xlsx workbook: sheet ``data`` with the table, sheet ``filters`` with what was applied."""
    buf = io.BytesIO()
    meta = pd.DataFrame(
        [("title", title)] + [(k, json.dumps(v, ensure_ascii=False, default=str)) for k, v in (filters or {}).items()],
        columns=["filter", "value"],
    )
    data = safe_frame(df)
    for col in data.columns:  # Excel cannot hold tz-aware datetimes
        if isinstance(data[col].dtype, pd.DatetimeTZDtype):
            data[col] = data[col].dt.tz_localize(None)
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        data.to_excel(writer, sheet_name="data", index=False)
        safe_frame(meta).to_excel(writer, sheet_name="filters", index=False)
    return buf.getvalue()
