"""One way to write each kind of number, for every person-facing output: the dashboard's pages
(:mod:`dashboard.format` adds what depends on the page language and the chosen currency) and the
CLI's text output (:mod:`analytics.cli.text_output`). A rate always reads ``51.9%``, a count
``12,345``, an amount ``1,234.50`` and a missing value ``–``.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Mapping
from typing import Any, Literal

MISSING = "–"

Kind = Literal["count", "percent", "money", "multiple", "number", "text"]


def is_missing(value: Any) -> bool:
    """True for None, NA and NaN: a value to show as :data:`MISSING`."""
    if value is None:
        return True
    pandas = sys.modules.get("pandas")  # without pandas loaded nothing can be its NA or NaT
    if pandas is not None and (value is pandas.NA or value is pandas.NaT):
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def pct(value: float | None, digits: int = 1) -> str:
    """A rate in [0, 1] as a percentage: ``0.5186`` -> ``51.9%``."""
    return MISSING if is_missing(value) else f"{float(value):.{digits}%}"


def signed_pct(value: float | None, digits: int = 1) -> str:
    """A relative change or lift: ``0.12`` -> ``+12.0%``."""
    return MISSING if is_missing(value) else f"{float(value):+.{digits}%}"


def count(value: float | None) -> str:
    """A count with separators: ``12345`` -> ``12,345``."""
    return MISSING if is_missing(value) else f"{round(float(value)):,}"


def money(value: float | None) -> str:
    """An amount with separators and cents: ``1234.5`` -> ``1,234.50``."""
    return MISSING if is_missing(value) else f"{float(value):,.2f}"


def multiple(value: float | None) -> str:
    """A ratio read as "times": ``1.456`` -> ``1.46×``."""
    return MISSING if is_missing(value) else f"{float(value):,.2f}×"


def number(value: float | None, digits: int = 1) -> str:
    """A plain number with separators and ``digits`` decimals."""
    return MISSING if is_missing(value) else f"{float(value):,.{digits}f}"


def significant(value: float | None, digits: int = 4) -> str:
    """A number of unknown scale (a p-value, a mean) to ``digits`` significant digits."""
    return MISSING if is_missing(value) else f"{float(value):,.{digits}g}"


def p_value(value: float | None) -> str:
    """A p-value: ``0.592``, ``0.0050`` or ``<0.0001`` (never ``0``: a test cannot prove certainty)."""
    if is_missing(value):
        return MISSING
    p = float(value)
    return "<0.0001" if p < 1e-4 else f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


def p_text(value: float | None) -> str:
    """A p-value in a sentence: ``p = 0.012``, ``p = 0.0050`` or ``p < 0.0001``."""
    if is_missing(value):
        return "p = n/a"
    written = p_value(value)
    return f"p {written[0]} {written[1:]}" if written.startswith("<") else f"p = {written}"


def kpi_kind(name: str) -> Kind:
    """The kind of a KPI column (``views`` -> count, ``ctr`` -> percent, ``d1_retention`` -> percent),
    ``text`` for other columns."""
    from analytics.metrics.kpis import ALL_KPIS

    kpi = next((k for k in ALL_KPIS if k.name == name), None)
    if kpi is None:
        return "text"
    return {"count": "count", "ratio": "percent", "money": "money", "multiple": "multiple"}.get(kpi.unit, "number")


_WRITERS = {"count": count, "percent": pct, "money": money, "multiple": multiple, "number": number}


def write(kind: Kind, value: Any) -> str:
    """``value`` written as its ``kind``."""
    if kind == "text":
        return text(value)
    return _WRITERS[kind](value)


def text(value: Any) -> str:
    """A text cell as a person reads it: :data:`MISSING` for nothing, a row's extra columns (a mapping,
    such as ``props``) as ``name: value; name: value`` in their order."""
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {text(v)}" for k, v in value.items()) or MISSING
    if is_missing(value):
        return MISSING
    if isinstance(value, dt.datetime):  # pandas' Timestamp too: a fraction of a second to the millisecond, if any
        return value.isoformat(sep=" ", timespec="milliseconds" if value.microsecond else "seconds")
    return str(value)
