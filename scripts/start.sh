#!/usr/bin/env bash
# Set up, load the sample data into the embedded database if it is empty, and start the dashboard.
# Database: $REELYTICS_DB or data/reelytics.duckdb. Port: $PORT or 8501.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
.venv/bin/reelytics sample --if-empty
exec .venv/bin/streamlit run dashboard/app.py --server.port "${PORT:-8501}" "$@"
