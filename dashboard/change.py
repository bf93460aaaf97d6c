"""The "why did it change" panel and the alerts shared by the Overview and the Alerts page.

The library computes (:mod:`analytics.metrics.explain`, :mod:`analytics.metrics.alerts`); this module words the
results through the UI text (both languages) and draws the waterfall. It also starts, once per
server process, the thread that writes the daily alerts digest (``REELYTICS_DIGEST=off`` disables it).
"""

from __future__ import annotations

import os

import plotly.graph_objects as go
import streamlit as st

from analytics.metrics.alerts import DIGEST_FOLDER, DigestWriter, monitor
from analytics.metrics.explain import Explanation, explain
from analytics.metrics.kpis import (
    KPI_BY_NAME,
    KPIS,
    KpiReport,
    resolve_period,
)
from analytics.query.filters import Filters
from dashboard.change_text import (
    contributor_text,
    digest_markdown,
    headline,
    value_label,
)
from dashboard.common import get_store, settings, shared
from dashboard.format import chart
from dashboard.i18n import t

#: Bars drawn in the waterfall; the rest are summed into one bar so the chart still adds up.
WATERFALL_BARS = 12


def waterfall(result: Explanation, dimension: str) -> go.Figure:
    """Previous value, one bar per segment effect (largest first), current value."""
    d = result.dimension(dimension)
    rows = d.waterfall().sort_values("contribution", key=lambda c: -c.abs(), kind="stable")
    kpi = result.kpi
    scale = 100.0 if kpi.unit == "ratio" else 1.0
    shown, rest = rows.head(WATERFALL_BARS), rows.iloc[WATERFALL_BARS:]
    x = [t("ex.bar.previous")]
    y = [result.previous * scale]
    measure = ["absolute"]
    for r in shown.itertuples(index=False):
        x.append(f"{value_label(r.value)} · {t(f'ex.effect.{r.effect}')}")
        y.append(r.contribution * scale)
        measure.append("relative")
    if len(rest):
        x.append(t("ex.value.(other)") + f" (+{len(rest)})")
        y.append(float(rest["contribution"].sum()) * scale)
        measure.append("relative")
    x.append(t("ex.bar.current"))
    y.append(result.current * scale)
    measure.append("total")
    fig = go.Figure(go.Waterfall(x=x, y=y, measure=measure, connector={"line": {"width": 1}}))
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 30, "b": 10}, showlegend=False,
                      yaxis_title="pp" if kpi.unit == "ratio" else t(f"kpi.{kpi.name}"))
    if kpi.unit == "ratio":
        fig.update_yaxes(ticksuffix="%")
    return fig


_explain = shared(explain)


def cached_explain(kpi: str, current: Filters, previous: Filters | None = None) -> Explanation:
    return _explain(kpi, current, previous)


def show_explanation(result: Explanation, key: str) -> None:
    """Headline, the top contributors in words and the waterfall of a chosen dimension."""
    st.markdown(f"**{headline(result)}**")
    if result.status != "ok":
        return
    dims = [d.dimension for d in result.dimensions]
    best = dims[0]
    dim = st.selectbox(
        t("ex.dimension"), dims, key=f"{key}_dim",
        format_func=lambda d: t("ex.best", dim=t(f"ov.dim.{d}")) if d == best else t(f"ov.dim.{d}"),
    )
    chosen = result.dimension(dim)
    if chosen.note:
        st.info(t("ex.no_split", dim=t(f"ov.dim.{dim}")))
        return
    lines = [contributor_text(result.kpi, c) for c in chosen.contributors(result.ratio)]
    if lines:
        st.markdown("\n".join(f"- {line}" for line in lines[:5]))
    else:
        st.caption(t("ex.none_named", dim=t(f"ov.dim.{dim}")))
    chart(waterfall(result, dim), key=f"{key}_chart")
    st.caption(t("ex.caption"))


def explain_panel(report: KpiReport) -> None:
    """The Overview's panel: pick a KPI card, see why it moved against the previous period (computed
    only while the panel is open)."""
    panel = st.expander(t("ex.title"), key="ov_explain_open", on_change="rerun")
    if not panel.open:
        return
    with panel:
        cards = [c for c in report.cards() if c.kpi.name in KPI_BY_NAME]
        moved = max(cards, key=lambda c: abs(c.change or 0), default=None)
        names = [k.name for k in KPIS]
        kpi = st.selectbox(t("ex.kpi"), names, index=names.index(moved.kpi.name) if moved else 0,
                           format_func=lambda k: t(f"kpi.{k}"), key="ov_explain_kpi")
        show_explanation(cached_explain(kpi, report.filters, report.previous_filters), "ov_explain")


@shared
def _alerts(store, filters: Filters, explained: bool):
    return monitor(store, resolve_period(store, filters) or filters, explain_alerts=explained)


def cached_alerts(filters: Filters, explained: bool = False):
    """The alerts of the sidebar period (the whole period, not only its last week)."""
    return _alerts(filters, explained)


def digest_folder():
    return settings().data_dir / DIGEST_FOLDER


@st.cache_resource(show_spinner=False)
def _digest_writer(db: str) -> DigestWriter | None:
    if os.environ.get("REELYTICS_DIGEST", "").lower() == "off":
        return None
    writer = DigestWriter(get_store(), digest_folder(), settings().timezone, digest_markdown)
    writer.start()
    return writer


def start_digest_writer() -> DigestWriter | None:
    """The process's digest thread (started on first use)."""
    return _digest_writer(str(get_store().path))
