"""Explanations of a KPI's change in words, in either language, for the Overview, the Alerts page and
``reelytics explain`` (no Streamlit here: the CLI uses it too)."""

from __future__ import annotations

from analytics.metrics.explain import RESERVED, Contributor, Explanation
from analytics.metrics.kpis import Kpi
from dashboard.i18n import Lang, t
from dashboard.numbers import kpi_kind, write


def value_text(kpi: Kpi, value: float | None) -> str:
    """A KPI value as people read it (the CLI's writer: the same in both faces)."""
    return write(kpi_kind(kpi.name), value)


def change_text(kpi: Kpi, value: float, signed: bool = True) -> str:
    """A change in the KPI's unit: percentage points for ratios."""
    if kpi.unit == "ratio":
        return f"{value * 100:+.2f} pp" if signed else f"{abs(value) * 100:.2f} pp"
    text = value_text(kpi, value if signed else abs(value))
    return f"+{text}" if signed and value > 0 else text


def value_label(value: str, lang: Lang | None = None) -> str:
    return t(f"ex.value.{value}", lang) if value in RESERVED else value


def headline(result: Explanation, lang: Lang | None = None) -> str:
    """e.g. "CTR fell 0.49 pp (3.35% -> 2.87%)"."""
    kpi = result.kpi
    name = t(f"kpi.{kpi.name}", lang)
    if result.status == "no_data":
        return t("ex.no_data", lang, kpi=name)
    before, after = value_text(kpi, result.previous), value_text(kpi, result.current)
    if result.status == "no_change":
        return t("ex.same", lang, kpi=name, before=before)
    key = "ex.rose" if result.change > 0 else "ex.fell"
    return t(key, lang, kpi=name, change=change_text(kpi, result.change, signed=False), before=before, after=after)


def contributor_text(kpi: Kpi, c: Contributor, lang: Lang | None = None) -> str:
    """e.g. "-0.59 pp of it is channel kuaishou's own CTR (121 % of the change)"."""
    where = t("ex.where", lang, dim=t(f"ov.dim.{c.dimension}", lang) if not c.dimension.startswith("props.") else c.dimension,
              value=value_label(c.value, lang))
    amount = change_text(kpi, c.contribution)
    if c.effect == "rate":
        text = t("ex.rate", lang, change=amount, where=where, kpi=t(f"kpi.{kpi.name}", lang))
    elif c.effect == "mix":
        key = "ex.mix_toward" if (c.weight_change or 0) > 0 else "ex.mix_away"
        text = t(key, lang, change=amount, den=t(f"ex.den.{kpi.denominator}", lang), where=where)
    else:
        text = t("ex.total", lang, change=amount, where=where)
    return text if c.share is None else t("ex.share", lang, text=text, share=f"{c.share:.0%}")
