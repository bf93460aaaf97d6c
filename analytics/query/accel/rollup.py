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
from analytics.query.layer import Accelerator, Components, fields_named
from analytics.query.localtime import local_day, whole_hour_offsets

#: Table holding stage 1 per UTC hour, user, channel, campaign and variant.
ROLLUP_TABLE: Final[str] = "kpi_rollup"
ROLLUP_META_KEY: Final[str] = "kpi_rollup_key"
#: Dimensions the rollup can group by (``day`` = local day of the hour).
ROLLUP_DIMENSIONS: Final[tuple[str, ...]] = ("channel", "campaign", "variant", "day")
_LOCK = threading.Lock()


def refresh(store, *, force: bool = False) -> bool:
    """Build the rollup when the events changed since it was built; True when it was (re)built."""
    with _LOCK:
        key = store.content_version()
        if not force and store.get_meta(ROLLUP_META_KEY) == key:
            return False
        e = enriched(store, Filters())
        expr = e.group_by(
            _hour=e.event_time.truncate("h"), user_id=e.user_id, channel=e.channel, campaign=e.campaign,
            variant=e.variant,
        ).aggregate(**{name: fn(e) for name, fn in USER_COMPONENTS.items()})
        with store.transaction() as cur:
            store.create_table_as(cur, ROLLUP_TABLE, expr)
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [ROLLUP_META_KEY, key])
        return True


class HourlyRollup(Accelerator):
    name = "rollup"
    query = Components
    filter_fields = fields_named("channel", "campaign")

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
