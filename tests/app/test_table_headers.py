"""Every page, in both languages: what a person reads is readable, translated and formatted.

A person never reads a machine name (``conversion_from_previous``) as a table header, a choice, a
tab, a card, a chart axis or a legend entry; never ``None``, ``True``, ``False`` or ``nan`` as a
value (in a table, a card or a caption); never a raw float (``0.5185``): tables format every number
column, texts round; in Chinese no header, event type or channel is left in English.
"""

from __future__ import annotations

import json
import re

import pytest

from dashboard.format import is_code_name
from dashboard.i18n import TEXT
from tests.helpers import RAW_FLOAT, RAW_WORD, REPO, open_page, shown_table

PAGES = sorted(p.name for p in (REPO / "dashboard" / "views").glob("*.py") if p.name != "home.py")
#: Headers that read the same in both languages (abbreviations, symbols).
SAME_IN_BOTH = {"ARPU", "ARPPU", "CAC", "AUC", "MAP@K", "NDCG@K", "z"}
RAW_VALUES = {"None", "True", "False", "nan", "NaT", "<NA>"}
#: Canonical event types and channels: in Chinese a person reads their translation, never the code.
CODES = {key.split(".", 2)[2] for key in TEXT if key.startswith(("val.event.", "val.channel."))}


def _chart_texts(element) -> list[str]:
    """Legend entries and axis titles of a plotly chart."""
    spec = json.loads(element.proto.spec)
    texts = [str(trace.get("name")) for trace in spec.get("data", []) if trace.get("name")]
    for name, axis in spec.get("layout", {}).items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            title = axis.get("title")
            texts.append(str(title.get("text") if isinstance(title, dict) else title or ""))
    return [x for x in texts if x]


def _choices(at) -> list[str]:
    """Labels and shown options of every choice widget and tab."""
    out = []
    for kind in ("selectbox", "multiselect", "radio"):
        for widget in getattr(at, kind):
            out.append(widget.label)
            out += [str(o) for o in widget.options]
    out += [tab.label for tab in at.tabs]
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_reads_as_words_and_formatted_numbers(monkeypatch, sample_db_copy, page, lang):
    at = open_page(monkeypatch, sample_db_copy, page, lang=lang)
    at.run()
    assert not at.exception, page
    for df in at.dataframe:
        headers = [str(c) for c in shown_table(df).columns]
        assert [h for h in headers if is_code_name(h)] == [], (page, headers)
        if lang == "zh":
            english = [h for h in headers if re.fullmatch(r"[A-Za-z .()\-]+", h) and h not in SAME_IN_BOTH]
            assert english == [], (page, headers)
        frame, config = df.value, json.loads(df.proto.columns or "{}")
        for column in frame.columns:
            if frame[column].dtype == object or str(frame[column].dtype) in ("str", "string"):
                shown = {str(v) for v in frame[column].dropna()}
                assert not shown & RAW_VALUES, (page, column)
                if lang == "zh":
                    assert not shown & CODES, (page, column, shown & CODES)
            assert frame[column].dtype != bool, (page, column)  # flags read as words
            if frame[column].dtype.kind == "f":  # a float column is shown with a format, never raw
                assert ((config.get(str(column)) or {}).get("type_config") or {}).get("format"), (page, column)
    texts = [e.value for kind in ("caption", "markdown", "info", "warning", "success", "subheader") for e in getattr(at, kind)]
    texts += [m.value for m in at.metric]
    assert [x for x in texts if RAW_WORD.search(str(x))] == [], page
    assert [x for x in texts if RAW_FLOAT.search(str(x))] == [], page
    labels = _choices(at) + [m.label for m in at.metric]
    labels += [x for chart in at.get("plotly_chart") for x in _chart_texts(chart)]
    assert [x for x in labels if is_code_name(x) or x in RAW_VALUES] == [], page
    if lang == "zh":
        assert [x for x in labels if x in CODES] == [], page
