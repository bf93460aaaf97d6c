"""The dashboard's formatting layer: one way to show each kind of number, header and value."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import streamlit as st

from dashboard import format as fmt
from dashboard.i18n import TEXT


@pytest.fixture
def lang():
    """Set the session's language (bare mode: session state works without a server)."""
    def use(code: str, currency: str = "CNY") -> None:
        st.session_state["lang"] = code
        st.session_state["currency"] = currency

    yield use
    st.session_state.clear()


def test_single_values(lang):
    lang("en")
    assert fmt.pct(0.5186) == "51.9%"
    assert fmt.pct(None) == fmt.pct(float("nan")) == "–"
    assert fmt.count(12345) == "12,345"
    assert fmt.money(1234.5) == "¥1,234.50"
    assert fmt.money(-3) == "-¥3.00"
    assert fmt.multiple(1.456) == "1.46×"
    assert fmt.points(0.021) == "+2.1 pp"
    assert fmt.signed_pct(-0.125) == "-12.5%"
    assert fmt.duration(90) == "1.5 min" and fmt.duration(7200) == "2.0 h" and fmt.duration(3 * 86400) == "3.0 d"
    assert fmt.date(dt.datetime(2026, 1, 5, 23, 0)) == "2026-01-05"
    assert fmt.clock(3, 19) == "Thu 19:00"


def test_currency_is_set_once_and_used_by_every_amount(lang):
    lang("en", "USD")
    assert fmt.money(10) == "$10.00"
    _, config = fmt.shown_frame(pd.DataFrame({"revenue": [10.0]}))
    assert config["revenue"]["type_config"]["format"] == "$%,.2f"


def test_kpi_units_and_changes(lang):
    lang("en")
    assert fmt.unit_value("ratio", 0.0123) == "1.2%"
    assert fmt.unit_value("money", None) == "–"
    assert fmt.unit_change("ratio", 0.5, 0.01) == "+1.0 pp"
    assert fmt.unit_change("count", 0.5, 50) == "+50.0%"
    assert fmt.unit_change("count", None, 50) is None


def test_chinese_values_and_headers(lang):
    lang("zh")
    assert fmt.value("event", "purchase") == "购买"
    assert fmt.value("event", "view[item_id=v1]") == "播放[item_id=v1]"
    assert fmt.value("channel", "douyin") == "抖音"
    assert fmt.value("channel", "my_own_channel") == "my_own_channel"  # unknown names stay as they are
    assert fmt.value("flag", True) == "是"
    assert fmt.column_label("conversion_from_previous") == "较上一步转化率"
    assert fmt.column_label("day_3") == "第 3 天"
    assert fmt.column_label("count click") == "点击人数"
    assert fmt.weekday(0) == "周一"
    assert fmt.duration(30) == "30 秒"


def test_shown_frame_keeps_numbers_sortable_and_words_readable(lang):
    lang("en")
    raw = pd.DataFrame({
        "label": ["view", "purchase"], "conversion_rate": [1.0, 0.5185], "count": [10, 5],
        "acquired": [True, False], "weekday": [0, 6], "spend": [None, 3.5], "title": ["A", None],
    })
    shown, config = fmt.shown_frame(raw)
    assert shown["conversion_rate"].tolist() == [1.0, 0.5185]  # numbers stay numbers: sorting works
    assert config["conversion_rate"]["type_config"]["format"] == "percent"
    assert config["conversion_rate"]["label"] == "Conversion rate"
    assert shown["label"].tolist() == ["view", "purchase"]
    assert shown["acquired"].tolist() == ["Yes", "No"] and shown["weekday"].tolist() == ["Mon", "Sun"]
    assert pd.isna(shown["spend"].iloc[0]) and shown["spend"].iloc[1] == 3.5  # None among numbers: still numeric
    assert shown["title"].tolist() == ["A", "–"]
    assert raw["acquired"].tolist() == [True, False]  # the frame given (and downloaded) is unchanged
    assert not any(fmt.is_code_name(c["label"]) for c in config.values())


def test_every_table_column_has_both_languages():
    headers = [k for k in TEXT if k.startswith(("col.", "val.", "fmt."))]
    assert headers and all(set(TEXT[k]) == {"en", "zh"} for k in headers)
    assert all(f"col.{name}" in TEXT or f"kpi.{name}" in TEXT for name in fmt.COLUMN_KINDS)


def test_over_time_draws_incomplete_periods_apart_one_band_per_run(lang):
    import plotly.graph_objects as go

    lang("zh")
    days = [dt.date(2026, 9, d) for d in range(1, 6)]
    fig = fmt.over_time(go.Figure(), days, [1, 2, 3, 4, 5], [False, True, True, True, False], name="播放数")
    full, partial = fig.data
    assert list(full.x) == days[1:4] and full.mode == "lines+markers"
    assert list(partial.x) == [days[0], days[4]] and list(partial.y) == [1, 5]
    assert partial.marker.symbol == "circle-open" and "不完整的一天" in partial.hovertemplate
    assert [a.text for a in fig.layout.annotations] == ["不完整的一天", "不完整的一天"]  # the first day and the last
    assert len(fig.layout.shapes) == 2
    # a period without a value (a funnel rate not given yet) is shaded but draws no point
    fig = fmt.over_time(go.Figure(), days[:2], [0.5, None], [True, False], name="rate", label="window open")
    assert len(fig.data) == 1 and [a.text for a in fig.layout.annotations] == ["window open"]


def test_charts_carry_plotly_words_in_the_page_language(lang):
    lang("en")
    assert fmt.chart_config() == {}
    lang("zh")
    config = fmt.chart_config()
    assert config["locale"] == "zh-CN"
    words = config["locales"]["zh-CN"]
    assert words["dictionary"]["Download plot as a PNG"] == "下载为 PNG 图片"
    assert len(words["format"]["months"]) == len(words["format"]["shortMonths"]) == 12
    assert fmt.local_moment(dt.datetime(2026, 1, 25, 12, 0), "Asia/Shanghai") == "2026-01-25 20:00"


def test_a_table_is_made_once_per_content_language_and_currency(lang, monkeypatch):
    """Equal frames (a cached result unpickled anew on every rerun) share one made table; a changed
    cell, header, type, index, language or currency makes another."""
    lang("en")
    frame = pd.DataFrame({"video": ["v1", "v2", None], "views": [3, 2, 1], "hook_rate": [0.5, None, 0.25],
                          "event_type": ["view", "click", "view"], "time": pd.to_datetime(["2024-01-01"] * 3)})
    key = fmt._shown_key(frame, None, None)
    assert key == fmt._shown_key(frame.copy(), None, None)
    changed = frame.copy()
    changed.loc[1, "video"] = "v3"
    variants = [changed, frame.rename(columns={"views": "users"}), frame.astype({"views": "float64"}),
                frame.set_axis([5, 6, 7]), frame.iloc[1:], frame.iloc[:2]]
    assert all(fmt._shown_key(v, None, None) != key for v in variants)
    assert fmt._shown_key(frame, {"views": "number"}, None) != key
    lang("zh")
    assert fmt._shown_key(frame, None, None) != key
    lang("en", "USD")
    assert fmt._shown_key(frame, None, None) != key
    assert fmt._shown_key(pd.DataFrame({"cells": [[1], [2]]}), None, None) is None  # unhashable: not kept

    made = []
    monkeypatch.setattr(fmt, "_SHOWN", type(fmt._SHOWN)())
    monkeypatch.setattr(fmt, "shown_frame", lambda df, kinds, domains: made.append(len(df)) or (df, {}))
    monkeypatch.setattr(fmt.st, "dataframe", lambda *args, **kwargs: None)
    fmt.table(frame)
    fmt.table(frame.copy())
    fmt.table(changed)
    assert made == [3, 3]
