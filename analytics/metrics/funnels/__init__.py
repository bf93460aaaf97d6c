"""Funnels: ordered steps, order modes, conversion windows, hold, totals, breakdowns (docs/metrics.md).

A funnel is a list of :class:`Step` (an event type, optionally with conditions such as
``view[watch_ratio>=0.5]``). :func:`compute_funnel` counts, per step, the users (or entries) that
reached it and derives conversion rates, time to convert, conversion over time, per-segment
significance and the lists of converted, dropped and in-progress users.

Semantics (the same text is in docs/metrics.md, "Funnels"):

* **sequential** (default) equals ClickHouse ``windowFunnel(window)``: a chain counts when its
  steps occur in order (equal times allowed; events at one instant are ordered by step) and the
  last step is at most ``window`` after the chain's first step; a user's level is the longest
  chain. Optional per-step windows bound the gap between consecutive steps as well. As in
  ClickHouse, one event that matches several steps may fill each of them.
* **strict**: as sequential, and no other event of the user (any type, after the filters) lies
  strictly between two consecutive steps; events at the same instant as a step do not interrupt.
* **any**: the first ``j`` steps count as reached when an event of each of them lies inside one
  window ``[start, start + window]``, in any order (per-step windows do not apply).
* **users** counts each user once at the furthest step of any chain (with ``hold``: any value of the
  held column); **totals** counts entries: an entry starts at a step-1 event (any step's event in
  ``any`` mode), ends when it completes or its window expires, and the next entry starts at the
  first step-1 event after that end.

The per-chain work is a vectorised numpy pass over each user's events sorted by time. The rows
come from one ibis query (the funnel's events as packed ``time << bits | steps`` integers; users
numbered by dictionary encoding and sorted with one int64 sort; with extra columns, grouped into
sorted lists per user) or, for plain event-type steps, from the in-memory event index of
:mod:`analytics.query.accel.funnel_order`. :func:`portable_levels` is the same definition written only with ibis
window functions (it runs on DuckDB and Spark); tests prove all paths give the same levels.
"""

from analytics.metrics.funnels.spec import (  # noqa: F401 - the package's public names
    BREAKDOWNS,
    COUNTS,
    DEFAULT_WINDOW_SECONDS,
    EVENT_BREAKDOWNS,
    HOLD_COLUMNS,
    MAX_STEPS,
    MIN_SEGMENT_SIZE,
    MODES,
    NO_VALUE,
    NUMERIC_CONDITION_COLUMNS,
    OPERATORS,
    PERIODS,
    SIGNIFICANCE_LEVEL,
    STATUSES,
    TEXT_CONDITION_COLUMNS,
    TOUCHES,
    Condition,
    CountBy,
    FunnelSpec,
    Mode,
    Period,
    Status,
    Step,
    Touch,
    parse_condition,
    parse_duration,
    parse_step_windows,
    parse_steps,
)

#: The names of the computing modules, imported on first use: the CLI reads the spec's choices to
#: parse its options without loading numpy, Arrow or the query layer.
_LAZY = {
    "compute_funnel": "compute", "data_end": "compute", "fetch_rows": "compute", "step_counts": "compute",
    "portable_levels": "portable",
    "FunnelResult": "result", "SegmentRow": "result", "StepRow": "result", "two_proportion_z": "result",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
