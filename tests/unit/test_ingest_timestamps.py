"""Reading times: ISO text, local time in the configured zone, offsets, epoch seconds to nanoseconds,
day-first and month-first dates decided per column.

The SQL expression used at ingest and the Python reference must agree; both are checked against
times built independently with ``zoneinfo``. Each example is read as a column of its own value
(:func:`infer_reading` over that value), as ingest reads a column.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.ingest.timestamps import (
    TimeReading,
    date_sql,
    fixed_offset_seconds,
    infer_reading,
    parse_time,
    time_sql,
)


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    yield c
    c.close()


def sql_time(con, text: str | None, tz: str = "Asia/Shanghai", reading: TimeReading | None = None):
    """The SQL result, checked to be the same with ICU rules and with the fixed-offset shortcut."""
    reading = reading or infer_reading([text])
    icu = con.execute(f"SELECT {time_sql('$v', reading=reading)}", {"v": text, "tz": tz}).fetchone()[0]
    fixed = fixed_offset_seconds(tz)
    if fixed is not None:
        fast = con.execute(
            f"SELECT {time_sql('$v', offset_param='$off', reading=reading)}", {"v": text, "tz": tz, "off": fixed}
        ).fetchone()[0]
        assert fast == icu
    return icu


def test_fixed_offsets():
    assert fixed_offset_seconds("Asia/Shanghai") == 8 * 3600
    assert fixed_offset_seconds("UTC") == 0
    assert fixed_offset_seconds("Asia/Kolkata") == 19800
    assert fixed_offset_seconds("Europe/Berlin") is None  # daylight saving time


def test_shanghai_daylight_saving_before_1992_uses_the_zone_rules(con):
    # China observed DST in 1986-1991: 1990-07-01 12:00 local was UTC+9.
    assert sql_time(con, "1990-07-01 12:00:00", "Asia/Shanghai") == dt.datetime(1990, 7, 1, 3, 0)


CASES = [
    ("2026-01-05 20:00:00", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026-01-05T20:00:00", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026-01-05", "Asia/Shanghai", dt.datetime(2026, 1, 4, 16, 0)),
    ("2026/01/05 20:00", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026年01月05日 20:00:00", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    ("20260105", "Asia/Shanghai", dt.datetime(2026, 1, 4, 16, 0)),
    ("20260105200000", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026-01-05 20:00:00", "UTC", dt.datetime(2026, 1, 5, 20, 0)),
    ("2026-07-05 20:00:00", "America/New_York", dt.datetime(2026, 7, 6, 0, 0)),
    ("2026-01-05 20:00:00", "America/New_York", dt.datetime(2026, 1, 6, 1, 0)),
    ("2019-10-01 00:00:00 UTC", "Asia/Shanghai", dt.datetime(2019, 10, 1, 0, 0)),
    ("2026-01-05T20:00:00+08:00", "UTC", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026-01-05T12:00:00Z", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026-01-05 20:00:00+0800", "UTC", dt.datetime(2026, 1, 5, 12, 0)),
    ("1511544070", "Asia/Shanghai", dt.datetime(2017, 11, 24, 17, 21, 10)),  # Taobao: epoch seconds
    ("1649581149287", "Asia/Shanghai", dt.datetime(2022, 4, 10, 8, 59, 9, 287000)),  # KuaiRand: epoch ms
    ("1649581149287000", "UTC", dt.datetime(2022, 4, 10, 8, 59, 9, 287000)),  # microseconds
    ("1649581149287000000", "UTC", dt.datetime(2022, 4, 10, 8, 59, 9, 287000)),  # nanoseconds
    ("2026-01-05 12:00 GMT", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026-01-05 12:00:00 GMT", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026-01-05T20:00+08:00", "UTC", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026-01-05T07:00:00-05:00", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),  # a sign after the time
    ("2026-01-05 07:00-0500", "UTC", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026-01-05T12:00:00.250z", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0, 0, 250000)),
    ("15/01/2026 10:00", "UTC", dt.datetime(2026, 1, 15, 10, 0)),  # proves day-first
    ("01/15/2026 10:00", "UTC", dt.datetime(2026, 1, 15, 10, 0)),  # proves month-first
    ("15.01.2026", "UTC", dt.datetime(2026, 1, 15)),
    ("99999999999999999999999", "UTC", None),  # no time can hold it: NULL, not an engine error
    ("1511544070.5", "UTC", dt.datetime(2017, 11, 24, 17, 21, 10, 500000)),
    ("  2026-01-05 20:00:00  ", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    # exports from spreadsheets, US tools, mail and HTTP headers, Chinese reports
    ("2026-01-05 20:00:00 +08:00", "UTC", dt.datetime(2026, 1, 5, 12, 0)),  # a space before the offset
    ("Mon, 05 Jan 2026 12:00:00 GMT", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    ("Mon, 05 Jan 2026 20:00:00 +0800", "UTC", dt.datetime(2026, 1, 5, 12, 0)),
    ("Jan 5, 2026 8:00 PM", "UTC", dt.datetime(2026, 1, 5, 20, 0)),
    ("January 5, 2026", "UTC", dt.datetime(2026, 1, 5)),
    ("05-Jan-2026 20:00", "UTC", dt.datetime(2026, 1, 5, 20, 0)),
    ("5 January 2026 20:00:00", "UTC", dt.datetime(2026, 1, 5, 20, 0)),
    ("01/15/2026 08:00:00 PM", "UTC", dt.datetime(2026, 1, 15, 20, 0)),  # proves month-first, 12-hour clock
    ("2026-01-05 08:00 AM", "UTC", dt.datetime(2026, 1, 5, 8, 0)),
    ("20260105 20:00:00", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026年1月5日 20时00分", "Asia/Shanghai", dt.datetime(2026, 1, 5, 12, 0)),
    ("2026-01-05 20:00:00 CST", "UTC", None),  # CST names three zones: not guessed
    ("yesterday", "Asia/Shanghai", None),
    ("2026-13-45", "Asia/Shanghai", None),
    ("", "Asia/Shanghai", None),
]


@pytest.mark.parametrize("text,tz,expected", CASES)
def test_examples_in_sql_and_python(con, text, tz, expected):
    assert sql_time(con, text, tz) == expected
    assert parse_time(text, tz, infer_reading([text])) == expected


def test_dates_for_spend(con):
    for text, expected in [("2026-01-05", dt.date(2026, 1, 5)), ("2026/1/5", dt.date(2026, 1, 5)), ("20260105", dt.date(2026, 1, 5))]:
        assert con.execute(f"SELECT {date_sql('$v')}", {"v": text, "tz": "Asia/Shanghai"}).fetchone()[0] == expected


ZONES = ["Asia/Shanghai", "UTC", "Europe/Berlin", "America/Sao_Paulo", "Asia/Kolkata"]
instants = st.datetimes(min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2037, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)


@settings(max_examples=40, deadline=None)
@given(instants, st.sampled_from(ZONES))
def test_local_text_is_read_in_the_zone_and_stored_utc(con, utc, zone):
    local = utc.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(zone))
    if local.fold or local.replace(tzinfo=None, fold=1).replace(tzinfo=ZoneInfo(zone)).utcoffset() != local.utcoffset():
        return  # an ambiguous local time (DST fall-back) cannot name one instant
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    assert sql_time(con, text, zone) == utc
    assert parse_time(text, zone, infer_reading([text])) == utc


@settings(max_examples=40, deadline=None)
@given(instants, st.sampled_from(ZONES))
def test_epoch_seconds_and_milliseconds_ignore_the_zone(con, utc, zone):
    seconds = int(utc.replace(tzinfo=dt.timezone.utc).timestamp())
    assert sql_time(con, str(seconds), zone) == utc
    assert sql_time(con, str(seconds * 1000 + 123), zone) == utc + dt.timedelta(milliseconds=123)


@settings(max_examples=40, deadline=None)
@given(instants, st.sampled_from(ZONES), st.sampled_from(ZONES))
def test_text_with_an_offset_ignores_the_configured_zone(con, utc, written_in, configured):
    local = utc.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(written_in))
    assert sql_time(con, local.isoformat(), configured) == utc
    assert sql_time(con, utc.strftime("%Y-%m-%d %H:%M:%S") + " UTC", configured) == utc


def test_the_epoch_unit_is_decided_per_column_from_the_median():
    assert infer_reading(["1511544070", "1511544071"]).epoch_unit == "s"
    assert infer_reading(["1649581149287", "1649581149288"]).epoch_unit == "ms"
    assert infer_reading(["1649581149287000", None, ""]).epoch_unit == "us"
    assert infer_reading(["1767614400000000000"]).epoch_unit == "ns"
    # One stray value does not change the column's unit: it is read in the column's unit.
    assert infer_reading(["1511544070", "1511544071", "1649581149287"]).epoch_unit == "s"


def test_a_column_that_proves_month_first_reads_its_ambiguous_dates_month_first(con):
    reading = infer_reading(["09/01/2026 10:00", "09/15/2026 10:00", "01/09/2026"])
    assert (reading.date_order, reading.order_proven, reading.order_conflict) == ("mdy", True, False)
    assert sql_time(con, "09/01/2026 10:00", "UTC", reading) == dt.datetime(2026, 9, 1, 10, 0)
    assert sql_time(con, "01/09/2026", "UTC", reading) == dt.datetime(2026, 1, 9)  # a date alone is read too
    assert parse_time("09/01/2026 10:00", "UTC", reading) == dt.datetime(2026, 9, 1, 10, 0)


def test_a_column_that_proves_neither_order_is_read_day_first_and_says_so():
    reading = infer_reading(["09/01/2026 10:00", "01/09/2026"])
    assert (reading.date_order, reading.order_proven, reading.numeric_dates) == ("dmy", False, 2)
    both = infer_reading(["13/01/2026", "01/13/2026", "14/01/2026"])
    assert (both.date_order, both.order_conflict) == ("dmy", True)
