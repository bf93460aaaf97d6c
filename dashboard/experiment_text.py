"""The words of an experiment's result: verdict lines, warnings and reasons, from the i18n keys.

The one renderer of :class:`analytics.experiments.analysis.ExperimentResult` used by the
Experiments page and by ``reelytics ab``; it imports no Streamlit (``lang`` is always given).
"""

from __future__ import annotations

from analytics.experiments.analysis import (
    ExperimentResult,
    MetricKind,
    Notice,
    Reason,
    Verdict,
)
from dashboard.i18n import TEXT, Lang, t
from dashboard.numbers import p_text

#: Warnings repeated after the verdict lines as caveats.
CAVEATS = ("srm", "not_randomised_by_user", "multi_variant_users", "multiple_testing")


def chance_text(x: float) -> str:
    """A probability as a percentage that never rounds to a certainty it is not."""
    return "> 99.9%" if x > 0.999 else "< 0.1%" if x < 0.001 else f"{x:.1%}"


def _value(kind: MetricKind, x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.2%}" if kind in ("proportion", "ratio") else f"{x:,.4g}"


def _effect(v: Verdict, x: float | None) -> str:
    """The relative lift in percent, or the absolute difference (percentage points for rates)."""
    if x is None:
        return "n/a"
    if v.relative:
        return f"{x:+.1%}"
    return f"{x * 100:+.2f} pp" if v.kind in ("proportion", "ratio") else f"{x:+,.4g}"


def reason_text(reason: Reason, lang: Lang) -> str:
    """Why a comparison has no verdict, e.g. ``30 users (need 50)`` or ``control: 3 conversions (need 5)``."""
    text = t(f"exp.reason.{reason.code}", lang, count=reason.count, need=reason.need)
    return t("exp.reason.of_control", lang, reason=text) if reason.of_control else text


def _notice_key(notice: Notice) -> str:
    p = notice.params
    if notice.code == "multi_variant_users" and p["source"] == "table":
        return "exp.notice.multi_variant_users.table"
    if notice.code == "not_randomised_by_user" and p["per_video"]:
        return "exp.notice.not_randomised_by_user.per_video"
    return f"exp.notice.{notice.code}"


def notice_text(notice: Notice, lang: Lang) -> str:
    """The sentence of a warning (see :class:`~analytics.experiments.analysis.Notice` for its values)."""
    p = notice.params
    values: dict[str, object] = {}
    if notice.code == "srm":
        values = {
            "sizes": ", ".join(f"{v} {n:,}" for v, n in zip(p["variants"], p["observed"])),
            "expected": ", ".join(f"{e:,.0f}" for e in p["expected"]),
            "p": p_text(p["p_value"]),
            "threshold": p["threshold"],
        }
    elif notice.code == "multi_variant_users":
        values = {"excluded": f"{p['excluded']:,}", "users": f"{p['users']:,}", "share": f"{p['share']:.1%}"}
    elif notice.code == "not_randomised_by_user":
        values = {"share": f"{p['share']:.0%}"}
    elif notice.code == "multiple_testing":
        values = {"comparisons": p["comparisons"]}
    elif notice.code in ("rows_without_variant", "repeated_rows"):
        values = {"rows": f"{p['rows']:,}"}
    return t(_notice_key(notice), lang, **values)


def metric_text(name: str, lang: Lang) -> str:
    """A metric's name in words (a column of an uploaded table keeps its own name)."""
    key = f"exp.metric.{name}"
    return t(key, lang) if key in TEXT else name


def verdict_line(v: Verdict, lang: Lang) -> str:
    """One comparison in words: direction, effect with its interval, p-value and chance to beat control."""
    head = {"metric": metric_text(v.metric, lang), "variant": v.variant, "control": v.control}
    if v.status == "not_enough_data":
        return t("exp.verdict.not_enough_data", lang, reason=reason_text(v.reason, lang), **head)  # type: ignore[arg-type]
    p = p_text(v.p_value)
    if v.p_adjusted:
        correction = t(f"exp.correction_name.{v.correction}", lang)
        p = t("exp.verdict.p_adjusted", lang, p=p, correction=correction, comparisons=v.comparisons)
    stats = t(
        "exp.verdict.stats", lang,
        effect=_effect(v, v.effect), value=_value(v.kind, v.value), control_value=_value(v.kind, v.control_value),
        conf=f"{v.confidence:.0%}", low=_effect(v, v.ci_low), high=_effect(v, v.ci_high), p=p,
        chance=chance_text(v.chance_to_beat_control),  # type: ignore[arg-type]
    )
    return t(f"exp.verdict.{v.status}", lang, stats=stats, **head)


def verdict_lines(result: ExperimentResult, lang: Lang) -> list[str]:
    """The verdict: a line per metric and variant, then the caveats and how p-values were adjusted."""
    if result.status == "no_experiment":
        if result.variants:
            return [t("exp.verdict.one_variant", lang, variant=result.variants[0])]
        return [t("exp.verdict.no_experiment", lang)]
    lines = [verdict_line(v, lang) for v in result.verdicts if v.status != "control"]
    caveats = [notice_text(n, lang) for n in result.notices if n.code in CAVEATS]
    if caveats:
        lines.append(t("exp.verdict.caveats", lang, notices=("" if lang == "zh" else " ").join(caveats)))
    if result.comparisons > 1 and result.correction != "none":
        correction = t(f"exp.correction_name.{result.correction}", lang)
        lines.append(t("exp.verdict.intervals", lang, conf=f"{1 - result.alpha:.0%}", correction=correction))
    return lines
