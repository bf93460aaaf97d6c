"""Funnel definitions: steps with conditions, windows, order modes, hold, breakdowns, and their parsing."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from analytics.errors import BadInput
from analytics.query.layer import ITEM_BREAKDOWNS
from analytics.store.schema import EVENT_TYPES

Mode = Literal["sequential", "strict", "any"]
CountBy = Literal["users", "totals"]
Touch = Literal["first", "last"]
Period = Literal["day", "week"]
Status = Literal["converted", "dropped", "in_progress"]

MODES: Final[tuple[str, ...]] = get_args(Mode)
COUNTS: Final[tuple[str, ...]] = get_args(CountBy)
TOUCHES: Final[tuple[str, ...]] = get_args(Touch)
PERIODS: Final[tuple[str, ...]] = get_args(Period)
STATUSES: Final[tuple[str, ...]] = get_args(Status)

MAX_STEPS: Final[int] = 8
DEFAULT_WINDOW_SECONDS: Final[int] = 7 * 86400
MIN_SEGMENT_SIZE: Final[int] = 30
SIGNIFICANCE_LEVEL: Final[float] = 0.05

NUMERIC_CONDITION_COLUMNS: Final[tuple[str, ...]] = ("watch_ratio", "watch_seconds", "video_seconds", "revenue", "lesson")
TEXT_CONDITION_COLUMNS: Final[tuple[str, ...]] = ("channel", "campaign", "variant", "item_id", "course_id")
OPERATORS: Final[tuple[str, ...]] = (">=", "<=", "!=", "=", ">", "<")
HOLD_COLUMNS: Final[tuple[str, ...]] = ("course_id", "item_id", "channel", "campaign", "variant")
EVENT_BREAKDOWNS: Final[tuple[str, ...]] = ("channel", "campaign", "variant", "item_id", "course_id")
BREAKDOWNS: Final[tuple[str, ...]] = EVENT_BREAKDOWNS + ITEM_BREAKDOWNS
NO_VALUE: Final[str] = "(none)"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_STEP_RE = re.compile(r"^\s*([A-Za-z_]+)\s*(?:\[(.*)\])?\s*$", re.S)
_COND_RE = re.compile(r"^\s*([A-Za-z_]+)\s*(>=|<=|!=|=|>|<)\s*([^<>=!\s].*?)\s*$", re.S)
_STEP_FORMS = (
    "steps are event types separated by commas, each optionally with conditions in brackets, "
    "e.g. view[watch_ratio>=0.5],click,purchase[revenue>100 & channel=douyin]"
)


# -- settings -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """``column op value``, e.g. ``watch_ratio >= 0.5``; text columns allow only ``=`` and ``!=``."""

    column: str
    op: str
    value: float | str

    @property
    def label(self) -> str:
        value = f"{self.value:g}" if isinstance(self.value, float) else self.value
        return f"{self.column}{self.op}{value}"


@dataclass(frozen=True)
class Step:
    """One funnel step: an event type and the conditions its event must meet (all of them)."""

    event_type: str
    conditions: tuple[Condition, ...] = ()

    @property
    def label(self) -> str:
        if not self.conditions:
            return self.event_type
        return f"{self.event_type}[{' & '.join(c.label for c in self.conditions)}]"


def parse_duration(text: str | int | float, option: str = "--window") -> int:
    """Seconds in ``text``: a number with unit s/m/h/d/w (``90s``, ``90m``, ``7d``); a number given
    as ``int`` or ``float`` is seconds. Text without a unit (``"7"``) is refused: seven what?"""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text).lower())
        if not m:
            raise BadInput(
                f"{option} expects a duration such as 30m, 1h, 7d or 2w, got {text!r}", code="bad_duration", value=str(text)
            )
        if not m.group(2):
            raise BadInput(
                f"{option} needs a unit: {text!r} could be seconds or days; write it as {m.group(1)}s, "
                f"{m.group(1)}m, {m.group(1)}h, {m.group(1)}d or {m.group(1)}w",
                code="bad_duration", value=str(text),
            )
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(seconds) or seconds <= 0 or seconds > 366 * 86400 * 5:
        raise BadInput(f"{option} must be between 1 second and 5 years, got {text!r}", code="bad_duration", value=str(text))
    return int(round(seconds))


def parse_step_windows(text: str | None, n_steps: int) -> tuple[int | None, ...]:
    """Per-step windows ``1h,7d`` (``-`` for none): one for each step after the first."""
    if not text:
        return (None,) * max(n_steps - 1, 0)
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != n_steps - 1:
        raise BadInput(
            f"--step-windows needs {n_steps - 1} durations (one per step after the first), got {len(parts)}",
            code="bad_step_windows",
            value=text,
        )
    return tuple(None if p in ("", "-", "none") else parse_duration(p, "--step-windows") for p in parts)


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise BadInput(f"unbalanced ']' in steps {text!r}; {_STEP_FORMS}", code="bad_steps", value=text)
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise BadInput(f"unbalanced '[' in steps {text!r}; {_STEP_FORMS}", code="bad_steps", value=text)
    parts.append("".join(cur))
    return parts


def parse_condition(text: str) -> Condition:
    """Parse ``column op value`` into a :class:`Condition` or raise :class:`BadInput`."""
    m = _COND_RE.match(text)
    allowed = ", ".join(NUMERIC_CONDITION_COLUMNS + TEXT_CONDITION_COLUMNS)
    if not m or not m.group(3):
        raise BadInput(
            f"cannot read the condition {text.strip()!r}: use column, operator ({' '.join(OPERATORS)}) and value, "
            f"e.g. watch_ratio>=0.5; columns: {allowed}",
            code="bad_condition",
            value=text,
        )
    column, op, raw = m.group(1).lower(), m.group(2), m.group(3).strip().strip("'\"")
    if column in NUMERIC_CONDITION_COLUMNS:
        try:
            value: float | str = float(raw)
        except ValueError as exc:
            raise BadInput(f"{column} compares with a number, got {raw!r}", code="bad_condition", value=text) from exc
        if not math.isfinite(value):
            raise BadInput(f"{column} compares with a finite number, got {raw!r}", code="bad_condition", value=text)
    elif column in TEXT_CONDITION_COLUMNS:
        if op not in ("=", "!="):
            raise BadInput(f"{column} is text: use = or !=, not {op}", code="bad_condition", value=text)
        value = raw
    else:
        raise BadInput(f"unknown condition column {column!r}; use one of {allowed}", code="bad_condition", value=text)
    return Condition(column, op, value)


def parse_steps(text: str | list[str] | tuple[str, ...]) -> tuple[Step, ...]:
    """Parse ``view[watch_ratio>=0.5],click,purchase`` into typed steps (2..8) or raise BadInput."""
    pieces = _split_top(text) if isinstance(text, str) else list(text)
    steps = []
    for piece in pieces:
        m = _STEP_RE.match(piece)
        if not m:
            raise BadInput(f"cannot read the step {piece.strip()!r}; {_STEP_FORMS}", code="bad_steps", value=piece)
        event_type = m.group(1).lower()
        if event_type not in EVENT_TYPES:
            raise BadInput(
                f"unknown event type {event_type!r} in the steps; use one of {', '.join(EVENT_TYPES)}",
                code="bad_steps",
                value=event_type,
            )
        conds = ()
        if m.group(2) is not None:
            if not m.group(2).strip():
                raise BadInput(f"empty condition in step {piece.strip()!r}; {_STEP_FORMS}", code="bad_steps", value=piece)
            conds = tuple(parse_condition(c) for c in m.group(2).split("&"))
        steps.append(Step(event_type, conds))
    if not 2 <= len(steps) <= MAX_STEPS:
        raise BadInput(f"a funnel needs 2 to {MAX_STEPS} steps, got {len(steps)}; {_STEP_FORMS}", code="bad_steps")
    return tuple(steps)


@dataclass(frozen=True)
class FunnelSpec:
    """What to compute; validated once here (the boundary)."""

    steps: tuple[Step, ...]
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    step_windows: tuple[int | None, ...] = ()
    mode: Mode = "sequential"
    hold: str | None = None
    count: CountBy = "users"
    breakdown: str | None = None
    touch: Touch = "first"
    period: Period = "day"
    min_segment: int = MIN_SEGMENT_SIZE

    def __post_init__(self) -> None:
        if isinstance(self.steps, str):
            object.__setattr__(self, "steps", parse_steps(self.steps))
        if not 2 <= len(self.steps) <= MAX_STEPS:
            raise BadInput(f"a funnel needs 2 to {MAX_STEPS} steps, got {len(self.steps)}", code="bad_steps")
        if not self.step_windows:
            object.__setattr__(self, "step_windows", (None,) * (len(self.steps) - 1))
        if len(self.step_windows) != len(self.steps) - 1:
            raise BadInput(
                f"per-step windows: need {len(self.steps) - 1} (one per step after the first), got {len(self.step_windows)}",
                code="bad_step_windows",
            )
        if not isinstance(self.window_seconds, int) or self.window_seconds <= 0:
            raise BadInput("the conversion window must be a positive number of seconds", code="bad_duration")
        for name, value, allowed in (
            ("mode", self.mode, MODES),
            ("count", self.count, COUNTS),
            ("touch", self.touch, TOUCHES),
            ("period", self.period, PERIODS),
        ):
            if value not in allowed:
                raise BadInput(f"unknown {name} {value!r}; use one of {', '.join(allowed)}", code=f"bad_{name}", value=value)
        if self.hold is not None and self.hold not in HOLD_COLUMNS:
            raise BadInput(f"cannot hold {self.hold!r} constant; use one of {', '.join(HOLD_COLUMNS)}", code="bad_hold", value=self.hold)
        if self.breakdown is not None and self.breakdown not in BREAKDOWNS:
            raise BadInput(
                f"cannot break down by {self.breakdown!r}; use one of {', '.join(BREAKDOWNS)}", code="bad_breakdown", value=self.breakdown
            )
        if self.mode == "any" and any(w is not None for w in self.step_windows):
            raise BadInput("per-step windows need an ordered mode (sequential or strict), not 'any'", code="bad_step_windows")
        if self.min_segment < 1:
            raise BadInput("the minimum segment size must be at least 1", code="bad_min_segment")

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.steps)

    def describe(self) -> dict[str, Any]:
        return {
            "steps": list(self.labels),
            "window_seconds": self.window_seconds,
            "step_windows_seconds": list(self.step_windows),
            "mode": self.mode,
            "hold": self.hold,
            "count": self.count,
            "breakdown": self.breakdown,
            "touch": self.touch,
            "period": self.period,
        }
