import math

from analytics.query.definitions import is_complete, is_hooked, views_with_ratio
from tests.helpers import insert_events, insert_items


def _views(store):
    v = views_with_ratio(store.table("events"), store.table("items"))
    v = v.mutate(complete=is_complete(v.watch_ratio), hooked=is_hooked(v.watch_seconds, v.length_seconds))
    return store.execute(v.order_by("event_time"))


def test_watch_ratio_uses_event_length_then_catalog_and_caps_at_one(store):
    insert_items(store, [{"item_id": "v1", "duration_seconds": 10.0}, {"item_id": "v2", "duration_seconds": 0.0}])
    insert_events(
        store,
        {
            "a": [
                ("view", 0, {"watch_seconds": 9.5}),  # catalog length 10 -> 0.95
                ("view", 1, {"item_id": "v2", "watch_seconds": 5}),  # length 0 -> unusable
                ("view", 2, {"watch_seconds": 30, "video_seconds": 20}),  # replay -> capped at 1
                ("view", 3, {"watch_seconds": 2, "video_seconds": 20}),  # 0.1, not hooked
                ("like", 4),
            ]
        },
    )
    df = _views(store)
    assert len(df) == 4
    assert df.watch_ratio[0] == 0.95 and bool(df.complete[0]) and bool(df.hooked[0])
    assert math.isnan(df.watch_ratio[1])
    assert df.watch_ratio[2] == 1.0
    assert df.watch_ratio[3] == 0.1 and not df.complete[3] and not df.hooked[3]


def test_short_video_watched_to_the_end_hooks(store):
    insert_events(store, {"a": [("view", 0, {"watch_seconds": 2, "video_seconds": 2})]})
    assert bool(_views(store).hooked[0])


def test_a_catalog_uploaded_twice_counts_each_view_once_with_the_latest_values(store):
    import pyarrow as pa

    from analytics.store.uploads import insert_canonical

    with store.transaction() as cur:
        insert_canonical(cur, "items", pa.table({"item_id": ["v1"], "duration_seconds": [10.0]}), upload_id=1)
        insert_canonical(cur, "items", pa.table({"item_id": ["v1"], "duration_seconds": [20.0]}), upload_id=2)
    insert_events(store, {"a": [("view", 0, {"watch_seconds": 10})]})
    df = _views(store)
    assert len(df) == 1 and df.watch_ratio[0] == 0.5
