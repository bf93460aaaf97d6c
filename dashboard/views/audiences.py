"""Audiences: for a course or video, the users most likely to engage, with expected conversion; export."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from analytics.recsys.audiences import item_audience  # noqa: E402
from analytics.recsys.recommend import AlsParams  # noqa: E402
from analytics.recsys.similarity import choose_items  # noqa: E402
from dashboard.common import (  # noqa: E402
    current_filters,
    download_buttons,
    duckdb_only,
    get_store,
    guarded,
    require_events,
    trained_model,
)
from dashboard.format import chart, count, number, pct, table  # noqa: E402
from dashboard.i18n import t  # noqa: E402

st.title(t("page.audiences"))
st.caption(t("aud.intro"))

if duckdb_only() and require_events():
    store = get_store()
    filters = current_filters()
    with guarded():
        params = AlsParams(**st.session_state.get("rec_params", {}))  # the model the Recommendations page uses
        model = trained_model(params, filters)
        ranked = choose_items(model, "top", len(model.item_ids))
        options = sorted(ranked, key=lambda i: not (model.catalog.get(i) or {}).get("purchasable"))  # sold items first
        c1, c2, c3 = st.columns([3, 1, 2])
        item = c1.selectbox(t("aud.item"), options, key="aud_item", format_func=lambda i: f"{model.title(i) or i} ({i})")
        k = int(c2.number_input(t("aud.k"), 1, 1_000_000, 100, key="aud_k"))
        include = c3.checkbox(t("aud.include_engaged"), value=False, key="aud_include_engaged")
        result = item_audience(store, model, item, k, exclude_engaged=not include, filters=filters)
        m1, m2, m3, m4 = st.columns(4)
        m1.metric(t("aud.size"), count(result.size), t("aud.pool", pool=count(result.pool)), delta_color="off")
        m2.metric(t("aud.expected"), number(result.expected_conversions))
        m3.metric(t("aud.expected_rate"), pct(result.expected_rate))
        m4.metric(t("aud.base_rate"), pct(result.base_rate))
        st.caption(t("aud.outcome.purchase") if result.outcome == "purchase" else t("aud.outcome.engagement"))
        st.caption(t("aud.definition"))
        if result.status == "nobody_left":
            st.info(t("aud.nobody_left"))
        else:
            st.subheader(t("aud.list"))
            frame = result.to_frame()
            table(frame, key="aud_list_table")
            download_buttons(frame, f"audience_{result.item}", filters, key="aud_list")
        with st.expander(t("aud.calibration")):
            calibration = result.calibration_frame()
            fig = go.Figure(go.Bar(x=calibration["decile"], y=calibration["conversion_rate"]))
            fig.update_layout(xaxis_title=t("aud.chart.x"), yaxis_title=t("aud.chart.y"), yaxis_tickformat=".0%",
                              xaxis_type="category", height=300)
            chart(fig, key="aud_chart")
            table(calibration, key="aud_calibration_table")
