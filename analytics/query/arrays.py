"""numpy helpers of the funnel rows: the (unit, packed time) order key, and views between numpy and
Arrow that import nothing more.

pyarrow's own conversions (``pa.array(...)`` of Python or numpy values, ``Array.to_numpy()``) import
pandas (about half a second of a one-shot command's CPU); :func:`to_arrow` and :func:`to_numpy`
wrap the same memory of a fixed-width column without nulls instead. Shared by the portable funnel
rows (:mod:`analytics.query.funnel_events`), the funnel order accelerator
(:mod:`analytics.query.accel.funnel_order`) and the funnel results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa


def unit_key(p: np.ndarray, unit: np.ndarray, low_bits: int) -> tuple[np.ndarray, int, int, int] | None:
    """One int64 key per row ordering ``p`` (packed ``time << low_bits | flags``) by (unit, p),
    with the time's origin, step and bits; ``None`` when unit, time and flags do not fit 62 bits.
    Times are made relative to the earliest and divided by their greatest common divisor (exact)."""
    t = p >> low_bits
    t0 = int(t.min())
    step = int(np.gcd.reduce(t - t0)) or 1
    q = (t - t0) // step
    t_bits = max(int(q.max()).bit_length(), 1)
    u_bits = max(int(unit.max()).bit_length(), 1)
    if u_bits + t_bits + low_bits > 62:
        return None
    return (unit << (t_bits + low_bits)) | (q << low_bits) | (p & ((1 << low_bits) - 1)), t0, step, t_bits


def to_arrow(values: np.ndarray) -> pa.Array:
    """An integer (as int64) or float64 numpy array as an Arrow array over the same memory (no nulls)."""
    import pyarrow as pa

    values = np.ascontiguousarray(values, dtype=np.float64 if values.dtype.kind == "f" else np.int64)
    kind = pa.float64() if values.dtype.kind == "f" else pa.int64()
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def to_numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A fixed-width Arrow column without nulls (integers, floats) as a numpy array (a view when it
    is one chunk)."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.null_count:
        raise ValueError("to_numpy: the column holds nulls")
    dtype = np.dtype(values.type.to_pandas_dtype())
    return np.frombuffer(values.buffers()[1], dtype=dtype, count=len(values), offset=values.offset * dtype.itemsize)


def take_text(values: pa.Array, indices: np.ndarray) -> pa.Array:
    """``values[indices]`` of an Arrow text column without nulls, gathered in numpy (``Array.take``
    imports pyarrow's compute module, a tenth of a second of a one-shot command's CPU)."""
    import pyarrow as pa

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
