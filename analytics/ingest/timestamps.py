"""Reading points in time from text, as one DuckDB SQL expression per column.

Rules, in order, for a trimmed text value ``v`` (the result is a naive UTC ``TIMESTAMP``):

1. 8 or 14 digits starting with 19/20 (``20220410``, ``20220410083000``): a compact local date/time;
2. any other number: epoch time in the column's unit (:class:`TimeReading`, decided once per column
   from its values: the median magnitude gives seconds below 1e11, milliseconds below 1e14,
   microseconds below 1e17, else nanoseconds; 1e11 s is the year 5138, 1e11 ms is 1973). A number
   too large for any time is NULL, never an engine error;
3. text with an offset (ending in ``Z``, `` UTC`` or `` GMT``, or a ``+``/``-`` after the date part as in
   ``+08:00``, ``-0500``): that instant;
   An e-mail or HTTP date (``Mon, 05 Jan 2026 12:00:00 GMT``) is read too; a zone's abbreviation
   (``CST`` names three zones) is not guessed;
4. other text (``2024-01-05 20:00:00``, ``2024/01/05 20:00``, ``2024年1月5日 20:00``, ``2024年1月5日 20时00分``,
   ``20240105 20:00``, a month's name as in ``Jan 5, 2024 8:00 PM`` or ``05-Jan-2024``, a 12-hour clock
   with AM/PM, and day/month/year or month/day/year with ``/``, ``.`` or ``-`` in the column's order):
   local time in the configured zone (default Asia/Shanghai), converted to UTC. Non-existent or
   ambiguous local times (DST changes) follow DuckDB's ICU rules.

Anything else is NULL, and the row is rejected with the code ``bad_time``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

_CLOCKS = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p")  # 24-hour, then 12-hour with AM/PM
LOCAL_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日 %H时%M分%S秒",
    "%Y年%m月%d日 %H时%M分",
    "%Y年%m月%d日",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d %H:%M",
    "%Y-%m-%d %I:%M:%S %p",
    "%Y-%m-%d %I:%M %p",
    "%Y/%m/%d %I:%M:%S %p",
    "%Y/%m/%d %I:%M %p",
    # a month's name: "Mar 1, 2024 10:00 AM", "March 1, 2024", "01-Mar-2024 10:00", "1 March 2024"
    *(f"{day} {clock}" for day in ("%b %d, %Y", "%B %d, %Y", "%d-%b-%Y", "%d %b %Y", "%d %B %Y") for clock in _CLOCKS),
    "%b %d, %Y",
    "%B %d, %Y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d %B %Y",
)
#: Text with an offset that is not ISO: an e-mail or HTTP date ("Fri, 01 Mar 2024 10:00:00 GMT"),
#: read once its zone is written as a number.
OFFSET_FORMATS = ("%a, %d %b %Y %H:%M:%S%z", "%a, %d %b %Y %H:%M%z", "%d %b %Y %H:%M:%S%z")
COMPACT_FORMATS = ("%Y%m%d%H%M%S", "%Y%m%d")
EpochUnit = Literal["s", "ms", "us", "ns"]
DateOrder = Literal["dmy", "mdy"]
#: Microseconds per epoch unit.
_MICROS = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}
#: |microseconds| below this fit a TIMESTAMP (and a BIGINT) with room to spare (year ~287,000).
_MAX_MICROS = 9e18
#: Day and month first, then a four-digit year: the order must be decided (01/09/2026).
NUMERIC_DATE_RE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:\s|T|$)")


@dataclass(frozen=True)
class TimeReading:
    """How one column's times are read, decided from its values (:func:`infer_reading`).

    ``epoch_unit``: the unit of plain numbers. ``date_order``: ``dmy`` or ``mdy`` for dates such as
    ``01/09/2026``; ``order_proven`` says whether a value of the column proves it (a first number
    above 12 proves day-first, a second one above 12 month-first); an unproven order is day-first
    and is flagged in the preview and the report. ``order_conflict``: values prove both orders
    (those of the other order are rejected as unreadable).
    """

    epoch_unit: EpochUnit = "s"
    date_order: DateOrder = "dmy"
    order_proven: bool = False
    order_conflict: bool = False
    numeric_dates: int = 0  # sampled values of the form dd/dd/yyyy
    epochs: int = 0  # sampled plain numbers

    @property
    def formats(self) -> tuple[str, ...]:
        day, month = ("%d", "%m") if self.date_order == "dmy" else ("%m", "%d")
        out = []
        for sep in "/.-":
            base = f"{day}{sep}{month}{sep}%Y"
            out += [*(f"{base} {clock}" for clock in _CLOCKS), base]
        return LOCAL_FORMATS + tuple(out)


def _compact(v: str) -> bool:
    return len(v) in (8, 14) and v[:2] in ("19", "20") and v.isdigit()


def infer_reading(values: Iterable[str | None]) -> TimeReading:
    """The :class:`TimeReading` of a column from (a sample of) its values."""
    numbers: list[float] = []
    day_first = month_first = dates = 0
    for raw in values:
        v = (raw or "").strip()
        if not v or _compact(v):
            continue
        try:
            n = float(v)
        except ValueError:
            n = None
        if n is not None:
            if math.isfinite(n):
                numbers.append(abs(n))
            continue
        m = NUMERIC_DATE_RE.match(v)
        if m:
            dates += 1
            a, b = int(m.group(1)), int(m.group(2))
            day_first += a > 12 and b <= 12
            month_first += b > 12 and a <= 12
    unit: EpochUnit = "s"
    if numbers:
        med = statistics.median_low(numbers)  # one of the values: a stray one cannot pull it away
        unit = "s" if med < 1e11 else "ms" if med < 1e14 else "us" if med < 1e17 else "ns"
    order: DateOrder = "mdy" if month_first > day_first else "dmy"
    return TimeReading(
        epoch_unit=unit,
        date_order=order,
        order_proven=bool(day_first or month_first),
        order_conflict=bool(day_first and month_first),
        numeric_dates=dates,
        epochs=len(numbers),
    )


def _fmt_list(formats: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in formats) + "]"


def epoch_sql(num: str, unit: EpochUnit = "s") -> str:
    """Epoch number ``num`` (a DOUBLE expression) in ``unit`` -> naive UTC TIMESTAMP; NULL when no
    TIMESTAMP can hold it (never a conversion error)."""
    micros = f"({num} * {_MICROS[unit]!r})"
    return f"CASE WHEN abs({micros}) < {_MAX_MICROS!r} THEN make_timestamp(CAST(round({micros}) AS BIGINT)) END"


#: A trailing UTC offset: ``Z``, `` UTC``/`` GMT``, or ``+hh[:mm]``/``-hh[:mm]`` right after a time.
OFFSET_RE = r"(?:\d[Zz]|\sUTC|\sGMT|\d:\d\d(?::\d\d(?:\.\d+)?)?\s*[+-]\d\d(?::?\d\d)?)$"


def _offset_time(v: str) -> str:
    """Text ending in an offset -> naive UTC: `` UTC``/`` GMT`` read as ``+00:00``, ``z`` as ``Z``, a space before
    the offset left out (``10:00:00 +08:00``), and a time without seconds (``12:00+08:00``) given ``:00``
    seconds, which DuckDB's cast needs; else an e-mail or HTTP date (:data:`OFFSET_FORMATS`)."""
    z = f"regexp_replace(regexp_replace(regexp_replace({v}, '\\s(?:UTC|GMT)$', '+00:00'), 'z$', 'Z'), '\\s+([+-]\\d\\d(?::?\\d\\d)?)$', '\\1')"
    padded = f"regexp_replace({z}, '^(.*[ T]\\d{{1,2}}:\\d\\d)(\\s*(?:[+-]\\d|[Zz]$))', '\\1:00\\2')"
    return (
        f"CAST(coalesce(TRY_CAST({z} AS TIMESTAMPTZ), TRY_CAST({padded} AS TIMESTAMPTZ), "
        f"try_strptime({z}, {_fmt_list(OFFSET_FORMATS)})) AS TIMESTAMP)"
    )


def has_offset_sql(v: str) -> str:
    return f"regexp_matches({v}, '{OFFSET_RE}')"


def plainly_local_sql(v: str) -> str:
    """A test cheaper than :data:`OFFSET_RE` that is true only of text without an offset: no ``+``,
    no ``-`` after a ``:`` (an offset's sign follows the time), no ``Z``, ``UTC`` or ``GMT`` at the end.
    Text it does not clear is tested with the expression."""
    return (
        f"NOT (contains({v}, '+') OR {v} LIKE '%:%-%' OR {v} LIKE '%Z' OR {v} LIKE '%z' "
        f"OR {v} LIKE '%UTC' OR {v} LIKE '%GMT')"
    )


#: Where a zone's offset is checked to be constant, local times convert by plain arithmetic.
FIXED_SPAN = (dt.datetime(1995, 1, 1), dt.datetime(2040, 1, 1))


def fixed_offset_seconds(timezone: str) -> int | None:
    """The zone's UTC offset in seconds if it is the same on every day of :data:`FIXED_SPAN`, else None.

    (Asia/Shanghai: 28800; zones with daylight saving time: None.) Local times outside the span,
    and every local time of a zone with DST, are converted by DuckDB's ICU time-zone rules.
    """
    zone = ZoneInfo(timezone)
    start, end = FIXED_SPAN
    first = start.replace(tzinfo=zone).utcoffset()
    day = start
    while day < end:
        if day.replace(tzinfo=zone).utcoffset() != first:
            return None
        day += dt.timedelta(days=7)
    return int(first.total_seconds())


def time_sql(
    value: str,
    tz_param: str = "$tz",
    *,
    trimmed: bool = False,
    offset_param: str | None = None,
    iso: str | None = None,
    reading: TimeReading = TimeReading(),
) -> str:
    """SQL turning the VARCHAR expression ``value`` into a naive UTC TIMESTAMP (NULL if unreadable).

    ``tz_param`` names the bound parameter holding the IANA zone of local times; ``offset_param``
    (optional) the zone's fixed offset in seconds from :func:`fixed_offset_seconds`; ``trimmed`` says
    ``value`` is already trimmed with empty text as NULL; ``iso`` names a column already holding
    ``TRY_CAST(value AS TIMESTAMP)``; ``reading`` the column's epoch unit and date order. This runs per row, so the common case -- local ISO text -- is
    tried first with cheap tests, then the rules of the module docstring.
    """
    v = value if trimmed else f"nullif(trim({value}), '')"
    num = f"TRY_CAST({v} AS DOUBLE)"

    def to_utc(local_ts: str) -> str:
        icu = f"CAST(timezone({tz_param}, {local_ts}) AS TIMESTAMP)"
        if offset_param is None:
            return icu
        lo, hi = (d.isoformat(sep=" ") for d in FIXED_SPAN)
        return (
            f"CASE WHEN {local_ts} >= TIMESTAMP '{lo}' AND {local_ts} < TIMESTAMP '{hi}' "
            f"THEN {local_ts} - to_seconds({offset_param}) ELSE {icu} END"
        )

    iso = iso or f"TRY_CAST({v} AS TIMESTAMP)"
    local = f"coalesce({iso}, try_strptime({v}, {_fmt_list(reading.formats)}))"
    general = (
        "CASE "
        f"WHEN {v} IS NULL THEN NULL "
        f"WHEN length({v}) IN (8, 14) AND left({v}, 2) IN ('19', '20') AND TRY_CAST({v} AS BIGINT) IS NOT NULL "
        f"THEN {to_utc(f'try_strptime({v}, {_fmt_list(COMPACT_FORMATS)})')} "
        f"WHEN {num} IS NOT NULL THEN {epoch_sql(num, reading.epoch_unit)} "
        f"WHEN {has_offset_sql(v)} THEN {_offset_time(v)} "
        f"ELSE {to_utc(local)} END"
    )
    return (
        f"CASE WHEN {iso} IS NOT NULL AND {plainly_local_sql(v)} THEN {to_utc(iso)} "
        f"WHEN {iso} IS NOT NULL AND NOT {has_offset_sql(v)} THEN {to_utc(iso)} ELSE {general} END"
    )


def date_sql(
    value: str, tz_param: str = "$tz", offset_param: str | None = None, reading: TimeReading = TimeReading()
) -> str:
    """SQL turning VARCHAR ``value`` into a DATE: a plain date as is, a time as its local calendar day."""
    v = f"trim({value})"
    days = ("%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d") + tuple(
        f for f in reading.formats if "%H" not in f and "%I" not in f and "%Y" not in f[:2]
    )
    local = time_sql(value, tz_param, offset_param=offset_param, reading=reading)
    return (
        f"coalesce(TRY_CAST({v} AS DATE), try_strptime({v}, {_fmt_list(days)})::DATE, "
        f"CAST(timezone({tz_param}, CAST({local} AS TIMESTAMPTZ)) AS DATE))"
    )


def parse_time(text: str, timezone: str = "Asia/Shanghai", reading: TimeReading = TimeReading()) -> dt.datetime | None:
    """The same rules in Python (reference for tests and previews): naive UTC or None."""
    v = text.strip()
    if not v:
        return None
    zone = ZoneInfo(timezone)

    def local(d: dt.datetime) -> dt.datetime | None:
        try:
            return d.replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None)
        except (OverflowError, ValueError):  # year 1 or 9999 shifted out of Python's range
            return None

    if len(v) in (8, 14) and v[:2] in ("19", "20") and v.isdigit():
        for f in COMPACT_FORMATS:
            try:
                return local(dt.datetime.strptime(v, f))
            except ValueError:
                continue
        return None
    try:
        n = float(v)
    except ValueError:
        n = None
    if n is not None:
        micros = n * _MICROS[reading.epoch_unit]
        if not abs(micros) < _MAX_MICROS:
            return None
        try:
            return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=round(micros))
        except OverflowError:  # beyond Python's year 9999
            return None
    if re.search(OFFSET_RE, v):
        iso = re.sub(r"\s+([+-]\d\d(?::?\d\d)?)$", r"\1", re.sub(r"\s(UTC|GMT)$", "+00:00", v).replace("z", "Z"))
        try:
            d = dt.datetime.fromisoformat(iso)
        except ValueError:
            for f in OFFSET_FORMATS:
                try:
                    d = dt.datetime.strptime(iso, f)
                    break
                except ValueError:
                    continue
            else:
                return None
        return d.astimezone(dt.timezone.utc).replace(tzinfo=None)
    try:
        return local(dt.datetime.fromisoformat(v))
    except ValueError:
        pass
    for f in reading.formats:
        try:
            return local(dt.datetime.strptime(v, f))
        except ValueError:
            continue
    return None
