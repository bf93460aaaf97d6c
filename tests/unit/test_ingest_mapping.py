"""Header auto-mapping, event-type aliases and units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.errors import BadInput
from analytics.ingest.mapping import (
    EVENT_ALIASES,
    FLAG_ALIASES,
    KIND_ALIASES,
    guess_column,
    normalise_header,
    parse_map_args,
    plan_mapping,
    split_unit,
)
from analytics.store.schema import EVENT_TYPES, ITEM_KINDS, REQUIRED, TABLE_COLUMNS


@pytest.mark.parametrize("kind", list(TABLE_COLUMNS))
def test_canonical_names_map_one_to_one_with_full_confidence(kind):
    plan = plan_mapping(list(TABLE_COLUMNS[kind]), kind)
    assert plan.as_dict() == {c: c for c in TABLE_COLUMNS[kind]}
    assert all(c.confidence == 1.0 for c in plan.columns)
    assert plan.notes == () and not plan.wide


@pytest.mark.parametrize(
    "header,target,unit",
    [
        ("user_id", "user_id", None),
        ("用户ID", "user_id", None),
        ("UserID", "user_id", None),
        ("视频ID", "item_id", None),
        ("video_id", "item_id", None),
        ("product_id", "item_id", None),
        ("行为类型", "event_type", None),
        ("behavior_type", "event_type", None),
        ("时间", "event_time", None),
        ("timestamp", "event_time", None),
        ("time_ms", "event_time", None),
        ("观看时长", "watch_seconds", "s"),
        ("观看时长(秒)", "watch_seconds", "s"),
        ("观看时长（毫秒）", "watch_seconds", "ms"),
        ("play_time_ms", "watch_seconds", "ms"),
        ("duration_ms", "video_seconds", "ms"),
        ("Watch Time (min)", "watch_seconds", "min"),
        ("渠道", "channel", None),
        ("实验组", "variant", None),
        ("支付金额", "revenue", None),
        ("课时", "lesson", None),
    ],
)
def test_english_and_chinese_event_headers(header, target, unit):
    guess = guess_column(header, "events")
    assert (guess.target, guess.unit) == (target, unit)


@pytest.mark.parametrize(
    "header,target",
    [
        ("visitorid", "user_id"),  # visitor_id written without its underscore
        ("userId", "user_id"),
        ("movieId", "item_id"),
        ("eventType", "event_type"),
        ("videoDuration", "video_seconds"),
        ("Test Group", "variant"),
        ("isLike", "flag"),
        ("phoneNumber", "ignore"),
        ("realName", "ignore"),
        ("transactionid", "props"),
        ("eventName", "event_type"),  # TikTok-style exports
        ("event_name", "event_type"),
        ("mid", "user_id"),  # Bilibili
        ("ctime", "event_time"),
        ("操作时间", "event_time"),
    ],
)
def test_headers_match_their_alias_with_or_without_underscores(header, target):
    assert guess_column(header, "events").target == target


def test_an_event_file_in_the_retail_log_shape_maps_without_help():
    plan = plan_mapping(["timestamp", "visitorid", "event", "itemid", "transactionid"], "events")
    assert plan.as_dict() == {
        "timestamp": "event_time", "visitorid": "user_id", "event": "event_type", "itemid": "item_id", "transactionid": "props",
    }
    assert EVENT_ALIASES["transaction"] == "purchase" and EVENT_ALIASES["addtocart"] == "add_to_cart"


@pytest.mark.parametrize(
    "kind,header,target",
    [
        ("items", "标题", "title"),
        ("items", "作者", "creator"),
        ("items", "upload_dt", "published_at"),
        ("items", "video_duration", "duration_seconds"),
        ("items", "标签", "tags"),
        ("spend", "日期", "date"),
        ("spend", "消耗", "spend"),
        ("spend", "cost", "spend"),
    ],
)
def test_catalog_and_spend_headers(kind, header, target):
    assert guess_column(header, kind).target == target


def test_epoch_time_column_wins_over_a_text_timestamp():
    plan = plan_mapping(["user_id", "video_id", "timestamp", "time_ms", "is_follow"], "events")
    assert plan.as_dict()["time_ms"] == "event_time"
    assert plan.as_dict()["timestamp"] == "props"
    assert [n.params for n in plan.notes] == [{"column": "timestamp", "target": "event_time", "used": "time_ms"}]


def test_a_file_without_an_event_type_reads_each_row_as_one_event():
    plan = plan_mapping(["user_id", "video_id", "time_ms", "is_follow", "is_forward", "is_click"], "events")
    assert plan.wide and plan.row_event == "view"
    assert {c.source: c.event for c in plan.flags} == {"is_follow": "follow", "is_forward": "share"}
    assert plan.as_dict()["is_click"] == "props"
    # MovieLens' ratings: interactions without a type are views
    ratings = plan_mapping(["userId", "movieId", "rating", "timestamp"], "events")
    assert ratings.row_event == "view" and ratings.as_dict()["rating"] == "props"
    # Online Retail's order lines: an amount or a quantity and no flag make each row a purchase
    retail = plan_mapping(
        ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"], "events"
    )
    assert retail.row_event == "purchase"
    assert {k: v for k, v in retail.as_dict().items() if v != "props"} == {
        "StockCode": "item_id", "Quantity": "quantity", "InvoiceDate": "event_time", "UnitPrice": "revenue",
        "CustomerID": "user_id",
    }
    assert plan_mapping(["uid", "sku", "下单时间", "实付金额"], "events").row_event == "purchase"
    # a watch time or a flag says the rows are views, whatever else the file holds
    assert plan_mapping(["user_id", "video_id", "time", "price", "play_time_ms"], "events").row_event == "view"
    assert plan_mapping(["user_id", "item_id", "event_type", "event_time", "price"], "events").row_event is None
    with pytest.raises(BadInput, match="event_time"):  # still a log: a user, an item and a time
        plan_mapping(["user_id", "video_id", "rating"], "events")


def test_an_order_status_is_read_on_order_lines_only():
    orders = plan_mapping(["订单编号", "商品ID", "订单应付金额", "下单时间", "买家ID", "订单状态"], "events")
    assert orders.row_event == "purchase" and orders.as_dict()["订单状态"] == "order_status"
    assert orders.as_dict()["订单应付金额"] == "revenue"
    logged = plan_mapping(["user_id", "item_id", "event_type", "event_time", "order_status"], "events")
    assert logged.as_dict()["order_status"] == "props"  # a log with event types says refunds itself
    with pytest.raises(BadInput, match="order lines only"):
        plan_mapping(["user_id", "item_id", "event_type", "event_time", "s"], "events", {"s": "order_status"})


def test_exports_name_amounts_with_their_currency_and_catalogs_their_id_as_a_course_id():
    spend = plan_mapping(["日期", "计划名称", "消耗(元)", "展示数", "平台"], "spend")
    assert {k: v for k, v in spend.as_dict().items() if v != "props"} == {
        "日期": "date", "计划名称": "campaign", "消耗(元)": "spend", "平台": "channel"}
    assert plan_mapping(["user_id", "item_id", "event", "time", "金额（元）"], "events").as_dict()["金额（元）"] == "revenue"
    courses = plan_mapping(["课程ID", "课程名称", "类型", "售价", "课时数", "讲师", "上架时间"], "items")
    assert courses.as_dict() == {"课程ID": "item_id", "课程名称": "title", "类型": "kind", "售价": "price",
                                 "课时数": "lessons", "讲师": "creator", "上架时间": "published_at"}
    assert [n.code for n in courses.notes] == ["course_id_as_item_id"]
    # a catalog with an item id keeps the course id as the course each video promotes
    promos = plan_mapping(["视频ID", "标题", "关联课程"], "items")
    assert promos.as_dict()["关联课程"] == "course_id" and not promos.notes


def test_a_catalog_or_spend_file_loaded_as_events_is_told_its_kind():
    with pytest.raises(BadInput, match="look like a file of items: load it with --kind items") as err:
        plan_mapping(["video_id", "author_id", "video_duration", "upload_dt", "tag"], "events")
    assert err.value.details["looks_like"] == "items"
    with pytest.raises(BadInput, match="--kind spend") as err:
        plan_mapping(["日期", "计划名称", "消耗(元)"], "events")
    with pytest.raises(BadInput) as err:  # a log without its time is a log, not a catalog
        plan_mapping(["user_id", "video_id", "duration"], "events")
    assert "looks_like" not in err.value.details and "--kind" not in str(err.value)
    with pytest.raises(BadInput) as err:  # a log naming its event type (and no known user) is no catalog either
        plan_mapping(["event_timestamp", "event_name", "visitor", "item_id"], "events")
    assert "looks_like" not in err.value.details


def test_ads_reports_map_their_day_campaign_and_cost():
    meta = plan_mapping(["Reporting starts", "Campaign name", "Amount spent (USD)", "Impressions"], "spend").as_dict()
    assert meta == {"Reporting starts": "date", "Campaign name": "campaign", "Amount spent (USD)": "spend", "Impressions": "props"}
    ocean = plan_mapping(["日期", "媒体", "广告计划名称", "总消耗(元)"], "spend").as_dict()
    assert ocean == {"日期": "date", "媒体": "channel", "广告计划名称": "campaign", "总消耗(元)": "spend"}


def test_analytics_exports_map_their_visitor_their_properties_and_pages():
    # GA4 (flattened BigQuery export), Segment / Mixpanel, PostHog
    ga4 = plan_mapping(["event_date", "event_timestamp", "event_name", "user_pseudo_id", "items.item_id",
                        "ecommerce.purchase_revenue", "traffic_source.source"], "events").as_dict()
    assert ga4 == {"event_date": "props", "event_timestamp": "event_time", "event_name": "event_type",
                   "user_pseudo_id": "user_id", "items.item_id": "item_id", "ecommerce.purchase_revenue": "revenue",
                   "traffic_source.source": "channel"}
    segment = plan_mapping(["timestamp", "event", "anonymous_id", "user_id", "properties.product_id",
                            "properties_revenue"], "events").as_dict()
    assert segment == {"timestamp": "event_time", "event": "event_type", "anonymous_id": "anonymous_id", "user_id": "user_id",
                       "properties.product_id": "item_id", "properties_revenue": "revenue"}
    posthog = plan_mapping(["uuid", "event", "timestamp", "distinct_id", "properties.$current_url"], "events")
    assert posthog.as_dict()["distinct_id"] == "user_id"
    assert posthog.as_dict()["properties.$current_url"] == "item_id"
    # a page is the item only where the file names no product or video
    both = plan_mapping(["time", "user", "event", "page_url", "product_id"], "events").as_dict()
    assert (both["product_id"], both["page_url"]) == ("item_id", "props")
    assert guess_column("item_name", "events").target == "props"  # only whole containers are left out


def test_a_visitor_id_beside_a_user_id_is_the_user_of_the_rows_without_one():
    # GA4 writes user_id only for signed-in visitors, user_pseudo_id always; Segment userId and anonymousId
    for headers, user, visitor in (
        (["event_timestamp", "event_name", "user_pseudo_id", "user_id", "item_id"], "user_id", "user_pseudo_id"),
        (["timestamp", "event", "properties.anonymous_id", "uid", "item_id"], "uid", "properties.anonymous_id"),
        (["ts", "event", "userId", "deviceId", "item_id"], "userId", "deviceId"),
        (["timestamp", "event", "anonymousId", "userId", "properties.product_id"], "userId", "anonymousId"),  # Segment's JSON
    ):
        plan = plan_mapping(headers, "events")
        assert (plan.as_dict()[user], plan.as_dict()[visitor]) == ("user_id", "anonymous_id")
        assert [n.params for n in plan.notes if n.code == "user_id_or_visitor"] == [{"column": visitor, "used": user}]
        assert visitor in [c.source for c in plan.kept_in_props] and visitor not in [c.source for c in plan.props]
    # two user ids that name no visitor: the other one is kept in props, as before
    two = plan_mapping(["time", "event", "uid", "customer_id", "item_id"], "events")
    assert (two.as_dict()["customer_id"], [n.code for n in two.notes]) == ("props", ["also_looks_like"])
    # mapped by hand, a visitor column is what the map says
    manual = plan_mapping(["time", "event", "anonymous_id", "user_id", "item_id"], "events", {"anonymous_id": "props"})
    assert manual.as_dict()["anonymous_id"] == "props" and not manual.notes
    assert plan_mapping(["time", "event", "anonymous_id", "user_id", "item_id"], "events",
                        {"user_id": "anonymous_id", "anonymous_id": "user_id"}).as_dict()["user_id"] == "anonymous_id"


def test_the_columns_of_a_file_without_a_header_are_named_by_their_values():
    from analytics.ingest.mapping import name_headless_columns

    taobao = [["1", "2268318", "2520377", "pv", "1511544070"], ["1", "2333346", "2520771", "buy", "1511561733"],
              ["100", "4365585", "2520377", "cart", "1511596146"]]
    assert name_headless_columns(taobao) == ["user_id", "item_id", "column_3", "event_type", "event_time"]
    yoochoose = [["1", "2014-04-07T10:51:09.277Z", "214536502", "0"], ["2", "2014-04-07T13:56:37.614Z", "214662742", "S"]]
    assert name_headless_columns(yoochoose) == ["user_id", "event_time", "item_id", "column_4"]
    ratings = [["196", "242", "3", "881250949"], ["186", "302", "3", "891717742"]]  # MovieLens' u.data
    assert name_headless_columns(ratings) == ["user_id", "item_id", "column_3", "event_time"]
    assert name_headless_columns([["1", "2", "pv", "3"]]) is None  # no time: not guessed
    assert name_headless_columns([["a b", "2026-01-05", "1.5"]]) is None  # no two identifiers


def test_quantity_is_a_manual_target_of_events_only():
    plan = plan_mapping(["u", "i", "t", "n", "amount"], "events", {"u": "user_id", "i": "item_id", "t": "event_time", "n": "quantity"})
    assert plan.as_dict()["n"] == "quantity" and plan.row_event == "purchase"
    with pytest.raises(BadInput, match="unknown target column 'quantity' for spend"):
        plan_mapping(["date", "channel", "spend", "n"], "spend", {"n": "quantity"})


def test_manual_map_makes_any_column_a_flag_and_overrides_the_guess():
    plan = plan_mapping(["uid", "vid", "t", "label", "is_follow"], "events", {"vid": "item_id", "t": "event_time", "label": "like"})
    assert plan.as_dict() == {"uid": "user_id", "vid": "item_id", "t": "event_time", "label": "flag:like", "is_follow": "flag:follow"}
    assert [c.manual for c in plan.columns] == [False, True, True, True, False]


def test_flag_columns_are_props_when_an_event_type_column_exists():
    plan = plan_mapping(["user_id", "item_id", "event_type", "event_time", "is_like"], "events")
    assert not plan.wide and plan.as_dict()["is_like"] == "props"


def test_manual_units_and_ignore():
    plan = plan_mapping(
        ["user_id", "item_id", "event_type", "event_time", "dur", "phone", "nickname"],
        "events",
        {"dur": "video_seconds:ms", "nickname": "props"},
    )
    assert plan.as_dict()["dur"] == "video_seconds:ms"
    assert plan.as_dict()["phone"] == "ignore"  # personal: not stored unless mapped on purpose
    assert plan.as_dict()["nickname"] == "props"


@pytest.mark.parametrize(
    "mapping,match",
    [
        ({"dur": "video_seconds:hours"}, "unknown unit"),
        ({"dur": "channel:ms"}, "takes no unit"),
        ({"dur": "teleport"}, "unknown target column"),
        ({"user_id": "item_id", "dur": "item_id"}, "two columns are mapped to item_id"),
    ],
)
def test_bad_manual_maps_are_refused(mapping, match):
    with pytest.raises(BadInput, match=match):
        plan_mapping(["user_id", "item_id", "event_type", "event_time", "dur"], "events", mapping)


def test_parse_map_args():
    assert parse_map_args(["视频ID=item_id", "a=b=watch_seconds:ms"]) == {"视频ID": "item_id", "a=b": "watch_seconds:ms"}
    with pytest.raises(BadInput, match="SRC=DST"):
        parse_map_args(["item_id"])


def test_missing_required_column_message_names_what_was_found():
    with pytest.raises(BadInput) as err:
        plan_mapping(["foo", "bar"], "items")
    assert err.value.details["missing"] == list(REQUIRED["items"])
    assert "Found columns: foo, bar" in err.value.message


# -- aliases ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw,canonical",
    [
        ("play", "view"), ("pv", "view"), ("buy", "purchase"), ("order", "purchase"), ("pay", "purchase"),
        ("fav", "favorite"), ("collect", "favorite"), ("cart", "add_to_cart"), ("exposure", "impression"),
        ("show", "impression"), ("曝光", "impression"), ("播放", "view"), ("点赞", "like"), ("评论", "comment"),
        ("分享", "share"), ("转发", "share"), ("关注", "follow"), ("收藏", "favorite"), ("点击", "click"),
        ("加购", "add_to_cart"), ("购买", "purchase"), ("下单", "purchase"), ("支付", "purchase"), ("退款", "refund"),
        ("开始学习", "lesson_start"), ("完成课时", "lesson_complete"),
    ],
)
def test_spec_event_aliases(raw, canonical):
    assert EVENT_ALIASES[raw] == canonical


def test_every_alias_lands_in_the_canonical_vocabulary():
    assert set(EVENT_ALIASES.values()) == set(EVENT_TYPES)
    assert set(FLAG_ALIASES) <= set(EVENT_TYPES)
    assert set(KIND_ALIASES.values()) == set(ITEM_KINDS)
    assert all(k == k.lower().strip() for k in EVENT_ALIASES)  # matched after lower(trim(value))


# -- properties ---------------------------------------------------------------------------------
@given(st.text(max_size=30))
def test_normalising_twice_changes_nothing(name):
    once = normalise_header(name)
    assert normalise_header(once) == once


@given(st.sampled_from(sorted({c for cols in TABLE_COLUMNS.values() for c in cols})), st.sampled_from(["", " ", "\ufeff"]))
def test_canonical_names_survive_case_space_and_bom(column, pad):
    kind = next(k for k, cols in TABLE_COLUMNS.items() if column in cols)
    assert guess_column(pad + column.upper() + pad, kind).target == column


@given(st.sampled_from(["watch_time", "play_time", "观看时长", "duration"]), st.sampled_from(["_ms", "(ms)", "（毫秒）", "毫秒"]))
def test_millisecond_suffixes_are_recognised(base, suffix):
    assert split_unit(normalise_header(base + suffix)) == (normalise_header(base), "ms")


def test_an_event_price_is_its_revenue_unless_the_file_has_a_paid_amount():
    assert plan_mapping(["user_id", "item_id", "event_type", "event_time", "price"], "events").as_dict()["price"] == "revenue"
    both = plan_mapping(["user_id", "item_id", "event_type", "event_time", "price", "pay_amount"], "events")
    assert both.as_dict()["pay_amount"] == "revenue" and both.as_dict()["price"] == "props"
    assert plan_mapping(["item_id", "price"], "items").as_dict()["price"] == "price"


def test_an_events_file_without_an_event_type_header_finds_that_column_by_its_values():
    headers = ["user_id", "video_id", "what", "status", "time", "watch_time_ms"]
    sample = [
        ("u1", "v1", "video_play", "paid", "2026-01-05", "3000"),
        ("u1", "v1", "Like", "paid", "2026-01-05", ""),
        ("u2", "v2", "share", "pending", "2026-01-05", ""),
        ("u2", "v2", "coin", "paid", "2026-01-05", ""),  # unknown: rejected at ingest, not a reason to miss the column
    ]
    plan = plan_mapping(headers, "events", sample=sample)
    assert plan.source_for("event_type").source == "what" and not plan.wide
    assert [(i.code, i.params) for i in plan.notes] == [("event_type_by_values", {"column": "what"})]
    # one event type only (a payment status), or below half of the values: not taken, the file stays wide
    for column in (3, 2):
        rows = [r[:2] + (r[column],) + r[3:] for r in sample[:1]] + [r[:2] + ("x",) + r[3:] for r in sample[1:]]
        assert plan_mapping(headers, "events", sample=rows).wide
    assert plan_mapping(headers, "events").wide  # no sample: headers alone decide
    # a column named as the event type is never second-guessed
    named = plan_mapping(["user_id", "item_id", "event", "what", "time"], "events",
                         sample=[("u1", "v1", "x", "view", "t"), ("u2", "v1", "y", "like", "t")])
    assert named.source_for("event_type").source == "event" and not named.notes
