"""Long work reports its steps as codes with numbers; the CLI and the dashboard word each one, in
English and Chinese, and a person never sees a code."""

from __future__ import annotations

import ast

import pytest

from analytics.cli.progress_bar import STEP_TEXT, StderrProgress, step_text
from analytics.progress import STEPS, scaled
from dashboard.i18n import TEXT
from tests.helpers import REPO

SAMPLE_VALUES = {"row": 12345, "trial": 3, "k": 10, "best": 0.12345, "iteration": 2, "iterations": 15,
                 "model": "popularity", "events": 9876}


def _reported() -> list[tuple[str, str, tuple[str, ...]]]:
    """Every ``progress(fraction, "step", **values)`` call in the library: (file, step, value names)."""
    found = []
    for path in sorted((REPO / "analytics").rglob("*.py")):
        if path.name == "progress.py" and path.parent.name == "analytics":  # scaled() passes steps on
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "progress" and len(node.args) > 1:
                step = node.args[1]
                steps = [step.body, step.orelse] if isinstance(step, ast.IfExp) else [step]  # "a" if ... else "b"
                for one in steps:
                    assert isinstance(one, ast.Constant) and isinstance(one.value, str), f"{path.name}:{node.lineno}"
                    found.append((f"{path.name}:{node.lineno}", one.value, tuple(k.arg for k in node.keywords)))
    return found


def test_the_library_reports_only_declared_steps_with_their_values():
    reported = _reported()
    assert len(reported) > 20
    for where, step, values in reported:
        assert step in STEPS, where
        assert values == STEPS[step], where


def test_every_step_has_words_in_the_cli_and_in_both_languages_of_the_dashboard():
    assert set(STEP_TEXT) == set(STEPS)
    assert {key.removeprefix("step.") for key in TEXT if key.startswith("step.")} == set(STEPS)
    for step, names in STEPS.items():
        values = {name: SAMPLE_VALUES[name] for name in names}
        texts = [step_text(step, values), *(TEXT[f"step.{step}"][lang].format(**values) for lang in ("en", "zh"))]
        for text in texts:
            assert text and "{" not in text and "_" not in text, (step, text)


def test_the_cli_bar_shows_words_and_a_scaled_part_keeps_step_and_values(capsys):
    import sys

    bar = StderrProgress("train", sys.stderr)
    part = scaled(bar, 0.5, 1.0)
    part(1.0, "als_iteration", iteration=15, iterations=15)
    err = capsys.readouterr().err
    assert "100.0%" in err and "ALS iteration 15/15" in err and "als_iteration" not in err


@pytest.mark.parametrize("lang, expected", [("en", "Excel row 12,345"), ("zh", "Excel 第 12,345 行")])
def test_the_dashboard_words_a_step_in_the_sessions_language(lang, expected, monkeypatch):
    from dashboard import format as fmt

    monkeypatch.setattr("dashboard.i18n.current_lang", lambda: lang)
    assert fmt.step_words("reading_excel", {"row": 12345}) == expected
    assert fmt.step_words("no_such_step", {}) == ""
