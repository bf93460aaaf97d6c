"""Progress reporting for long work: the library reports how far it is and which step it is in, as
a code with its numbers; the renderers (the CLI's progress bar, the dashboard's ``st.progress``)
word it in their language."""

from __future__ import annotations

from typing import Final, Protocol

#: Every step the library reports (``step``), and the numbers each one carries (``values``).
STEPS: Final[dict[str, tuple[str, ...]]] = {
    # an upload
    "checksum": (),
    "converting": (),  # a legacy encoding to UTF-8
    "reading_json": (),
    "reading_excel": ("row",),  # rows read so far (a workbook's size is unknown until read)
    "reading": (),
    "storing": (),
    "checking": (),  # duplicates
    "accelerators": (),  # the persisted accelerator structures brought up to date
    "preparing": (),  # the persisted accelerator structures built
    "already_uploaded": (),
    "done": (),
    # the recommender
    "building_matrix": (),
    "tuning": ("trial", "k", "best"),  # trials so far, the cut-off and the best NDCG@k yet
    "tuned": (),
    "reused_search": (),
    "training": (),
    "als_iteration": ("iteration", "iterations"),
    "training_spark": (),
    "trained": (),
    "loaded": (),
    "splitting": (),
    "evaluating": ("model",),
    "evaluated": (),
    # sample data
    "sample_events": ("events",),  # events written so far
    "sample_present": (),  # the store already holds events: nothing written
}


class Progress(Protocol):
    def __call__(self, fraction: float, step: str = "", **values: object) -> None:
        """Report that ``fraction`` (0..1) of the work is done, in ``step`` (a code of
        :data:`STEPS`, with its ``values``; ``""``: no step named)."""


def no_progress(fraction: float, step: str = "", **values: object) -> None:
    """A :class:`Progress` that reports nothing."""


def scaled(progress: Progress, lo: float, hi: float) -> Progress:
    """``progress`` for a part of the work that spans ``lo``..``hi`` of the whole."""

    def report(fraction: float, step: str = "", **values: object) -> None:
        progress(lo + (hi - lo) * fraction, step, **values)

    return report
