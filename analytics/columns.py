"""Columns between numpy and Arrow without pandas.

pyarrow's own conversions (``pa.array`` of a numpy array, ``Array.to_numpy``, ``Array.take``, a
Python scalar in a compute call) import pandas when it is installed, to test whether a value is one
of its types, or pyarrow's compute module: about half a second of a one-shot command that otherwise
needs neither. These functions go through the columns' buffers instead: the same values, the same
memory where it can be shared.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_ARROW_OF = {np.dtype(np.int64): pa.int64(), np.dtype(np.int32): pa.int32(), np.dtype(np.float64): pa.float64()}
_NUMPY_OF = {arrow: dtype for dtype, arrow in _ARROW_OF.items()}


def to_numpy(column: pa.Array | pa.ChunkedArray, fill: float = 0) -> np.ndarray:
    """A numeric or boolean column as a numpy array: a read-only view of the column's memory when
    it is numeric without nulls, else a copy (nulls as ``fill``; int64, int32 and float64 columns)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        import pyarrow.compute as pc

        array = pc.fill_null(array, from_numpy(np.array([fill], dtype=_NUMPY_OF.get(array.type, bool)))[0])
    data = array.buffers()[1]
    if pa.types.is_boolean(array.type):
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little", count=array.offset + len(array))
        return bits[array.offset:].astype(bool)
    dtype = _NUMPY_OF.get(array.type) or np.dtype(array.type.to_pandas_dtype())  # any other fixed width
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


def from_numpy(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """A numpy array of integers (int32 kept, any other as int64), floats (as float64) or booleans as
    an Arrow array over the same memory where the type allows, null where ``mask`` is true."""
    n = len(values)
    validity = None
    nulls = 0
    if mask is not None and mask.any():
        validity = pa.py_buffer(np.packbits(~mask, bitorder="little"))
        nulls = int(mask.sum())
    if values.dtype == bool:
        return pa.Array.from_buffers(pa.bool_(), n, [validity, pa.py_buffer(np.packbits(values, bitorder="little"))], nulls)
    kind = values.dtype if values.dtype == np.int32 else np.dtype(np.float64 if values.dtype.kind == "f" else np.int64)
    values = np.ascontiguousarray(values, dtype=kind)
    return pa.Array.from_buffers(_ARROW_OF[values.dtype], n, [validity, pa.py_buffer(values)], nulls)


def take_text(values: pa.Array, indices: np.ndarray) -> pa.Array:
    """``values[indices]`` of an Arrow text column without nulls, gathered in numpy."""
    if values.null_count or values.type not in (pa.string(), pa.large_string()):
        raise ValueError("take_text: a text column without nulls")
    width = np.int32 if values.type == pa.string() else np.int64
    _, offsets, data = values.buffers()
    offsets = np.frombuffer(offsets, dtype=width, count=len(values) + 1, offset=values.offset * np.dtype(width).itemsize)
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    starts, lengths = offsets[indices], offsets[indices + 1] - offsets[indices]
    out = np.zeros(len(indices) + 1, dtype=width)
    np.cumsum(lengths, out=out[1:])
    gathered = data[np.arange(int(out[-1]), dtype=np.int64) + np.repeat(starts - out[:-1], lengths)]
    return pa.Array.from_buffers(values.type, len(indices), [None, pa.py_buffer(out), pa.py_buffer(gathered)])
