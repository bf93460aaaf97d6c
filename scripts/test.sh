#!/usr/bin/env bash
# Set up everything the tests need (Python packages, Chromium, Java) and run the whole suite:
# unit, property, AppTest, real-browser and engine (DuckDB vs Spark) tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
# Two worker processes (pytest-xdist), each running whole files (tests/conftest.py); -n 0 runs one process.
# pytest exits 5 when it collected no test: that is a failure here, like any other non-zero status.
exec .venv/bin/python -m pytest -n 2 "$@"
