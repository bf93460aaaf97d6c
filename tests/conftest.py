from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# No wall-clock limits in tests (shared, noisy machines); CI runs are reproducible.
settings.register_profile(
    "reelytics",
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("reelytics")

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
