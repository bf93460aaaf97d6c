"""The CLI's ``--json`` writer: any result (dataclasses, dicts, tables, numpy and pandas values) as
one JSON document.

Tables are converted a column at a time (numpy or Arrow turns a whole column into Python values at
once), never cell by cell; the structure around them (dicts, lists, dataclasses) is walked once.
Missing values, NaN and infinities become ``null``, timestamps and dates ISO-8601 text, decimals
numbers; everything else keeps its raw value (no rounding, no units).

numpy, pandas and Arrow are not imported here: a value is one of their types only when its library
is already loaded (``sys.modules``), so a command whose result holds none of them writes its JSON
without importing them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: Object columns whose values Arrow converts exactly (anything else goes value by value, so that
#: a column mixing ints and floats keeps each as it was).
_ARROW_KINDS = frozenset({"string", "integer", "floating", "boolean", "empty", "date", "datetime", "datetime64"})


def dumps(value: Any, indent: int | None = None) -> str:
    """``value`` as JSON (UTF-8 text kept as is): one line, or indented by ``indent`` spaces."""
    return json.dumps(jsonable(value), ensure_ascii=False, indent=indent)


def jsonable(value: Any) -> Any:
    """``value`` as JSON values: dicts, lists, str, int, float, bool and ``None``."""
    pd, np, pa = sys.modules.get("pandas"), sys.modules.get("numpy"), sys.modules.get("pyarrow")
    if pa is not None and isinstance(value, pa.Table):
        return arrow_records(value)
    if pd is not None and isinstance(value, pd.DataFrame):
        return records(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return jsonable(value.to_dict())
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if np is not None and isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    return _scalar(value)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    pd, np = sys.modules.get("pandas"), sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic):
        return _scalar(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return _scalar(float(value))
    if isinstance(value, (dt.datetime, dt.date)):  # pd.Timestamp is a datetime
        return None if pd is not None and value is pd.NaT else value.isoformat()
    if isinstance(value, (list, tuple, set, dict)) or dataclasses.is_dataclass(value) or (
        np is not None and isinstance(value, np.ndarray)
    ):
        return jsonable(value)
    if pd is not None and pd.isna(value):
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per row, keyed by the column names as text; each column converted in one pass."""
    names = [str(c) for c in frame.columns]
    columns = [_column(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return [dict(zip(names, row)) for row in zip(*columns)] if columns else [{} for _ in range(len(frame))]


def arrow_records(table: pa.Table) -> list[dict[str, Any]]:
    """One dict per row of an Arrow table; each column converted in one pass."""
    names = [str(c) for c in table.column_names]
    columns = [_arrow_values(column) for column in table.columns]
    return [dict(zip(names, row)) for row in zip(*columns)] if columns else [{} for _ in range(table.num_rows)]


def _column(values: pd.Series) -> list[Any]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return values.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        array = values.to_numpy()
        out = array.tolist()
        for i in np.flatnonzero(~np.isfinite(array)):
            out[i] = None
        return out
    if dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in _ARROW_KINDS:
        return [_scalar(v) for v in values.tolist()]
    try:
        array = pa.array(values, from_pandas=True)  # None, NaN, NaT and NA all become null
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return [_scalar(v) for v in values.tolist()]
    return _arrow_values(array)


def _arrow_values(array: pa.Array | pa.ChunkedArray) -> list[Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(array.type):
        array = pc.if_else(pc.is_finite(array), array, pa.nulls(len(array), array.type))
    out = array.to_pylist()
    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
        return [None if v is None else v.isoformat() for v in out]
    if not (pa.types.is_string(array.type) or pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
            or pa.types.is_boolean(array.type) or pa.types.is_null(array.type)):
        return [_scalar(v) for v in out]  # decimals (exact float conversion), categories, nested values
    return out
