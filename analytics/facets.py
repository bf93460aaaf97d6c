"""Values the filters can take: the data's date span, channels, campaigns and categories."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from analytics.config import parse_timezone
from analytics.store.storage import Store


@dataclass(frozen=True)
class Facets:
    first_day: dt.date | None
    last_day: dt.date | None
    channels: tuple[str, ...]
    campaigns: tuple[str, ...]
    categories: tuple[str, ...]


def load_facets(store: Store, timezone: str) -> Facets:
    """Distinct filter values and the local first and last day with events."""
    zone = parse_timezone(timezone)
    # Only the two extremes are converted to local time: converting every event is a full scan of work.
    lo, hi = store.query("SELECT min(event_time), max(event_time) FROM events").rows[0]

    def local_day(t: dt.datetime | None) -> dt.date | None:
        return None if t is None else t.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()

    first, last = local_day(lo), local_day(hi)

    def distinct(sql: str) -> tuple[str, ...]:
        return tuple(r[0] for r in store.query(sql).rows)

    return Facets(
        first,
        last,
        distinct("SELECT DISTINCT channel FROM events WHERE channel IS NOT NULL ORDER BY 1"),
        distinct("SELECT DISTINCT campaign FROM events WHERE campaign IS NOT NULL ORDER BY 1"),
        distinct("SELECT DISTINCT category FROM items WHERE category IS NOT NULL ORDER BY 1"),
    )
