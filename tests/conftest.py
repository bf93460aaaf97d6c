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

from analytics.store.storage import Store  # noqa: E402


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Spread over workers (``-n``, as scripts/test.sh runs) whole files, so module fixtures (servers,
    trained models, sample databases) are built once, and all of tests/engine as one unit, so the run
    starts one Spark application. Units go out in collection order: the slow app, browser and engine
    files first, the many short unit files last, so both workers finish at about the same time.
    An explicit ``--dist`` other than the default keeps xdist's own scheduler."""
    if config.option.dist != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/engine" if path.startswith("tests/engine/") else path

    return FileScheduling(config, log)


@pytest.fixture(autouse=True)
def _one_shot_query_layer():
    """Every test starts as a one-shot process (pages switch in-memory accelerators on for good)."""
    from analytics.query import engine

    engine.keep_in_memory(False)
    yield
    engine.keep_in_memory(False)


@pytest.fixture
def store(tmp_path) -> Store:
    """An empty store in a fresh temporary folder."""
    s = Store(tmp_path / "data" / "test.duckdb")
    yield s
    s.close()


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory):
    """Path of a DuckDB file loaded with ``load_sample(users=300, days=28, seed=7)``, built once.

    Do not open it directly: use :func:`sample_store` (or copy the file) so tests never share a
    connection or change each other's data.
    """
    from analytics.sample import load_sample

    path = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    s = Store(path)
    try:
        load_sample(s, users=300, days=28, seed=7)
    finally:
        s.close()
    return path


@pytest.fixture
def sample_db_copy(sample_db, tmp_path):
    """Path of a private copy of :func:`sample_db` in a fresh data folder (for page tests)."""
    import shutil

    folder = tmp_path / "sample_data"
    folder.mkdir()
    path = folder / "sample.duckdb"
    shutil.copy(sample_db, path)
    return path


@pytest.fixture
def sample_store(sample_db_copy) -> Store:
    """A private copy of :func:`sample_db`, opened as a :class:`Store`."""
    s = Store(sample_db_copy)
    yield s
    s.close()


@pytest.fixture(scope="session")
def incidents_db(tmp_path_factory):
    """Path of a DuckDB file loaded with ``load_sample(**INCIDENTS_SAMPLE)``, built once.

    The alerts and explain tests find its planted incidents. Like :func:`sample_db`, open only a
    private copy of the file.
    """
    from analytics.sample import load_sample
    from tests.helpers import INCIDENTS_SAMPLE

    path = tmp_path_factory.mktemp("incidents") / "incidents.duckdb"
    s = Store(path)
    try:
        load_sample(s, **INCIDENTS_SAMPLE)
    finally:
        s.close()
    return path
