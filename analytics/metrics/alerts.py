"""Anomaly alerts: every KPI's daily values against a band learned from its own history.

For each KPI of the glossary (:data:`analytics.metrics.kpis.KPIS`), overall and per channel (or per value
of other dimensions: the :data:`MAX_SEGMENTS` values with the most views), the daily series over the window and the
:data:`HISTORY_DAYS` days before it is decomposed with STL (Cleveland et al. 1990, "STL: A
Seasonal-Trend Decomposition Procedure Based on Loess"; statsmodels' ``STL`` with a weekly period
and robust fitting, so an outlier does not bend the trend or the weekday pattern). The expected
value of a day is trend + seasonal; the residual scale is the median absolute deviation of the
residuals times 1.4826 (a robust standard deviation). A day of the window outside
``expected ± z * scale`` (default :data:`Z_THRESHOLD`) is an alert, with its size and, for the
:data:`MAX_EXPLAINED` largest, the explanation of the change against the same weekday a week
earlier (:func:`analytics.metrics.explain.explain`).

False alarms: with Gaussian residuals a point would leave the band with probability
``2 * (1 - Phi(z))`` (5.7e-7 at z = 5, :meth:`AlertReport.nominal_false_alarm_rate`), but daily
money KPIs (revenue, ARPU, ROAS) have heavy tails: on the incident-free sample (12,000 users,
60 days, 30 judged days, overall and per channel) about 1 % of the judged points leave the band,
mostly those; docs/explain.md gives the measured rates and tests/unit/test_alerts.py keeps them. Ratio days
whose denominator is below :data:`MIN_DAILY_DENOMINATOR` are not judged (too few to tell noise
from a change); a series needs :data:`MIN_HISTORY_DAYS` days with values.

Digest: :func:`write_digest` writes the alerts as JSON (the CLI's ``alerts --json`` document) and
as a Markdown table (worded by the caller) into a folder; :class:`DigestWriter` is a thread that a long-running process
(the dashboard) starts to write one digest a day, because DuckDB lets only one process open the
database while the dashboard serves it. docs/explain.md describes the set-up.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from analytics.errors import BadInput
from analytics.metrics.explain import Contributor, explain
from analytics.metrics.kpis import (
    DIMENSIONS,
    KPI_BY_NAME,
    KPIS,
    Kpi,
    check_dimension,
    event_components,
    resolve_period,
    spend_components,
)
from analytics.query.filters import Filters
from analytics.query.localtime import complete_days
from analytics.store.storage import Store

Status = Literal["ok", "no_data", "short_history"]

Z_THRESHOLD: Final[float] = 5.0
#: STL smoothers (odd, in days): a trend over about four weeks and a weekday pattern that changes
#: slowly. statsmodels' defaults (7 and 11) follow the noise so closely that the residuals, and with
#: them the band, shrink far below the day-to-day noise.
STL_TREND: Final[int] = 29
STL_SEASONAL: Final[int] = 31
HISTORY_DAYS: Final[int] = 56
MIN_HISTORY_DAYS: Final[int] = 21
MIN_DAILY_DENOMINATOR: Final[float] = 100.0
SEGMENT_DIMENSION: Final[str] = "channel"
MAX_SEGMENTS: Final[int] = 8
MAX_EXPLAINED: Final[int] = 10
EXPLANATION_LENGTH: Final[int] = 3
#: KPIs that cannot be negative: their band stops at zero.
_NON_NEGATIVE_UNITS: Final[frozenset[str]] = frozenset({"count", "hours", "ratio", "multiple"})
#: Default window when none is given: the last 7 days with data.
DEFAULT_WINDOW_DAYS: Final[int] = 7
DIGEST_FOLDER: Final[str] = "digests"


@dataclass(frozen=True)
class Band:
    """One monitored series: ``frame`` has ``day value expected low high complete judged`` (history
    and window; a day the data does not cover in full is never judged, see
    :func:`analytics.query.localtime.complete_days`)."""

    kpi: str
    segment: tuple[tuple[str, str], ...]
    frame: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class Alert:
    """A day outside its band (``z`` = distance from the expected value in residual scales)."""

    kpi: str
    day: dt.date
    value: float
    expected: float
    low: float
    high: float
    z: float
    segment: tuple[tuple[str, str], ...] = ()
    explanation: tuple[Contributor, ...] = ()

    @property
    def size(self) -> float:
        """``value - expected`` in the KPI's unit."""
        return self.value - self.expected

    def to_dict(self) -> dict[str, Any]:
        return {"kpi": self.kpi, "day": self.day.isoformat(), "value": self.value, "expected": self.expected,
                "low": self.low, "high": self.high, "segment": dict(self.segment),
                "explanation": [c.to_dict() for c in self.explanation], "z": self.z}


@dataclass(frozen=True)
class AlertReport:
    """Alerts of a window, largest first, and every band that was judged."""

    status: Status
    window: Filters
    z: float
    alerts: tuple[Alert, ...] = ()
    bands: tuple[Band, ...] = field(default=(), repr=False)
    points: int = 0

    @property
    def nominal_false_alarm_rate(self) -> float:
        """Chance that one judged point of a series without incidents leaves the band (Gaussian residuals)."""
        return math.erfc(self.z / math.sqrt(2))

    def band(self, kpi: str, segment: dict[str, str] | None = None) -> Band | None:
        key = tuple(sorted((segment or {}).items()))
        return next((b for b in self.bands if b.kpi == kpi and b.segment == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alerts": [a.to_dict() for a in self.alerts],
            "status": self.status,
            "window": self.window.describe(),
            "z": self.z,
            "points": self.points,
            "nominal_false_alarm_rate": self.nominal_false_alarm_rate,
        }


# -- bands -------------------------------------------------------------------------------------
def expected_band(values: pd.Series, z: float = Z_THRESHOLD) -> pd.DataFrame | None:
    """STL band of a daily series (index: consecutive days; NaN where it has no value).

    Returns ``value expected low high scale`` per day, or ``None`` with fewer than
    :data:`MIN_HISTORY_DAYS` values. Missing days are interpolated for the fit only.
    """
    from statsmodels.tsa.seasonal import STL

    y = pd.to_numeric(values, errors="coerce").astype("float64")
    if y.notna().sum() < MIN_HISTORY_DAYS:
        return None
    filled = y.interpolate(limit_direction="both")
    fit = STL(filled.to_numpy(), period=7, seasonal=STL_SEASONAL, trend=STL_TREND, robust=True).fit()
    expected = pd.Series(fit.trend + fit.seasonal, index=y.index)
    resid = (y - expected).dropna()
    scale = 1.4826 * float(np.median(np.abs(resid - resid.median())))
    return pd.DataFrame(
        {"value": y, "expected": expected, "low": expected - z * scale, "high": expected + z * scale,
         "scale": scale}
    )


def _daily(store: Store, filters: Filters, by: tuple[str, ...]) -> pd.DataFrame:
    """Components per local day (and ``by``) with spend where it can be attributed."""
    comps = event_components(store, filters, ("day", *by))
    comps["day"] = pd.to_datetime(comps["day"]).dt.date
    spend = spend_components(store, filters, ("day", *by))
    if spend is not None and len(spend):
        spend["day"] = pd.to_datetime(spend["day"]).dt.date
        comps = comps.merge(spend, on=["day", *by], how="left")
    return comps


def _series(comps: pd.DataFrame, days: list[dt.date], kpi: Kpi) -> tuple[pd.Series, pd.Series]:
    """The KPI per day and whether the day can be judged (enough denominator)."""
    comps = comps.set_index("day").reindex(days)
    values = pd.Series(kpi.column(comps, len(comps)), index=days)
    if kpi.denominator and kpi.denominator in comps:
        den = pd.to_numeric(comps[kpi.denominator], errors="coerce").fillna(0)
        judged = (den >= MIN_DAILY_DENOMINATOR) & values.notna()
    else:
        judged = values.notna()
    return values.where(judged), judged


def _window(store: Store, filters: Filters) -> Filters | None:
    """The window to judge: the given dates, or the last :data:`DEFAULT_WINDOW_DAYS` days with data."""
    period = resolve_period(store, filters)
    if period is None:
        return None
    if filters.date_from is None:
        start = max(period.date_from, period.date_to - dt.timedelta(days=DEFAULT_WINDOW_DAYS - 1))
        period = dataclasses.replace(filters, date_from=start, date_to=period.date_to)
    return period


def monitor(
    store: Store,
    filters: Filters,
    kpis: Sequence[str] | None = None,
    *,
    z: float = Z_THRESHOLD,
    segments: Sequence[str] = (SEGMENT_DIMENSION,),
    explain_alerts: bool = True,
) -> AlertReport:
    """Alerts for the days of ``filters`` (default: the last 7 days with data) for every KPI.

    Args:
        kpis: names from :data:`analytics.metrics.kpis.KPIS` (default all).
        z: half-width of the band in robust residual scales (> 0).
        segments: dimensions whose top :data:`MAX_SEGMENTS` values get series of their own.
        explain_alerts: attach the top contributors of the change against a week earlier.

    Returns an :class:`AlertReport` (status ``no_data`` without events, ``short_history`` when
    no series has :data:`MIN_HISTORY_DAYS` days of values).
    """
    if not z > 0:
        raise BadInput("z must be a positive number of residual scales", code="bad_z", value=z)
    for name in kpis or ():
        if name not in KPI_BY_NAME:
            raise BadInput(f"unknown KPI {name!r}; use one of {', '.join(KPI_BY_NAME)}", code="bad_kpi", value=name)
    chosen = [KPI_BY_NAME[k] for k in kpis] if kpis else list(KPIS)
    segments = tuple(dict.fromkeys(check_dimension(d) for d in segments))
    window = _window(store, filters)
    if window is None:
        return AlertReport("no_data", filters, z)
    history = dataclasses.replace(window, date_from=window.date_from - dt.timedelta(days=HISTORY_DAYS))
    days = list(pd.date_range(history.date_from, history.date_to, freq="D").date)
    complete = pd.Series(complete_days(days, store.span(), window.timezone), index=days)
    groups: list[tuple[tuple[tuple[str, str], ...], pd.DataFrame]] = [((), _daily(store, history, ()))]
    for dim in segments:
        per_value = _daily(store, history, (dim,))
        per_value = per_value[per_value[dim].notna()]
        views = per_value.groupby(dim)["views"].sum().sort_values(ascending=False, kind="stable")
        groups += [(((dim, str(v)),), per_value[per_value[dim] == v]) for v in views.head(MAX_SEGMENTS).index]
    bands, alerts, points = [], [], 0
    for segment, comps in groups:
        for kpi in chosen:
            values, judged = _series(comps, days, kpi)
            band = expected_band(values.where(complete), z)  # a partial day would bend the fit
            if band is None or not band["scale"].iloc[0] > 0:
                continue
            band["value"] = values
            if kpi.unit in _NON_NEGATIVE_UNITS:  # a count, an amount or a rate is never below zero: nor is its expectation
                band[["expected", "low"]] = band[["expected", "low"]].clip(lower=0)
            band["complete"] = complete
            band["judged"] = judged & complete & (band.index >= window.date_from)
            bands.append(Band(kpi.name, segment, band.rename_axis("day").reset_index()))
            points += int(band["judged"].sum())
            out = band[band["judged"] & ((band["value"] < band["low"]) | (band["value"] > band["high"]))]
            for day, row in out.iterrows():
                alerts.append(Alert(kpi.name, day, float(row.value), float(row.expected), float(row.low),
                                    float(row.high), float((row.value - row.expected) / row.scale), segment))
    if not bands:
        return AlertReport("short_history", window, z)
    alerts.sort(key=lambda a: (-abs(a.z), a.day, a.kpi))
    if explain_alerts:
        alerts = [_explained(store, window, a) if i < MAX_EXPLAINED else a for i, a in enumerate(alerts)]
    return AlertReport("ok", window, z, tuple(alerts), tuple(bands), points)


def _explained(store: Store, window: Filters, alert: Alert) -> Alert:
    """The alert with the top contributors of its change against the same weekday a week earlier."""
    segment = dict(alert.segment)
    channels = (segment["channel"],) if "channel" in segment else window.channels
    campaigns = (segment["campaign"],) if "campaign" in segment else window.campaigns
    categories = (segment["category"],) if "category" in segment else window.categories
    if set(segment) - {"channel", "campaign", "category"}:
        return alert  # the filters cannot restrict to this segment: the overall alert explains it
    base = Filters(alert.day, alert.day, channels, campaigns, categories, window.timezone)
    week = alert.day - dt.timedelta(days=7)
    before = Filters(week, week, channels, campaigns, categories, window.timezone)
    by = [d for d in DIMENSIONS if d not in segment]
    result = explain(store, alert.kpi, base, before, by)
    top = tuple(result.contributors[:EXPLANATION_LENGTH])
    return Alert(alert.kpi, alert.day, alert.value, alert.expected, alert.low, alert.high, alert.z,
                 alert.segment, top)


# -- the digest --------------------------------------------------------------------------------
def digest_paths(folder: Path, day: dt.date) -> dict[str, Path]:
    return {"json": folder / f"alerts-{day.isoformat()}.json", "markdown": folder / f"alerts-{day.isoformat()}.md"}


def write_digest(report: AlertReport, folder: str | Path, markdown: Callable[[dict[str, Any]], str]) -> dict[str, Path]:
    """Write ``alerts-<last day>.json`` (the ``alerts --json`` document) and ``.md`` into ``folder``;
    ``markdown`` words the document (the presentation layer's, :func:`dashboard.change_text.digest_markdown`).

    Each file is written to a temporary name and renamed, so a reader never sees half a digest.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    day = report.window.date_to or dt.date.today()
    paths = digest_paths(folder, day)
    doc = report.to_dict()
    texts = {"json": json.dumps(doc, ensure_ascii=False, indent=1), "markdown": markdown(doc)}
    for kind, path in paths.items():
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(texts[kind], encoding="utf-8")
        tmp.replace(path)
    return paths


def latest_digest(folder: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest ``alerts-*.json`` in ``folder`` and its document, or ``None``."""
    files = sorted(Path(folder).glob("alerts-*.json"))
    if not files:
        return None
    return files[-1], json.loads(files[-1].read_text(encoding="utf-8"))


class DigestWriter(threading.Thread):
    """A daemon thread writing the digest of the latest day with data, once per day.

    Every ``interval_seconds`` it checks the data's last local day; when that day has no digest in
    ``folder`` yet it runs :func:`monitor` over it and writes the files. Errors are kept in
    ``last_error`` (the next round tries again) so a bad day never stops the thread. The first
    round waits ``first_delay_seconds`` so that starting a server is not slowed down by it.
    """

    def __init__(
        self,
        store: Store,
        folder: str | Path,
        timezone: str,
        markdown: Callable[[dict[str, Any]], str],
        interval_seconds: float = 3600.0,
        first_delay_seconds: float = 60.0,
    ) -> None:
        super().__init__(name="reelytics-digest", daemon=True)
        self.store, self.folder, self.timezone, self.markdown = store, Path(folder), timezone, markdown
        self.interval_seconds, self.first_delay_seconds = interval_seconds, first_delay_seconds
        self.last_error: Exception | None = None
        self._stop = threading.Event()

    def run_once(self) -> dict[str, Path] | None:
        """Write the digest of the latest day if it is missing; the paths written, else ``None``."""
        period = resolve_period(self.store, Filters(timezone=self.timezone))
        if period is None or digest_paths(self.folder, period.date_to)["json"].exists():
            return None
        window = Filters(period.date_to, period.date_to, timezone=self.timezone)
        return write_digest(monitor(self.store, window), self.folder, self.markdown)

    def run(self) -> None:
        self._stop.wait(self.first_delay_seconds)
        while not self._stop.is_set():
            try:
                self.run_once()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - kept for the page, retried next round
                self.last_error = exc
            self._stop.wait(self.interval_seconds)

    def stop(self) -> None:
        self._stop.set()
