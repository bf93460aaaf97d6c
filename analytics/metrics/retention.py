"""Cohort retention: who comes back, and how much they watch and pay when they do.

Definitions (written once here; docs/metrics.md "Retention" repeats them for people):

* **Local day / week.** Event times are stored as naive UTC; a user's day is the calendar day in the
  configured zone (``Filters.timezone``), a week is the ISO week (Monday to Sunday) holding that day.
* **Cohort.** ``first_seen``: the local day (week) of the user's first event of any type;
  ``first_purchase``: of the user's first purchase. "First" looks at all history that matches the
  channel / campaign / category filters; the date filter only chooses which cohorts are shown
  (cohort day in ``[date_from, date_to]``). Returns are followed to the end of the data.
* **Period k** of a cohort is the k-th local day (week) after the cohort's day (week); period 0 is the
  cohort's own day (week).
* **Returned "on" period k**: the user has at least one event (any type, same non-date filters) in
  period k. **"On or after" period k**: in period k or any later period observed.
* **Incomplete cell**: period k ends after the last local day holding data (``data_end``); its value is
  ``None`` and ``incomplete`` is True, never 0.
* **Sums**: watch time (``watch_seconds`` of view events) and net revenue (purchase revenue minus
  refunded amounts) per cohort member in period k, and cumulated over periods 0..k.
* **Dn retention** (:func:`day_n_retention`, the D1/D7/D30 KPI): among users first seen in the period
  whose day n is observable (first day + n <= ``data_end``), the share with an event on local day
  first day + n. ``None`` when no user is eligible.

All queries are ibis expressions (engine-neutral); only small aggregates reach pandas.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import ibis
import pandas as pd

from analytics.errors import BadInput
from analytics.query.filters import Filters, filtered_events
from analytics.query.localtime import local_time, to_local_day, utc_offsets

CohortKind = Literal["first_seen", "first_purchase"]
Period = Literal["day", "week"]
Mode = Literal["on", "on_or_after"]
Measure = Literal["users", "watch_seconds", "revenue"]

COHORTS: tuple[str, ...] = ("first_seen", "first_purchase")
PERIODS: tuple[str, ...] = ("day", "week")
MODES: tuple[str, ...] = ("on", "on_or_after")
MEASURES: tuple[str, ...] = ("users", "watch_seconds", "revenue")
MAX_PERIODS = 400


def _all_dates(filters: Filters) -> Filters:
    return replace(filters, date_from=None, date_to=None)


@dataclass(frozen=True)
class _Frame:
    """Events (non-date filters) with ``local_day``, and the data's last local day."""

    events: Any
    data_end: dt.date | None


def _local_events(source, filters: Filters) -> _Frame:
    lo, hi = source.span()
    if hi is None:
        return _Frame(None, None)
    offsets = utc_offsets(filters.timezone, lo, hi)
    ev = filtered_events(source, _all_dates(filters))
    ev = ev.mutate(local_day=local_time(ev.event_time, offsets).date())
    return _Frame(ev, to_local_day(hi, filters.timezone))


def _user_days(events, **metrics):
    """One row per user and local day with activity (plus per-day ``metrics`` aggregates)."""
    if metrics:
        return events.group_by("user_id", "local_day").aggregate(**metrics)
    return events.select("user_id", "local_day").distinct()


def _in_range(day_col, filters: Filters):
    preds = []
    if filters.date_from is not None:
        preds.append(day_col >= filters.date_from)
    if filters.date_to is not None:
        preds.append(day_col <= filters.date_to)
    return preds


# -- Dn retention (KPI) -----------------------------------------------------------------------


def day_n_retention(source, filters: Filters, n: int) -> float | None:
    """Dn retention of users first seen in the filtered period (the D1/D7/D30 KPI).

    Args:
        source: an ibis source (``source``) or a :class:`~analytics.store.storage.Store`.
        filters: date range (chooses the cohort: first-seen local day in ``[date_from, date_to]``),
            channels / campaigns / categories (apply to first-seen and to returns), time zone.
        n: the day offset (``n >= 0``); day 0 is the first-seen day.

    Returns:
        ``returned / eligible`` in [0, 1], where eligible users are those first seen in the period
        with ``first_day + n <= data_end`` (the last local day holding any event) and returned users
        have an event on local day ``first_day + n``; ``None`` when no user is eligible.
    """
    return day_n_retentions(source, filters, (n,))[n]


def day_n_retentions(source, filters: Filters, days: Sequence[int]) -> dict[int, float | None]:
    """:func:`day_n_retention` for each n of ``days``, in one query (one pass over the user-days)."""
    for n in days:
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise BadInput(f"the retention day must be a whole number >= 0, got {n!r}", code="bad_day", value=n)
    frame = _local_events(source, filters)
    if frame.events is None or not days:
        return {n: None for n in days}
    ud = _user_days(frame.events)
    ud = ud.mutate(first_day=ud.local_day.min().over(ibis.window(group_by=ud.user_id)))
    preds = _in_range(ud.first_day, filters)
    preds.append(ud.first_day <= frame.data_end - dt.timedelta(days=min(days)))
    ud = ud.filter(*preds)
    after = ud.local_day.delta(ud.first_day, unit="day")
    metrics = {}
    for n in dict.fromkeys(days):
        observable = ud.first_day <= frame.data_end - dt.timedelta(days=n)
        metrics[f"eligible_{n}"] = ibis.ifelse(observable, ud.user_id, ibis.null("string")).nunique()
        metrics[f"returned_{n}"] = ibis.ifelse(observable & (after == n), ud.user_id, ibis.null("string")).nunique()
    agg = source.execute(ud.aggregate(**metrics)).iloc[0]
    out: dict[int, float | None] = {}
    for n in days:
        eligible = int(agg[f"eligible_{n}"])
        out[n] = float(agg[f"returned_{n}"]) / eligible if eligible else None
    return out


# -- cohort table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionResult:
    """A cohort x period table.

    ``values[i][k]``: for ``measure="users"`` the share of cohort ``i`` that returned (``mode``) in
    period ``k``, in [0, 1]; for sums the amount per cohort member in period ``k`` (seconds or
    money). ``totals[i][k]`` is the numerator (users, or the summed amount). ``cumulative[i][k]``
    (sums only) is the amount per member over periods ``0..k``. Incomplete cells are ``None`` with
    ``incomplete[i][k]`` True.
    """

    status: Literal["ok", "no_data", "no_cohorts"]
    cohort: str
    period: str
    mode: str
    measure: str
    timezone: str
    data_end: dt.date | None
    cohorts: tuple[dt.date, ...] = ()
    sizes: tuple[int, ...] = ()
    values: tuple[tuple[float | None, ...], ...] = ()
    totals: tuple[tuple[float | None, ...], ...] = ()
    cumulative: tuple[tuple[float | None, ...], ...] = ()
    incomplete: tuple[tuple[bool, ...], ...] = ()
    periods: int = 0

    @property
    def users(self) -> int:
        """Users in all cohorts shown."""
        return int(sum(self.sizes))

    @property
    def is_rate(self) -> bool:
        return self.measure == "users"

    def curve(self, cumulative: bool = False) -> list[float | None]:
        """The size-weighted average over cohorts whose period ``k`` is complete, per ``k``."""
        grid = self.cumulative if cumulative else self.values
        out: list[float | None] = []
        for k in range(self.periods):
            num = den = 0.0
            for i, size in enumerate(self.sizes):
                v = grid[i][k] if grid else None
                if v is not None and not self.incomplete[i][k]:
                    num += v * size
                    den += size
            out.append(num / den if den else None)
        return out

    def relative(self, cumulative: bool = False) -> tuple[tuple[float | None, ...], ...]:
        """Each cohort's values divided by its period-0 value (``None`` where that is 0 or missing)."""
        grid = self.cumulative if cumulative else self.values
        out = []
        for row in grid:
            base = row[0] if row else None
            out.append(tuple(None if (v is None or not base) else v / base for v in row))
        return tuple(out)

    def matrix_frame(self, *, cumulative: bool = False, relative: bool = False) -> pd.DataFrame:
        """Wide table: one row per cohort (``cohort``, ``size``), one column per period."""
        if relative:
            grid = self.relative(cumulative)
        else:
            grid = self.cumulative if cumulative else self.values
        data = {"cohort": list(self.cohorts), "size": list(self.sizes)}
        for k in range(self.periods):
            data[f"{self.period}_{k}"] = [row[k] for row in grid] if grid else []
        return pd.DataFrame(data)

    def to_frame(self) -> pd.DataFrame:
        """Long table, one row per cohort and period (the export)."""
        rows = []
        for i, start in enumerate(self.cohorts):
            for k in range(self.periods):
                rows.append(
                    {
                        "cohort": start,
                        "cohort_size": self.sizes[i],
                        "period": k,
                        "value": self.values[i][k],
                        "total": self.totals[i][k],
                        "cumulative": self.cumulative[i][k] if self.cumulative else None,
                        "incomplete": self.incomplete[i][k],
                    }
                )
        return pd.DataFrame(
            rows, columns=["cohort", "cohort_size", "period", "value", "total", "cumulative", "incomplete"]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "cohort": self.cohort,
            "period": self.period,
            "mode": self.mode,
            "measure": self.measure,
            "timezone": self.timezone,
            "data_end": self.data_end,
            "users": self.users,
            "curve": self.curve(),
            "cumulative_curve": self.curve(cumulative=True) if self.cumulative else None,
            "cohorts": [
                {
                    "cohort": start,
                    "size": self.sizes[i],
                    "values": list(self.values[i]),
                    "totals": list(self.totals[i]),
                    "cumulative": list(self.cumulative[i]) if self.cumulative else None,
                    "incomplete": list(self.incomplete[i]),
                }
                for i, start in enumerate(self.cohorts)
            ],
        }


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise BadInput(
            f"{name} must be one of {', '.join(allowed)}, got {value!r}", code=f"bad_{name}", value=value
        )


def compute_retention(
    source,
    filters: Filters,
    *,
    cohort: CohortKind = "first_seen",
    period: Period = "day",
    mode: Mode = "on",
    measure: Measure = "users",
    periods: int = 8,
) -> RetentionResult:
    """Cohort retention table by local day or ISO week (definitions in the module docstring).

    Args:
        source: a :class:`~analytics.store.storage.Store` or an ibis source.
        filters: the date range chooses cohorts (cohort day in range); other filters apply to all
            events. Times in ``filters.timezone``.
        cohort: ``first_seen`` (first event) or ``first_purchase`` (first purchase).
        period: ``day`` or ``week`` (ISO, Monday first).
        mode: ``on`` (active in period k) or ``on_or_after`` (active in k or later); users only.
        measure: ``users`` (rate in [0, 1]), ``watch_seconds`` (view seconds per member) or
            ``revenue`` (net of refunds, per member).
        periods: number of periods shown, 1..400 (period 0 included).

    Returns:
        :class:`RetentionResult`; status ``no_data`` on an empty source, ``no_cohorts`` when no user
        starts a cohort in the range.
    """
    _check_choice("cohort", cohort, COHORTS)
    _check_choice("period", period, PERIODS)
    _check_choice("mode", mode, MODES)
    _check_choice("measure", measure, MEASURES)
    if not isinstance(periods, int) or isinstance(periods, bool) or not 1 <= periods <= MAX_PERIODS:
        raise BadInput(f"periods must be a whole number from 1 to {MAX_PERIODS}, got {periods!r}", code="bad_periods", value=periods)
    if mode == "on_or_after" and measure != "users":
        raise BadInput(
            "'on or after' applies to the users measure; for watch time and revenue read the cumulative values",
            code="bad_mode",
            mode=mode,
            measure=measure,
        )
    base = dict(cohort=cohort, period=period, mode=mode, measure=measure, timezone=filters.timezone)
    frame = _local_events(source, filters)
    if frame.events is None:
        return RetentionResult("no_data", data_end=None, **base)
    ev = frame.events
    step = 7 if period == "week" else 1

    def start_of(day_col):
        return day_col.truncate("W") if period == "week" else day_col

    # One pass over the events into user-days; sums and first purchases come from the (much
    # smaller) subsets of events that carry them and are joined onto the user-days.
    ud = _user_days(ev)
    if measure != "users":
        if measure == "watch_seconds":
            src = ev.filter(ev.event_type == "view")
            amount = src.watch_seconds.fill_null(0).sum()
        else:
            src = ev.filter(ev.event_type.isin(["purchase", "refund"]))
            revenue = src.revenue.cast("float64").fill_null(0)
            amount = ibis.ifelse(src.event_type == "purchase", revenue, -revenue.abs()).sum()
        sums = src.group_by(day_user=src.user_id, day=src.local_day).aggregate(amount=amount)
        ud = ud.left_join(sums, [ud.user_id == sums.day_user, ud.local_day == sums.day])
        ud = ud.select("user_id", "local_day", amount=ud.amount.fill_null(0.0))
    if cohort == "first_purchase":
        buys = ev.filter(ev.event_type == "purchase")
        starts = buys.group_by(buyer=buys.user_id).aggregate(first_day=buys.local_day.min())
        ud = ud.inner_join(starts, ud.user_id == starts.buyer).drop("buyer")
    else:
        ud = ud.mutate(first_day=ud.local_day.min().over(ibis.window(group_by=ud.user_id)))
    # Only activity from the cohort's start onward counts (a first purchase may follow earlier views).
    ud = ud.filter(ud.first_day.notnull(), ud.local_day >= ud.first_day, *_in_range(ud.first_day, filters))
    ud = ud.mutate(cohort_start=start_of(ud.first_day))
    ud = ud.mutate(k=start_of(ud.local_day).delta(ud.cohort_start, unit="day") // step)

    if measure == "users" and mode == "on_or_after":
        last = ud.group_by("cohort_start", "user_id").aggregate(k=ud.k.max())
        agg = last.group_by("cohort_start", "k").aggregate(total=last.user_id.count())
        agg_df = source.execute(agg)
        sizes_df = agg_df.groupby("cohort_start", as_index=False)["total"].sum().rename(columns={"total": "size"})
    else:
        ud = ud.filter(ud.k < periods)
        total = ud.user_id.nunique() if measure == "users" else ud.amount.sum()
        agg = ud.group_by("cohort_start", "k").aggregate(total=total, members=ud.user_id.nunique())
        agg_df = source.execute(agg)
        # everyone is active in period 0 (the day of their first event or purchase)
        zero = agg_df[agg_df["k"] == 0]
        sizes_df = zero[["cohort_start", "members"]].rename(columns={"members": "size"})
    if sizes_df.empty:
        return RetentionResult("no_cohorts", data_end=frame.data_end, periods=periods, **base)
    return _assemble(sizes_df, agg_df, frame.data_end, step, periods, measure, mode, base)


def _assemble(sizes_df, agg_df, data_end, step, periods, measure, mode, base) -> RetentionResult:
    sizes_df = sizes_df.sort_values("cohort_start")
    starts = [pd.Timestamp(v).date() for v in sizes_df["cohort_start"]]
    sizes = [int(v) for v in sizes_df["size"]]
    totals_by: dict[tuple[dt.date, int], float] = {}
    for start, k, total in zip(agg_df["cohort_start"], agg_df["k"], agg_df["total"]):
        totals_by[(pd.Timestamp(start).date(), int(k))] = float(total) if total is not None and not pd.isna(total) else 0.0
    values, totals, cumulative, incomplete = [], [], [], []
    for start, size in zip(starts, sizes):
        if mode == "on_or_after":
            # users whose last active period is m count in every period k <= m
            last_k = {k: v for (s, k), v in totals_by.items() if s == start}
            raw = [sum(v for m, v in last_k.items() if m >= k) for k in range(periods)]
        else:
            raw = [totals_by.get((start, k), 0.0) for k in range(periods)]
        flags = [start + dt.timedelta(days=step * (k + 1) - 1) > data_end for k in range(periods)]
        row_v, row_t, row_c = [], [], []
        running = 0.0
        for k in range(periods):
            running += raw[k]
            if flags[k]:
                row_v.append(None)
                row_t.append(None)
                row_c.append(None)
            else:
                row_t.append(raw[k] if measure != "users" else int(raw[k]))
                row_v.append(raw[k] / size)
                row_c.append(running / size)
        values.append(tuple(row_v))
        totals.append(tuple(row_t))
        cumulative.append(tuple(row_c))
        incomplete.append(tuple(flags))
    return RetentionResult(
        "ok",
        data_end=data_end,
        cohorts=tuple(starts),
        sizes=tuple(sizes),
        values=tuple(values),
        totals=tuple(totals),
        cumulative=tuple(cumulative) if measure != "users" else (),
        incomplete=tuple(incomplete),
        periods=periods,
        **base,
    )
