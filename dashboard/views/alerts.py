"""Alerts: KPI days outside the band expected from their history, the KPI chart with its band, and why."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.metrics.alerts import MIN_DAILY_DENOMINATOR, MIN_HISTORY_DAYS
from analytics.metrics.kpis import KPI_BY_NAME
from dashboard.change import (
    cached_alerts,
    cached_explain,
    digest_folder,
    show_explanation,
    start_digest_writer,
)
from dashboard.change_text import segment_text
from dashboard.common import current_filters, download_buttons, guarded, require_events
from dashboard.format import chart, over_time, unit_value
from dashboard.i18n import t


def _band_chart(band, kpi) -> go.Figure:
    frame = band.frame
    scale = 100.0 if kpi.unit == "ratio" else 1.0
    days = frame["day"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=days, y=frame["high"] * scale, line={"width": 0}, showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=days, y=frame["low"] * scale, fill="tonexty", line={"width": 0},
                             fillcolor="rgba(99,110,250,0.15)", name=t("al.legend.band")))
    fig.add_trace(go.Scatter(x=days, y=frame["expected"] * scale, line={"dash": "dot"}, name=t("al.legend.expected")))
    over_time(fig, days, frame["value"] * scale, frame["complete"], name=t("al.legend.value"), hover="%{y:,.2f}")
    out = frame[frame["judged"] & ((frame["value"] < frame["low"]) | (frame["value"] > frame["high"]))]
    fig.add_trace(go.Scatter(x=out["day"], y=out["value"] * scale, mode="markers", name=t("al.legend.alert"),
                             marker={"size": 12, "color": "red", "symbol": "x"}))
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      yaxis_title=t(f"kpi.{kpi.name}") + (" (%)" if kpi.unit == "ratio" else ""))
    return fig


st.title(t("page.alerts"))
if require_events():
    start_digest_writer()
    filters = current_filters()
    with guarded():
        with st.spinner(t("common.working")):
            report = cached_alerts(filters)
        st.caption(t("al.caption", z=f"{report.z:g}", min_den=f"{MIN_DAILY_DENOMINATOR:,.0f}"))
        if report.status == "short_history":
            st.info(t("al.short_history", days=MIN_HISTORY_DAYS))
        elif report.status != "ok":
            st.info(t("common.no_rows"))
        else:
            st.metric(t("al.count", n=len(report.alerts)), len(report.alerts), border=True)
            if not report.alerts:
                st.success(t("al.none"))
            else:
                st.subheader(t("al.table"))
                table = pd.DataFrame(
                    {
                        t("al.col.day"): [a.day for a in report.alerts],
                        t("al.col.kpi"): [t(f"kpi.{a.kpi}") for a in report.alerts],
                        t("al.col.segment"): [segment_text(a.segment) for a in report.alerts],
                        t("al.col.value"): [unit_value(KPI_BY_NAME[a.kpi].unit, a.value) for a in report.alerts],
                        t("al.col.expected"): [unit_value(KPI_BY_NAME[a.kpi].unit, a.expected) for a in report.alerts],
                        t("al.col.low"): [unit_value(KPI_BY_NAME[a.kpi].unit, a.low) for a in report.alerts],
                        t("al.col.high"): [unit_value(KPI_BY_NAME[a.kpi].unit, a.high) for a in report.alerts],
                        t("al.col.z"): [round(a.z, 1) for a in report.alerts],
                    }
                )
                z_column = st.column_config.NumberColumn(t("al.col.z"), format="%.1f")
                st.dataframe(table, hide_index=True, width="stretch", column_config={t("al.col.z"): z_column})
                download_buttons(pd.DataFrame([a.to_dict() for a in report.alerts]).drop(columns="explanation"),
                                 "alerts", report.window, key="al_table")

            st.subheader(t("al.chart"))
            alerted = list(dict.fromkeys((a.kpi, a.segment) for a in report.alerts))
            series = alerted + [(b.kpi, b.segment) for b in report.bands if (b.kpi, b.segment) not in alerted]
            c1, c2 = st.columns(2)
            kpis = list(dict.fromkeys(k for k, _ in series))
            kpi_name = c1.selectbox(t("al.chart_kpi"), kpis, format_func=lambda k: t(f"kpi.{k}"), key="al_kpi")
            segments = [s for k, s in series if k == kpi_name]
            segment = c2.selectbox(t("al.chart_segment"), segments, format_func=segment_text, key="al_segment")
            band = report.band(kpi_name, dict(segment))
            kpi = KPI_BY_NAME[kpi_name]
            if band is None:
                st.info(t("al.no_band"))
            else:
                chart(_band_chart(band, kpi), key="al_chart")
                days = [a.day for a in report.alerts if a.kpi == kpi_name and a.segment == segment]
                if days:
                    day = st.selectbox(t("al.col.day"), days, format_func=dt.date.isoformat, key="al_day")
                    seg = dict(segment)
                    base = dataclasses.replace(filters, date_from=day, date_to=day)
                    if "channel" in seg:
                        base = dataclasses.replace(base, channels=(seg["channel"],))
                    week = day - dt.timedelta(days=7)
                    before = dataclasses.replace(base, date_from=week, date_to=week)
                    st.markdown(f"#### {t('al.explained', kpi=t(f'kpi.{kpi_name}'), day=day)}")
                    show_explanation(cached_explain(kpi_name, base, before), "al_explain")
        st.caption(t("al.digest", folder=str(digest_folder())))
