"""The data-quality report of one upload: counts, issues, rejected rows.

Issue levels: ``error`` (rows were rejected for this reason), ``warning`` (rows were stored but look
wrong: watch time far above the video length, a purchase with no earlier view, a time outside the
expected range, formula-like text, duplicates skipped) and ``info`` (units converted, columns kept in
``props``, personal columns not stored).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from analytics.store.storage import Store

Level = Literal["error", "warning", "info"]
Status = Literal["ok", "already_uploaded", "nothing_accepted"]

#: watch_seconds above this multiple of video_seconds is flagged (replays rarely exceed it).
WATCH_RATIO_WARNING = 3.0
#: Rejected rows kept in the report itself (all of them are stored in ``upload_rejects``).
REJECTS_IN_REPORT = 1000


@dataclass(frozen=True)
class Issue:
    """One finding of the report; ``lines`` are up to five source line numbers as examples."""

    code: str
    level: Level
    message: str
    count: int = 0
    lines: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lines": list(self.lines)}


@dataclass(frozen=True)
class RejectedRow:
    line: int | None
    reason: str
    raw: str | None


@dataclass(frozen=True)
class IngestReport:
    """What one call of :func:`analytics.ingest.ingest_file` did.

    ``rows_read`` counts source rows that parsed as rows; ``rows_accepted`` counts rows stored
    (in the wide event form one source row may give several events); ``rows_rejected`` counts
    source rows not stored, with their reasons in ``issues`` and ``rejected``.
    """

    status: Status
    kind: str
    file_name: str
    sha256: str
    upload_id: int | None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    issues: tuple[Issue, ...] = ()
    mapping: dict[str, str] = field(default_factory=dict)
    detected: dict[str, Any] = field(default_factory=dict)
    rejected: tuple[RejectedRow, ...] = ()
    existing_upload_id: int | None = None
    seconds: float = 0.0

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.level == "warning")

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.level == "error")

    def issue(self, code: str) -> Issue | None:
        return next((i for i in self.issues if i.code == code), None)

    def issues_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{**i.to_dict(), "lines": ", ".join(map(str, i.lines))} for i in self.issues],
            columns=["level", "code", "message", "count", "lines"],
        )

    def rejected_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.rejected], columns=["line", "reason", "raw"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "kind": self.kind,
            "file_name": self.file_name,
            "sha256": self.sha256,
            "upload_id": self.upload_id,
            "existing_upload_id": self.existing_upload_id,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "rows_duplicate": self.rows_duplicate,
            "issues": [i.to_dict() for i in self.issues],
            "mapping": self.mapping,
            "detected": self.detected,
            "rejected_sample": [asdict(r) for r in self.rejected[:20]],
            "seconds": round(self.seconds, 3),
        }


def rejected_rows(store: Store, upload_id: int) -> pd.DataFrame:
    """All rejected rows of an upload: source ``line``, ``reason`` and the ``raw`` text."""
    from analytics.errors import NotFound

    if store.query("SELECT count(*) FROM uploads WHERE upload_id = ?", [upload_id]).scalar() == 0:
        raise NotFound(f"there is no upload {upload_id}", code="no_upload", upload_id=upload_id)
    return store.query(
        "SELECT line, reason, raw FROM upload_rejects WHERE upload_id = ? ORDER BY line NULLS LAST", [upload_id]
    ).df()
