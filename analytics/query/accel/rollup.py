"""Accelerator: the hourly rollup, stage 1 of the KPI components stored once per data version.

A table of :data:`~analytics.query.components.USER_COMPONENTS` per UTC hour, user, channel,
campaign and variant (a cache of ``events``: removing it loses nothing). Every stage-1 component is
a sum, so grouping the rollup by (dimension, user) gives exactly what grouping the events would;
stage 2 is the same function as on the portable path.

It answers :class:`~analytics.query.layer.Components` (sums-only or not) grouped by channel, campaign,
variant or local day, with the channel and campaign filters, in a time zone whose offsets over the
period are whole hours (a local day is then a union of UTC hours). A category filter, or any filter
field it does not declare, goes to the portable path.
"""

from __future__ import annotations

import threading
from typing import Final

from analytics.query.components import (
    USER_COMPONENTS,
    enriched,
    finish,
    first_purchases,
    group_components,
    new_buyers,
    renamed,
)
from analytics.query.filters import Filters, in_period, restrict
from analytics.query.layer import Accelerator, Change, Components, fields_named
from analytics.query.localtime import local_day, whole_hour_offsets

#: Table holding stage 1 per UTC hour, user, channel, campaign, variant and upload.
ROLLUP_TABLE: Final[str] = "kpi_rollup"
ROLLUP_META_KEY: Final[str] = "kpi_rollup_key"
#: Dimensions the rollup can group by (``day`` = local day of the hour).
ROLLUP_DIMENSIONS: Final[tuple[str, ...]] = ("channel", "campaign", "variant", "day")
_LOCK = threading.Lock()


def _stage1(store, upload_id: int | None = None):
    """Stage 1 per hour, user, channel, campaign, variant and upload (of one upload, if given)."""
    e = enriched(store, Filters())
    if upload_id is not None:
        e = e.filter(e.upload_id == upload_id)
    return e.group_by(
        _hour=e.event_time.truncate("h"), user_id=e.user_id, channel=e.channel, campaign=e.campaign,
        variant=e.variant, upload_id=e.upload_id,
    ).aggregate(**{name: fn(e) for name, fn in USER_COMPONENTS.items()})


def refresh(store, *, force: bool = False) -> bool:
    """Build the rollup when the events changed since it was built; True when it was (re)built."""
    with _LOCK:
        key = store.content_version()
        if not force and store.get_meta(ROLLUP_META_KEY) == key:
            return False
        with store.transaction() as cur:
            store.create_table_as(cur, ROLLUP_TABLE, _stage1(store))
            store.set_meta(cur, ROLLUP_META_KEY, key)
        return True


def upkeep(store, change: Change) -> None:
    """Keep a rollup that was current before ``change`` current after it: the rows of an events
    upload are aggregated and appended (stage 1 is a sum over rows, and every answer sums the
    table's rows again, so rows of the same hour, user, ... from two uploads add up exactly); a
    removed upload's rows are deleted. A catalog change (every watch ratio may change), or a rollup
    that was not current, is rebuilt whole. Nothing is done where no rollup was ever built."""
    with _LOCK:
        held = store.get_meta(ROLLUP_META_KEY)
        if held is None:
            return
        if held == change.before and change.kind != "items":
            key = store.content_version()
            with store.transaction() as cur:
                if change.removed:
                    cur.execute(f'DELETE FROM "{ROLLUP_TABLE}" WHERE upload_id = ?', [change.upload_id])
                elif change.kind == "events":
                    store.insert_into(cur, ROLLUP_TABLE, _stage1(store, change.upload_id))
                store.set_meta(cur, ROLLUP_META_KEY, key)
            return
    refresh(store, force=True)


class HourlyRollup(Accelerator):
    name = "rollup"
    query = Components
    filter_fields = fields_named("channel", "campaign")

    def upkeep(self, source, change: Change) -> None:
        upkeep(source, change)

    def prepare(self, source, timezone: str, dimensions: tuple[str, ...]) -> tuple[str, ...]:
        refresh(source)  # one rollup in UTC hours serves every zone of whole-hour offsets
        return (ROLLUP_META_KEY,)

    def structures(self, source) -> dict[str, bool]:
        held = source.get_meta(ROLLUP_META_KEY)
        return {} if held is None else {ROLLUP_META_KEY: held == source.content_version()}

    def answers(self, source, query: Components) -> bool:
        if any(b not in ROLLUP_DIMENSIONS for b in query.by):
            return False
        return whole_hour_offsets(query.filters.timezone, *query.filters.utc_bounds())

    def answer(self, source, query: Components):
        refresh(source)
        filters, by = query.filters, query.by
        r = source.table(ROLLUP_TABLE)
        preds = in_period(r._hour, filters)
        r = restrict(r.filter(*preds) if preds else r, filters)
        start, end = filters.utc_bounds()
        keys = {
            f"_g{i}": (local_day(r._hour, filters.timezone, start, end) if b == "day" else r[b])
            for i, b in enumerate(by)
        }
        sums = {n: r[n].sum() for n in USER_COMPONENTS}
        if query.sums_only:  # stage 1 alone, without the user grain
            return finish(renamed(source.execute(r.group_by(**keys).aggregate(**sums) if keys else r.aggregate(**sums)), by))
        per_user = r.group_by(**keys, user_id=r.user_id).aggregate(**sums)
        buyers = r.filter(r.orders > 0).select(_buyer_user=r.user_id).distinct()
        new = new_buyers(first_purchases(source, source.table(ROLLUP_TABLE), "_hour"), filters)
        return finish(renamed(group_components(source, per_user, list(keys), new, buyers), by))
