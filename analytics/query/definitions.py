"""Shared building blocks of metric definitions (see docs/metrics.md), written once.

* watch ratio = watch_seconds / video length, where the length is ``events.video_seconds`` or else
  the catalog's ``items.duration_seconds``; capped at 1 (replays count as fully watched); NULL when
  the length is missing or not positive (such views are excluded from ratio metrics and counted as
  "views without a usable duration").
* a view is *complete* when its watch ratio >= :data:`COMPLETION_THRESHOLD` (0.9).
* a view *hooks* when the viewer is still watching after :data:`HOOK_SECONDS` (3 s):
  ``watch_seconds >= 3`` (for videos shorter than 3 s: watched to the end).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from analytics.lazy import LazyModule

if TYPE_CHECKING:
    import ibis
else:  # imported on first use, when an expression is built
    ibis = LazyModule("ibis")

COMPLETION_THRESHOLD: Final[float] = 0.9
HOOK_SECONDS: Final[float] = 3.0
INTERACTION_TYPES: Final[tuple[str, ...]] = ("like", "comment", "share")
#: Item kinds that are paid products (a purchase or lesson is about them, not about a video).
PRODUCT_KINDS: Final[tuple[str, ...]] = ("course", "ebook", "live", "consult")


def latest_items(items):
    """The catalog ``items`` (an ibis table) with one row per item_id: the latest upload's row wins.

    A catalog uploaded again with changed values keeps both uploads (each removable); every
    query that joins the catalog goes through here so that no event is counted twice.
    """
    # Tables without the upload registry (e.g. Parquet read by Spark) have no upload_id: any row.
    order = ibis.desc(items.upload_id) if "upload_id" in items.columns else items.item_id
    rank = ibis.row_number().over(group_by=items.item_id, order_by=order)
    return items.mutate(_rank=rank).filter(lambda t: t._rank == 0).drop("_rank")


def views_with_ratio(events, items):
    """Views of ``events`` (an ibis table) with ``length_seconds`` and capped ``watch_ratio`` columns."""
    views = events.filter(events.event_type == "view")
    items = latest_items(items)
    catalog = items.select(items.item_id, catalog_seconds=items.duration_seconds)
    joined = views.left_join(catalog, views.item_id == catalog.item_id).drop("item_id_right")
    length = length_seconds(joined.video_seconds, joined.catalog_seconds)
    joined = joined.mutate(length_seconds=length)
    return joined.mutate(watch_ratio=watch_ratio(joined.watch_seconds, joined.length_seconds)).drop("catalog_seconds")


def length_seconds(video_seconds, catalog_seconds):
    """ibis float: the video length, ``video_seconds`` or else the catalog's; NULL when neither is positive."""
    return ibis.coalesce(
        ibis.ifelse(video_seconds > 0, video_seconds, ibis.null()),
        ibis.ifelse(catalog_seconds > 0, catalog_seconds, ibis.null()),
    )


def watch_ratio(watch_seconds, length_seconds):
    """ibis float in [0, 1]: ``watch_seconds / length_seconds`` capped at 1; NULL without a usable
    length or without a watch time."""
    # DuckDB's least() ignores NULLs: a missing length or watch time must stay NULL explicitly,
    # else least(NULL, 1.0) makes a view without a watch time "fully watched".
    return ibis.ifelse(
        length_seconds.isnull() | watch_seconds.isnull(),
        ibis.null("float64"),
        ibis.least(watch_seconds.clip(lower=0) / length_seconds, 1.0),
    )


def is_complete(watch_ratio):
    """ibis boolean: the view reached :data:`COMPLETION_THRESHOLD` of the video."""
    return watch_ratio >= COMPLETION_THRESHOLD


def is_hooked(watch_seconds, length_seconds):
    """ibis boolean: still watching after :data:`HOOK_SECONDS` (or watched a shorter video to its end)."""
    return watch_seconds >= ibis.least(HOOK_SECONDS, ibis.coalesce(length_seconds, HOOK_SECONDS))
