"""The uploads registry: what landed, from which file, and how to take it out again.

Every row of ``events``, ``items`` and ``spend`` carries the ``upload_id`` that brought it, so an
upload can be removed whole. A file's SHA-256 makes re-uploading the same file a no-op.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from analytics.access import Principal, require
from analytics.errors import BadInput, NotFound
from analytics.store.schema import TABLE_COLUMNS
from analytics.store.storage import Store

Kind = Literal["events", "items", "spend"]


@dataclass(frozen=True)
class Upload:
    upload_id: int
    kind: str
    file_name: str
    file_sha256: str
    created_at: dt.datetime
    rows_accepted: int
    rows_rejected: int
    rows_duplicate: int


def check_kind(kind: str) -> Kind:
    if kind not in TABLE_COLUMNS:
        raise BadInput(f"unknown upload kind {kind!r}; use one of events, items, spend", code="bad_kind", value=kind)
    return kind  # type: ignore[return-value]


def find_by_sha(cur, kind: str, sha256: str) -> int | None:
    """The id of an earlier upload of the same file content and kind, if any."""
    row = cur.execute(
        "SELECT upload_id FROM uploads WHERE file_sha256 = ? AND kind = ? ORDER BY upload_id LIMIT 1", [sha256, kind]
    ).fetchone()
    return int(row[0]) if row else None


def register_upload(
    cur,
    *,
    kind: str,
    file_name: str,
    sha256: str,
    rows_accepted: int,
    rows_rejected: int = 0,
    rows_duplicate: int = 0,
    mapping: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
) -> int:
    """Add a row to the registry inside the caller's transaction and return its id."""
    upload_id = int(cur.execute("SELECT nextval('upload_id_seq')").fetchone()[0])
    cur.execute(
        "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            upload_id,
            check_kind(kind),
            file_name,
            sha256,
            dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
            rows_accepted,
            rows_rejected,
            rows_duplicate,
            json.dumps(mapping or {}, ensure_ascii=False),
            json.dumps(report or {}, ensure_ascii=False, default=str),
        ],
    )
    return upload_id


def insert_canonical(cur, kind: str, rows: pa.Table, upload_id: int) -> int:
    """Append an Arrow table whose columns are canonical names of ``kind`` (missing ones are NULL)."""
    columns = [c for c in TABLE_COLUMNS[check_kind(kind)] if c in rows.column_names]
    cols = ", ".join(f'"{c}"' for c in columns)
    cur.register("_canonical_rows", rows)
    try:
        cur.execute(f'INSERT INTO "{kind}" ({cols}, upload_id) SELECT {cols}, ? FROM _canonical_rows', [upload_id])
    finally:
        cur.unregister("_canonical_rows")
    return rows.num_rows


def list_uploads(store: Store) -> list[Upload]:
    """All uploads, newest first."""
    res = store.query(
        "SELECT upload_id, kind, file_name, file_sha256, created_at, rows_accepted, rows_rejected, rows_duplicate "
        "FROM uploads ORDER BY upload_id DESC"
    )
    return [Upload(*r) for r in res.rows]


def upload_report(store: Store, upload_id: int) -> dict[str, Any]:
    """The stored data-quality report of one upload."""
    raw = store.query("SELECT report FROM uploads WHERE upload_id = ?", [upload_id]).scalar()
    if raw is None:
        raise NotFound(f"there is no upload {upload_id}", code="no_upload", upload_id=upload_id)
    return json.loads(raw)


def remove_upload(store: Store, upload_id: int, actor: Principal | None = None) -> dict[str, int]:
    """Delete an upload and every row it brought, in one transaction; returns rows removed per table.

    ``actor`` needs the ``remove_upload`` permission (:mod:`analytics.access`)."""
    require(actor, "remove_upload")
    with store.transaction() as cur:
        if cur.execute("SELECT count(*) FROM uploads WHERE upload_id = ?", [upload_id]).fetchone()[0] == 0:
            raise NotFound(f"there is no upload {upload_id}", code="no_upload", upload_id=upload_id)
        removed = {}
        for table in TABLE_COLUMNS:
            removed[table] = int(
                cur.execute(f'SELECT count(*) FROM "{table}" WHERE upload_id = ?', [upload_id]).fetchone()[0]
            )
            cur.execute(f'DELETE FROM "{table}" WHERE upload_id = ?', [upload_id])
        cur.execute("DELETE FROM upload_rejects WHERE upload_id = ?", [upload_id])
        cur.execute("DELETE FROM uploads WHERE upload_id = ?", [upload_id])
    return removed
