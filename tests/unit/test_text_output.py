"""One way to write each kind of number (dashboard.numbers), and the CLI's aligned tables."""

import re

import pandas as pd

from analytics.cli import text_output as out
from dashboard import numbers


def test_numbers_read_the_same_in_every_command():
    assert numbers.pct(0.5186) == "51.9%" and numbers.pct(None) == numbers.pct(float("nan")) == "–"
    assert numbers.signed_pct(0.12) == "+12.0%"
    assert numbers.count(12345) == "12,345"
    assert numbers.money(1234.5) == "1,234.50"
    assert numbers.multiple(1.456) == "1.46×"
    assert numbers.significant(0.000123456) == "0.0001235"


def test_text_cells_write_extra_columns_and_times_as_a_person_reads_them():
    import datetime as dt

    assert numbers.text({"properties.$os": "iOS", "coupon": None}) == "properties.$os: iOS; coupon: –"
    assert numbers.text({}) == numbers.text(None) == "–"
    assert numbers.text(pd.Timestamp("2024-03-01 18:00:00.123")) == "2024-03-01 18:00:00.123"
    assert numbers.text(dt.datetime(2024, 3, 1, 18, 0)) == "2024-03-01 18:00:00"
    assert numbers.text("u1") == "u1"


def test_table_writes_kpi_columns_by_their_unit_and_aligns_them():
    frame = pd.DataFrame({"channel": ["douyin", "kuaishou"], "views": [3462, 7], "ctr": [0.0416, None],
                          "revenue": [1237.9, 0.0], "roas": [0.343, None]})
    lines = out.table(frame).splitlines()
    # the headers are words, never the machine names (a column without words keeps its name)
    assert re.split(r"\s{2,}", lines[0].strip()) == ["Channel", "Views", "Click-through rate", "Revenue (net)", "ROAS"]
    assert out.table(pd.DataFrame({"props.level": ["a"]})).splitlines()[0] == "props.level"
    assert lines[1].split() == ["douyin", "3,462", "4.2%", "1,237.90", "0.34×"]
    assert lines[2].split() == ["kuaishou", "7", "–", "0.00", "–"]
    assert len({len(line) for line in lines[1:]}) == 1  # right-aligned numbers line up
    assert out.table(frame.iloc[:0]) == "(no rows)"


def test_table_aligns_chinese_text_by_the_columns_it_takes():
    lines = out.table(pd.DataFrame({"campaign": ["计划A", "plan_b"], "views": [12, 3456]})).splitlines()
    assert [out.shown_width(line) for line in lines] == [15, 15, 15]  # every row ends in the same column
    assert lines[1] == "计划A        12" and out.shown_width("计划A") == 5
