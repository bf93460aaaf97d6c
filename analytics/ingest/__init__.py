"""Ingest: CSV/TSV (any delimiter; UTF-8, UTF-8 with BOM, GBK, GB18030), Excel and Parquet files into
the canonical tables, with header auto-mapping, a preview, a data-quality report, atomic and
idempotent uploads. See :mod:`analytics.ingest.pipeline` and docs/ingest.md.
"""

from analytics.ingest.limits import Limits
from analytics.ingest.pipeline import (
    MappedColumn,
    Preview,
    file_sha256,
    ingest_file,
    preview_file,
)
from analytics.ingest.quality import (
    ISSUE_CODES,
    REASON_CODES,
    IngestReport,
    Issue,
    RejectedRow,
    rejected_rows,
)
from analytics.ingest.readers import workbook_sheets
from analytics.ingest.removal import remove_upload

__all__ = [
    "ISSUE_CODES",
    "REASON_CODES",
    "IngestReport",
    "Issue",
    "Limits",
    "MappedColumn",
    "Preview",
    "RejectedRow",
    "file_sha256",
    "ingest_file",
    "preview_file",
    "rejected_rows",
    "remove_upload",
    "workbook_sheets",
]
