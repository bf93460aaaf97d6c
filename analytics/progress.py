"""Progress reporting for long work, shared by the CLI (stderr) and the dashboard (st.progress)."""

from __future__ import annotations

import sys
import time
from typing import Protocol


class Progress(Protocol):
    def __call__(self, fraction: float, message: str = "") -> None:
        """Report that ``fraction`` (0..1) of the work is done."""


def no_progress(fraction: float, message: str = "") -> None:
    """A :class:`Progress` that reports nothing."""


_open_lines: set = set()


def end_open_line() -> None:
    """Finish a progress line left open by work that stopped early (before an error message)."""
    for stream in list(_open_lines):
        stream.write("\n")
        stream.flush()
    _open_lines.clear()


class StderrProgress:
    """A one-line progress bar on stderr, redrawn at most every 0.2 s."""

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self._last = 0.0

    def __call__(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self._last < 0.2:
            return
        self._last = now
        fraction = min(max(fraction, 0.0), 1.0)
        bar = "#" * int(fraction * 30)
        end = "\n" if fraction >= 1.0 else ""
        self.stream.write(f"\r{self.label} [{bar:<30}] {fraction:6.1%} {message[:40]:<40}{end}")
        self.stream.flush()
        if end:
            _open_lines.discard(self.stream)
        else:
            _open_lines.add(self.stream)
