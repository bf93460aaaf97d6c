"""The CLI's human (non-JSON) output: an aligned table, its numbers written by :mod:`dashboard.numbers`.

``--json`` output does not pass through here: it keeps the raw values. Every command's text output
writes its numbers with :mod:`dashboard.numbers` (the dashboard writes single values with the same
functions), so a rate always reads ``51.9%``, a count ``12,345`` and a missing value ``–``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from analytics.lazy import LazyModule
from dashboard.numbers import Kind, kpi_kind, write

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use: command modules import this one to parse options, not to print
    pd = LazyModule("pandas")


def table(frame: pd.DataFrame, kinds: Mapping[str, Kind] | None = None) -> str:
    """``frame`` as aligned text columns: numbers right-aligned and written by their kind (given, or
    the KPI registry's unit), text left-aligned; ``(no rows)`` when empty."""
    if frame.empty:
        return "(no rows)"
    kinds = dict(kinds or {})
    columns = []
    for name in frame.columns:
        kind = kinds.get(str(name)) or kpi_kind(str(name))
        if kind == "text" and pd.api.types.is_integer_dtype(frame[name]):
            kind = "count"
        cells = [write(kind, v) for v in frame[name]]
        width = max(len(str(name)), *(len(c) for c in cells))
        right = kind != "text"
        columns.append([str(name).rjust(width) if right else str(name).ljust(width),
                        *(c.rjust(width) if right else c.ljust(width) for c in cells)])
    return "\n".join("  ".join(row).rstrip() for row in zip(*columns))
