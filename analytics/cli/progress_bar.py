"""The CLI's progress bar on stderr, with each step of :data:`analytics.progress.STEPS` in words."""

from __future__ import annotations

import sys
import time
from typing import Final

#: Each step's words (``{name}``: its values).
STEP_TEXT: Final[dict[str, str]] = {
    "checksum": "checksum",
    "converting": "converting to UTF-8",
    "reading_json": "reading JSON records",
    "reading_excel": "Excel row {row:,}",
    "reading": "reading",
    "storing": "storing",
    "checking": "checking duplicates",
    "accelerators": "updating prepared structures",
    "preparing": "building",
    "already_uploaded": "already uploaded",
    "done": "done",
    "building_matrix": "building the interaction matrix",
    "tuning": "tuning: trial {trial}, best NDCG@{k} {best:.4f}",
    "tuned": "tuned",
    "reused_search": "reused the saved search",
    "training": "training",
    "als_iteration": "ALS iteration {iteration}/{iterations}",
    "training_spark": "training Spark ML ALS",
    "trained": "trained",
    "loaded": "loaded",
    "splitting": "splitting",
    "evaluating": "evaluating {model}",
    "evaluated": "evaluated",
    "sample_events": "{events:,} events",
    "sample_present": "the database already holds events",
}

_open_lines: set = set()


def step_text(step: str, values: dict[str, object]) -> str:
    """``step`` with its ``values`` in words (an unknown step: nothing)."""
    text = STEP_TEXT.get(step, "")
    return text.format(**values) if values else text


class StderrProgress:
    """A one-line progress bar on stderr, redrawn at most every 0.2 s."""

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self._last = 0.0

    def __call__(self, fraction: float, step: str = "", **values: object) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self._last < 0.2:
            return
        self._last = now
        fraction = min(max(fraction, 0.0), 1.0)
        bar = "#" * int(fraction * 30)
        end = "\n" if fraction >= 1.0 else ""
        self.stream.write(f"\r{self.label} [{bar:<30}] {fraction:6.1%} {step_text(step, values)[:40]:<40}{end}")
        self.stream.flush()
        if end:
            _open_lines.discard(self.stream)
        else:
            _open_lines.add(self.stream)


def end_open_line() -> None:
    """Finish a progress line left open by work that stopped early (before an error message)."""
    for stream in list(_open_lines):
        stream.write("\n")
        stream.flush()
    _open_lines.clear()
