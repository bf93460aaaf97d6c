"""Every page, in both languages: tables show readable, translated headers and no raw values.

A person never reads a machine name (``conversion_from_previous``) as a header, nor ``None``,
``True`` or ``False`` as a value (in a table, a card or a caption); in Chinese no header is left
in English.
"""

from __future__ import annotations

import re

import pytest

from dashboard.format import is_code_name
from tests.helpers import REPO, open_page, shown_table

PAGES = sorted(p.name for p in (REPO / "dashboard" / "views").glob("*.py") if p.name != "home.py")
#: Headers that read the same in both languages (abbreviations, symbols).
SAME_IN_BOTH = {"ARPU", "ARPPU", "CAC", "AUC", "MAP@K", "NDCG@K", "z"}
RAW_VALUES = {"None", "True", "False", "nan", "NaT", "<NA>"}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_tables_show_readable_headers_and_values(monkeypatch, sample_db_copy, page, lang):
    at = open_page(monkeypatch, sample_db_copy, page, lang=lang)
    at.run()
    assert not at.exception, page
    for df in at.dataframe:
        headers = [str(c) for c in shown_table(df).columns]
        assert [h for h in headers if is_code_name(h)] == [], (page, headers)
        if lang == "zh":
            english = [h for h in headers if re.fullmatch(r"[A-Za-z .()\-]+", h) and h not in SAME_IN_BOTH]
            assert english == [], (page, headers)
        frame = df.value
        for column in frame.columns:
            if frame[column].dtype == object or str(frame[column].dtype) in ("str", "string"):
                shown = {str(v) for v in frame[column].dropna()}
                assert not shown & RAW_VALUES, (page, column)
            assert frame[column].dtype != bool, (page, column)  # flags read as words
    texts = [e.value for kind in ("caption", "markdown", "info", "warning", "success", "subheader") for e in getattr(at, kind)]
    texts += [m.value for m in at.metric]
    raw = [x for x in texts if re.search(r"\b(None|True|False|nan|NaN|NaT)\b", str(x))]
    assert raw == [], (page, raw)
