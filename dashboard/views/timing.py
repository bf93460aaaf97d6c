"""Timing: best time to post (shrunk outcomes by publish weekday x hour), audience activity, posting frequency."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from analytics.metrics.timing import OUTCOMES, RATE_OUTCOMES, compute_timing
from dashboard.common import (
    current_filters,
    download_buttons,
    guarded,
    require_events,
    shared,
)
from dashboard.format import chart, clock, count, number, pct, table, weekday
from dashboard.i18n import t

_timing = shared(compute_timing)


st.title(t("page.timing"))
st.caption(t("tim.intro"))


def _heatmap(frame, column, title, fmt, extra=None):
    """Weekday x hour heatmap of ``frame[column]``; ``extra`` (a column of text) joins the hover."""
    days = [weekday(d) for d in range(7)]
    z = frame.pivot(index="weekday", columns="hour", values=column).reindex(range(7)).to_numpy()
    hover = "%{y} %{x}:00 — %{z:" + fmt + "}"
    custom = None
    if extra is not None:
        custom = frame.assign(_x=extra).pivot(index="weekday", columns="hour", values="_x").reindex(range(7)).to_numpy()
        hover += "<br>%{customdata}"
    fig = go.Figure(go.Heatmap(z=z, x=[f"{h:02d}" for h in range(24)], y=days, colorscale="Viridis",
                               customdata=custom, hovertemplate=hover + "<extra></extra>"))
    fig.update_layout(title=title, xaxis_title=t("tim.hour"), yaxis_title=t("tim.weekday"), yaxis_autorange="reversed", height=360)
    return fig


if require_events():
    outcome = st.selectbox(t("tim.outcome"), OUTCOMES, format_func=lambda v: t(f"tim.outcome.{v}"), key="tim_outcome")
    filters = current_filters()
    with guarded():
        with st.spinner(t("common.working")):
            result = _timing(filters, outcome=outcome)
        is_rate = outcome in RATE_OUTCOMES
        show = pct if is_rate else number
        if result.status != "ok":
            st.info(t(f"tim.{result.status}", videos=count(result.unobserved)))
        left_out = result.unobserved and result.status != "not_covered"
        if left_out and result.status != "ok":
            st.caption(t("tim.unobserved", videos=count(result.unobserved)))
        left, right = st.columns(2)
        if result.status == "ok":
            best = result.best(10)
            top = best.iloc[0]
            when = clock(top.weekday, top.hour)
            clear = result.verdict == "clear_best"
            st.caption(t("tim.summary" if clear else "tim.summary_unclear", tz=result.timezone,
                         videos=count(result.video_count), when=when, value=show(top.shrunk), low=show(top.ci_low),
                         high=show(top.ci_high), average=show(result.average)))
            if left_out:
                st.caption(t("tim.unobserved", videos=count(result.unobserved)))
            m1, m2, m3 = st.columns(3)
            m1.metric(t("tim.videos"), count(result.video_count))
            m2.metric(t("tim.best_when"), when if clear else t("tim.no_clear_best"))
            m3.metric(t("tim.prior_mean"), show(result.average))
            with left:
                # cells without videos would only repeat the prior mean: leave them empty
                cells = result.cells.assign(shown=result.cells["shrunk"].where(result.cells["rank"].notna()))
                extra = [
                    t("tim.hover", videos=int(r.videos), raw=show(r.raw), low=show(r.ci_low), high=show(r.ci_high))
                    for r in cells.itertuples()
                ]
                chart(_heatmap(cells, "shown", t("tim.heatmap"), ".1%" if is_rate else ",.1f", extra), key="tim_heatmap")
            labels = [clock(r.weekday, r.hour) for r in best.itertuples()]
            unc = go.Figure()
            unc.add_trace(go.Scatter(
                x=best["shrunk"], y=labels, mode="markers", name=t("tim.shrunk"), marker={"size": 11},
                error_x={"type": "data", "symmetric": False, "array": best["ci_high"] - best["shrunk"], "arrayminus": best["shrunk"] - best["ci_low"]},
            ))
            unc.add_trace(go.Scatter(x=best["raw"], y=labels, mode="markers", name=t("tim.raw"), marker={"symbol": "circle-open", "size": 9}))
            unc.add_vline(x=result.prior.get("mean", 0), line_dash="dot")
            unc.update_layout(title=t("tim.uncertainty"), yaxis_autorange="reversed", xaxis_tickformat=".0%" if is_rate else None, height=380)
            st.subheader(t("tim.best"))
            chart(unc, key="tim_uncertainty")
            outcome_kind = "percent" if is_rate else "number"
            table(best, kinds=dict.fromkeys(("raw", "shrunk", "ci_low", "ci_high"), outcome_kind), key="tim_best_table")
        with right:
            chart(_heatmap(result.activity, "views_per_day", t("tim.activity"), ",.1f"), key="tim_activity")
        if result.status == "ok":
            st.subheader(t("tim.frequency"))
            creators = result.creators.dropna(subset=["outcome"]).astype({"videos": int, "videos_per_week": float, "outcome": float})
            sc = go.Figure(go.Scatter(x=creators["videos_per_week"], y=creators["outcome"], mode="markers",
                                      text=creators["creator"], marker={"size": 6 + creators["videos"].clip(upper=30)},
                                      hovertemplate="%{text}: %{x:.2f} / %{y}<extra></extra>"))
            sc.update_layout(xaxis_title=t("tim.per_week"), yaxis_title=t(f"tim.outcome.{outcome}"),
                             yaxis_tickformat=".0%" if is_rate else None, height=380)
            chart(sc, key="tim_frequency")
            if result.frequency_correlation is None:
                st.caption(t("tim.no_correlation"))
            else:
                st.caption(t("tim.correlation", n=len(creators), rho=result.frequency_correlation, p=result.frequency_p_value))
            download_buttons(result.creators, f"timing_creators_{outcome}", filters, key="tim_creators")
            st.subheader(t("tim.table_cells"))
            cells = result.cells[result.cells["videos"] > 0]
            download_buttons(cells, f"timing_cells_{outcome}", filters, key="tim_cells")
            st.subheader(t("tim.table_videos"))
            table(result.videos, key="tim_videos_table")
            download_buttons(result.videos, "timing_videos", filters, key="tim_videos")
