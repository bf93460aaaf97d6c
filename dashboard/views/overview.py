"""Overview: KPI cards with the change against the previous period, breakdowns, top and bottom videos."""

from __future__ import annotations

import streamlit as st

from analytics.filters import Filters
from analytics.kpis import DIMENSIONS, KPI_BY_NAME, KPIS, overview
from dashboard.common import current_filters, download_buttons, get_store, guarded, require_events
from dashboard.format import table, unit_change, unit_value
from dashboard.i18n import t


@st.cache_data(show_spinner=False, max_entries=32)
def _overview(db: str, version: str, filters: Filters, by: str, rank_by: str):
    return overview(get_store(), filters, by, rank_by, index=True)  # keep the breakdown index warm


def _cards(report) -> None:
    cards = report.cards()
    per_row = 4
    for start in range(0, len(cards), per_row):
        cols = st.columns(per_row)
        for col, card in zip(cols, cards[start : start + per_row]):
            series = [v for v in card.series if v is not None]
            col.metric(
                t(f"kpi.{card.kpi.name}"),
                unit_value(card.kpi.unit, card.value),
                delta=unit_change(card.kpi.unit, card.change, card.difference),
                delta_color="normal" if card.kpi.direction == "up" else "inverse",
                help=t(f"kpi.help.{card.kpi.name}"),
                chart_data=series if len(series) > 1 else None,
                border=True,
            )


def _notes(notes) -> None:
    for note in notes:
        if note.startswith("external_failed:"):
            st.warning(t("ov.note.external_failed", kpi=t(f"kpi.{note.split(':', 1)[1]}")))
        else:
            st.info(t(f"ov.note.{note}"))


st.title(t("page.overview"))
if require_events():
    filters = current_filters()
    with guarded():
        c1, c2 = st.columns(2)
        by = c1.selectbox(t("ov.by"), DIMENSIONS, format_func=lambda d: t(f"ov.dim.{d}"), key="ov_by")
        ranks = [k.name for k in KPIS]
        rank_by = c2.selectbox(
            t("ov.rank_by"), ranks, index=ranks.index("views"), format_func=lambda k: t(f"kpi.{k}"), key="ov_rank"
        )
        store = get_store()
        with st.spinner(t("common.working")):  # the first breakdown after an upload builds its index
            result = _overview(str(store.path), store.data_version(), filters, by, rank_by)
        report = result.report
        if report.status != "ok":
            st.info(t("common.no_rows"))
        else:
            period, prev = report.filters, report.previous_filters
            st.caption(
                t("ov.period", start=period.date_from, end=period.date_to, prev_start=prev.date_from, prev_end=prev.date_to)
            )
            st.subheader(t("ov.cards"))
            st.caption(t("ov.cards_caption"))
            _notes(report.notes)
            _cards(report)
            download_buttons(report.table(), "kpis", period, key="ov_kpis")

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
