"""The filters every page and command shares: a local date range, channels, campaigns, categories.

Dates are calendar days in the configured time zone; they become UTC bounds once, here, so that
every query compares ``event_time`` (stored UTC) against plain timestamps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from analytics.config import parse_timezone
from analytics.errors import BadInput


@dataclass(frozen=True)
class Filters:
    """Applied filters; empty tuples mean "all"."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None  # inclusive
    channels: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise BadInput(
                f"the start date {self.date_from} is after the end date {self.date_to}",
                code="bad_date_range",
            )

    def utc_bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """``[start, end)`` as naive UTC datetimes for comparison with ``event_time``."""
        zone = parse_timezone(self.timezone)

        def to_utc(day: dt.date) -> dt.datetime:
            local = dt.datetime.combine(day, dt.time(), tzinfo=zone)
            return local.astimezone(dt.timezone.utc).replace(tzinfo=None)

        start = to_utc(self.date_from) if self.date_from else None
        end = to_utc(self.date_to + dt.timedelta(days=1)) if self.date_to else None
        return start, end

    def describe(self) -> dict[str, Any]:
        """The applied filters as plain values (written into exports and JSON output)."""
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "channel": list(self.channels),
            "campaign": list(self.campaigns),
            "category": list(self.categories),
            "timezone": self.timezone,
        }

    def previous_period(self) -> "Filters":
        """The same filters over the period of equal length just before this one."""
        if not (self.date_from and self.date_to):
            raise BadInput("a previous period needs both a start and an end date", code="no_period")
        length = (self.date_to - self.date_from).days + 1
        return Filters(
            self.date_from - dt.timedelta(days=length),
            self.date_from - dt.timedelta(days=1),
            self.channels,
            self.campaigns,
            self.categories,
            self.timezone,
        )


def filtered_events(backend, filters: Filters):
    """The ``events`` table of an ibis ``backend`` restricted by ``filters`` (an ibis expression).

    A category filter keeps events whose item belongs to one of the categories in ``items``.
    """
    events = backend.table("events")
    start, end = filters.utc_bounds()
    preds = []
    if start is not None:
        preds.append(events.event_time >= start)
    if end is not None:
        preds.append(events.event_time < end)
    if filters.channels:
        preds.append(events.channel.isin(list(filters.channels)))
    if filters.campaigns:
        preds.append(events.campaign.isin(list(filters.campaigns)))
    if filters.categories:
        items = backend.table("items")
        in_category = items.filter(items.category.isin(list(filters.categories))).item_id
        preds.append(events.item_id.isin(in_category))
    return events.filter(*preds) if preds else events


def parse_date(text: str | None, option: str) -> dt.date | None:
    """Parse ``YYYY-MM-DD`` given to ``option`` or raise :class:`BadInput`."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise BadInput(f"{option} expects a date as YYYY-MM-DD, got {text!r}", code="bad_date") from exc
