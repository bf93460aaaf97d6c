"""All UI text, in English and Simplified Chinese.

Each module in this package holds ``TEXT = {key: {"en": ..., "zh": ...}}`` for one area of the
app; they are merged here once. ``t(key, **values)`` returns the text in the current language.
Keys are unique across modules (a test checks it, and that every key has both languages).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Literal

Lang = Literal["en", "zh"]
LANGUAGES: dict[str, str] = {"en": "English", "zh": "简体中文"}


def _load() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    owner: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for key, value in module.TEXT.items():
            if key in merged:
                raise KeyError(f"UI text key {key!r} defined in both {owner[key]} and {info.name}")
            merged[key] = value
            owner[key] = info.name
    return merged, owner


TEXT, OWNER = _load()


def current_lang() -> Lang:
    import streamlit as st

    lang = st.session_state.get("lang", "en")
    return "zh" if lang == "zh" else "en"


def t(key: str, lang: Lang | None = None, **values: object) -> str:
    """The text for ``key`` in ``lang`` (default: the session's language), formatted with ``values``."""
    entry = TEXT[key]
    text = entry[lang or current_lang()]
    return text.format(**values) if values else text


#: A cohort table's period columns: ``day_3``, ``week_1``, ``month_2``.
PERIOD_COLUMN = re.compile(r"(day|week|month)_(\d+)")


def column_label(name: str, lang: Lang | None = None) -> str:
    """The header a person reads for the library's column ``name``: a KPI's name, a column's text,
    a cohort period (``day_3``), a funnel breakdown's users at a step (``count view``), else the name
    itself (a property key, a metric column of an uploaded table)."""
    for key in (f"kpi.{name}", f"col.{name}"):
        if key in TEXT:
            return t(key, lang)
    m = PERIOD_COLUMN.fullmatch(name)
    if m:
        return t(f"col.period.{m.group(1)}", lang, k=int(m.group(2)))
    if name.startswith("count "):  # a funnel breakdown's users at each step: "count view"
        return t("col.step_count", lang, step=value("event", name[len("count "):], lang))
    return name


def value(domain: str, raw: object, lang: Lang | None = None) -> str:
    """A canonical value (an event type, a channel, a status) in words; unknown values are shown as
    they are (a channel the sample does not know is still a name), a missing one as ``–``."""
    from dashboard.numbers import MISSING, is_missing

    if is_missing(raw):
        return MISSING
    if isinstance(raw, bool):
        return t("val.flag.yes" if raw else "val.flag.no", lang)
    key = f"val.{domain}.{raw}"
    if key in TEXT:
        return t(key, lang)
    if domain == "event" and isinstance(raw, str) and "[" in raw:  # a step with a condition: "view[cond]"
        head, _, rest = raw.partition("[")
        return f"{value('event', head, lang)}[{rest}"
    return str(raw)
