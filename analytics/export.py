"""CSV and Excel exports that carry the applied filters and are safe against formula injection.

A spreadsheet treats a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return as a
formula (OWASP "CSV injection"); such text cells are prefixed with a single quote. Numbers are left
as numbers, so a negative revenue stays numeric.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from analytics.access import Principal, require
from analytics.lazy import LazyModule

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: the CLI imports this module to parse options, not to export
    pd = LazyModule("pandas")

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Return ``value`` with a leading quote if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def excel_text(value: Any) -> Any:
    """Text as an .xlsx cell can hold it: control characters Excel refuses become U+FFFD.

    Replaced, not removed, so that ``"\x01=cmd"`` cannot turn into a formula once cleaned.
    """
    if isinstance(value, str):
        return _illegal_characters().sub("\ufffd", value)
    return value


@functools.cache
def _illegal_characters() -> re.Pattern[str]:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE


def safe_frame(df: pd.DataFrame, clean: Callable[[Any], Any] | None = None) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are neutralised (after ``clean``, if given)."""

    def fix(value: Any) -> Any:
        return neutralise(clean(value) if clean else value)

    out = df.copy()
    out.columns = [fix(str(c)) for c in out.columns]
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            out.isetitem(i, column.astype(object).map(fix))
    return out


def _lf(value: Any) -> Any:
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def _one_line(text: str) -> str:
    return " ".join(str(text).splitlines())


def _filter_lines(filters: Mapping[str, Any] | None) -> list[str]:
    if not filters:
        return []
    return [f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in filters.items()]


def csv_text(df: pd.DataFrame, float_format: str | None = None) -> str:
    """The CSV text of ``df`` with every formula-like text cell neutralised: the one CSV writer of
    the product (CLI ``--csv`` output, ``recommend --all``, page downloads)."""
    buf = io.StringIO()
    data = safe_frame(df)
    # The csv writer quotes only fields holding the line terminator ("\n"); a bare carriage
    # return left unquoted would start a new row (and could put "=..." at the start of a line).
    data.columns = [_lf(c) for c in data.columns]
    for i in range(data.shape[1]):
        column = data.iloc[:, i]
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            data.isetitem(i, column.astype(object).map(_lf))
    data.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n", float_format=float_format)
    return buf.getvalue()


def to_csv_bytes(df: pd.DataFrame, filters: Mapping[str, Any] | None = None, title: str = "",
                 actor: Principal | None = None) -> bytes:
    """UTF-8 (with BOM, so Excel opens Chinese text correctly) CSV; filters as leading ``#`` lines.

    ``actor`` needs the ``export`` permission (:mod:`analytics.access`)."""
    require(actor, "export")
    head = f"# {_one_line(title)}\n" if title else ""
    head += "".join(f"# filter {_one_line(line)}\n" for line in _filter_lines(filters))
    return ("\ufeff" + head + csv_text(df)).encode("utf-8")


def to_excel_bytes(df: pd.DataFrame, filters: Mapping[str, Any] | None = None, title: str = "",
                   actor: Principal | None = None) -> bytes:
    """An .xlsx workbook: sheet ``data`` with the table, sheet ``filters`` with what was applied.

    ``actor`` needs the ``export`` permission (:mod:`analytics.access`)."""
    require(actor, "export")
    buf = io.BytesIO()
    meta = pd.DataFrame(
        [("title", title)] + [(k, json.dumps(v, ensure_ascii=False, default=str)) for k, v in (filters or {}).items()],
        columns=["filter", "value"],
    )
    data = safe_frame(df, excel_text)
    for col in data.columns:  # Excel cannot hold tz-aware datetimes
        if isinstance(data[col].dtype, pd.DatetimeTZDtype):
            data[col] = data[col].dt.tz_localize(None)
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        data.to_excel(writer, sheet_name="data", index=False)
        safe_frame(meta, excel_text).to_excel(writer, sheet_name="filters", index=False)
    return buf.getvalue()
