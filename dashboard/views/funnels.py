"""Funnels: step builder, order mode, windows, hold, count, breakdown; chart, tables, user lists."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from analytics.metrics.funnels import (
    BREAKDOWNS,
    COUNTS,
    HOLD_COLUMNS,
    MODES,
    PERIODS,
    STATUSES,
    TOUCHES,
    FunnelSpec,
    compute_funnel,
    parse_duration,
    parse_step_windows,
    parse_steps,
)
from analytics.store.schema import EVENT_TYPES
from dashboard.common import (
    current_filters,
    download_buttons,
    guarded,
    require_events,
    shared,
)
from dashboard.format import (
    chart,
    column_label,
    count,
    duration,
    local_moment,
    over_time,
    pct,
    table,
    value,
)
from dashboard.i18n import t

_funnel = shared(compute_funnel)


def _step_bases(steps) -> None:
    """Say what each rate divides by when entrants still in progress are left out of it."""
    entrants = steps[0].count
    if all(s.base_from_first == entrants for s in steps):
        return
    st.caption(t("fun.step_base_note"))
    for s in steps[1:]:
        st.caption(t("fun.step_base", n=s.step, step=s.label, count=count(s.count), base=count(s.base_from_first),
                     rate=pct(s.conversion_from_first), open=count(entrants - s.base_from_first)))


def _over_time_chart(ot, period: str) -> go.Figure:
    """Rates of complete periods as a line; incomplete periods shaded, without a rate."""
    fig = over_time(go.Figure(), ot["period_start"], ot["conversion_rate"], ot["complete"], name=t("fun.over_time_rate"),
                    step_days=7 if period == "week" else 1, label=t("fun.over_time_open"), hover="%{y:.1%}")
    fig.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, 1.05], height=300)
    return fig


st.title(t("page.funnels"))
st.caption(t("fun.intro"))

if require_events():
    picked = st.multiselect(
        t("fun.steps"), EVENT_TYPES, default=["view", "click", "purchase"], help=t("fun.steps_help"), key="fun_steps",
        format_func=lambda e: value("event", e), placeholder=t("common.choose"),
    )
    conditions = []
    if picked:
        cols = st.columns(len(picked))
        for i, (col, step) in enumerate(zip(cols, picked), start=1):
            conditions.append(
                col.text_input(t("fun.condition", n=i, step=value("event", step)), key=f"fun_cond_{i}_{step}", help=t("fun.condition_help"))
            )
    c1, c2, c3, c4 = st.columns(4)
    mode = c1.radio(t("fun.mode"), MODES, format_func=lambda v: t(f"fun.mode.{v}"), key="fun_mode")
    window = c2.text_input(t("fun.window"), value="7d", help=t("fun.window_help"), key="fun_window")
    step_windows = c2.text_input(
        t("fun.step_windows"), value="", help=t("fun.step_windows_help"), key="fun_step_windows", disabled=mode == "any"
    )
    counting = c3.radio(t("fun.count"), COUNTS, format_func=lambda v: t(f"fun.count.{v}"), key="fun_count")
    hold = c3.selectbox(t("fun.hold"), (None, *HOLD_COLUMNS), format_func=lambda v: t("fun.none") if v is None else column_label(v), key="fun_hold")
    by = c4.selectbox(t("fun.by"), (None, *BREAKDOWNS), format_func=lambda v: t("fun.none") if v is None else column_label(v), key="fun_by")
    touch = c4.radio(t("fun.touch"), TOUCHES, format_func=lambda v: t(f"fun.touch.{v}"), key="fun_touch", disabled=by is None, horizontal=True)
    period = c4.radio(t("fun.period"), PERIODS, format_func=lambda v: t(f"fun.period.{v}"), key="fun_period", horizontal=True)
    filters = current_filters()

    if len(picked) < 2:
        st.info(t("fun.need_two"))
    else:
        with guarded():
            text = ",".join(f"{s}[{c.strip()}]" if c.strip() else s for s, c in zip(picked, conditions))
            steps = parse_steps(text)
            spec = FunnelSpec(
                steps=steps,
                window_seconds=parse_duration(window, t("fun.window")),
                step_windows=parse_step_windows(step_windows if mode != "any" else "", len(steps)),
                mode=mode,
                hold=hold,
                count=counting,
                breakdown=by,
                touch=touch,
                period=period,
            )
            with st.spinner(t("common.working")):  # the first funnel after an upload builds the event index
                result = _funnel(spec, filters)
            if result.status != "ok":
                st.info(t("fun.no_entrants"))
            else:
                m1, m2, m3, m4 = st.columns(4)
                m1.metric(t("fun.entrants"), count(result.entrants))
                m2.metric(t("fun.converted"), count(result.converted))
                m3.metric(t("fun.rate"), pct(result.conversion_rate))
                m4.metric(t("fun.in_progress"), count(result.in_progress))
                if result.in_progress:
                    st.warning(t("fun.in_progress_note", n=count(result.in_progress), end=local_moment(result.data_end, result.timezone)))

                labels = [f"{s.step}. {value('event', s.label)}" for s in result.steps]
                fig = go.Figure(
                    go.Funnel(
                        y=labels,
                        x=[s.count for s in result.steps],
                        text=[t("fun.chart_text", count=count(s.count), base=count(s.base_from_first), rate=pct(s.conversion_from_first))
                              if s.step > 1 else count(s.count) for s in result.steps],
                        textinfo="text",
                    )
                )
                fig.update_layout(title=t("fun.chart"), height=120 + 60 * len(labels))
                chart(fig, key="fun_chart")
                _step_bases(result.steps)

                st.subheader(t("fun.table"))
                steps_df = result.steps_frame()
                table(steps_df, key="fun_steps_table")
                download_buttons(steps_df, "funnel_steps", filters)

                st.subheader(t("fun.ttc"))
                if result.median_seconds_to_convert is None:
                    st.caption(t("fun.ttc_none"))
                else:
                    st.caption(
                        t(
                            "fun.ttc_summary",
                            median=duration(result.median_seconds_to_convert),
                            p90=duration(result.p90_seconds_to_convert),
                            n=count(len(result.seconds_to_convert)),
                        )
                    )
                    hist = go.Figure(go.Histogram(x=[s / 3600 for s in result.seconds_to_convert], nbinsx=40))
                    hist.update_layout(xaxis_title=t("fun.hours"), yaxis_title=t("fun.axis_count"), height=300)
                    chart(hist, key="fun_ttc_chart")

                st.subheader(t("fun.over_time"))
                ot = result.over_time
                chart(_over_time_chart(ot, spec.period), key="fun_over_time_chart")
                open_periods = ot[~ot["complete"]]
                if len(open_periods):
                    st.caption(t(f"fun.over_time_incomplete.{spec.period}", first=open_periods["period_start"].min()))
                table(ot, key="fun_over_time_table")
                download_buttons(ot, "funnel_over_time", filters)

                if result.segments:
                    st.subheader(t("fun.segments"))
                    st.caption(t("fun.segments_note", n=spec.min_segment))
                    seg = result.segments_frame()
                    table(seg, domains={"segment": None}, key="fun_segments_table")
                    download_buttons(seg, f"funnel_by_{by}", filters)

                st.subheader(t("fun.users"))
                u1, u2 = st.columns(2)
                status = u1.selectbox(t("fun.list_status"), STATUSES, format_func=lambda v: t(f"fun.status.{v}"), key="fun_list_status")
                step_no = u2.selectbox(t("fun.list_step"), range(1, len(labels) + 1), format_func=lambda i: labels[i - 1], key="fun_list_step")
                users = result.users(status, step_no)
                st.caption(t("fun.list_count", n=count(len(users))))
                table(users, key="fun_users_table")
                download_buttons(users, f"funnel_{status}_step{step_no}", filters)
