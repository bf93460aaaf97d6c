import datetime as dt

from analytics.facets import load_facets
from tests.helpers import insert_events, insert_items


def test_facets_span_local_days_and_list_distinct_values(store):
    insert_items(store, [{"item_id": "v1", "category": "finance"}, {"item_id": "v2", "category": "english"}])
    insert_events(store, {
        "a": [("view", dt.datetime(2026, 1, 4, 16, 30), {"channel": "douyin", "campaign": "spring"})],  # 00:30 on the 5th in Shanghai
        "b": [("view", dt.datetime(2026, 1, 9, 15, 59), {"channel": "bilibili"})],  # 23:59 on the 9th
    })
    f = load_facets(store, "Asia/Shanghai")
    assert (f.first_day, f.last_day) == (dt.date(2026, 1, 5), dt.date(2026, 1, 9))
    assert f.channels == ("bilibili", "douyin") and f.campaigns == ("spring",)
    assert f.categories == ("english", "finance")
    utc = load_facets(store, "UTC")
    assert (utc.first_day, utc.last_day) == (dt.date(2026, 1, 4), dt.date(2026, 1, 9))


def test_facets_of_an_empty_store(store):
    f = load_facets(store, "Asia/Shanghai")
    assert f.first_day is None and f.last_day is None and f.channels == ()
