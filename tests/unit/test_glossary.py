"""docs/metrics.md and the KPI registry stay in step: one glossary entry per KPI and vice versa."""

from __future__ import annotations

import re

from analytics.metrics.kpis import ALL_KPIS, KPIS
from dashboard.i18n import TEXT
from tests.helpers import REPO

GLOSSARY = REPO / "docs" / "metrics.md"


def _kpi_section() -> str:
    text = GLOSSARY.read_text(encoding="utf-8")
    start = text.index("\n## KPIs\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _entries() -> dict[str, str]:
    parts = re.split(r"^### (\S+)\s*$", _kpi_section(), flags=re.MULTILINE)
    return {name: body for name, body in zip(parts[1::2], parts[2::2])}


def test_every_kpi_has_exactly_one_glossary_entry_and_vice_versa():
    headings = re.findall(r"^### (\S+)\s*$", _kpi_section(), flags=re.MULTILINE)
    assert len(headings) == len(set(headings)), "a KPI is defined twice in the glossary"
    assert set(headings) == {k.name for k in ALL_KPIS}


def test_registry_names_are_unique():
    names = [k.name for k in ALL_KPIS]
    assert len(names) == len(set(names))


def test_glossary_entries_name_the_kpi_in_both_languages_and_its_unit():
    entries = _entries()
    units = {"count": "count", "hours": "hours", "ratio": "ratio", "money": "money", "multiple": "ratio"}
    for kpi in ALL_KPIS:
        body = entries[kpi.name]
        label = TEXT[f"kpi.{kpi.name}"]
        assert f"**{label['en']}**" in body, kpi.name
        assert label["zh"].split("（")[0] in body, kpi.name
        assert units[kpi.unit] in body, kpi.name


def test_ratio_entries_say_what_happens_without_a_denominator():
    entries = _entries()
    for kpi in KPIS:
        if kpi.denominator:
            assert "Missing" in entries[kpi.name], kpi.name


def test_every_kpi_has_a_ui_label_in_both_languages():
    for kpi in ALL_KPIS:
        assert set(TEXT[f"kpi.{kpi.name}"]) == {"en", "zh"} and all(TEXT[f"kpi.{kpi.name}"].values())
