"""Reading points in time from text, as one DuckDB SQL expression per column.

Rules, in order, for a trimmed text value ``v`` (the result is a naive UTC ``TIMESTAMP``):

1. 8 or 14 digits starting with 19/20 (``20220410``, ``20220410083000``): a compact local date/time;
2. any other number: epoch time, unit from its magnitude -- ``|n| >= 1e14`` microseconds,
   ``|n| >= 1e11`` milliseconds, else seconds (1e11 s is the year 5138; 1e11 ms is 1973);
3. text ending in an offset (``Z``, ``+08:00``, ``+0800``, `` UTC``, `` GMT``): that instant;
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
_OFFSET_RE = r"\d:\d\d(:\d\d)?(\.\d+)?\s*(Z|z|[+-]\d\d(:?\d\d)?|UTC|GMT)$"
_COMPACT_RE = r"(19|20)\d{6}((\d{6}))?"


def _fmt_list(formats: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in formats) + "]"


def epoch_sql(num: str) -> str:
    """Epoch number ``num`` (a DOUBLE expression) -> naive UTC TIMESTAMP, unit by magnitude."""
    return (
        f"CASE WHEN abs({num}) >= 1e14 THEN make_timestamp(CAST({num} AS BIGINT)) "
        f"WHEN abs({num}) >= 1e11 THEN epoch_ms(CAST({num} AS BIGINT)) "
        f"ELSE make_timestamp(CAST(round({num} * 1e6) AS BIGINT)) END"
    )


def time_sql(value: str, tz_param: str = "$tz") -> str:
    """SQL turning the VARCHAR expression ``value`` into a naive UTC TIMESTAMP (NULL if unreadable).

    ``tz_param`` names the bound parameter holding the IANA zone of local times.
    """
    v = f"trim({value})"
    num = f"TRY_CAST({v} AS DOUBLE)"
    local = f"coalesce(TRY_CAST({v} AS TIMESTAMP), try_strptime({v}, {_fmt_list(LOCAL_FORMATS)}))"
    return (
        "CASE "
        f"WHEN {v} IS NULL OR {v} = '' THEN NULL "
        f"WHEN regexp_full_match({v}, '{_COMPACT_RE}') "
        f"THEN CAST(timezone({tz_param}, try_strptime({v}, {_fmt_list(COMPACT_FORMATS)})) AS TIMESTAMP) "
        f"WHEN {num} IS NOT NULL THEN {epoch_sql(num)} "
        f"WHEN regexp_matches({v}, '{_OFFSET_RE}') THEN CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP) "
        f"ELSE CAST(timezone({tz_param}, {local}) AS TIMESTAMP) END"
    )


def date_sql(value: str, tz_param: str = "$tz") -> str:
    """SQL turning VARCHAR ``value`` into a DATE: a plain date as is, a time as its local calendar day."""
    v = f"trim({value})"
    return (
        f"coalesce(TRY_CAST({v} AS DATE), try_strptime({v}, {_fmt_list(('%Y/%m/%d', '%Y.%m.%d', '%Y年%m月%d日', '%Y%m%d'))})::DATE, "
        f"CAST(timezone({tz_param}, CAST({time_sql(value, tz_param)} AS TIMESTAMPTZ)) AS DATE))"
    )


def parse_time(text: str, timezone: str = "Asia/Shanghai") -> dt.datetime | None:
    """The same rules in Python (reference for tests and previews): naive UTC or None."""
    v = text.strip()
    if not v:
        return None
    zone = ZoneInfo(timezone)

    def local(d: dt.datetime) -> dt.datetime:
        return d.replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None)

    if re.fullmatch(_COMPACT_RE, v):
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
    if re.search(_OFFSET_RE, v):
        iso = re.sub(r"\s(UTC|GMT)$", "+00:00", v)
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
