"""Values the filters can take: the data's date span, channels, campaigns and categories."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from analytics.config import parse_timezone
from analytics.storage import Store


@dataclass(frozen=True)
class Facets:
    first_day: dt.date | None
    last_day: dt.date | None
    channels: tuple[str, ...]
    campaigns: tuple[str, ...]
    categories: tuple[str, ...]


def load_facets(store: Store, timezone: str) -> Facets:
    """Distinct filter values and the local first and last day with events."""
    parse_timezone(timezone)
    first, last = store.query(
        "SELECT min(timezone(?, event_time::TIMESTAMPTZ))::DATE, max(timezone(?, event_time::TIMESTAMPTZ))::DATE FROM events",
        [timezone, timezone],
    ).rows[0]

    def distinct(sql: str) -> tuple[str, ...]:
        return tuple(r[0] for r in store.query(sql).rows)

    return Facets(
        first,
        last,
        distinct("SELECT DISTINCT channel FROM events WHERE channel IS NOT NULL ORDER BY 1"),
        distinct("SELECT DISTINCT campaign FROM events WHERE campaign IS NOT NULL ORDER BY 1"),
        distinct("SELECT DISTINCT category FROM items WHERE category IS NOT NULL ORDER BY 1"),
    )
