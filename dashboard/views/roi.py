"""ROI: uploaded spend per campaign / channel joined to purchasers, revenue, CAC and ROAS."""

from __future__ import annotations

import streamlit as st

from analytics.filters import Filters
from analytics.kpis import KPI_BY_NAME
from analytics.roi import LEVELS, compute_roi
from dashboard.common import current_filters, download_buttons, get_store, guarded, require_events
from dashboard.format import table, unit_value
from dashboard.i18n import t


@st.cache_data(show_spinner=False, max_entries=32)
def _roi(db: str, version: str, filters: Filters, level: str):
    return compute_roi(get_store(), filters, level)


def _group_text(keys) -> str:
    return "; ".join(" / ".join(t("roi.none") if v is None else str(v) for v in k) for k in keys)


st.title(t("page.roi"))
st.caption(t("roi.intro"))
if require_events():
    filters = current_filters()
    with guarded():
        level = st.selectbox(t("roi.level"), list(LEVELS), format_func=lambda v: t(f"roi.level.{v}"), key="roi_level")
        store = get_store()
        with st.spinner(t("common.working")):
            report = _roi(str(store.path), store.data_version(), filters, level)
        if report.status == "no_data":
            st.info(t("common.no_rows"))
        else:
            if report.status == "no_spend":
                st.warning(t("roi.spend_not_by_category") if "spend_not_by_category" in report.notes else t("roi.no_spend"))
            elif report.missing_spend:
                st.warning(t("roi.missing_spend", groups=_group_text(report.missing_spend)))
            if report.spend_without_events:
                st.info(t("roi.spend_without_events", groups=_group_text(report.spend_without_events)))
            st.subheader(t("roi.totals"))
            cols = st.columns(5)
            for col, name in zip(cols, ("spend", "revenue", "new_buyers", "cac", "roas")):
                col.metric(t(f"kpi.{name}"), unit_value(KPI_BY_NAME[name].unit, report.totals.get(name)), border=True)
            st.caption(
                f"{t('roi.roas_with_spend')}: {unit_value('multiple', report.totals.get('roas_with_spend'))}"
            )
            st.subheader(t("roi.table"))
            table(report.table, key="roi_table_shown")
            download_buttons(report.table, f"roi_by_{level}", filters, key="roi_table")
