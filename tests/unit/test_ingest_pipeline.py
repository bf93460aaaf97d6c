"""Ingest end to end on tiny literal files: formats, wide form, catalog, spend, warnings, atomicity."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.errors import StorageError
from analytics.ingest import ingest_file, preview_file, rejected_rows
from analytics.store.storage import Store
from analytics.store.uploads import list_uploads, remove_upload
from tests.helpers import REPO


def write(store, name, text):
    path = store.data_dir / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_excel_with_chinese_headers_and_real_datetimes(store):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["用户ID", "视频ID", "行为类型", "时间", "金额", "昵称"])
    ws.append(["u1", 1001, "播放", dt.datetime(2026, 1, 5, 20, 0), None, "小明"])
    ws.append(["u1", 1001, "支付", dt.datetime(2026, 1, 5, 20, 30), 99.9, "小明"])
    path = store.data_dir / "export.xlsx"
    wb.save(path)
    report = ingest_file(store, path)
    assert report.detected["format"] == "xlsx"
    assert (report.rows_accepted, report.rows_rejected) == (2, 0)
    assert report.mapping["昵称"] == "ignore"
    assert report.issue("personal_not_stored").params == {"columns": ["昵称"]}
    rows = store.query("SELECT item_id, event_type, event_time, revenue, props FROM events ORDER BY event_time").rows
    assert [r[:3] for r in rows] == [("1001", "view", dt.datetime(2026, 1, 5, 12, 0)), ("1001", "purchase", dt.datetime(2026, 1, 5, 12, 30))]
    assert float(rows[1][3]) == 99.9 and rows[1][4] is None


def test_title_lines_above_the_header_are_skipped_and_lines_keep_their_numbers(store):
    path = store.data_dir / "titled.csv"
    path.write_text(
        "抖音创作者服务中心 数据导出 2024-03-01 至 2024-03-07,,,\n\n"  # a title (cells left empty) and a blank line
        "用户ID,作品ID,行为类型,时间\nu1,v1,播放,2024-03-01 10:00:00\nu2,v1,播放,bad time\n"
    )
    report = ingest_file(store, path, timezone="UTC")
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (2, 1, 1)
    assert report.issue("bad_time").lines == (5,)
    note = report.issue("title_lines_skipped")
    assert note.params == {"lines": 2, "title": "抖音创作者服务中心 数据导出 2024-03-01 至 2024-03-07"}
    assert report.mapping["用户ID"] == "user_id"

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["巨量引擎 订单数据"])
    ws.append(["用户ID", "视频ID", "行为类型", "时间"])
    ws.append(["u9", "v9", "播放", dt.datetime(2026, 1, 5, 20, 0)])
    ws.append(["u9", "v9", "支付", "not a time"])
    book = store.data_dir / "titled.xlsx"
    wb.save(book)
    report = ingest_file(store, book, timezone="UTC")
    assert (report.rows_accepted, report.rows_rejected) == (1, 1)
    assert report.issue("bad_time").lines == (4,)  # the sheet's row
    assert report.issue("title_lines_skipped").params["title"] == "巨量引擎 订单数据"


@pytest.mark.parametrize("rows,titles", [
    ([["Report"], [], ["a", "b"], ["1", "2"]], 2),
    ([["Report", "", ""], ["a", "b", "c"]], 1),
    ([["a", "b"], ["1", "2"]], 0),
    ([["id"], ["1"], ["2"]], 0),  # a file of one column has no title line
    ([["t"]] * 11 + [["a", "b"]], 0),  # more than ten lines above: no title, the file is read as it is
])
def test_title_rows(rows, titles):
    from analytics.ingest.readers import title_rows

    assert title_rows(rows) == titles


def test_a_row_grouping_the_columns_above_the_header_is_skipped_with_the_title(store):
    import openpyxl

    from analytics.ingest.readers import title_rows

    known = {"用户id", "视频id", "行为类型", "时间"}.__contains__
    grouped = [["巨量引擎 数据报表"], ["基础数据", "", "行为数据", ""], ["用户ID", "视频ID", "行为类型", "时间"], ["u1", "v1", "播放", "x"]]
    assert title_rows(grouped, lambda c: known(c.lower())) == 2
    assert title_rows([["a", "b"], ["用户ID", "视频ID"]], lambda c: c.lower() in {"a", "用户id", "视频id"}) == 0  # it names a column
    assert title_rows([["基础数据", "行为数据"], ["u1", "v1"]], lambda c: known(c.lower())) == 0  # no header below it

    path = write(store, "grouped.csv", """
        基础数据,,行为数据,
        用户ID,视频ID,行为类型,时间
        u1,v1,播放,2026-01-05 20:00
        u1,v1,点赞,not a time
        """)
    report = ingest_file(store, path, timezone="UTC")
    assert (report.rows_accepted, report.rows_rejected) == (1, 1)
    assert report.issue("bad_time").lines == (4,)
    assert report.issue("title_lines_skipped").params == {"lines": 1, "title": "基础数据 行为数据"}

    wb = openpyxl.Workbook()
    for row in (["抖音 数据导出"], ["基础数据", None, "行为数据", None], ["用户ID", "视频ID", "行为类型", "时间"],
                ["u2", "v2", "播放", dt.datetime(2026, 1, 5, 20, 0)]):
        wb.active.append(row)
    book = store.data_dir / "grouped.xlsx"
    wb.save(book)
    report = ingest_file(store, book, timezone="UTC")
    assert report.rows_accepted == 1 and report.issue("title_lines_skipped").params["lines"] == 2


def test_parquet_with_typed_columns(store):
    table = pa.table(
        {
            "user_id": [1, 2],
            "item_id": ["v1", "v2"],
            "event_type": ["view", "like"],
            "event_time": pa.array([dt.datetime(2026, 1, 5, 12), dt.datetime(2026, 1, 5, 13)], pa.timestamp("us", tz="UTC")),
            "watch_seconds": [12.5, None],
        }
    )
    path = store.data_dir / "e.parquet"
    pq.write_table(table, path)
    report = ingest_file(store, path)
    assert report.detected["format"] == "parquet" and report.rows_accepted == 2
    rows = store.query("SELECT user_id, event_time, watch_seconds FROM events ORDER BY user_id").rows
    assert rows == (("1", dt.datetime(2026, 1, 5, 12), 12.5), ("2", dt.datetime(2026, 1, 5, 13), None))


def test_wide_rows_become_a_view_plus_one_event_per_truthy_flag(store):
    path = write(
        store,
        "wide.tsv",
        """
        user_id\tvideo_id\ttime_ms\tis_follow\tis_forward\tis_click\tplay_time_ms\tduration_ms\ttimestamp
        1\t10\t1649581149287\t1\t0\t1\t46186\t45916\t2022-04-10 08:59:09
        1\t11\t1649581200000\t0\t1\t0\t1000\t0\t2022-04-10 09:00:00
        2\t10\t1649581300000\t0\t0\t0\t500000\t20000\t2022-04-10 09:01:40
        """,
    )
    report = ingest_file(store, path)
    assert (report.rows_read, report.rows_accepted) == (3, 5)
    counts = dict(store.query("SELECT event_type, count(*) FROM events GROUP BY ALL").rows)
    assert counts == {"view": 3, "follow": 1, "share": 1}
    view = store.query("SELECT event_time, watch_seconds, video_seconds, props['is_click'] FROM events WHERE item_id = '10' AND user_id = '1' AND event_type = 'view'").rows[0]
    assert view == (dt.datetime(2022, 4, 10, 8, 59, 9, 287000), 46.186, 45.916, "1")
    follow = store.query("SELECT watch_seconds, video_seconds FROM events WHERE event_type = 'follow'").rows[0]
    assert follow == (None, 45.916)
    assert report.issue("watch_far_above_video").lines == (4,)
    assert report.issue("units_converted") is not None


def test_order_lines_are_purchases_of_price_times_quantity_and_returns_are_refunds(store):
    path = write(
        store,
        "Online Retail.csv",
        """
        InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
        536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom
        536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom
        536366,22633,HAND WARMER,,12/1/2010 8:28,1.85,17850,United Kingdom
        C536379,D,Discount,-1,12/1/2010 9:41,27.50,14527,United Kingdom
        536380,22961,JAM MAKING SET,24,12/13/2010 9:41,1.45,,United Kingdom
        536381,22961,JAM MAKING SET,two,12/13/2010 9:42,1.45,14527,United Kingdom
        """,
    )
    report = ingest_file(store, path)
    assert (report.rows_read, report.rows_accepted) == (6, 4)
    assert dict(rejected_rows(store, report.upload_id)[["line", "reason"]].itertuples(index=False)) == {
        6: "missing_value:user_id", 7: "bad_number:quantity",
    }
    rows = store.query("SELECT item_id, event_type, revenue, props['InvoiceNo'] FROM events ORDER BY event_time, item_id").rows
    assert [(r[0], r[1], float(r[2]), r[3]) for r in rows] == [
        ("71053", "purchase", 20.34, "536365"), ("85123A", "purchase", 15.3, "536365"),
        ("22633", "purchase", 1.85, "536366"),  # no quantity: the price once
        ("D", "refund", -27.5, "C536379"),
    ]
    codes = [i.code for i in report.issues]
    assert "rows_are_purchases_by_quantity" in codes and report.issue("rows_are_purchases_by_quantity").params == {"quantity": "Quantity"}
    assert "purchase_without_view" not in codes  # no view stored at all: nothing to compare with


def test_an_order_export_reads_its_status_refunded_orders_add_a_refund_unpaid_ones_are_rejected(store):
    path = write(
        store,
        "orders.csv",
        """
        订单编号,商品ID,订单应付金额,下单时间,买家ID,订单状态
        1001,c001,¥199.00,2026-11-01 10:00:00,u1,已完成
        1002,c001,99.00,2026-11-01 11:00:00,u2,已退款
        1003,c002,299.00,2026-11-02 09:00:00,u3,已关闭
        1004,c002,299.00,2026-11-02 09:30:00,u3,PAID
        """,
    )
    report = ingest_file(store, path)
    assert (report.rows_read, report.rows_accepted) == (4, 4)  # 3 paid orders, and the refund of one of them
    assert dict(rejected_rows(store, report.upload_id)[["line", "reason"]].itertuples(index=False)) == {4: "unpaid_order:order_status"}
    rows = store.query("SELECT user_id, event_type, revenue FROM events ORDER BY event_time, event_type").rows
    assert [(u, e, float(r)) for u, e, r in rows] == [
        ("u1", "purchase", 199.0), ("u2", "purchase", 99.0), ("u2", "refund", 99.0), ("u3", "purchase", 299.0),
    ]
    assert report.issue("order_status_read").params == {"column": "订单状态"}
    assert report.issue("unpaid_order").params["example"] == "已关闭"
    assert store.query("SELECT count(*) FROM events WHERE props['订单状态'] IS NOT NULL").rows[0] == (0,)  # read, not kept


def test_a_log_without_a_header_row_is_read_with_columns_named_by_their_values(store):
    path = store.data_dir / "UserBehavior.csv"
    path.write_text("1,2268318,2520377,pv,1511544070\n1,2268318,2520377,buy,1511561733\n7,4365585,2520377,cart,1511596146\n")
    report = ingest_file(store, path)
    assert (report.rows_read, report.rows_accepted) == (3, 3)
    assert report.issue("columns_named_by_values").params == {
        "columns": ["user_id", "item_id", "column_3", "event_type", "event_time"]}
    rows = store.query("SELECT user_id, item_id, event_type, props['column_3'] FROM events ORDER BY event_time").rows
    assert [tuple(r) for r in rows] == [("1", "2268318", "view", "2520377"), ("1", "2268318", "purchase", "2520377"),
                                        ("7", "4365585", "add_to_cart", "2520377")]
    named = ingest_file(store, path, columns=["u", "i", "c", "b", "t"],
                        mapping={"u": "user_id", "i": "item_id", "b": "event_type", "t": "event_time"})
    assert named.issue("columns_named_by_values") is None  # names given: nothing guessed


def test_an_analytics_export_loads_with_its_own_event_names_and_microsecond_times(store):
    # GA4's flattened export: microseconds since the epoch, its own event names, a pseudonymous visitor
    path = store.data_dir / "ga4.csv"
    t0 = 1_612_069_510_766_593
    names = ["page_view", "view_item", "select_item", "add_to_cart", "purchase", "session_start"]
    path.write_text(
        "event_timestamp,event_name,user_pseudo_id,items.item_id,ecommerce.purchase_revenue\n"
        + "".join(f"{t0 + i * 1_000_000},{n},1026454.4271112504,9195,{'45.0' if n == 'purchase' else ''}\n"
                  for i, n in enumerate(names))
        + f"{t0 + 10_000_000},Order Completed,1026454.4271112504,9195,12.5\n{t0 + 11_000_000},$pageview,7,p/1,\n"
    )
    report = ingest_file(store, path, timezone="UTC")
    assert (report.rows_accepted, report.rows_rejected) == (7, 1)
    assert report.issue("unknown_event_type").params["values"] == [["session_start", 1]]
    got = store.query("SELECT event_type, event_time, revenue FROM events ORDER BY event_time").rows
    assert [r[0] for r in got] == ["view", "view", "click", "add_to_cart", "purchase", "purchase", "view"]
    assert got[0][1] == dt.datetime(2021, 1, 31, 5, 5, 10, 766593)
    assert [float(r[2]) for r in got if r[2] is not None] == [45.0, 12.5]


def test_a_web_exports_anonymous_rows_take_the_visitor_id_as_their_user(store):
    # Segment: userId only once the visitor signed in, anonymousId always
    path = write(store, "segment.csv", """
        timestamp,event,anonymous_id,user_id,properties.product_id
        2024-03-01T08:00:00Z,Page Viewed,anon0,,p13
        2024-03-01T08:05:00Z,Product Viewed,anon1,user1,p12
        2024-03-01T08:06:00Z,Order Completed,anon1,user1,p12
        2024-03-01T08:07:00Z,Product Viewed,,,p12
        """)
    report = ingest_file(store, path, timezone="UTC")
    assert (report.rows_accepted, report.rows_rejected) == (3, 1)
    assert report.issue("missing_value").lines == (5,)
    assert report.issue("user_id_or_visitor").params == {"column": "anonymous_id", "used": "user_id"}
    rows = store.query("SELECT user_id, event_type, props['anonymous_id'] FROM events ORDER BY event_time").rows
    assert rows == (("anon0", "view", "anon0"), ("user1", "view", "anon1"), ("user1", "purchase", "anon1"))
    # mapped by hand to props, the visitor id is only a property: the anonymous row has no user
    again = write(store, "segment2.csv", path.read_text().replace("p13", "p14"))
    report = ingest_file(store, again, timezone="UTC", mapping={"anonymous_id": "props"})
    assert (report.rows_accepted, report.rows_rejected, report.rows_duplicate) == (0, 2, 2)  # user1's rows are stored


def test_a_manual_flag_map_adds_likes(store):
    path = write(store, "labels.csv", "uid,vid,t,label\na,v1,1700000000,1\nb,v1,1700000000,0\n")
    ingest_file(store, path, mapping={"uid": "user_id", "vid": "item_id", "t": "event_time", "label": "like"})
    assert dict(store.query("SELECT event_type, count(*) FROM events GROUP BY ALL").rows) == {"view": 2, "like": 1}


def test_catalog_upload(store):
    path = write(
        store,
        "items.csv",
        """
        视频ID,标题,类型,作者,品类,标签,时长(秒),价格,发布时间
        v1,Hook 101,视频,alice,marketing,"hook,intro",30,,2026-01-01 09:00
        c1,Course,课程,alice,marketing,,3600,"¥1,299.00",2026-01-02
        x1,Odd,podcast,bob,,,10,,2026-01-03
        """,
    )
    report = ingest_file(store, path, kind="items")
    assert (report.rows_accepted, report.rows_rejected) == (2, 1)
    assert report.issue("unknown_kind").params == {"example": "podcast"}
    assert report.issue("unknown_kind").lines == (4,)
    rows = store.query("SELECT item_id, kind, tags, duration_seconds, price, published_at FROM items ORDER BY item_id").rows
    assert rows[0][:5] == ("c1", "course", None, 3600.0, pytest.approx(1299))
    assert rows[1] == ("v1", "video", "hook,intro", 30.0, None, dt.datetime(2026, 1, 1, 1, 0))


def test_a_changed_catalog_row_for_a_known_item_is_flagged(store):
    ingest_file(store, write(store, "items1.csv", "item_id,title\nv1,Old title\nv2,Same\n"), kind="items")
    report = ingest_file(store, write(store, "items2.csv", "item_id,title\nv1,New title\nv3,Other\nv3,Other again\n"), kind="items")
    issue = report.issue("item_repeated")
    assert issue.level == "warning" and issue.count == 3 and issue.lines == (2, 3, 4)
    assert store.query("SELECT count(*) FROM items WHERE item_id = 'v1'").scalar() == 2


def test_spend_upload(store):
    path = write(store, "spend.csv", "日期,渠道,投放计划,消耗\n2026-01-05,抖音,spring,120.5\n2026/01/06,抖音,spring,80\n")
    report = ingest_file(store, path, kind="spend")
    assert report.rows_accepted == 2
    assert store.query("SELECT date, channel, spend FROM spend ORDER BY date").rows[0][:2] == (dt.date(2026, 1, 5), "douyin")


def test_repeated_spend_days_are_flagged(store):
    ingest_file(store, write(store, "s1.csv", "date,channel,campaign,spend\n2026-01-05,douyin,a,10\n"), kind="spend")
    report = ingest_file(
        store,
        write(store, "s2.csv", "date,channel,campaign,spend\n2026-01-05,douyin,a,12\n2026-01-06,douyin,a,5\n2026-01-07,,,1\n2026-01-07,,,2\n"),
        kind="spend",
    )
    issue = report.issue("spend_repeated")
    assert issue.count == 3 and issue.lines == (2, 4, 5)


def test_headerless_file_with_a_column_list(store):
    path = write(store, "taobao.csv", "1,2268318,2520377,pv,1511544070\n1,2333346,2520771,buy,1511561733\n")
    report = ingest_file(store, path, columns=["user_id", "item_id", "category_id", "behavior_type", "timestamp"])
    assert report.rows_accepted == 2 and not report.detected["header"]
    assert store.query("SELECT list(event_type ORDER BY event_time) FROM events").scalar() == ["view", "purchase"]


def test_expected_range_and_purchase_without_view_warnings(store):
    path = write(
        store,
        "w.csv",
        """
        user_id,item_id,event_type,event_time
        a,v1,view,2026-01-05 10:00
        a,v1,purchase,2026-01-05 10:05
        b,v1,purchase,2026-01-05 10:05
        c,v1,purchase,2026-01-05 10:05
        c,v1,view,2026-01-05 10:06
        d,v1,view,2025-12-31 23:00
        """,
    )
    report = ingest_file(store, path, expected_from=dt.date(2026, 1, 1), expected_to=dt.date(2026, 1, 31))
    assert report.issue("purchase_without_view").count == 2
    assert report.issue("purchase_without_view").lines == (4, 5)
    assert report.issue("time_out_of_range").lines == (7,)


def test_preview_touches_no_database_and_shows_mapped_rows(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("用户ID,视频ID,行为类型,时间,phone\nu1,v1,点赞,2026-01-05 20:00,13800000000\nu2,v1,teleport,2026-01-05 20:00,1\n")
    pv = preview_file(path)
    assert pv.detected == {"format": "csv", "encoding": "utf-8", "delimiter": ",", "header": True}
    assert pv.mapping == {"用户ID": "user_id", "视频ID": "item_id", "行为类型": "event_type", "时间": "event_time", "phone": "ignore"}
    assert list(pv.rows["event_type"]) == ["like", None]
    assert list(pv.rows["reason"]) == [None, "unknown_event_type:event_type"]
    assert pv.rows["event_time"].iloc[0] == dt.datetime(2026, 1, 5, 12, 0)  # stored in UTC
    assert pv.local_rows()["event_time"].iloc[0] == dt.datetime(2026, 1, 5, 20, 0)  # shown as written


def _log_with_durations(tmp_path, play, video, name="log.csv"):
    path = tmp_path / name
    rows = [f"u{i},v{i % 3},2026-01-05 20:{i:02d},{p},{v}" for i, (p, v) in enumerate(zip(play, video))]
    path.write_text("user_id,item_id,event_time,play_duration,video_duration\n" + "\n".join(rows) + "\n")
    return path


def test_unitless_durations_of_one_file_share_the_milliseconds_found_in_one_of_them(tmp_path):
    # a short-video log in milliseconds: most views are skipped (small median), the videos run 5-60 s
    path = _log_with_durations(tmp_path, [800, 1200, 2500, 900, 4000, 30000], [5000, 9000, 12000, 15000, 30000, 60000])
    pv = preview_file(path)
    assert pv.mapping["play_duration"] == "watch_seconds:ms" and pv.mapping["video_duration"] == "video_seconds:ms"
    notes = {i.code: i.params for i in pv.notes}
    assert notes["read_as_ms"] == {"column": "video_duration", "median": 13500.0}
    assert notes["read_as_ms_like"] == {"column": "play_duration", "like": "video_duration"}
    assert list(pv.rows["video_seconds"][:2]) == [5.0, 9.0]


@pytest.mark.parametrize(
    "play,video",
    [
        ([30, 45, 60, 90, 120, 200], [60, 120, 180, 300, 600, 900]),  # seconds: lessons of up to 15 minutes
        ([3000.5, 4000.25, 5000.5, 6000.5, 7000.5, 8000.5], [9000.5, 9000.5, 9000.5, 9000.5, 9000.5, 9000.5]),  # fractions
    ],
)
def test_durations_stay_seconds_when_their_medians_are_small_or_they_hold_fractions(tmp_path, play, video):
    pv = preview_file(_log_with_durations(tmp_path, play, video))
    assert pv.mapping["play_duration"] == "watch_seconds" and pv.mapping["video_duration"] == "video_seconds"
    assert not {"read_as_ms", "read_as_ms_like"} & {i.code for i in pv.notes}


def test_numbers_with_separators_currency_and_decimal_commas_are_read_or_rejected_never_misread(store):
    path = write(store, "n.csv", """
        user_id;item_id;event_type;event_time;watch_seconds;revenue
        u1;v1;view;2026-03-01 12:00;12,5;
        u2;v1;view;2026-03-01 12:00;1,234;
        u3;v1;purchase;2026-03-01 12:00;;¥1,234.50
        u4;v1;purchase;2026-03-01 12:00;;0,99
        u5;v1;view;2026-03-01 12:00;1.234,5;
        u6;v1;view;2026-03-01 12:00;1,2,3;
        """)
    report = ingest_file(store, path)
    assert (report.rows_accepted, report.rows_rejected) == (4, 2)
    assert report.issue("bad_number").lines == (6, 7)
    rows = dict(store.query("SELECT user_id, coalesce(watch_seconds, revenue::DOUBLE) FROM events").rows)
    assert rows == {"u1": 12.5, "u2": 1234.0, "u3": 1234.5, "u4": 0.99}


def test_durations_that_write_their_own_unit_are_read_in_seconds(store):
    path = write(store, "d.csv", """
        user_id,item_id,event_type,event_time,观看时长,作品时长
        u1,v1,view,2026-03-01 12:00,12秒,60秒
        u2,v1,view,2026-03-01 12:00,12.5 s,1.5min
        u3,v1,view,2026-03-01 12:00,500ms,1分30秒
        u4,v1,view,2026-03-01 12:00,00:45,1:02:03
        u5,v1,view,2026-03-01 12:00,12,60
        u6,v1,view,2026-03-01 12:00,-5秒,60
        u7,v1,view,2026-03-01 12:00,1:75,60
        """)
    report = ingest_file(store, path)
    assert (report.rows_accepted, report.rows_rejected) == (5, 2)
    assert report.issue("bad_number").lines == (7, 8)
    rows = {u: (w, v) for u, w, v in store.query("SELECT user_id, watch_seconds, video_seconds FROM events").rows}
    assert rows == {"u1": (12.0, 60.0), "u2": (12.5, 90.0), "u3": (0.5, 90.0), "u4": (45.0, 3723.0), "u5": (12.0, 60.0)}


def test_remove_upload_and_rejected_rows(store):
    path = write(store, "r.csv", "user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05\nu2,v1,nope,2026-01-05\n")
    report = ingest_file(store, path)
    df = rejected_rows(store, report.upload_id)
    assert df.to_dict(orient="records") == [{"line": 3, "reason": "unknown_event_type:event_type", "raw": "u2,v1,nope,2026-01-05"}]
    assert [u.upload_id for u in list_uploads(store)] == [report.upload_id]
    assert remove_upload(store, report.upload_id)["events"] == 1
    assert store.counts() == {"events": 0, "items": 0, "spend": 0, "uploads": 0}
    assert store.query("SELECT count(*) FROM upload_rejects").scalar() == 0
    assert ingest_file(store, path).status == "ok"  # a removed file can be uploaded again


def test_progress_reaches_one_and_never_goes_back(store):
    seen = []
    path = write(store, "p.csv", "user_id,item_id,event_type,event_time\n" + "".join(f"u{i},v1,view,2026-01-05\n" for i in range(500)))
    ingest_file(store, path, progress=lambda f, step="", **values: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_an_error_while_storing_leaves_the_database_unchanged(store, monkeypatch):
    first = write(store, "a.csv", "user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05\n")
    ingest_file(store, first)
    before = (store.query("SELECT * FROM events").rows, store.query("SELECT upload_id FROM uploads").rows)
    import analytics.ingest.pipeline as pipeline

    def broken(cur, **kw):
        cur.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(pipeline, "register_upload", broken)
    second = write(store, "b.csv", "user_id,item_id,event_type,event_time\nu2,v1,view,2026-01-05\n")
    with pytest.raises(StorageError):
        ingest_file(store, second)
    assert (store.query("SELECT * FROM events").rows, store.query("SELECT upload_id FROM uploads").rows) == before


def test_the_instance_settings_come_back_after_an_upload_succeeds_or_fails(store, monkeypatch):
    """The streamed insert runs without DuckDB's insertion order and the upload under its own memory
    limit, settings of the whole database instance; the default limit comes back exactly (its printed
    value is rounded)."""
    from analytics.ingest import pipeline

    settings = "SELECT current_setting('preserve_insertion_order'), current_setting('memory_limit')"
    store.query("RESET memory_limit")
    before = store.query(settings).rows
    assert before[0][0] is True
    ingest_file(store, write(store, "a.csv", "user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05\n"))
    assert store.query(settings).rows == before

    def broken(self, hashes):
        raise RuntimeError("broken while streaming")

    monkeypatch.setattr(pipeline._SeenFilter, "maybe_seen", broken)
    with pytest.raises(RuntimeError, match="broken while streaming"):
        ingest_file(store, write(store, "b.csv", "user_id,item_id,event_type,event_time\nu2,v1,view,2026-01-05\n"))
    assert store.query(settings).rows == before
    assert store.query("SELECT user_id FROM events").rows == (("u1",),)


def test_a_killed_process_leaves_earlier_data_exactly_as_it_was(tmp_path):
    """The child process is killed (SIGKILL) after its rows are inserted but before COMMIT."""
    db = tmp_path / "data" / "k.duckdb"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from analytics.store.storage import Store
        from analytics.ingest import ingest_file
        store = Store({str(db)!r})
        data = store.data_dir
        (data / "a.csv").write_text("user_id,item_id,event_type,event_time\\nu1,v1,view,2026-01-05\\n")
        ingest_file(store, data / "a.csv")
        (data / "b.csv").write_text("user_id,item_id,event_type,event_time\\n" + "".join(f"u{{i}},v1,view,2026-01-05\\n" for i in range(2000)))
        def die(fraction, step="", **values):
            if fraction >= 0.98:  # rows inserted, registry written, not committed
                os.kill(os.getpid(), signal.SIGKILL)
        ingest_file(store, data / "b.csv", progress=die)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    from analytics.store.storage import Store

    store = Store(db)
    try:
        assert store.query("SELECT user_id FROM events").rows == (("u1",),)
        assert store.query("SELECT file_name FROM uploads").rows == (("a.csv",),)
    finally:
        store.close()


def test_batches_of_the_streamed_pass_keep_lines_duplicates_and_flags_exact(store, monkeypatch):
    """Rows streamed in batches of three: duplicates across batches and within one, a rejected row,
    a wide row's flag events split over a batch boundary, and a row equal to one already stored."""
    from analytics.ingest import pipeline

    monkeypatch.setattr(pipeline, "BATCH_ROWS", 3)
    first = write(store, "first.csv", "user_id,item_id,event_type,event_time\nold,v9,view,2026-01-01 08:00\n")
    ingest_file(store, first)
    path = write(
        store,
        "events.csv",
        """
        user_id,item_id,event_type,event_time
        u1,v1,view,2026-01-05 10:00
        u2,v1,view,2026-01-05 10:01
        u1,v1,view,2026-01-05 10:00
        u3,v1,nonsense,2026-01-05 10:02
        u4,v1,view,2026-01-05 10:03
        u4,v1,view,2026-01-05 10:03
        old,v9,view,2026-01-01 08:00
        u5,v1,view,2026-01-05 10:04
        """,
    )
    report = ingest_file(store, path)
    assert (report.rows_read, report.rows_accepted, report.rows_rejected, report.rows_duplicate) == (8, 4, 1, 3)
    assert report.issue("unknown_event_type").lines == (5,)
    assert store.query("SELECT user_id, count(*) FROM events GROUP BY ALL ORDER BY 1").rows == (
        ("old", 1), ("u1", 1), ("u2", 1), ("u4", 1), ("u5", 1),
    )
    assert rejected_rows(store, report.upload_id)["line"].tolist() == [5]

    wide = write(
        store,
        "wide.csv",
        "user_id,video_id,is_like,is_follow,timestamp\n"
        + "".join(f"w{i},v1,1,1,2026-01-06 10:0{i}\n" for i in range(4))
        + "w0,v1,1,1,2026-01-06 10:00\n",
    )
    report = ingest_file(store, wide)
    assert (report.rows_read, report.rows_accepted, report.rows_duplicate) == (5, 12, 3)
    assert dict(store.query("SELECT event_type, count(*) FROM events WHERE user_id LIKE 'w%' GROUP BY ALL").rows) == {
        "view": 4, "like": 4, "follow": 4,
    }


def test_the_seen_filter_catches_every_repeat_and_few_others():
    """Every hash added before, or repeated in its batch (each copy), is caught: the filter may say
    "maybe", never "no" to a repeat. Hashes spread as a row hash's are, at the size the filter was
    made for, are caught under one percent of the time when new."""
    import numpy as np

    from analytics.ingest.pipeline import _SeenFilter

    seen = _SeenFilter()
    seen.add(np.array([7], dtype=np.uint64))
    assert seen.maybe_seen(np.array([5, 6, 5, 7], dtype=np.uint64))[[0, 2, 3]].all()  # 5 twice, 7 added
    assert seen.maybe_seen(np.array([6, 8, 8], dtype=np.uint64)).all()  # 6 in the batch before, 8 twice
    assert seen.maybe_seen(np.array([], dtype=np.uint64)).tolist() == []

    rng = np.random.default_rng(3)
    close = (np.uint64(5) << np.uint64(58)) + rng.integers(0, 1000, 3000).astype(np.uint64)  # one word
    spread = rng.integers(0, 2**63, 3000, dtype=np.int64).astype(np.uint64)
    batches = np.array_split(np.concatenate([close, spread, close[:500], spread[::7]]), 9)
    for expected in (0, 10**8):
        seen, plain, stored = _SeenFilter(expected), set(), spread[:100]
        seen.add(stored)
        plain.update(stored.tolist())
        for batch in batches:
            values = batch.tolist()
            repeats = [h in plain or values.count(h) > 1 for h in values]
            plain.update(values)
            caught = seen.maybe_seen(batch)
            assert all(caught[repeats])

    n = 200_000
    seen = _SeenFilter(n)
    hashes = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + np.uint64(1)
    for batch in np.array_split(hashes, 8):
        seen.maybe_seen(batch)
    new = (rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2))  # even: never added
    assert seen.maybe_seen(new).mean() < 0.01


def test_the_rows_the_filter_catches_only_decide_what_is_compared_never_the_answer(tmp_path, monkeypatch):
    """With a filter that catches every row, an upload with repeats within the file and against an
    earlier upload stores the same rows and counts the same duplicates as with the real one."""
    import numpy as np

    from analytics.ingest import pipeline

    first = "user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05 10:00\nu2,v1,view,2026-01-05 10:01\n"
    second = (
        "user_id,item_id,event_type,event_time\n"
        "u1,v1,view,2026-01-05 10:00\n"  # stored before
        "u3,v2,view,2026-01-05 11:00\nu3,v2,view,2026-01-05 11:00\nu3,v2,view,2026-01-05 11:00\n"  # three copies
        "u4,v2,like,2026-01-05 12:00\n"
    )

    def load(name):
        db_store = Store(tmp_path / name / "test.duckdb")
        try:
            ingest_file(db_store, write(db_store, "a.csv", first))
            report = ingest_file(db_store, write(db_store, "b.csv", second))
            rows = sorted(db_store.query("SELECT user_id, item_id, event_type, event_time FROM events").rows)
        finally:
            db_store.close()
        return (report.rows_read, report.rows_accepted, report.rows_duplicate), rows

    plain = load("filter")
    assert plain[0] == (5, 2, 3)
    monkeypatch.setattr(pipeline._SeenFilter, "maybe_seen", lambda self, hashes: np.ones(len(hashes), dtype=bool))
    assert load("every_row") == plain


def test_rows_alike_but_for_their_attribution_are_all_stored_and_their_repeats_are_not(store):
    """The duplicate filter's key leaves out channel, campaign, variant and course: rows that differ
    only there share a key and are told apart column by column, in the file and against the table."""
    header = "user_id,item_id,event_type,event_time,channel,campaign,variant,course_id\n"
    rows = [
        "u1,v1,view,2026-01-05 10:00,douyin,c1,A,k1",
        "u1,v1,view,2026-01-05 10:00,kuaishou,c1,A,k1",
        "u1,v1,view,2026-01-05 10:00,douyin,c2,A,k1",
        "u1,v1,view,2026-01-05 10:00,douyin,c1,B,k1",
        "u1,v1,view,2026-01-05 10:00,douyin,c1,A,k2",
        "u1,v1,view,2026-01-05 10:00,douyin,c1,A,",
    ]
    first = ingest_file(store, write(store, "a.csv", header + "\n".join(rows + rows[:2]) + "\n"))
    assert (first.rows_accepted, first.rows_duplicate) == (6, 2)
    again = ingest_file(store, write(store, "b.csv", header + "\n".join([rows[3], "u1,v1,view,2026-01-05 10:00,bilibili,c1,A,k1"]) + "\n"))
    assert (again.rows_accepted, again.rows_duplicate) == (1, 1)
    assert store.query("SELECT count(DISTINCT (channel, campaign, variant, course_id)) FROM events").rows[0][0] == 7


def test_a_platforms_name_in_either_language_is_stored_as_its_channel_code(store):
    from analytics.ingest.mapping import CHANNELS
    from dashboard.i18n.format import _CHANNELS

    assert set(CHANNELS) == set(_CHANNELS)  # every code the ingest writes is worded by the dashboard
    path = write(store, "c.csv", """
        user_id,item_id,event_type,event_time,channel
        u1,v1,view,2026-03-01 12:00,抖音
        u2,v1,view,2026-03-01 12:00, Douyin
        u3,v1,view,2026-03-01 12:00,douyin
        u4,v1,view,2026-03-01 12:00,B站
        u5,v1,view,2026-03-01 12:00,小红书
        u6,v1,view,2026-03-01 12:00,TikTok
        u7,v1,view,2026-03-01 12:00,
        """)
    assert ingest_file(store, path).rows_accepted == 7
    rows = dict(store.query("SELECT user_id, channel FROM events").rows)
    assert rows == {"u1": "douyin", "u2": "douyin", "u3": "douyin", "u4": "bilibili", "u5": "xiaohongshu",
                    "u6": "TikTok", "u7": None}
