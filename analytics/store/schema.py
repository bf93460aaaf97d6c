"""Canonical tables of the event store and the migrations that build them.

Times are stored as ``TIMESTAMP`` holding UTC. Money is ``DECIMAL(18, 2)``. Columns that an upload
brings but the canonical schema does not know are kept in ``props`` (a ``MAP(VARCHAR, VARCHAR)``)
and stay usable in filters and breakdowns.
"""

from __future__ import annotations

from typing import Final

#: Canonical columns of each table, in order, with their DuckDB types.
EVENT_COLUMNS: Final[dict[str, str]] = {
    "event_time": "TIMESTAMP",
    "user_id": "VARCHAR",
    "event_type": "VARCHAR",
    "item_id": "VARCHAR",
    "course_id": "VARCHAR",
    "watch_seconds": "DOUBLE",
    "video_seconds": "DOUBLE",
    "channel": "VARCHAR",
    "campaign": "VARCHAR",
    "variant": "VARCHAR",
    "revenue": "DECIMAL(18,2)",
    "lesson": "INTEGER",
}

ITEM_COLUMNS: Final[dict[str, str]] = {
    "item_id": "VARCHAR",
    "kind": "VARCHAR",
    "title": "VARCHAR",
    "creator": "VARCHAR",
    "category": "VARCHAR",
    "tags": "VARCHAR",
    "duration_seconds": "DOUBLE",
    "price": "DECIMAL(18,2)",
    "lessons": "INTEGER",
    "course_id": "VARCHAR",
    "published_at": "TIMESTAMP",
}

SPEND_COLUMNS: Final[dict[str, str]] = {
    "date": "DATE",
    "channel": "VARCHAR",
    "campaign": "VARCHAR",
    "spend": "DECIMAL(18,2)",
}

#: Columns an upload of each kind must provide (after mapping).
REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "events": ("event_time", "user_id", "event_type", "item_id"),
    "items": ("item_id",),
    "spend": ("date", "spend"),
}

TABLE_COLUMNS: Final[dict[str, dict[str, str]]] = {
    "events": EVENT_COLUMNS,
    "items": ITEM_COLUMNS,
    "spend": SPEND_COLUMNS,
}

#: Canonical event vocabulary (SPEC "Data model").
EVENT_TYPES: Final[tuple[str, ...]] = (
    "impression",
    "view",
    "like",
    "comment",
    "share",
    "follow",
    "favorite",
    "click",
    "add_to_cart",
    "purchase",
    "refund",
    "lesson_start",
    "lesson_complete",
)

ITEM_KINDS: Final[tuple[str, ...]] = ("video", "course", "ebook", "live", "consult")


def _table_ddl(name: str, columns: dict[str, str], extra: str = "") -> str:
    cols = ",\n    ".join(f'"{c}" {t}' for c, t in columns.items())
    return f'CREATE TABLE IF NOT EXISTS "{name}" (\n    {cols},\n    upload_id INTEGER NOT NULL,\n    props MAP(VARCHAR, VARCHAR){extra}\n)'


#: Ordered migrations; ``MIGRATIONS[i]`` brings the schema from version ``i`` to ``i + 1``.
MIGRATIONS: Final[list[list[str]]] = [
    [
        "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
        """CREATE TABLE IF NOT EXISTS uploads (
    upload_id INTEGER PRIMARY KEY,
    kind VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    file_sha256 VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    rows_accepted BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    rows_duplicate BIGINT NOT NULL,
    mapping JSON,
    report JSON
)""",
        "CREATE SEQUENCE IF NOT EXISTS upload_id_seq START 1",
        """CREATE TABLE IF NOT EXISTS upload_rejects (
    upload_id INTEGER NOT NULL,
    line BIGINT,
    reason VARCHAR NOT NULL,
    raw VARCHAR
)""",
        _table_ddl("events", EVENT_COLUMNS),
        _table_ddl("items", ITEM_COLUMNS),
        _table_ddl("spend", SPEND_COLUMNS),
    ],
]

SCHEMA_VERSION: Final[int] = len(MIGRATIONS)
