"""ROI: uploaded spend per campaign / channel joined to purchasers, revenue, CAC and ROAS."""

from __future__ import annotations

import streamlit as st

from analytics.metrics.kpis import KPI_BY_NAME
from analytics.metrics.roi import LEVELS, compute_roi
from dashboard.common import (
    current_filters,
    download_buttons,
    guarded,
    require_events,
    shared,
)
from dashboard.format import table, unit_value
from dashboard.i18n import t

_roi = shared(compute_roi)


def _group_text(keys, level: str) -> str:
    """Groups in words: a missing campaign or channel is the traffic without one, never "(none)"."""
    columns = LEVELS[level]

    def one(key) -> str:
        if all(v is None for v in key):
            return t(f"roi.without.{level}")
        return " / ".join(t(f"roi.no_value.{c}") if v is None else str(v) for c, v in zip(columns, key))

    return "; ".join(one(k) for k in keys)


def _totals(totals: dict) -> None:
    """The period's totals with the registry's ROAS, and the paid ROAS labelled and explained beside it."""
    money, roas = "money", "multiple"
    cols = [*st.columns(3), *st.columns(3)]  # two rows: six cards in one row cut money and labels off
    for col, name in zip(cols, ("spend", "revenue", "new_buyers", "cac", "roas")):
        col.metric(t(f"kpi.{name}"), unit_value(KPI_BY_NAME[name].unit, totals.get(name)), border=True,
                   help=t("roi.help.roas") if name == "roas" else None)
    cols[5].metric(t("roi.paid_roas"), unit_value(roas, totals.get("roas_with_spend")), border=True,
                   help=t("roi.help.paid_roas"))
    if totals.get("roas") is not None and totals.get("roas_with_spend") is not None:
        st.caption(t("roi.roas_explained", revenue=unit_value(money, totals["revenue"]),
                     spend=unit_value(money, totals["spend"]), roas=unit_value(roas, totals["roas"]),
                     paid_revenue=unit_value(money, totals["revenue_with_spend"]),
                     paid_roas=unit_value(roas, totals["roas_with_spend"]),
                     unpaid=unit_value(money, totals["revenue_without_spend"])))


st.title(t("page.roi"))
st.caption(t("roi.intro"))
if require_events():
    filters = current_filters()
    with guarded():
        level = st.selectbox(t("roi.level"), list(LEVELS), format_func=lambda v: t(f"roi.level.{v}"), key="roi_level")
        with st.spinner(t("common.working")):
            report = _roi(filters, level)
        if report.status == "no_data":
            st.info(t("common.no_rows"))
        else:
            if report.status == "no_spend":
                st.warning(t("roi.spend_not_by_category") if "spend_not_by_category" in report.notes else t("roi.no_spend"))
            elif report.missing_spend:
                st.warning(t("roi.missing_spend", groups=_group_text(report.missing_spend, level)))
            if report.spend_without_events:
                st.info(t("roi.spend_without_events", groups=_group_text(report.spend_without_events, level)))
            st.subheader(t("roi.totals"))
            _totals(report.totals)
            st.subheader(t("roi.table"))
            table(report.table, key="roi_table_shown")
            download_buttons(report.table, f"roi_by_{level}", filters, key="roi_table")
