"""All UI text, in English and Simplified Chinese.

Each module in this package holds ``TEXT = {key: {"en": ..., "zh": ...}}`` for one area of the
app; they are merged here once. ``t(key, **values)`` returns the text in the current language.
Keys are unique across modules (a test checks it, and that every key has both languages).
"""

from __future__ import annotations

import importlib
import pkgutil
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
