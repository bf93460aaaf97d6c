"""The data-quality report of one upload: counts, issues, rejected rows.

Issue levels: ``error`` (rows were rejected for this reason), ``warning`` (rows were stored but look
wrong: watch time far above the video length, a purchase with no earlier view, a time outside the
expected range, formula-like text, duplicates skipped, a date order no value proves) and ``info``
(units converted, columns kept in ``props``, personal columns not stored, how times were read).

The library words nothing: an issue is a stable ``code`` with ``params``; :data:`ISSUE_CODES` lists
every code with the names of its parameters, and the CLI and the dashboard word each one. A rejected
row's ``reason`` is ``code`` or ``code:column`` (:func:`split_reason`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from analytics.store.storage import Store

if TYPE_CHECKING:  # pandas is imported where a frame is made: an upload needs none
    import pandas as pd

Level = Literal["error", "warning", "info"]
Status = Literal["ok", "already_uploaded", "nothing_accepted"]

#: watch_seconds above this multiple of video_seconds is flagged (replays rarely exceed it).
WATCH_RATIO_WARNING = 3.0
#: Rejected rows kept in the report itself (all of them are stored in ``upload_rejects``).
REJECTS_IN_REPORT = 1000

#: Every issue code and its parameters (besides ``count`` and ``lines`` of the issue itself).
ISSUE_CODES: dict[str, tuple[str, ...]] = {
    # error: rows rejected
    "missing_value": ("column",),
    "bad_time": ("column", "example"),
    "implausible_time": ("column", "example", "start", "end"),
    "unknown_event_type": ("values",),  # [[value, rows], ...], most frequent first
    "unknown_kind": ("example",),
    "bad_number": ("column", "example"),
    "non_finite": ("column", "example"),
    "negative_duration": ("column", "example"),
    "unpaid_order": ("column", "example"),  # an order line whose status says it was never paid
    "nul_byte": ("column",),
    "cell_too_long": ("column", "limit"),
    "line_too_long": ("limit",),
    "ragged_row": (),
    "bad_encoding": (),
    "bad_quotes": (),
    "unreadable_row": ("error",),
    # warning: rows stored, please check
    "formula_like": (),
    "watch_far_above_video": ("ratio",),
    "purchase_without_view": (),
    "time_out_of_range": ("start", "end", "timezone"),
    "item_repeated": (),
    "spend_repeated": (),
    "duplicates_skipped": (),
    "date_order_assumed": ("column", "order"),
    "date_order_conflict": ("column", "order"),
    # info
    "already_uploaded": ("upload_id",),
    "units_converted": ("columns",),  # [[column, unit], ...]
    "kept_in_props": ("columns",),
    "personal_not_stored": ("columns",),
    "also_looks_like": ("column", "target", "used"),
    "event_type_by_values": ("column",),
    "columns_named_by_values": ("columns",),  # a file without a header row: its columns' names, in order
    "title_lines_skipped": ("lines", "title"),  # lines above the header row (a report's title): how many, the first text
    "user_id_or_visitor": ("column", "used"),  # an anonymous visitor's id: the user where the user id is empty
    "course_id_as_item_id": ("column",),  # a catalog whose only id is named as a course id
    "read_as_ms": ("column", "median"),
    "read_as_ms_like": ("column", "like"),
    "wide_form": ("flags",),  # [[column, event], ...]
    "rows_are_views": (),  # no event type column, no flag: every row is a view
    "rows_are_purchases": (),  # an amount and no event type column: every row is a purchase
    "rows_are_purchases_by_quantity": ("quantity",),
    "order_status_read": ("column",),  # refunded orders add a refund, unpaid ones are rejected  # ... its revenue times the quantity; negative: a refund
    "date_order_proven": ("column", "order"),
    "epoch_unit": ("column", "unit"),
    "not_checked_on_spark": ("checks",),  # [code, ...]: warnings an ingest on Spark does not compute
}

#: Reasons of single rejected rows (``upload_rejects.reason`` is ``code`` or ``code:column``).
REASON_CODES = (
    "missing_value", "bad_time", "implausible_time", "unknown_event_type", "unknown_kind", "bad_number",
    "non_finite", "negative_duration", "unpaid_order", "nul_byte", "cell_too_long", "line_too_long", "too_few_fields",
    "too_many_fields", "bad_encoding", "bad_quotes", "unreadable_row",
)


def split_reason(reason: str) -> tuple[str, str | None]:
    """``"bad_time:event_time"`` -> (``bad_time``, ``event_time``); ``"ragged"`` -> (``ragged``, None)."""
    code, _, column = reason.partition(":")
    return code, column or None


@dataclass(frozen=True)
class Issue:
    """One finding of the report: a code of :data:`ISSUE_CODES` with its ``params``; ``count`` rows,
    ``lines`` up to five source line numbers as examples."""

    code: str
    level: Level
    count: int = 0
    lines: tuple[int, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "level": self.level, "count": self.count, "lines": list(self.lines), "params": self.params}


@dataclass(frozen=True)
class SheetPart:
    """One sheet of a workbook read with every matching sheet: ``match`` (read; its counts), ``empty``
    or ``other_columns`` (not read: the reference sheet's columns it lacks and the columns it adds).
    ``lines``: the first and last line numbers of its rows in the report (the matching sheets'
    rows are numbered one after another, after one header line)."""

    sheet: str
    status: Literal["match", "empty", "other_columns"]
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    lines: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(missing=list(self.missing), extra=list(self.extra), lines=list(self.lines) if self.lines else None)
        return out


@dataclass(frozen=True)
class RejectedRow:
    line: int | None
    reason: str  # ``code`` or ``code:column``
    raw: str | None


@dataclass(frozen=True)
class IngestReport:
    """What one call of :func:`analytics.ingest.ingest_file` did.

    ``rows_read`` counts the data rows of the file; ``rows_rejected`` the rows not stored, each with
    its reason and line in ``issues`` and ``rejected``; ``rows_duplicate`` the rows skipped as exact
    duplicates; ``rows_accepted`` the rows stored. In the long form read = accepted + rejected +
    duplicates; in the wide event form one source row may give several events, and the accepted and
    duplicate counts are of events. ``sheets``: a workbook read with every matching sheet, each
    sheet with its own counts (they add up to the totals) or why it was not read.
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
    sheets: tuple[SheetPart, ...] = ()

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.level == "warning")

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.level == "error")

    def issue(self, code: str) -> Issue | None:
        return next((i for i in self.issues if i.code == code), None)

    def rejected_frame(self) -> pd.DataFrame:
        import pandas as pd

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
            **({"sheets": [s.to_dict() for s in self.sheets]} if self.sheets else {}),
        }


def rejected_rows(store: Store, upload_id: int) -> pd.DataFrame:
    """All rejected rows of an upload: source ``line``, ``reason`` and the ``raw`` text."""
    from analytics.errors import NotFound

    if store.query("SELECT count(*) FROM uploads WHERE upload_id = ?", [upload_id]).scalar() == 0:
        raise NotFound(f"there is no upload {upload_id}", code="no_upload", upload_id=upload_id)
    return store.query(
        "SELECT line, reason, raw FROM upload_rejects WHERE upload_id = ? ORDER BY line NULLS LAST", [upload_id]
    ).df()
