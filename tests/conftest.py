from __future__ import annotations

import os

import pytest

# implicit warns and slows down when BLAS spawns threads of its own.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from analytics.storage import Store  # noqa: E402


@pytest.fixture
def store(tmp_path) -> Store:
    """An empty store in a fresh temporary folder."""
    s = Store(tmp_path / "data" / "test.duckdb")
    yield s
    s.close()
