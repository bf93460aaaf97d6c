"""numpy <-> Arrow through buffers (analytics.columns): the values of pyarrow's own conversions,
without importing pandas."""

import numpy as np
import pyarrow as pa

from analytics.columns import from_numpy, to_numpy
from tests.helpers import loads_pandas


def test_columns_round_trip_with_nulls_offsets_and_chunks():
    ints = pa.chunked_array([[1, None, 3], [4, 5]], pa.int64())
    assert to_numpy(ints).tolist() == [1, 0, 3, 4, 5]
    floats = pa.array([0.5, None, -1.25, 2.0], pa.float64()).slice(1)
    assert np.array_equal(to_numpy(floats, np.nan), [np.nan, -1.25, 2.0], equal_nan=True)
    flags = pa.array([True, False, None, True, True, False, False, True, False, True]).slice(3)
    assert to_numpy(flags).tolist() == [True, True, False, False, True, False, True]
    assert to_numpy(pa.array([7, 8], pa.int32())).dtype == np.int32
    values = np.array([1.5, 2.5, np.nan])
    assert from_numpy(values, np.isnan(values)).to_pylist() == [1.5, 2.5, None]
    assert from_numpy(np.arange(10)[::3]).to_pylist() == [0, 3, 6, 9]
    mask = np.arange(11) % 3 == 0
    assert from_numpy(mask).to_pylist() == pa.array(mask).to_pylist()
    assert from_numpy(np.arange(11), mask).equals(pa.array(np.arange(11), mask=mask))


def test_conversions_import_no_pandas():
    assert not loads_pandas(
        "import numpy as np\n"
        "from analytics.columns import from_numpy, to_numpy\n"
        "to_numpy(from_numpy(np.arange(5.0), np.arange(5) == 2), np.nan), to_numpy(from_numpy(np.arange(5) > 1))"
    )
