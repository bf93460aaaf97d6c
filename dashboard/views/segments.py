"""Segments: users clustered by behaviour (k-means, k by silhouette), each described in words and numbers."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from analytics.recsys.segments import K_RANGE, segment_users
from dashboard.common import (
    current_filters,
    download_buttons,
    guarded,
    require_events,
    shared,
)
from dashboard.format import chart, count, table
from dashboard.i18n import current_lang, t
from dashboard.segment_text import named_users, segment_description, segment_names

_segments = shared(segment_users)

st.title(t("page.segments"))
st.caption(t("seg.intro"))

if require_events():
    filters = current_filters()
    with guarded():
        choices = [0, *range(K_RANGE[0], K_RANGE[1] + 1)]
        k = st.selectbox(t("seg.k"), choices, key="seg_k", format_func=lambda v: t("seg.k.auto") if v == 0 else str(v))
        result = _segments(filters, k=k or None)
        if result.status == "not_enough_users":
            st.info(t("seg.not_enough_users", n=result.users_total))
        elif result.status == "no_variation":
            st.info(t("seg.no_variation"))
        else:
            lang = current_lang()
            names = segment_names(result, lang)
            key = "seg.summary.silhouette" if result.chosen_by == "silhouette" else "seg.summary.given"
            st.caption(t(key, k=result.k, users=count(result.users_total), score=result.silhouette))
            for seg in result.segments:
                st.subheader(t("seg.segment", n=seg.segment, name=names[seg.segment]))
                st.markdown(segment_description(seg, result.overall, lang))
            st.subheader(t("seg.table"))
            shown = result.table()
            shown.insert(1, "name", [names[n] for n in shown["segment"]])
            per_user = {"views": "number", "purchases": "number"}  # averages per user, not counts
            table(shown, kinds=per_user, key="seg_table")
            if len(result.silhouette_by_k) > 1:
                fig = go.Figure(go.Bar(x=[k for k, _ in result.silhouette_by_k], y=[s for _, s in result.silhouette_by_k]))
                fig.update_layout(title=t("seg.silhouette_chart"), xaxis_title=t("seg.k"), yaxis_title=t("seg.silhouette"),
                                  xaxis_type="category", height=300)
                chart(fig, key="seg_chart")
            st.subheader(t("seg.export"))
            download_buttons(named_users(result, lang), "segments", filters, key="seg_users")
