"""Retention: cohort heatmap (incomplete cells marked), curves and the table."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from analytics.metrics.retention import (
    COHORTS,
    MEASURES,
    MODES,
    PERIODS,
    compute_retention,
)
from dashboard.common import (
    current_filters,
    download_buttons,
    guarded,
    require_events,
    shared,
)
from dashboard.format import chart, column_label, count, date, number, pct, table
from dashboard.i18n import t

_retention = shared(compute_retention)  # view toggles are free: they do not reach the call


st.title(t("page.retention"))
st.caption(t("ret.intro"))

if require_events():
    c1, c2, c3, c4 = st.columns(4)
    cohort = c1.radio(t("ret.cohort"), COHORTS, format_func=lambda v: t(f"ret.cohort.{v}"), key="ret_cohort")
    period = c2.radio(t("ret.period"), PERIODS, format_func=lambda v: t(f"ret.period.{v}"), key="ret_period")
    measure = c3.selectbox(t("ret.measure"), MEASURES, format_func=lambda v: t(f"ret.measure.{v}"), key="ret_measure")
    is_rate = measure == "users"
    mode = c4.radio(
        t("ret.mode"), MODES, format_func=lambda v: t(f"ret.mode.{v}"), key="ret_mode",
        disabled=not is_rate, help=t("ret.mode_help"),
    )
    c5, c6, c7 = st.columns(3)
    periods = int(c5.number_input(t("ret.periods"), min_value=1, max_value=60, value=8 if period == "day" else 6, key=f"ret_periods_{period}"))
    relative = c6.checkbox(t("ret.relative"), value=False, key="ret_relative")
    cumulative = c7.checkbox(t("ret.cumulative"), value=False, key="ret_cumulative", disabled=is_rate)
    filters = current_filters()
    with guarded():
        with st.spinner(t("common.working")):
            result = _retention(
                filters, cohort=cohort, period=period,
                mode=mode if is_rate else "on", measure=measure, periods=periods,
            )
        if result.status != "ok":
            st.info(t("ret.no_cohorts"))
        else:
            use_cum = cumulative and not is_rate
            st.caption(t("ret.summary", tz=result.timezone, users=count(result.users), cohorts=len(result.cohorts), end=result.data_end))
            m1, m2, m3 = st.columns(3)
            m1.metric(t("ret.users"), count(result.users))
            m2.metric(t("ret.cohort_count"), count(len(result.cohorts)))
            m3.metric(t("ret.data_end"), date(result.data_end))
            grid = result.relative(use_cum) if relative else (result.cumulative if use_cum else result.values)
            is_pct = is_rate or relative
            fmt = pct if is_pct else number
            xs = [column_label(f"{period}_{k}") for k in range(result.periods)]
            ys = [f"{date(c)} (n={count(n)})" for c, n in zip(result.cohorts, result.sizes)]
            text = [
                [t("ret.incomplete") if flag else fmt(v) for v, flag in zip(row, flags)]
                for row, flags in zip(grid, result.incomplete)
            ]
            fig = go.Figure()
            fig.add_trace(go.Heatmap(  # incomplete cells: a grey layer under the values
                z=[[1 if flag else None for flag in row] for row in result.incomplete], x=xs, y=ys,
                colorscale=[[0, "#d9d9d9"], [1, "#d9d9d9"]], showscale=False, hoverinfo="skip",
                text=[[t("ret.incomplete") if flag else "" for flag in row] for row in result.incomplete],
                texttemplate="%{text}", textfont={"color": "#555555"},
            ))
            fig.add_trace(go.Heatmap(
                z=[[None if v is None else v for v in row] for row in grid], x=xs, y=ys,
                text=text, texttemplate="%{text}", colorscale="Blues", hovertemplate="%{y} %{x}: %{text}<extra></extra>",
                colorbar={"tickformat": ".0%" if is_pct else ",.1f"},
            ))
            fig.update_layout(
                title=t("ret.heatmap"), xaxis_title=t("ret.axis_period"), yaxis_title=t("ret.axis_cohort"),
                yaxis_autorange="reversed", height=max(320, 28 * len(ys) + 140),
            )
            chart(fig, key="ret_heatmap")
            curves = go.Figure()
            for c, row, n in zip(result.cohorts, grid, result.sizes):
                curves.add_trace(go.Scatter(x=xs, y=list(row), mode="lines", name=f"{date(c)} (n={count(n)})", opacity=0.35))
            overall = result.curve(use_cum)
            if relative and overall and overall[0]:
                overall = [None if v is None else v / overall[0] for v in overall]
            curves.add_trace(go.Scatter(x=xs, y=overall, mode="lines+markers", name=t("ret.curve_all"), line={"width": 4}))
            curves.update_layout(title=t("ret.curves"), xaxis_title=t("ret.axis_period"), yaxis_tickformat=".0%" if is_pct else None)
            chart(curves, key="ret_curves")
            st.subheader(t("ret.table"))
            matrix = result.matrix_frame(cumulative=use_cum, relative=relative)
            table(matrix, kinds=dict.fromkeys(matrix.columns[2:], "percent" if is_pct else "number"), key="ret_table")
            download_buttons(result.to_frame(), f"retention_{cohort}_{period}_{measure}", filters)
