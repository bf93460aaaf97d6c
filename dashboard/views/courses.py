"""Course completion: purchase -> lesson 1 -> ... -> last lesson, where learners stop, split by acquisition."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from analytics.metrics.courses import SPLITS, course_completion
from dashboard.common import (
    current_filters,
    download_buttons,
    guarded,
    require_events,
    shared,
)
from dashboard.format import chart, count, number, pct, table
from dashboard.i18n import t
from dashboard.numbers import is_missing

_completion = shared(course_completion)


def _step_label(step: int) -> str:
    return t("courses.purchase") if step == 0 else t("courses.lesson", k=int(step))


def _funnel(funnel) -> go.Figure:
    fig = go.Figure(
        go.Funnel(
            y=[_step_label(s) for s in funnel.step],
            x=funnel.learners,
            textinfo="value+percent initial",
        )
    )
    fig.update_layout(margin=dict(t=10, b=10), height=max(260, 48 * len(funnel)))
    return fig


def _stops(stops) -> go.Figure:
    fig = go.Figure(go.Bar(x=stops.last_lesson, y=stops.learners))
    fig.update_layout(
        xaxis=dict(title=t("courses.last_lesson"), dtick=1),
        yaxis_title=t("courses.learners"),
        margin=dict(t=10, b=10),
        height=300,
    )
    return fig


st.title(t("page.courses"))
if require_events():
    filters = current_filters()
    st.caption(t("courses.caption"))
    with guarded():
        c1, c2, c3 = st.columns([2, 2, 1])
        by = c2.radio(t("courses.by"), SPLITS, index=1, horizontal=True, key="crs_by",
                      format_func=lambda b: t(f"courses.by.{b}"))
        count_starts = c3.checkbox(t("courses.count_starts"), key="crs_starts")
        with st.spinner(t("common.working")):
            result = _completion(filters, by=by, count_starts=count_starts)
        if result.status == "no_courses":
            st.info(t("courses.no_courses"))
        elif result.status == "no_buyers":
            st.info(t("courses.no_buyers"))
        else:
            bought = result.courses[result.courses.buyers > 0]
            titles = dict(zip(bought.course_id, bought.title))
            course = c1.selectbox(
                t("courses.course"), list(bought.course_id), key="crs_course",
                format_func=lambda c: f"{titles[c]} ({c})" if isinstance(titles.get(c), str) else c,
            )
            row = bought.set_index("course_id").loc[course]
            m = st.columns(4)
            m[0].metric(t("courses.buyers"), count(row.buyers), border=True)
            m[1].metric(t("courses.start_rate"), pct(row.start_rate), border=True)
            m[2].metric(t("courses.completion_rate"), pct(row.completion_rate), border=True)
            m[3].metric(t("courses.avg_progress"), pct(row.avg_progress), border=True)
            st.caption(t("courses.lessons_caption", lessons=row.lessons, source=t(f"courses.source.{row.lessons_source}")))
            if not is_missing(row.recent_buyers) and row.recent_buyers > 0:
                st.info(t("courses.still_learning", recent=count(row.recent_buyers), buyers=count(row.buyers),
                          days=number(row.days_to_complete, 0)))

            left, right = st.columns(2)
            with left:
                st.subheader(t("courses.funnel"))
                funnel = result.funnel[result.funnel.course_id == course]
                chart(_funnel(funnel), key="crs_funnel")
                download_buttons(funnel, f"course_funnel_{course}", filters, key="crs_funnel")
            with right:
                st.subheader(t("courses.stops"))
                stops = result.stops[result.stops.course_id == course]
                chart(_stops(stops), key="crs_stops")

            st.subheader(t("courses.gaps"))
            gaps = result.gaps[result.gaps.course_id == course]
            if gaps.empty:
                st.info(t("courses.no_gaps"))
            else:
                table(gaps, key="crs_gaps_table")

            st.subheader(t("courses.split", by=t(f"courses.by.{by}")))
            st.caption(t("courses.split_caption"))
            split = result.split[result.split.course_id == course].copy()
            split["group"] = [
                g if acquired and isinstance(g, str) else t("courses.unknown") if acquired else t("courses.no_view")
                for g, acquired in zip(split.group, split.acquired)
            ]
            table(split, key="crs_split_table")
            download_buttons(result.split, f"course_completion_by_{by}", filters, key="crs_split")

            st.subheader(t("courses.overview"))
            table(result.courses, key="crs_all_table")
            download_buttons(result.courses, "course_completion", filters, key="crs_all")
