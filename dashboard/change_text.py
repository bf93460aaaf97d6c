"""Explanations of a KPI's change and its alerts in words, in either language, for the Overview, the
Alerts page, ``reelytics explain`` and ``reelytics alerts``, and the daily alert digest (no Streamlit
here: the CLI uses it too)."""

from __future__ import annotations

from typing import Any

from analytics.metrics.explain import RESERVED, Contributor, Explanation
from analytics.metrics.kpis import KPI_BY_NAME, Kpi
from dashboard.i18n import Lang, t, value
from dashboard.numbers import MISSING, kpi_kind, write


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


def dimension_text(dimension: str, lang: Lang | None = None) -> str:
    """A breakdown dimension in words (``channel`` -> "Channel"); a property key as written."""
    return dimension if dimension.startswith("props.") else t(f"ov.dim.{dimension}", lang)


def segment_text(segment, lang: Lang | None = None) -> str:
    """An alert's series: "Channel: Douyin", or "all" for the whole data (``segment``: pairs or a dict)."""
    pairs = segment.items() if isinstance(segment, dict) else segment
    return ", ".join(f"{dimension_text(k, lang)}: {value(k, v, lang)}" for k, v in pairs) or t("al.all", lang)


def contributor_text(kpi: Kpi, c: Contributor, lang: Lang | None = None) -> str:
    """e.g. "-0.59 pp of it is channel kuaishou's own CTR (121 % of the change)"."""
    where = t("ex.where", lang, dim=dimension_text(c.dimension, lang), value=value_label(c.value, lang))
    amount = change_text(kpi, c.contribution)
    if c.effect == "rate":
        text = t("ex.rate", lang, change=amount, where=where, kpi=t(f"kpi.{kpi.name}", lang))
    elif c.effect == "mix":
        key = "ex.mix_toward" if (c.weight_change or 0) > 0 else "ex.mix_away"
        text = t(key, lang, change=amount, den=t(f"ex.den.{kpi.denominator}", lang), where=where)
    else:
        text = t("ex.total", lang, change=amount, where=where)
    return text if c.share is None else t("ex.share", lang, text=text, share=f"{c.share:.0%}")


def digest_markdown(doc: dict[str, Any], lang: Lang = "en") -> str:
    """The alert digest (the ``alerts --json`` document) as Markdown: a heading, the band, and one
    table row per alert with its top contributor."""
    from analytics.metrics.alerts import MIN_HISTORY_DAYS

    window = doc["window"]
    lines = [t("al.digest.title", lang, start=window["from"] or MISSING, end=window["to"] or MISSING), "",
             t("al.digest.summary", lang, n=len(doc["alerts"]), z=f"{doc['z']:g}", points=f"{doc['points']:,}"), ""]
    if doc["status"] == "short_history":
        lines += [t("al.short_history", lang, days=MIN_HISTORY_DAYS), ""]
    if doc["alerts"]:
        heads = [t(f"al.col.{c}", lang) for c in ("day", "kpi", "segment", "value", "expected", "low", "high", "cause")]
        lines += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        for a in doc["alerts"]:
            kpi = KPI_BY_NAME[a["kpi"]]
            cause = contributor_text(kpi, Contributor(**a["explanation"][0]), lang) if a["explanation"] else MISSING
            cells = [a["day"], t(f"kpi.{kpi.name}", lang), segment_text(a["segment"], lang),
                     *(value_text(kpi, a[k]) for k in ("value", "expected", "low", "high")), cause]
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
