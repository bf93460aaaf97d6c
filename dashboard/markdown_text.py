"""User-controlled text inside Streamlit's Markdown elements (``st.success``, ``st.caption`` ...).

Those elements render Markdown: a file name such as ``![x](https://host/pixel)`` would make every
viewer's browser fetch that address. :func:`plain` escapes every character Markdown, Streamlit's
directives (``:red[...]``, ``:material/...:``) and its math (``$``) give a meaning, so the text
shows as written. Elements that never render Markdown (``st.text``, ``st.code``, data frames) need
nothing.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|~$:&])")


def plain(value: object) -> str:
    """``value`` as text that Markdown shows literally (backslash before each special character)."""
    text = " ".join(str(value).splitlines())
    return _SPECIAL.sub(r"\\\1", text)
