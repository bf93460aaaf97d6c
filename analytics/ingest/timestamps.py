"""Reading points in time from text, as one DuckDB SQL expression per column.

Rules, in order, for a trimmed text value ``v`` (the result is a naive UTC ``TIMESTAMP``):

1. 8 or 14 digits starting with 19/20 (``20220410``, ``20220410083000``): a compact local date/time;
2. any other number: epoch time, unit from its magnitude -- ``|n| >= 1e14`` microseconds,
   ``|n| >= 1e11`` milliseconds, else seconds (1e11 s is the year 5138; 1e11 ms is 1973);
3. text with an offset (ending in ``Z``, `` UTC`` or `` GMT``, or a ``+``/``-`` after the date part as in
   ``+08:00``, ``-0500``): that instant;
4. other text (``2024-01-05 20:00:00``, ``2024/01/05 20:00``, ``2024年1月5日 20:00``): local time in the
   configured zone (default Asia/Shanghai), converted to UTC. Non-existent or ambiguous local times
   (DST changes) follow DuckDB's ICU rules.

Anything else is NULL, and the row is rejected with the reason "cannot read <column>".
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

LOCAL_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
)
COMPACT_FORMATS = ("%Y%m%d%H%M%S", "%Y%m%d")


def _fmt_list(formats: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in formats) + "]"


def epoch_sql(num: str) -> str:
    """Epoch number ``num`` (a DOUBLE expression) -> naive UTC TIMESTAMP, unit by magnitude."""
    return (
        f"CASE WHEN abs({num}) >= 1e14 THEN make_timestamp(CAST({num} AS BIGINT)) "
        f"WHEN abs({num}) >= 1e11 THEN epoch_ms(CAST({num} AS BIGINT)) "
        f"ELSE make_timestamp(CAST(round({num} * 1e6) AS BIGINT)) END"
    )


#: A trailing UTC offset: ``Z``, `` UTC``/`` GMT``, or ``+hh[:mm]``/``-hh[:mm]`` right after a time.
OFFSET_RE = r"(?:\d[Zz]|\sUTC|\sGMT|\d:\d\d(?::\d\d(?:\.\d+)?)?\s*[+-]\d\d(?::?\d\d)?)$"


def has_offset_sql(v: str) -> str:
    return f"regexp_matches({v}, '{OFFSET_RE}')"


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
) -> str:
    """SQL turning the VARCHAR expression ``value`` into a naive UTC TIMESTAMP (NULL if unreadable).

    ``tz_param`` names the bound parameter holding the IANA zone of local times; ``offset_param``
    (optional) the zone's fixed offset in seconds from :func:`fixed_offset_seconds`; ``trimmed`` says
    ``value`` is already trimmed with empty text as NULL; ``iso`` names a column already holding
    ``TRY_CAST(value AS TIMESTAMP)``. This runs per row, so the common case -- local ISO text -- is
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
    local = f"coalesce({iso}, try_strptime({v}, {_fmt_list(LOCAL_FORMATS)}))"
    general = (
        "CASE "
        f"WHEN {v} IS NULL THEN NULL "
        f"WHEN length({v}) IN (8, 14) AND left({v}, 2) IN ('19', '20') AND TRY_CAST({v} AS BIGINT) IS NOT NULL "
        f"THEN {to_utc(f'try_strptime({v}, {_fmt_list(COMPACT_FORMATS)})')} "
        f"WHEN {num} IS NOT NULL THEN {epoch_sql(num)} "
        f"WHEN {has_offset_sql(v)} THEN CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP) "
        f"ELSE {to_utc(local)} END"
    )
    return f"CASE WHEN NOT {has_offset_sql(v)} AND {iso} IS NOT NULL THEN {to_utc(iso)} ELSE {general} END"


def date_sql(value: str, tz_param: str = "$tz", offset_param: str | None = None) -> str:
    """SQL turning VARCHAR ``value`` into a DATE: a plain date as is, a time as its local calendar day."""
    v = f"trim({value})"
    return (
        f"coalesce(TRY_CAST({v} AS DATE), try_strptime({v}, {_fmt_list(('%Y/%m/%d', '%Y.%m.%d', '%Y年%m月%d日', '%Y%m%d'))})::DATE, "
        f"CAST(timezone({tz_param}, CAST({time_sql(value, tz_param, offset_param=offset_param)} AS TIMESTAMPTZ)) AS DATE))"
    )


def parse_time(text: str, timezone: str = "Asia/Shanghai") -> dt.datetime | None:
    """The same rules in Python (reference for tests and previews): naive UTC or None."""
    v = text.strip()
    if not v:
        return None
    zone = ZoneInfo(timezone)

    def local(d: dt.datetime) -> dt.datetime:
        return d.replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None)

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
        if abs(n) >= 1e14:
            return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(n))
        if abs(n) >= 1e11:
            return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(n))
        return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=round(n * 1e6))
    if re.search(OFFSET_RE, v):
        iso = re.sub(r"\s(UTC|GMT)$", "+00:00", v).replace("z", "Z")
        try:
            d = dt.datetime.fromisoformat(iso)
        except ValueError:
            return None
        return d.astimezone(dt.timezone.utc).replace(tzinfo=None)
    try:
        return local(dt.datetime.fromisoformat(v))
    except ValueError:
        pass
    for f in LOCAL_FORMATS:
        try:
            return local(dt.datetime.strptime(v, f))
        except ValueError:
            continue
    return None
