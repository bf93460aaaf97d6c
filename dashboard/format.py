"""How the dashboard shows numbers, dates, table headers, canonical values and charts.

Formatting happens here, once, at the edge: the library hands back floats in [0, 1], counts, money
amounts and codes. Tables keep those raw values (so sorting works) and get their look from
``st.column_config`` (translated header, number format); cards and captions take the strings made
by :func:`pct`, :func:`count`, :func:`money` and friends. Downloads keep the machine-readable
columns and values: pages pass the raw frame to ``download_buttons``, never a shown one.

A column's header is the text ``col.<name>`` (or the KPI's name), its help the optional text
``col.help.<name>`` (say there what a number divides by when it is not obvious).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.dataframe.lazy_df_source import AUTO_LAZY_ROW_THRESHOLD
from streamlit.dataframe_util import convert_pandas_df_to_arrow_table

from dashboard.i18n import (  # re-exported for the pages
    PERIOD_COLUMN,
    TEXT,
    column_label,
    current_lang,
    t,
    value,
)
from dashboard.numbers import MISSING, count, multiple, number, pct, signed_pct
from dashboard.numbers import is_missing as _missing
from dashboard.numbers import text as text_cell

#: Currencies a person can pick in the sidebar (code -> symbol); the first is the default.
CURRENCIES: dict[str, str] = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}
DEFAULT_CURRENCY = "CNY"

#: Fonts for charts: Latin first, then a CJK family so Chinese titles and labels render.
FONT_FAMILY = '"Source Sans Pro", "Source Sans 3", "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif'

#: Date formats: plotly (d3) for chart axes and hovers, moment.js for table columns.
CHART_DATE = "%Y-%m-%d"
TABLE_DATE = "YYYY-MM-DD"  # also the date pickers' format
TABLE_DATETIME = "YYYY-MM-DD HH:mm"

Kind = Literal[
    "text", "count", "number", "percent", "money", "multiple", "hours", "seconds",
    "date", "datetime", "rank", "hour", "weekday", "flag",
]

#: The kind of every column the library returns that a page shows, by its machine name. A page
#: passes ``kinds=`` for columns whose kind depends on a choice (a rate or a count outcome).
COLUMN_KINDS: dict[str, Kind] = {
    # counts
    **dict.fromkeys(
        (
            "users", "size", "count", "entrants", "converted", "in_progress", "dropped", "views", "videos", "buyers",
            "base_from_previous", "base_from_first",
            "started", "completed", "learners", "lessons", "n", "orders", "purchasers", "new_buyers", "active_users",
            "rated_views", "complete_views", "clicks", "purchases", "usable_views", "views_with_watch_time",
            "views_without_duration", "views_without_watch_time", "capped_views", "hooked_views", "level", "step",
            "from_step", "to_step", "decile", "segment", "rows", "line", "factors", "lesson", "recent_buyers",
        ),
        "count",
    ),
    # rates and shares in [0, 1]
    **dict.fromkeys(
        (
            "conversion_rate", "conversion_from_previous", "conversion_from_first", "expected_conversion",
            "completion_rate", "start_rate", "avg_progress", "hook_rate", "avg_percent_watched", "share",
            "like_rate", "interaction_rate", "watch_ratio", "chance_to_beat_control", "lift", "ci_low", "ci_high",
            "refund_rate", "ctr", "follow_rate", "avg_watch_ratio", "coverage",
        ),
        "percent",
    ),
    **dict.fromkeys(("revenue", "spend", "cac", "arpu", "arppu", "price"), "money"),
    "roas": "multiple",
    **dict.fromkeys(("median_hours", "p90_hours", "watch_hours"), "hours"),
    **dict.fromkeys(("length_seconds", "seconds_to_convert", "watch_seconds", "video_seconds", "duration_seconds"), "seconds"),
    **dict.fromkeys(("score", "score_min", "score_max", "similarity", "watch_ratio_sum", "p_value", "p_value_adjusted",
                     "expected_loss", "value", "raw", "shrunk", "total", "active_days", "watch_minutes", "active_hours",
                     "videos_per_week", "outcome", "precision_at_k", "days_to_complete",
                     "recall_at_k", "map_at_k", "ndcg_at_k", "ndcg_ci_low", "ndcg_ci_high", "auc", "novelty", "regularization", "alpha", "seconds",
                     "z"), "number"),
    **dict.fromkeys(("rank", "hook_rank", "hold_rank"), "rank"),
    **dict.fromkeys(("hour", "peak_hour"), "hour"),
    "weekday": "weekday",
    **dict.fromkeys(("cohort", "period_start", "date"), "date"),
    **dict.fromkeys(("time", "event_time", "entry_time", "converted_time", "local_published", "published_at"), "datetime"),
    **dict.fromkeys(("acquired", "purchasable", "significant"), "flag"),
}

#: Columns holding canonical values that read differently per language (column -> value domain).
VALUE_DOMAINS: dict[str, str] = {
    "event_type": "event", "step_reached": "event", "label": "event",
    "channel": "channel", "group": "channel",
    "status": "status", "spend_status": "spend_status",
    "source": "source", "lessons_source": "lessons_source",
    "by": "dimension", "kind": "item_kind", "severity": "level", "model": "model",
}

_SNAKE = re.compile(r"[a-z0-9]+(_[a-z0-9]+)+")


def step_words(step: str, values: Mapping[str, object]) -> str:
    """A step of long work (:data:`analytics.progress.STEPS`) with its values, in the session's
    language (a step without text: nothing)."""
    key = f"step.{step}"
    if key not in TEXT:
        return ""
    return t(key, **{k: value(k, v) if k == "model" else v for k, v in values.items()})


def progress_bar(slot, prefix: str = ""):
    """A :class:`~analytics.progress.Progress` drawing on the Streamlit element ``slot`` (an
    ``st.progress`` or ``st.empty``): the share done, ``prefix`` and the step in words."""

    def show(fraction: float, step: str = "", **values: object) -> None:
        text = " · ".join(w for w in (prefix, step_words(step, values)) if w)
        slot.progress(min(max(fraction, 0.0), 1.0), text=text or None)

    return show


def is_code_name(header: str) -> bool:
    """True for a header that is a machine name (``snake_case``), which no person should read."""
    return bool(_SNAKE.fullmatch(header))


# -- settings ------------------------------------------------------------------------------------
def currency() -> str:
    """The currency picked in the sidebar (a code of :data:`CURRENCIES`)."""
    code = st.session_state.get("currency", DEFAULT_CURRENCY)
    return code if code in CURRENCIES else DEFAULT_CURRENCY


def currency_symbol() -> str:
    return CURRENCIES[currency()]


# -- single values (cards, captions) -------------------------------------------------------------
def points(value: float | None, digits: int = 1) -> str:
    """A difference of two rates in percentage points: ``0.021`` -> ``+2.1 pp``."""
    return MISSING if _missing(value) else f"{float(value) * 100:+.{digits}f} {t('fmt.pp')}"


def money(value: float | None, digits: int = 2) -> str:
    """An amount in the chosen currency: ``1234.5`` -> ``¥1,234.50``."""
    if _missing(value):
        return MISSING
    v = float(value)
    return f"{'-' if v < 0 else ''}{currency_symbol()}{abs(v):,.{digits}f}"


def duration(seconds: float | None) -> str:
    """A duration in the unit that reads best: ``90`` -> ``1.5 min``, ``7200`` -> ``2.0 h``."""
    if _missing(seconds):
        return MISSING
    s = float(seconds)
    if s < 60:
        return t("fmt.seconds", n=f"{s:,.0f}")
    if s < 3600:
        return t("fmt.minutes", n=f"{s / 60:,.1f}")
    if s < 2 * 86400:
        return t("fmt.hours", n=f"{s / 3600:,.1f}")
    return t("fmt.days", n=f"{s / 86400:,.1f}")


def date(value: dt.date | dt.datetime | None) -> str:
    """A date (or a datetime's day) as ``YYYY-MM-DD``."""
    if _missing(value):
        return MISSING
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def local_moment(utc: dt.datetime | None, timezone: str) -> str:
    """A naive UTC time (as the library returns it) as ``YYYY-MM-DD HH:MM`` in ``timezone``."""
    if _missing(utc):
        return MISSING
    return pd.Timestamp(utc).tz_localize("UTC").tz_convert(timezone).strftime("%Y-%m-%d %H:%M")


def weekday(day: int) -> str:
    """Monday = 0 as the language's short day name."""
    return t(f"fmt.day.{int(day)}")


def clock(day: int, hour: int) -> str:
    """A weekday and an hour: ``(3, 19)`` -> ``Thu 19:00``."""
    return t("fmt.when", day=weekday(day), hour=int(hour))


def unit_value(unit: str, raw: float | None) -> str:
    """A value of a KPI unit (``count``, ``ratio``, ``money``, ``multiple``, ``hours``)."""
    return {"count": count, "ratio": pct, "money": money, "multiple": multiple}.get(unit, number)(raw)


def unit_change(unit: str, change: float | None, difference: float | None) -> str | None:
    """The change of a KPI against the previous period: points for rates, relative otherwise."""
    if unit == "ratio":
        return None if _missing(difference) else points(difference)
    return None if _missing(change) else signed_pct(change)


# -- tables --------------------------------------------------------------------------------------
def column_kind(name: str) -> Kind:
    if name in COLUMN_KINDS:
        return COLUMN_KINDS[name]
    if PERIOD_COLUMN.fullmatch(name):
        return "percent"
    if name.startswith("count "):
        return "count"
    from analytics.metrics.kpis import KPI_BY_NAME

    kpi = KPI_BY_NAME.get(name)
    if kpi is not None:
        return {"count": "count", "ratio": "percent", "money": "money", "multiple": "multiple"}.get(kpi.unit, "number")
    return "text"


#: ``st.column_config.NumberColumn`` formats (printf-style, or Streamlit's named ones) per kind.
NUMBER_FORMATS: dict[str, str] = {
    "count": "%,d", "percent": "percent", "multiple": "%,.2f×", "hours": "%,.1f",
    "seconds": "%,.0f", "number": "%,.3f", "rank": "%d", "hour": "%02d:00",
}


#: Columns of sentences: given room so that they are not cut off after a few words.
LONG_TEXT = {"why", "contributions", "message", "reason", "raw"}


def _config(kind: Kind, label: str, help: str | None, long_text: bool = False):
    cc = st.column_config
    if kind == "money":
        return cc.NumberColumn(label, help=help, format=f"{currency_symbol()}%,.2f")
    if kind in NUMBER_FORMATS:
        return cc.NumberColumn(label, help=help, format=NUMBER_FORMATS[kind])
    if kind == "date":
        return cc.DateColumn(label, help=help, format=TABLE_DATE)
    if kind == "datetime":
        return cc.DatetimeColumn(label, help=help, format=TABLE_DATETIME)
    return cc.TextColumn(label, help=help, width="large" if long_text else None)


def _in_words(series: pd.Series, domain: str) -> list[str]:
    """:func:`value` of every cell, worded once per distinct value (a table may hold thousands of rows)."""
    codes, distinct = pd.factorize(series)
    words = [value(domain, v) for v in distinct.tolist()] + [MISSING]  # code -1: a missing cell
    return [words[c] for c in codes]


def shown_frame(df: pd.DataFrame, kinds: Mapping[str, Kind] | None = None,
                domains: Mapping[str, str | None] | None = None) -> tuple[pd.DataFrame, dict]:
    """``df`` ready for a person: canonical values translated, flags and weekdays in words, and the
    ``column_config`` (translated headers, number formats) that keeps numbers sortable.

    ``kinds`` overrides :data:`COLUMN_KINDS` for this frame; ``domains`` overrides
    :data:`VALUE_DOMAINS` (``None`` for a column whose values are already in words)."""
    kinds = dict(kinds or {})
    domains = {**VALUE_DOMAINS, **(domains or {})}
    out = df.copy()
    config: dict[str, Any] = {}
    for name in out.columns:
        col = str(name)
        kind = kinds.get(col) or column_kind(col)
        series = out[name]
        if kind == "flag" or pd.api.types.is_bool_dtype(series):
            out[name] = _in_words(series.map(lambda v: v if _missing(v) else bool(v)), "flag")
            kind = "text"
        elif kind == "weekday":
            out[name] = [MISSING if _missing(v) else weekday(v) for v in series]
            kind = "text"
        elif domains.get(col) and not pd.api.types.is_numeric_dtype(series):
            out[name] = _in_words(series, domains[col])
        elif kind in ("date", "datetime") and series.dtype == object:
            out[name] = pd.to_datetime(series, errors="coerce")
        elif kind not in ("text", "date", "datetime") and not pd.api.types.is_numeric_dtype(series):
            numbers = pd.to_numeric(series, errors="coerce")
            if numbers.notna().sum() == series.notna().sum():  # numbers with None among them
                out[name] = numbers
            else:  # a name shared with a numeric column elsewhere (the "raw" line of a rejected row)
                kind = "text"
        if kind == "text" and not pd.api.types.is_numeric_dtype(out[name]):
            out[name] = [MISSING if _missing(v) else text_cell(v) if isinstance(v, Mapping) else v for v in out[name]]
        help_key = f"col.help.{col}"
        config[col] = _config(kind, column_label(col), t(help_key) if help_key in TEXT else None, col in LONG_TEXT)
    return out, config


#: Tables already made, by content, overrides, language and currency (the least recently used goes
#: first): a page shows the same results on every rerun and to every session, and wording a table
#: cell by cell, then converting it to Arrow, costs more than hashing it.
_SHOWN: OrderedDict[tuple, tuple[Any, dict]] = OrderedDict()
_SHOWN_KEPT = 256
_SHOWN_LOCK = threading.Lock()


def _cells_digest(df: pd.DataFrame) -> bytes | None:
    """A digest of ``df``'s index, column names, types and cells, or ``None`` for cells that cannot be
    hashed. Arrow-backed columns (text) are read as their Arrow buffers (with each chunk's offset and
    length, which with the buffers fix its values) and numpy columns as their bytes: no cell becomes a
    Python object."""
    digest = hashlib.blake2b(digest_size=16)
    index = df.index
    if isinstance(index, pd.RangeIndex):
        digest.update(repr((index.start, index.stop, index.step)).encode())
    else:
        try:
            digest.update(pd.util.hash_pandas_object(index).to_numpy().tobytes())
        except TypeError:
            return None
    for name, column in df.items():
        digest.update(repr((str(name), str(column.dtype))).encode())
        values = column.array
        if hasattr(values, "__arrow_array__"):
            chunks = values.__arrow_array__()
            for chunk in getattr(chunks, "chunks", [chunks]):
                digest.update(repr((chunk.offset, len(chunk))).encode())
                for buffer in chunk.buffers():
                    digest.update(b"-" if buffer is None else buffer)
        elif isinstance(column.dtype, np.dtype) and column.dtype.kind in "biufcmM":
            digest.update(np.ascontiguousarray(column.to_numpy()).tobytes())
        else:
            try:
                digest.update(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes())
            except TypeError:  # lists, dicts: shown without the memo
                return None
    return digest.digest()


def _shown_key(df: pd.DataFrame, kinds, domains) -> tuple | None:
    """What :func:`shown_frame` depends on, or ``None`` for a frame whose cells cannot be hashed."""
    cells = _cells_digest(df)
    if cells is None:
        return None
    return (cells, repr(sorted((kinds or {}).items())), repr(sorted((domains or {}).items())), current_lang(), currency())


def _made(df: pd.DataFrame, kinds, domains) -> tuple[Any, dict]:
    """:func:`shown_frame` as ``st.dataframe`` receives it: a table small enough to be sent whole
    (not in lazy chunks) as the very Arrow table Streamlit would convert it to, else the frame."""
    shown, config = shown_frame(df, kinds, domains)
    if len(shown) <= AUTO_LAZY_ROW_THRESHOLD and not isinstance(shown.columns, pd.MultiIndex):
        return convert_pandas_df_to_arrow_table(shown), config
    return shown, config


def table(df: pd.DataFrame, *, kinds: Mapping[str, Kind] | None = None, domains: Mapping[str, str | None] | None = None,
          key: str | None = None) -> None:
    """Show ``df`` as a sortable table with translated headers and values (see :func:`shown_frame`)."""
    memo = _shown_key(df, kinds, domains)
    with _SHOWN_LOCK:
        made = _SHOWN.get(memo) if memo is not None else None
        if made is not None:
            _SHOWN.move_to_end(memo)
    if made is None:
        made = _made(df, kinds, domains)
        if memo is not None:
            with _SHOWN_LOCK:
                _SHOWN[memo] = made
                while len(_SHOWN) > _SHOWN_KEPT:
                    _SHOWN.popitem(last=False)
    data, config = made
    # shared between reruns and sessions: Streamlit reads both (it copies the column config), never writes them
    st.dataframe(data, column_config=config, hide_index=True, width="stretch", placeholder=MISSING, key=key)


# -- charts --------------------------------------------------------------------------------------
def _holds_dates(values: Any) -> bool:
    if values is None:
        return False
    if isinstance(values, (pd.Series, pd.Index)):
        if pd.api.types.is_datetime64_any_dtype(values):
            return True
        values = values.tolist()
    try:
        first = next((v for v in values if v is not None), None)
    except TypeError:
        return False
    return isinstance(first, (dt.date, pd.Timestamp))


#: plotly.js's own strings in Chinese (mode-bar tooltips, hints) and its date and number words. The
#: plotly.js bundle that Streamlit ships registers only ``en`` and ``en-US``, so the locale travels
#: with each chart in plotly's ``config.locales`` (a documented plotly.js option) instead.
PLOTLY_ZH_CN: dict[str, Any] = {
    "dictionary": {
        "Autoscale": "自动缩放", "Box Select": "框选", "Lasso Select": "套索选择", "Pan": "平移", "Zoom": "缩放",
        "Zoom in": "放大", "Zoom out": "缩小", "Reset axes": "重置坐标轴", "Reset": "重置", "Reset view": "重置视图",
        "Reset views": "重置视图", "Download plot as a PNG": "下载为 PNG 图片", "Download plot": "下载图表",
        "Toggle Spike Lines": "显示或隐藏辅助线", "Show closest data on hover": "悬停时显示最近的数据",
        "Compare data on hover": "悬停时对比数据", "Toggle show closest data on hover": "切换悬停显示最近的数据",
        "Double-click to zoom back out": "双击还原", "Double-click on legend to isolate one trace": "双击图例只显示这一项",
        "Taking snapshot - this may take a few seconds": "正在生成图片，请稍候",
        "Snapshot succeeded": "图片已生成", "Sorry, there was a problem downloading your snapshot!": "抱歉，图片下载失败。",
        "Produced with Plotly.js": "由 Plotly.js 生成", "Orbital rotation": "轨道旋转", "Turntable rotation": "转台旋转",
        "Reset camera to default": "重置视角", "Reset camera to last save": "还原到上次保存的视角",
    },
    "format": {
        "days": ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
        "shortDays": ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
        "months": [f"{n}月" for n in ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二")],
        "shortMonths": [f"{n}月" for n in range(1, 13)],
        "date": "%Y-%m-%d", "decimal": ".", "thousands": ",",
    },
}


def chart_config() -> dict[str, Any]:
    """plotly's ``config`` for a chart in the page language (``{}`` in English, plotly's own)."""
    if current_lang() != "zh":
        return {}
    return {"locale": "zh-CN", "locales": {"zh-CN": PLOTLY_ZH_CN}}


def chart(fig: go.Figure, *, key: str | None = None) -> None:
    """Show a plotly figure in the dashboard's look: a font that holds Chinese, dates as
    ``YYYY-MM-DD`` (the same in both languages), plotly's own words in the page language, the full width."""
    layout = fig.layout  # set one by one: update_layout validates and batches, several times the cost
    layout.font.family = FONT_FAMILY
    layout.hoverlabel.font.family = FONT_FAMILY
    if any(_holds_dates(getattr(trace, "x", None)) for trace in fig.data):
        fig.update_xaxes(tickformat=CHART_DATE, hoverformat=CHART_DATE)
    st.plotly_chart(fig, width="stretch", key=key, config=chart_config())


def over_time(fig: go.Figure, x: Any, y: Any, complete: Any, *, name: str, step_days: int = 1,
              label: str | None = None, hover: str = "%{y}") -> go.Figure:
    """Add a series over time to ``fig`` the one way every over-time chart marks incomplete periods.

    ``complete`` is the library's flag per period (a funnel entry period whose window has not
    closed, a day the data does not cover in full): complete periods are a line; incomplete ones
    are hollow grey markers off the line (when they have a value at all), on a shaded band
    labelled ``label`` (default: "incomplete day"), and their hover says so. ``hover`` is the value's
    plotly hover format.
    """
    frame = pd.DataFrame({"x": list(x), "y": list(y), "complete": [bool(c) for c in complete]})
    done, open_ = frame[frame["complete"]], frame[~frame["complete"]]
    label = label or t("fmt.incomplete_day")
    fig.add_trace(go.Scatter(x=done["x"].tolist(), y=done["y"].tolist(), mode="lines+markers", name=name,
                             hovertemplate=f"%{{x|{CHART_DATE}}}: {hover}<extra>{name}</extra>"))
    if open_["y"].notna().any():
        fig.add_trace(go.Scatter(x=open_["x"].tolist(), y=open_["y"].tolist(), mode="markers", name=f"{name} ({label})",
                                 marker={"symbol": "circle-open", "size": 10, "color": "gray"},
                                 hovertemplate=f"%{{x|{CHART_DATE}}}: {hover}<extra>{label}</extra>"))
    step = pd.Timedelta(days=step_days)
    starts = [pd.Timestamp(v) for v in open_["x"]]
    run_start = None
    for i, start in enumerate(starts):  # one shaded band per run of consecutive incomplete periods
        run_start = start if run_start is None else run_start
        if i + 1 == len(starts) or starts[i + 1] - start > step:
            fig.add_vrect(x0=run_start - step / 2, x1=start + step / 2, fillcolor="gray", opacity=0.15, line_width=0,
                          annotation_text=label, annotation_position="top left")
            run_start = None
    fig.update_layout(xaxis_type="date")
    return fig
