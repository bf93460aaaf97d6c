"""Videos: hook, completion and hold per video and creator; retention curve against the creator's typical curve."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from analytics.metrics.completion import video_report
from dashboard.common import (
    current_filters,
    download_buttons,
    guarded,
    require_events,
    shared,
)
from dashboard.format import chart, count, pct, table
from dashboard.i18n import t

RATE_COLUMNS = ("hook_rate", "completion_rate", "avg_percent_watched")
AS_VIDEO = {"item_id": "video"}  # every item on this page is a video


_report = shared(video_report)


def _histogram(hist) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=(hist.bin_start + hist.bin_end) / 2,
            y=hist.views,
            width=1 / len(hist),
            customdata=list(zip(hist.bin_start, hist.bin_end)),
            hovertemplate="%{customdata[0]:.0%}–%{customdata[1]:.0%}: %{y}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis=dict(title=t("videos.hist_x"), tickformat=".0%", range=[0, 1]),
        yaxis_title=t("videos.hist_y"),
        margin=dict(t=10, b=10),
        height=320,
    )
    return fig


def _curve(curve) -> go.Figure:
    df = curve.curve
    fig = go.Figure(go.Scatter(x=df.percent, y=df.share, mode="lines", name=t("videos.this_video")))
    if df.typical_share.notna().any():
        fig.add_scatter(
            x=df.percent, y=df.typical_share, mode="lines", line=dict(dash="dash"),
            name=t("videos.typical", bucket=curve.length_bucket),
        )
    fig.update_layout(
        xaxis=dict(title=t("videos.curve_x"), ticksuffix="%", range=[0, 100]),
        yaxis=dict(title=t("videos.curve_y"), tickformat=".0%", range=[0, 1.02]),
        margin=dict(t=10, b=10),
        height=360,
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


st.title(t("page.videos"))
if require_events():
    filters = current_filters()
    st.caption(t("videos.caption"))
    with guarded():
        controls = st.container()
        # Widget values from this run (set before the rerun) drive the one library call; the widgets
        # are drawn afterwards, with options taken from its result.
        creator = st.session_state.get("vid_creator") or None
        min_views = int(st.session_state.get("vid_min_views", 5))
        asked = st.session_state.get("vid_video")
        with st.spinner(t("common.working")):
            # the default curve's report first: every session and rerun showing the default shares it
            report = _report(filters, creator=creator, min_views=min_views)
            if asked is not None and report.curve is not None and asked != report.curve.item_id:
                report = _report(filters, creator=creator, video=asked, min_views=min_views)
        result = report.completion
        with controls:
            c1, c2 = st.columns(2)
            options = ["", *report.creators]
            if st.session_state.get("vid_creator") not in options:
                st.session_state["vid_creator"] = ""
            c1.selectbox(
                t("videos.creator"), options, key="vid_creator",
                format_func=lambda c: c or t("videos.all_creators"),
            )
            c2.number_input(t("videos.min_views"), min_value=1, value=5, step=1, key="vid_min_views")

        s = result.summary
        if result.status == "no_views":
            st.info(t("videos.no_views"))
        else:
            if result.status == "no_usable_views":
                st.warning(t("videos.no_usable"))
            m = st.columns(4)
            m[0].metric(t("videos.views"), count(s.views), border=True)
            m[1].metric(t("videos.hook_rate"), pct(s.hook_rate), border=True)
            m[2].metric(t("videos.completion_rate"), pct(s.completion_rate), border=True)
            m[3].metric(t("videos.avg_watched"), pct(s.avg_percent_watched), border=True)
            st.caption(
                t(
                    "videos.excluded",
                    no_duration=count(s.views_without_duration),
                    no_watch=count(s.views_without_watch_time),
                    capped=count(s.capped_views),
                )
            )

            left, right = st.columns(2)
            with left:
                st.subheader(t("videos.histogram"))
                chart(_histogram(result.histogram), key="vid_hist")
            with right:
                st.subheader(t("videos.curve"))
                curve = report.curve
                if curve is None:
                    st.info(t("videos.no_curve"))
                else:
                    videos = list(report.curve_videos)
                    titles = dict(zip(result.videos.item_id, result.videos.title))
                    st.session_state["vid_video"] = curve.item_id
                    st.selectbox(
                        t("videos.video"), videos, key="vid_video",
                        format_func=lambda v: f"{titles.get(v)} ({v})" if isinstance(titles.get(v), str) else v,
                    )
                    chart(_curve(curve), key="vid_curve")
                    if curve.status == "no_peers":
                        st.caption(t("videos.curve_no_peers"))
                    elif curve.status == "no_creator":
                        st.caption(t("videos.curve_no_creator"))
                    else:
                        st.caption(
                            t(
                                "videos.curve_caption", views=count(curve.usable_views), peers=curve.peer_videos,
                                creator=curve.creator, bucket=curve.length_bucket,
                            )
                        )
                    download_buttons(curve.curve, f"retention_{curve.item_id}", filters, key="vid_curve")

            cols = ["item_id", "title", "creator", "length_seconds", "usable_views", *RATE_COLUMNS]
            for by, title in (("hook", "videos.by_hook"), ("hold", "videos.by_hold")):
                st.subheader(t(title))
                ranked = result.ranked(by, 20)
                if ranked.empty:
                    st.info(t("videos.nothing_ranked"))
                    continue
                st.caption(t("videos.rank_caption", n=result.min_views))
                table(ranked[cols].rename(columns=AS_VIDEO), key=f"vid_{by}_table")
                download_buttons(result.ranked(by), f"videos_by_{by}", filters, key=f"vid_{by}")

            st.subheader(t("videos.creators"))
            creators = result.creators.assign(creator=result.creators.creator.fillna(t("videos.unknown_creator")))
            table(creators, key="vid_creators_table")
            download_buttons(result.creators, "completion_by_creator", filters, key="vid_creators")

            with st.expander(t("videos.all_videos")):
                table(result.videos.rename(columns=AS_VIDEO), key="vid_all_table")
                download_buttons(result.videos, "completion_by_video", filters, key="vid_all")
