#!/usr/bin/env bash
# Set up, load the sample data into the embedded database if it is empty, and start the dashboard.
# Database: $REELYTICS_DB or data/reelytics.duckdb. Port: $PORT or 8501.
# Browser upload cap: $REELYTICS_MAX_UPLOAD_MB or 200 (MB); larger files: the data folder or the CLI.
# Address: $REELYTICS_ADDRESS or 127.0.0.1 (this machine only). Another address needs sign-in
# (reelytics users add, or [auth] in .streamlit/secrets.toml) or REELYTICS_ALLOW_OPEN=1; see docs/security.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
address="${REELYTICS_ADDRESS:-127.0.0.1}"
# Says where the dashboard will listen and who may use it; exits 2 (one line) for an open dashboard off this machine.
.venv/bin/reelytics users check --address "$address"
.venv/bin/reelytics sample --if-empty
exec .venv/bin/streamlit run dashboard/app.py --server.address "$address" --server.port "${PORT:-8501}" \
  --server.maxUploadSize "${REELYTICS_MAX_UPLOAD_MB:-200}" "$@"
