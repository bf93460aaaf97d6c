"""The words of a segmentation: segment names and descriptions, from the i18n keys.

The one renderer of :class:`analytics.recsys.segments.Segmentation` used by the Segments page and
by ``reelytics segments``; it imports no Streamlit (``lang`` is always given).
"""

from __future__ import annotations

import pandas as pd

from analytics.recsys.segments import DESCRIBED_FEATURES, Segment, Segmentation, Trait
from dashboard.i18n import Lang, t


def _name(traits: tuple[Trait, ...], lang: Lang) -> str:
    if not traits:
        return t("seg.name.typical", lang)
    first = traits[0]
    noun = t(f"seg.noun.{first.feature}.{first.direction}", lang)
    if len(traits) == 1:
        name = t("seg.name.one", lang, noun=noun)
    else:
        clause = t(f"seg.clause.{traits[1].feature}.{traits[1].direction}", lang)
        name = t("seg.name.two", lang, noun=noun, clause=clause)
    return name[:1].upper() + name[1:]


def segment_names(result: Segmentation, lang: Lang) -> dict[int, str]:
    """Each segment's name by number: its strongest trait as a noun, the second as a clause
    ("Heavy watchers who rarely buy"); "Typical users" without a trait; a repeated name gets a number."""
    names: dict[int, str] = {}
    seen: dict[tuple[tuple[str, str], ...], int] = {}
    for s in result.segments:
        key = tuple((tr.feature, tr.direction) for tr in s.traits[:2])
        seen[key] = seen.get(key, 0) + 1
        name = _name(s.traits, lang)
        names[s.segment] = name if seen[key] == 1 else t("seg.name.numbered", lang, name=name, n=seen[key])
    return names


def _number(v: float) -> str:
    return f"{v:,.2f}" if abs(v) < 10 else f"{v:,.0f}"


def segment_description(segment: Segment, overall: dict[str, float], lang: Lang) -> str:
    """Size and share, each feature's mean against all users, favourite category and most active hour."""
    parts = [t("seg.desc.size", lang, size=f"{segment.size:,}", share=f"{segment.share:.0%}")]
    for f in DESCRIBED_FEATURES:
        parts.append(t(
            "seg.desc.feature", lang,
            feature=t(f"seg.feature.{f}", lang), value=_number(segment.means[f]), overall=_number(overall[f]),
        ))
    if segment.favourite_category:
        parts.append(t("seg.desc.category", lang, category=segment.favourite_category))
    if segment.peak_hour is not None:
        parts.append(t("seg.desc.hour", lang, hour=f"{segment.peak_hour:02d}:00"))
    return t("seg.desc.sep", lang).join(parts)


def named_users(result: Segmentation, lang: Lang) -> pd.DataFrame:
    """Every user with its segment, the segment's name (after the number) and the features."""
    names = segment_names(result, lang)
    users = result.users.copy()
    users.insert(users.columns.get_loc("segment") + 1, "segment_name", [names.get(int(s), "") for s in users["segment"]])
    return users
