"""Every page over the sample: each choice of each plain select box in the page body renders.

A smoke sweep (one choice at a time, at most a few per box, the rest of the page at its defaults)
that catches crashes on choices the focused page tests do not make. Boxes whose labels differ
from their values are swept by their pages' own tests (AppTest selects by the shown label).
"""

from __future__ import annotations

import pytest

from tests.helpers import REPO, open_page

MAX_CHOICES = 4  # per select box: the first few, and the last


def _plain(box) -> bool:
    try:
        return all(str(box.format_func(option)) == option for option in box.options[:MAX_CHOICES])
    except Exception:  # a format function that needs the raw value (a tuple, a number)
        return False


PAGE_FILES = sorted(p.name for p in (REPO / "dashboard" / "views").glob("*.py") if p.name not in ("__init__.py", "data.py"))


@pytest.mark.parametrize("page", PAGE_FILES)
def test_each_choice_renders(monkeypatch, sample_db_copy, page):
    at = open_page(monkeypatch, sample_db_copy, page)
    at.run()
    assert not at.exception, page
    # AppTest selects by the shown label, so only boxes that show their values as they are
    keys = [box.key for box in at.main.selectbox if box.key and _plain(box)]
    for key in keys:
        n = len(at.selectbox(key=key).options)
        for i in sorted({*range(min(n, MAX_CHOICES - 1)), n - 1}):
            at.selectbox(key=key).select_index(i).run()
            assert not at.exception, (page, key, i)
        at.selectbox(key=key).select_index(0).run()


def _enum_boxes():
    from analytics.metrics.retention import COHORTS, MEASURES, PERIODS
    from analytics.metrics.roi import LEVELS
    from analytics.metrics.timing import OUTCOMES

    return [
        ("overview.py", "radio", "ov_scope", ["latest", "all"]),
        ("retention.py", "selectbox", "ret_measure", MEASURES),
        ("retention.py", "radio", "ret_cohort", COHORTS),
        ("retention.py", "radio", "ret_period", PERIODS),
        ("roi.py", "selectbox", "roi_level", list(LEVELS)),
        ("timing.py", "selectbox", "tim_outcome", OUTCOMES),
        ("experiments.py", "selectbox", "exp_correction", ["holm", "bh", "none"]),
    ]


@pytest.mark.parametrize("page,kind,key,values", _enum_boxes(), ids=lambda v: v if isinstance(v, str) else None)
def test_each_labelled_choice_renders(monkeypatch, sample_db_copy, page, kind, key, values):
    at = open_page(monkeypatch, sample_db_copy, page)
    at.run()
    for value in values:
        getattr(at, kind)(key=key).set_value(value).run()
        assert not at.exception, (page, key, value)
        assert getattr(at, kind)(key=key).value == value
