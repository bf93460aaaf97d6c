"""Numeric columns between numpy and Arrow without pandas.

pyarrow's own conversions (``pa.array`` of a numpy array, ``Array.to_numpy``, a Python scalar in a
compute call) import pandas when it is installed, to test whether the value is one of its types:
about half a second of a one-shot command that otherwise needs no pandas. These two functions
convert integer, float and boolean columns through their buffers instead.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_ARROW_OF = {np.dtype(np.int64): pa.int64(), np.dtype(np.int32): pa.int32(), np.dtype(np.float64): pa.float64()}
_NUMPY_OF = {arrow: dtype for dtype, arrow in _ARROW_OF.items()}


def to_numpy(column: pa.Array | pa.ChunkedArray, fill: float = 0) -> np.ndarray:
    """An int64, int32, float64 or boolean column as a numpy array (a copy), nulls as ``fill``."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        array = pc.fill_null(array, from_numpy(np.array([fill], dtype=_NUMPY_OF.get(array.type, bool)))[0])
    data = array.buffers()[1]
    if pa.types.is_boolean(array.type):
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little", count=array.offset + len(array))
        return bits[array.offset:].astype(bool)
    dtype = _NUMPY_OF[array.type]
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize).copy()


def from_numpy(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """An int64, int32, float64 or boolean numpy array as an Arrow array, null where ``mask`` is true."""
    n = len(values)
    validity = None
    nulls = 0
    if mask is not None and mask.any():
        validity = pa.py_buffer(np.packbits(~mask, bitorder="little"))
        nulls = int(mask.sum())
    if values.dtype == bool:
        return pa.Array.from_buffers(pa.bool_(), n, [validity, pa.py_buffer(np.packbits(values, bitorder="little"))], nulls)
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(_ARROW_OF[values.dtype], n, [validity, pa.py_buffer(values)], nulls)
