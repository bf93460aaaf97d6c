"""Return on ad spend: uploaded spend per campaign and channel joined to the outcomes of the events.

Each row is one campaign (or channel, or campaign x channel) with spend, views, purchasers, new
buyers, orders, net revenue, CAC, ROAS and revenue per 1,000 views. The KPIs come from the one
registry in :mod:`analytics.metrics.kpis`; this module only chooses the grouping and ranks the rows.

Missing spend is stated, not treated as zero: a group whose events have no spend row in the
period gets ``spend = None``, ``cac = None``, ``roas = None`` and ``spend_status = "no spend
uploaded"``; such groups are listed in :attr:`RoiReport.missing_spend` and are not ranked. A key
of ``None`` in those lists is the traffic without that column (events without a campaign: organic
or untagged).

Two ROAS figures, one definition each (docs/metrics.md "roas", docs/overview.md "ROI page"):

* ``roas`` (the KPI registry's, as on the Overview): all net revenue of the period / all spend.
* ``roas_with_spend`` ("paid ROAS"): the net revenue of the groups with uploaded spend / all spend.
  The two differ by ``revenue_without_spend``, the revenue of groups without spend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pandas as pd

from analytics.errors import BadInput
from analytics.metrics.kpis import (
    NOTE_NO_SPEND,
    NOTE_SPEND_NOT_BY_CATEGORY,
    evaluate,
    event_components,
    kpi_values,
    spend_components,
)
from analytics.query.filters import Filters
from analytics.store.storage import Store

Level = Literal["campaign", "channel", "campaign_channel"]
LEVELS: Final[dict[str, tuple[str, ...]]] = {
    "campaign": ("campaign",),
    "channel": ("channel",),
    "campaign_channel": ("campaign", "channel"),
}

#: The KPIs of the ROI table, in column order.
ROI_KPIS: Final[tuple[str, ...]] = (
    "spend", "views", "purchasers", "new_buyers", "orders", "revenue", "cac", "roas", "revenue_per_1000_views",
)

SPEND_OK: Final[str] = "ok"
SPEND_MISSING: Final[str] = "no spend uploaded"
SPEND_UNATTRIBUTABLE: Final[str] = "spend has no category"


@dataclass(frozen=True)
class RoiReport:
    """Spend joined to outcomes per group, ranked by ROAS (rows without spend are not ranked)."""

    status: Literal["ok", "no_data", "no_spend"]
    level: str
    filters: Filters
    table: pd.DataFrame = field(repr=False)
    totals: dict[str, float | int | None]
    missing_spend: tuple[tuple[str | None, ...], ...] = ()
    spend_without_events: tuple[tuple[str | None, ...], ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "level": self.level,
            "filters": self.filters.describe(),
            "rows": self.table,
            "totals": self.totals,
            "missing_spend": [list(k) for k in self.missing_spend],
            "spend_without_events": [list(k) for k in self.spend_without_events],
            "notes": list(self.notes),
        }


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise BadInput(f"unknown ROI level {level!r}; use one of {', '.join(LEVELS)}", code="bad_level", value=level)
    return level


def compute_roi(store: Store, filters: Filters, level: str = "campaign") -> RoiReport:
    """Spend, purchasers, revenue, CAC, ROAS and revenue per 1,000 views per campaign / channel.

    Args:
        store: the event store.
        filters: applied filters; the date range selects spend rows by their (local) date.
        level: ``campaign``, ``channel`` or ``campaign_channel``.

    Returns:
        a :class:`RoiReport` whose table has the group columns, :data:`ROI_KPIS`, ``spend_status``
        and ``rank`` (1 = highest ROAS; ``None`` where ROAS is unknown). Ties rank by revenue.
    """
    keys = LEVELS[check_level(level)]
    comps = event_components(store, filters, keys)
    comps = comps[(comps["views"] > 0) | (comps["orders"] > 0) | (comps["refunds"] > 0) | (comps["active_users"] > 0)]
    notes: list[str] = []
    spend = spend_components(store, filters, keys)
    if spend is None:
        notes.append(NOTE_SPEND_NOT_BY_CATEGORY)
        merged = comps.assign(_has_spend=False, _has_events=True)
    else:
        if not len(spend):
            notes.append(NOTE_NO_SPEND)
        merged = comps.assign(_has_events=True).merge(
            spend.assign(_has_spend=True), on=list(keys), how="outer"
        )
        merged["_has_spend"] = merged["_has_spend"].astype("boolean").fillna(False).astype(bool)
        merged["_has_events"] = merged["_has_events"].astype("boolean").fillna(False).astype(bool)
        for col in comps.columns:
            if col not in keys:
                merged[col] = pd.to_numeric(merged[col], errors="coerce").fillna(0) if col != "watch_ratio_sum" else merged[col]
    rows = []
    for r in merged.to_dict(orient="records"):
        row = {k: (None if pd.isna(r[k]) else r[k]) for k in keys}
        row.update(evaluate(r, ROI_KPIS))
        if spend is None:
            row["spend_status"] = SPEND_UNATTRIBUTABLE
        else:
            row["spend_status"] = SPEND_OK if r["_has_spend"] else SPEND_MISSING
        row["_has_events"] = bool(r["_has_events"])
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(keys) + list(ROI_KPIS) + ["spend_status", "_has_events"])
    table = table.sort_values(["roas", "revenue"], ascending=False, na_position="last", kind="stable")
    table = table.reset_index(drop=True)
    ranked = table["roas"].notna()
    table["rank"] = pd.Series([i + 1 for i in range(int(ranked.sum()))] + [None] * int((~ranked).sum()), dtype=object)
    missing = tuple(tuple(r[k] for k in keys) for r in rows if r["spend_status"] == SPEND_MISSING)
    idle = tuple(tuple(r[k] for k in keys) for r in rows if not r["_has_events"])
    table = table.drop(columns="_has_events")
    table = table.astype(object).where(table.notna(), None)
    totals = {k: v for k, v in kpi_values(store, filters).items() if k in ROI_KPIS}
    # Revenue of groups that have spend, so that a ROAS over paid groups only is available too.
    paid = table[table["spend_status"] == SPEND_OK]
    paid_revenue = float(sum(paid["revenue"])) if len(paid) else None
    paid_spend = float(sum(paid["spend"])) if len(paid) else None
    totals["revenue_with_spend"] = paid_revenue
    totals["roas_with_spend"] = paid_revenue / paid_spend if paid_spend else None
    revenue = totals.get("revenue")
    totals["revenue_without_spend"] = None if revenue is None or paid_revenue is None else revenue - paid_revenue
    if not len(table):
        status = "no_data"
    elif spend is None or not len(spend):
        status = "no_spend"
    else:
        status = "ok"
    return RoiReport(status, level, filters, table, totals, missing, idle, tuple(notes))

