"""Overview: KPI cards with the change against the previous period, breakdowns, top and bottom videos."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from analytics.metrics.kpis import (
    DIMENSIONS,
    KPI_BY_NAME,
    KPIS,
    NOTE_COURSE_STILL_LEARNING,
    NOTE_NOT_RECORDED,
    kpis_counting,
    overview,
)
from analytics.query.facets import (
    comparison_coverage,
    local_today,
    period_notes,
    with_default_period,
)
from analytics.query.filters import Filters
from dashboard.change import cached_alerts, explain_panel, start_digest_writer
from dashboard.common import (
    current_filters,
    download_buttons,
    facets,
    guarded,
    require_events,
    shared,
)
from dashboard.format import (
    chart,
    count,
    currency_symbol,
    date,
    over_time,
    table,
    unit_change,
    unit_value,
)
from dashboard.i18n import t

_overview = shared(overview)


def _cards(report) -> None:
    cards = report.cards()
    per_row = 4
    for start in range(0, len(cards), per_row):
        cols = st.columns(per_row)
        for col, card in zip(cols, cards[start : start + per_row]):
            # a day the data does not cover in full is not drawn as a full day (see _daily)
            series = [v for v, done in zip(card.series, card.complete) if done and v is not None]
            col.metric(
                t(f"kpi.{card.kpi.name}"),
                unit_value(card.kpi.unit, card.value),
                delta=unit_change(card.kpi.unit, card.change, card.difference),
                delta_color="normal" if card.kpi.direction == "up" else "inverse",
                help=t(f"kpi.help.{card.kpi.name}"),
                chart_data=series if len(series) > 1 else None,
                border=True,
            )


#: Plotly number formats of the daily chart per KPI unit (money gets the currency symbol).
_AXIS_FORMATS = {"count": ",d", "ratio": ".1%", "money": ",.2f", "multiple": ".2f", "hours": ",.1f"}


def _daily(report) -> None:
    """Say which days are incomplete and draw one KPI per day, incomplete days marked."""
    incomplete = report.incomplete_days
    if incomplete:
        st.caption(t("ov.incomplete_days", days=", ".join(date(d) for d in incomplete)))
    names = list(report.series)
    name = st.selectbox(t("ov.daily_kpi"), names, format_func=lambda k: t(f"kpi.{k}"), key="ov_daily")
    kpi = KPI_BY_NAME[name]
    fmt = _AXIS_FORMATS.get(kpi.unit, ",.2f")
    fig = over_time(go.Figure(), report.days, report.series[name], report.complete, name=t(f"kpi.{name}"),
                    hover=f"%{{y:{fmt}}}")
    fig.update_layout(yaxis_tickformat=fmt, yaxis_tickprefix=currency_symbol() if kpi.unit == "money" else "",
                      height=280, showlegend=False, margin={"t": 30, "b": 10})
    chart(fig, key="ov_daily_chart")


def _notes(notes) -> None:
    notes = list(notes)
    unrecorded = [n.split(":", 1)[1] for n in notes if n.startswith(f"{NOTE_NOT_RECORDED}:")]
    for note in notes:
        if note.startswith("external_failed:"):
            st.warning(t("ov.note.external_failed", kpi=t(f"kpi.{note.split(':', 1)[1]}")))
        elif note.startswith(f"{NOTE_NOT_RECORDED}:"):
            continue  # all in one note, below
        elif note.startswith(f"{NOTE_COURSE_STILL_LEARNING}:"):
            _, recent, buyers = note.split(":")
            st.info(t("ov.note.course_still_learning", recent=count(int(recent)), buyers=count(int(buyers))))
        else:
            st.info(t(f"ov.note.{note}"))
    if unrecorded:  # one note for every kind of record the data lacks: each with the KPIs it leaves without a value
        groups = (t("ov.recorded.group", what=t(f"ov.recorded.{kind}"),
                    kpis=t("common.list_sep").join(t(f"kpi.{k}") for k in kpis_counting(kind))) for kind in unrecorded)
        st.info(t("ov.note.not_recorded", groups=t("common.group_sep").join(groups)))


def _period(period: Filters, prev: Filters, is_default: bool) -> None:
    """Which period the cards show, against which, and what the comparison can and cannot say."""
    dates = {"start": period.date_from, "end": period.date_to, "prev_start": prev.date_from, "prev_end": prev.date_to}
    st.caption(t("ov.period_default", **dates) if is_default else t("ov.period", **dates))
    span = facets()
    coverage = comparison_coverage(period.date_from, period.date_to, span.first_day)
    if coverage == "none":
        st.info(t("ov.no_earlier", first=span.first_day))
    elif coverage == "partial":
        st.info(t("ov.partial_earlier", first=span.first_day, prev_start=prev.date_from))
    for note in period_notes(period.date_from, period.date_to, span, local_today(period.timezone)):
        st.info(t(f"ov.position.{note}", first=span.first_day, last=span.last_day))


st.title(t("page.overview"))
if require_events():
    filters, default = current_filters(), None
    if filters.date_from is None and filters.date_to is None:
        # no dates chosen in the sidebar: answer "lately, against before" unless all data is asked for
        scope = st.radio(t("ov.scope"), ("latest", "all"), horizontal=True, key="ov_scope",
                         format_func=lambda v: t(f"ov.scope.{v}"))
        if scope == "latest":
            filters, default = with_default_period(filters, facets(), local_today(filters.timezone))
    with guarded():
        c1, c2 = st.columns(2)
        by = c1.selectbox(t("ov.by"), DIMENSIONS, format_func=lambda d: t(f"ov.dim.{d}"), key="ov_by")
        ranks = [k.name for k in KPIS]
        rank_by = c2.selectbox(
            t("ov.rank_by"), ranks, index=ranks.index("views"), format_func=lambda k: t(f"kpi.{k}"), key="ov_rank"
        )
        with st.spinner(t("common.working")):  # the first breakdown after an upload builds its index
            result = _overview(filters, by, rank_by)
        report = result.report
        if report.status != "ok":
            st.info(t("common.no_rows"))
        else:
            period = report.filters
            _period(period, report.previous_filters, default is not None)
            st.subheader(t("ov.cards"))
            st.caption(t("ov.cards_caption"))
            _notes(report.notes)
            _cards(report)
            _daily(report)
            download_buttons(report.table(), "kpis", period, key="ov_kpis")
            start_digest_writer()
            alerts = cached_alerts(filters)
            if alerts.alerts:
                st.info(t("ov.alerts", n=len(alerts.alerts)), icon=":material/notifications_active:")
            explain_panel(report)

            st.subheader(t("ov.breakdown"))
            breakdown = result.breakdown.table
            _notes(n for n in result.breakdown.notes if n not in report.notes)
            if len(breakdown):
                table(breakdown, key="ov_breakdown_table")
                download_buttons(breakdown, f"kpis_by_{by}", period, key="ov_breakdown")
            else:
                st.info(t("common.no_rows"))

            st.subheader(t("ov.videos"))
            ranking = result.ranking
            if KPI_BY_NAME[rank_by].denominator:
                st.caption(t("ov.min_views", n=ranking.min_views))
            if ranking.status != "ok":
                st.info(t("ov.no_videos"))
            else:
                left, right = st.columns(2)
                for col, name, frame in ((left, "top", ranking.top), (right, "bottom", ranking.bottom)):
                    with col:
                        st.markdown(f"**{t(f'ov.{name}', n=len(frame))}**")
                        shown = frame[list(dict.fromkeys(["video", "title", "creator", rank_by, "views"]))]
                        table(shown, key=f"ov_{name}_table")
                        download_buttons(frame, f"videos_{name}_{rank_by}", period, key=f"ov_{name}")
