"""What a funnel gives: counts and rates per step, segments with their test, conversion over time."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from analytics.errors import BadInput
from analytics.lazy import LazyModule
from analytics.metrics.funnels.spec import STATUSES, FunnelSpec, Status

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
else:  # imported on first use: a funnel is computed and written as JSON without pandas
    pd = LazyModule("pandas")


# -- results --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepRow:
    """One step: how many reached it and the conversion rates (in [0, 1], None without a base).

    ``in_progress``: entrants stopped at this step whose entry's window is still open at the data's end;
    ``dropped``: entrants stopped at this step whose window has closed. Rates leave in-progress
    entrants out of their denominators: ``base_from_previous`` and ``base_from_first`` are those
    denominators (the previous step's / first step's count less the entrants still in progress
    before this step), so ``conversion_from_first == count / base_from_first``.
    """

    step: int
    label: str
    count: int
    conversion_from_previous: float | None
    conversion_from_first: float | None
    in_progress: int
    dropped: int
    base_from_previous: int
    base_from_first: int


@dataclass(frozen=True)
class SegmentRow:
    """One breakdown value: its funnel and a two-proportion z-test of its conversion vs the rest."""

    segment: str
    entrants: int
    converted: int
    in_progress: int
    conversion_rate: float | None
    counts: tuple[int, ...]
    z: float | None
    p_value: float | None
    significant: bool | None
    status: Literal["ok", "too_small"]


@dataclass(frozen=True)
class FunnelResult:
    """The funnel over the filtered data; ``status`` is ``no_entrants`` when nobody did step 1.

    ``over_time_rows`` holds one row per entry day or week (Python values, as the JSON writes
    them); :attr:`over_time_table` gives them as an Arrow table. :attr:`entry_table` (one row per
    user, or per entry with totals; times naive local) is built by ``entry_source`` when first
    read. :attr:`over_time` and :attr:`entries` give both as DataFrames. Nothing of Arrow or pandas
    is built until read, so a result written as JSON costs neither.
    """

    status: Literal["ok", "no_entrants"]
    spec: FunnelSpec
    steps: tuple[StepRow, ...]
    entrants: int
    converted: int
    in_progress: int
    conversion_rate: float | None
    median_seconds_to_convert: float | None
    p90_seconds_to_convert: float | None
    seconds_to_convert: tuple[float, ...]
    segments: tuple[SegmentRow, ...]
    over_time_rows: tuple[dict[str, Any], ...]
    entry_source: Callable[[], pa.Table] = field(compare=False, repr=False)
    data_end: dt.datetime | None
    timezone: str
    filters: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def over_time_table(self) -> pa.Table:
        """period_start, entrants, converted, in_progress, conversion_rate, complete."""
        import pyarrow as pa

        schema = pa.schema([
            ("period_start", pa.date32()), ("entrants", pa.int64()), ("converted", pa.int64()),
            ("in_progress", pa.int64()), ("conversion_rate", pa.float64()), ("complete", pa.bool_()),
        ])
        return pa.Table.from_pylist(list(self.over_time_rows), schema=schema)

    @cached_property
    def entry_table(self) -> pa.Table:
        """user_id[, hold_value], level, step_reached, status, entry_time, converted_time,
        seconds_to_convert[, segment]."""
        return self.entry_source()

    @cached_property
    def over_time(self) -> pd.DataFrame:
        """period_start, entrants, converted, in_progress, conversion_rate, complete."""
        return self.over_time_table.to_pandas()

    @cached_property
    def entries(self) -> pd.DataFrame:
        """user_id[, hold_value], level, step_reached, status, entry_time, converted_time,
        seconds_to_convert[, segment]."""
        return self.entry_table.to_pandas()

    def steps_frame(self) -> pd.DataFrame:
        return pd.DataFrame([dataclasses.asdict(s) for s in self.steps])

    def segments_frame(self) -> pd.DataFrame:
        rows = []
        for s in self.segments:
            row = {k: v for k, v in dataclasses.asdict(s).items() if k != "counts"}
            for label, c in zip(self.spec.labels, s.counts):
                row[f"count {label}"] = c
            rows.append(row)
        return pd.DataFrame(rows)

    def users(self, status: Status | None = None, step: int | None = None) -> pd.DataFrame:
        """Entries (users, or entries with totals) by outcome; ``step``: stopped at this step (1-based).

        ``status='converted'`` with ``step`` lists those who reached ``step``.
        """
        df = self.entries
        if status is not None:
            if status not in STATUSES:
                raise BadInput(f"unknown status {status!r}; use one of {', '.join(STATUSES)}", code="bad_status")
            if status == "converted" and step is not None:
                df = df[df["level"] >= step]
                return df.reset_index(drop=True)
            df = df[df["status"] == status]
        if step is not None:
            if not 1 <= step <= len(self.spec.steps):
                raise BadInput(f"step must be between 1 and {len(self.spec.steps)}", code="bad_step", value=step)
            df = df[df["level"] == step]
        return df.reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "funnel": self.spec.describe(),
            "steps": [dataclasses.asdict(s) for s in self.steps],
            "entrants": self.entrants,
            "converted": self.converted,
            "in_progress": self.in_progress,
            "conversion_rate": self.conversion_rate,
            "time_to_convert": {
                "n": len(self.seconds_to_convert),
                "median_seconds": self.median_seconds_to_convert,
                "p90_seconds": self.p90_seconds_to_convert,
            },
            "segments": [
                {**{k: v for k, v in dataclasses.asdict(s).items()}, "counts": list(s.counts)} for s in self.segments
            ],
            "over_time": [dict(row) for row in self.over_time_rows],
            "data_end": self.data_end,
            "timezone": self.timezone,
            "filters": self.filters,
        }


# -- statistics -----------------------------------------------------------------------------------
def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float | None, float | None]:
    """Pooled two-proportion z-test of x1/n1 vs x2/n2: ``(z, two-sided p)``; None without variance."""
    from scipy.stats import norm

    if n1 <= 0 or n2 <= 0:
        return None, None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None, None
    z = (x1 / n1 - x2 / n2) / se
    return z, float(2 * norm.sf(abs(z)))


def _rate(num: int, den: int) -> float | None:
    return num / den if den > 0 else None
