"""The filters every page and command shares, and what each one means: declared once, here.

Dates are calendar days in the configured time zone; they become UTC bounds once, here, so that
every query compares ``event_time`` (stored UTC) against plain timestamps.

Every other filter is a list of values declared in :data:`FIELDS` as a :class:`FilterField`: the
events it keeps are those whose ``column`` (or whose item's catalog ``item_column``) is one of the
values. Every path derives its filtering from these declarations: the portable ibis path
(:func:`filtered_events`), the accelerators (which declare the fields they can apply, see
:mod:`analytics.query.engine`) and spend attribution. To add a filter, add a field to
:class:`Filters` and its declaration to :data:`FIELDS` (docs/architecture.md has the recipe).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any, Final

from analytics.config import parse_timezone
from analytics.errors import BadInput


@dataclass(frozen=True)
class FilterField:
    """One list filter: keeps events whose ``column`` is one of the values or, with ``item_column``,
    events whose item (``column`` holds its id) has one of the values in the catalog."""

    name: str  # the attribute of :class:`Filters` holding the chosen values
    key: str  # its name in JSON, exports, the URL and the CLI (``--channel``)
    column: str  # the events column tested
    item_column: str | None = None  # tested on the item's catalog row instead

    def values(self, filters: "Filters") -> tuple[str, ...]:
        return getattr(filters, self.name)


#: Every list filter and its meaning. Paths that cannot apply a field must not answer a query using it.
FIELDS: Final[tuple[FilterField, ...]] = (
    FilterField("channels", "channel", "channel"),
    FilterField("campaigns", "campaign", "campaign"),
    FilterField("categories", "category", "item_id", item_column="category"),
)


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

    def active(self) -> tuple[FilterField, ...]:
        """The list filters that restrict something (an empty list means "all")."""
        return tuple(f for f in FIELDS if f.values(self))

    def describe(self) -> dict[str, Any]:
        """The applied filters as plain values (written into exports and JSON output)."""
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            **{f.key: list(f.values(self)) for f in FIELDS},
            "timezone": self.timezone,
        }

    def previous_period(self) -> "Filters":
        """The same filters over the period of equal length just before this one."""
        if not (self.date_from and self.date_to):
            raise BadInput("a previous period needs both a start and an end date", code="no_period")
        length = (self.date_to - self.date_from).days + 1
        return replace(
            self, date_from=self.date_from - dt.timedelta(days=length), date_to=self.date_from - dt.timedelta(days=1)
        )

    def all_dates(self) -> "Filters":
        """The same filters without the date range."""
        return replace(self, date_from=None, date_to=None)


def in_period(time, filters: Filters) -> list:
    """ibis predicates keeping the naive-UTC ``time`` inside the period's ``[start, end)`` bounds."""
    start, end = filters.utc_bounds()
    return [p for p in (None if start is None else time >= start, None if end is None else time < end) if p is not None]


def filtered_events(source, filters: Filters):
    """The ``events`` of ``source`` restricted by ``filters`` (an ibis expression): the portable meaning."""
    events = source.table("events")
    preds = in_period(events.event_time, filters)
    preds += [_keeps(source, events, f, f.values(filters)) for f in filters.active()]
    return events.filter(*preds) if preds else events


def _keeps(source, table, field: FilterField, values: tuple[str, ...]):
    """ibis boolean: ``table``'s rows that ``field`` keeps for ``values``."""
    if field.item_column is None:
        return table[field.column].isin(list(values))
    items = source.table("items")
    return table[field.column].isin(items.filter(items[field.item_column].isin(list(values))).item_id)


def restrict(table, filters: Filters, fields: tuple[FilterField, ...] | None = None):
    """``table`` (any table carrying the tested columns, such as a rollup or the spend rows)
    restricted by the active list filters among ``fields`` (default: all active ones, which must
    all test a column of the table itself)."""
    active = filters.active() if fields is None else tuple(f for f in filters.active() if f in fields)
    preds = []
    for f in active:
        if f.item_column is not None:
            raise ValueError(f"the filter {f.key} tests the catalog; use filtered_events")
        preds.append(table[f.column].isin(list(f.values(filters))))
    return table.filter(*preds) if preds else table


def matching_items(source, field: FilterField, values: tuple[str, ...]) -> list[str]:
    """Item ids whose catalog ``field.item_column`` is one of ``values`` (for paths filtering by id)."""
    items = source.table("items")
    chosen = items.filter(items[field.item_column].isin(list(values))).select("item_id").distinct()
    return [str(v) for v in source.execute(chosen)["item_id"].tolist()]


def parse_date(text: str | None, option: str) -> dt.date | None:
    """Parse ``YYYY-MM-DD`` given to ``option`` or raise :class:`BadInput`."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise BadInput(f"{option} expects a date as YYYY-MM-DD, got {text!r}", code="bad_date") from exc
