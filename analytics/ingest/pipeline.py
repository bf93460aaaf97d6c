"""Ingest one file into the canonical tables: sniff, map, stage, check, insert -- atomically.

1. **Sniff** the first megabyte (format, encoding, delimiter, header; the sheet of a workbook) and
   map the headers (:mod:`analytics.ingest.mapping`); a missing required column, too many columns or
   a workbook over the size limits stops here (:class:`BadInput`). Each time column's epoch unit and
   date order are decided from the sniffed values (:func:`analytics.ingest.timestamps.infer_reading`).
2. **Read once**: one DuckDB statement streams the file (``read_csv`` with every column as text and
   ``store_rejects`` for ragged lines; ``read_parquet``; Excel and legacy encodings are first streamed
   into a UTF-8 CSV in the staging folder, and lines over the line limit are replaced by a marked row
   so that each is rejected and counted) through one SQL transform giving canonical columns, a
   rejection reason per row (``TRY_CAST``; nothing raises per row), each row's hash and its warning
   flags. Each number and time is parsed once, for its value and its checks alike. The streamed pass
   that finds over-long lines also finds whether the file holds a NUL byte, a line longer than the
   cell limit, any non-ASCII byte or a cell that may start like a formula: per-cell tests the file
   cannot fail are left out of the transform (:func:`_stage_sql`).
3. **Insert as it streams**, in one transaction: the rows arrive in Arrow batches of
   :data:`BATCH_ROWS`, in file order (a row's position is its line); each batch's accepted rows whose
   hash is surely new (not in the table, not earlier in the file: a Bloom filter of the 8-byte
   hashes, :class:`_SeenFilter`) go straight into the table by a second cursor, planned without
   DuckDB's insertion order so that each row group is compressed as it is written (the table holds
   each batch's rows in file order, the batches in the order the insert took them); ``props``
   travels only when the file keeps columns there, and DuckDB runs one worker thread
   (:data:`INGEST_THREADS`); the rejected rows (with their reason and raw line) and the accepted rows
   whose hash may have been seen before are kept aside. Nothing is written and read back, and no
   inserted row is ever deleted (DuckDB would rewrite every row of the transaction at commit).
4. **Check**: after the pass, the rows kept aside are compared column by column with the stored rows
   and each other: exact duplicates (within the file and against earlier uploads) are skipped and
   counted, the others inserted; counts, reasons and warnings (:mod:`analytics.ingest.quality`); the
   rejected rows go into ``upload_rejects`` and the registry row is written -- all in the one
   transaction. Any exception rolls back explicitly (:meth:`analytics.store.storage.Store.transaction`);
   a killed process never commits. The same file content (SHA-256) uploaded again adds nothing.

Wide event files (no event-type column, e.g. KuaiRand): each source row gives one ``view`` carrying
the watch time and video length, plus one event of the flag's type at the same time for every flag
column whose value is truthy (``1``, ``true``, ``yes``, ``是`` or a positive number).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import math
import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from analytics.access import Principal, require
from analytics.config import parse_timezone
from analytics.errors import BadInput
from analytics.ingest import readers
from analytics.ingest.limits import Limits
from analytics.ingest.mapping import (
    ANONYMOUS_ID,
    CHANNEL_ALIASES,
    CHANNELS,
    DURATION_COLUMNS,
    EVENT_ALIASES,
    KIND_ALIASES,
    ORDER_STATUS,
    ORDER_STATUS_ALIASES,
    QUANTITY,
    TIME_COLUMNS,
    ColumnMap,
    Plan,
    guess_column,
    name_headless_columns,
    normalise_header,
    plan_mapping,
    split_unit,
)
from analytics.ingest.quality import (
    ISSUE_CODES,
    REJECTS_IN_REPORT,
    WATCH_RATIO_WARNING,
    IngestReport,
    Issue,
    RejectedRow,
    SheetPart,
)
from analytics.ingest.timestamps import (
    TimeReading,
    date_sql,
    fixed_offset_seconds,
    infer_reading,
    time_sql,
)
from analytics.progress import Progress, no_progress, scaled
from analytics.store import privacy
from analytics.store.schema import TABLE_COLUMNS
from analytics.store.storage import (
    EngineError,
    MissingTable,
    OutOfMemory,
    PermissionDenied,
    Store,
    scratch,
)
from analytics.store.uploads import check_kind, find_by_sha, register_upload

#: DuckDB's memory limit while an upload runs (what outgrows it spills to the data folder's
#: ``<database>.tmp``); the previous limit is restored afterwards. It applies to the whole database
#: instance for the duration of the upload.
INGEST_MEMORY_LIMIT = "800MB"
#: DuckDB's worker threads while an upload runs (restored afterwards; the whole instance, like the
#: memory limit). The streamed pass is a chain -- the read and transform, the Arrow batches in Python,
#: the insert -- each link on a thread of its own; more DuckDB workers only contend with that chain:
#: on the 10M-row bench file one worker takes about a sixth less CPU and less wall time than two.
INGEST_THREADS = 1
#: Rows per batch of the streamed pass (the rows of one batch are in memory at once, as Arrow).
BATCH_ROWS = 1 << 18
#: Event times before this or after tomorrow are flagged when no expected range is given.
EXPECTED_START = dt.datetime(2000, 1, 1)
#: Characters of a rejected value kept as the example in the report.
EXAMPLE_CHARS = 100
_UNIT_FACTOR = {"s": "* 1.0", "ms": "/ 1000.0", "min": "* 60.0"}
_TEXT_COLUMNS = ("user_id", "item_id", "course_id", "channel", "campaign", "variant", "title", "creator", "category", "tags")


# ---------------------------------------------------------------------------------------------
# Preview
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MappedColumn:
    source: str
    target: str
    confidence: float
    manual: bool
    example: str | None


@dataclass(frozen=True)
class Preview:
    """What an upload would do, before anything is stored."""

    file_name: str
    kind: str
    detected: dict[str, Any]
    headers: tuple[str, ...]
    columns: tuple[MappedColumn, ...]
    wide: bool
    rows: Any  # pandas.DataFrame: the first rows after mapping, with a "reason" column (code or code:column)
    unmapped: tuple[str, ...]
    notes: tuple[Issue, ...]  # info and warning issues known before reading the whole file
    sheets: tuple[SheetPart, ...] = ()  # every sheet of a workbook read whole: read or why not
    timezone: str = "UTC"  # the zone local times of the file were read in

    @property
    def mapping(self) -> dict[str, str]:
        return {c.source: c.target for c in self.columns}

    def local_rows(self):
        """:attr:`rows` with their times (stored in UTC) as local times of :attr:`timezone`, as a person
        wrote them in the file and reads them on every page."""
        import pandas as pd

        out = self.rows.copy()
        for name in TIME_COLUMNS & set(out.columns):
            times = pd.to_datetime(out[name], errors="coerce")
            out[name] = times.dt.tz_localize("UTC").dt.tz_convert(self.timezone).dt.tz_localize(None)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "file_name": self.file_name,
            "kind": self.kind,
            "detected": self.detected,
            "wide": self.wide,
            "columns": [c.__dict__ for c in self.columns],
            "unmapped": list(self.unmapped),
            "notes": [n.to_dict() for n in self.notes],
            **({"sheets": [p.to_dict() for p in self.sheets]} if self.sheets else {}),
            "rows": self.rows.astype(object).where(self.rows.notna(), None).to_dict(orient="records"),
        }


@dataclass(frozen=True)
class _Prepared:
    """A sniffed file, its mapping and how its time columns are read."""

    sniffed: readers.Sniffed
    plan: Plan
    readings: dict[str, TimeReading]  # canonical time column -> reading
    limits: Limits

    @property
    def notes(self) -> tuple[Issue, ...]:
        named = (Issue("columns_named_by_values", "info", params={"columns": list(self.sniffed.headers)}),
                 ) if self.sniffed.named_by_values else ()
        titles = self.sniffed.titles
        skipped = (Issue("title_lines_skipped", "info", len(titles), tuple(range(1, len(titles) + 1)),
                         {"lines": len(titles), "title": next((x for x in titles if x), "")}),) if titles else ()
        return named + skipped + self.plan.notes + _plan_notes(self.plan) + _reading_notes(self.plan, self.readings)


def _known(kind: str) -> Callable[[str], bool]:
    return lambda h: guess_column(h, kind).target not in ("props",)


def _prepare(path: Path, kind, mapping, encoding, columns, sheet, limits: Limits | None, reveal: bool) -> _Prepared:
    kind = check_kind(kind)
    limits = limits or Limits.from_env()
    if sheet == readers.ALL_SHEETS:
        if readers.is_workbook(path):
            return _prepare_all_sheets(path, kind, mapping, encoding, columns, limits, reveal)
        sheet = None  # a text or Parquet file has one table
    sniffed = readers.sniff(
        path, encoding=encoding, columns=columns, known=_known(kind), limits=limits, sheet=sheet, reveal=reveal,
        name_headless=name_headless_columns if kind == "events" and not mapping else None,
    )
    plan = _guess_units(plan_mapping(list(sniffed.headers), kind, mapping, reveal=reveal, sample=sniffed.sample), sniffed)
    readings = {}
    for c in plan.columns:
        if c.target in TIME_COLUMNS or c.target == "date":
            idx = sniffed.headers.index(c.source)
            readings[c.target] = infer_reading(row[idx] for row in sniffed.sample)
    return _Prepared(sniffed, plan, readings, limits)


def _prepare_all_sheets(path: Path, kind, mapping, encoding, columns, limits: Limits, reveal: bool) -> _Prepared:
    """Every sheet whose columns match: the first sheet with data that maps gives the columns and the
    mapping; the sheets with the same column names (in any order) are read after it."""
    if columns:
        raise BadInput(
            f"reading every sheet of {path.name} needs a header row in each sheet; pick one sheet (--sheet NAME)",
            code="all_sheets_need_header",
        )
    heads = readers.sheet_heads(path, limits)
    refused: BadInput | None = None
    for name, first in heads:
        if first is None:
            continue
        try:
            prep = _prepare(path, kind, mapping, encoding, None, name, limits, reveal)
        except BadInput as exc:  # e.g. a notes sheet first: the next sheet with data may map
            refused = refused or exc
            continue
        parts = readers.sheet_parts(heads, name)
        return replace(prep, sniffed=replace(prep.sniffed, sheet=readers.ALL_SHEETS, parts=parts))
    if refused is not None:
        raise refused
    raise BadInput(f"{path.name} has no rows in any sheet", code="empty_file")


#: A duration column with no unit in its header is read as milliseconds when its median is above
#: this many: a median view or video of more than an hour is rare in these logs, while a median of
#: more than 3.6 s is usual in milliseconds (short videos).
MS_MEDIAN_ABOVE = 3600


def _guess_units(plan: Plan, sniffed: readers.Sniffed) -> Plan:
    """Duration columns with no unit in their header (and no manual unit) are read as milliseconds
    when they hold whole numbers only and one of them has a median above :data:`MS_MEDIAN_ABOVE`;
    the others of the file then are too (one export, one unit: a watch time's median may be small)."""
    cols = list(plan.columns)
    medians: dict[int, float] = {}
    for i, c in enumerate(cols):
        if c.target not in DURATION_COLUMNS or c.manual or c.unit != "s":
            continue
        if split_unit(normalise_header(c.source))[1] is not None:
            continue  # the header states its unit (watch_seconds, 时长(秒) ...)
        idx = sniffed.headers.index(c.source)
        values = []
        for row in sniffed.sample:
            try:
                values.append(float(row[idx]))
            except (TypeError, ValueError):
                continue
        values = [v for v in values if math.isfinite(v)]
        if len(values) >= 5 and all(v == int(v) for v in values):
            medians[i] = statistics.median(values)
    decided = max(medians, key=lambda i: medians[i], default=None)
    if decided is None or medians[decided] <= MS_MEDIAN_ABOVE:
        return plan
    notes = list(plan.notes)
    for i, median in medians.items():
        cols[i] = replace(cols[i], unit="ms", confidence=0.6)
        if i == decided:
            notes.append(Issue("read_as_ms", "info", params={"column": cols[i].source, "median": median}))
        else:
            notes.append(Issue("read_as_ms_like", "info", params={"column": cols[i].source, "like": cols[decided].source}))
    return replace(plan, columns=tuple(cols), notes=tuple(notes))


def _reading_notes(plan: Plan, readings: dict[str, TimeReading]) -> tuple[Issue, ...]:
    """How each time column is read: the epoch unit, and the date order (warned when no value proves it)."""
    out = []
    for target, r in readings.items():
        source = plan.source_for(target).source
        if r.epochs:
            out.append(Issue("epoch_unit", "info", params={"column": source, "unit": r.epoch_unit}))
        if r.numeric_dates:
            code = "date_order_conflict" if r.order_conflict else "date_order_proven" if r.order_proven else "date_order_assumed"
            level = "info" if code == "date_order_proven" else "warning"
            out.append(Issue(code, level, params={"column": source, "order": r.date_order}))
    return tuple(out)


def preview_file(
    path: str | Path,
    *,
    kind: str = "events",
    mapping: dict[str, str] | None = None,
    timezone: str = "Asia/Shanghai",
    encoding: str | None = None,
    columns: list[str] | None = None,
    sheet: str | None = None,
    rows: int = 20,
    data_dir: Path | None = None,
    actor: Principal | None = None,
    limits: Limits | None = None,
) -> Preview:
    """Sniff ``path`` and show the proposed mapping and its first ``rows`` rows after mapping.

    Reads only the first megabyte (Excel: the first rows of ``sheet``; Parquet: the first row group).
    ``data_dir``: the data folder; a symbolic link from it to a file outside is refused, and errors
    quote the contents of files inside it only. Showing a file's rows is part of ingesting it: ``actor``
    needs the ``ingest`` permission.
    """
    require(actor, "ingest")
    parse_timezone(timezone)
    resolved, reveal = readers.confine(Path(path), data_dir)
    prep = _prepare(resolved, kind, mapping, encoding, columns, sheet, limits, reveal)
    sniffed, plan = prep.sniffed, prep.plan
    import pyarrow as pa

    n = len(sniffed.headers)
    sample = sniffed.sample[:rows]
    table = pa.table({f"c{i}": pa.array([r[i] for r in sample], type=pa.string()) for i in range(n)})
    sql, params = _stage_sql(prep, "_rx_sample", timezone, None)
    with scratch({"_rx_sample": table}) as con:
        df = con.execute(sql, _used(sql, params)).df()
    out = df[[c for c in df.columns if not c.startswith("_") or c == "_reason"]].copy()
    out["_reason"] = out["_reason"].map(lambda r: _row_reason(r) if isinstance(r, str) else None)
    out = out.rename(columns={"_reason": "reason"})
    keep = [c for c in out.columns if c in _mapped_targets(plan) or c in ("props", "reason")]
    out = out[keep].astype(object)
    out = out.where(out.notna(), None)
    mapped = tuple(
        MappedColumn(
            c.source,
            c.label,
            round(c.confidence, 2),
            c.manual,
            next((r[sniffed.headers.index(c.source)] for r in sample if r[sniffed.headers.index(c.source)]), None),
        )
        for c in plan.columns
    )
    return Preview(
        file_name=Path(path).name,
        kind=plan.kind,
        detected=sniffed.describe(),
        headers=sniffed.headers,
        columns=mapped,
        wide=plan.wide,
        rows=out,
        unmapped=tuple(c.source for c in plan.props),
        notes=prep.notes,
        sheets=sniffed.parts,
        timezone=timezone,
    )


def _mapped_targets(plan: Plan) -> set[str]:
    out = {c.target for c in plan.columns}
    if plan.wide:
        out.add("event_type")
    if plan.kind == "items":
        out.add("kind")
    return out


def _plan_notes(plan: Plan) -> tuple[Issue, ...]:
    """How the rows of a file without an event type column are read (:attr:`Plan.row_event`)."""
    if plan.flags:
        return (Issue("wide_form", "info", params={"flags": [[c.source, c.event] for c in plan.flags]}),)
    if plan.row_event == "purchase":
        quantity, status = plan.source_for(QUANTITY), plan.source_for(ORDER_STATUS)
        notes = [Issue("rows_are_purchases", "info") if quantity is None
                 else Issue("rows_are_purchases_by_quantity", "info", params={"quantity": quantity.source})]
        if status is not None:
            notes.append(Issue("order_status_read", "info", params={"column": status.source}))
        return tuple(notes)
    if plan.row_event == "view":
        return (Issue("rows_are_views", "info"),)
    return ()

# ---------------------------------------------------------------------------------------------
# SQL building
# ---------------------------------------------------------------------------------------------
def _lit(text: str) -> str:
    """A SQL string literal for our own constants (aliases, formats); user data is bound instead."""
    return "'" + text.replace("'", "''") + "'"


def _num(raw: str) -> str:
    """A number written with a currency sign, spaces, thousands separators (``1,234.50``) or a decimal
    comma (``12,5``: no thousands grouping can end in fewer than three digits); a comma in any other
    place (``1.234,5``, ``1,2,3``) reads as no number, so the row is rejected rather than misread.
    ``1,234`` is read as thousands."""
    s = f"regexp_replace({raw}, '[¥￥$元\\s]', '', 'g')"
    return (  # an empty cell (NULL) leaves the CASE at once: most cells of a sparse column are
        f"coalesce(TRY_CAST({raw} AS DOUBLE), CASE WHEN {raw} IS NULL THEN NULL "
        f"WHEN regexp_full_match({s}, '[+-]?\\d{{1,3}}(,\\d{{3}})+(\\.\\d*)?') THEN TRY_CAST(replace({s}, ',', '') AS DOUBLE) "
        f"WHEN regexp_full_match({s}, '[+-]?\\d+,\\d+') THEN TRY_CAST(replace({s}, ',', '.') AS DOUBLE) "
        f"ELSE TRY_CAST({s} AS DOUBLE) END)"
    )


#: Units a duration value may write after its number (``12秒``, ``1.5 min``, ``500ms``), in seconds.
_VALUE_UNITS = (
    ("秒|s|sec|secs|second|seconds", 1.0),
    ("毫秒|ms", 0.001),
    ("分钟|分|min|mins|minute|minutes", 60.0),
    ("小时|h|hr|hrs|hour|hours", 3600.0),
)


def _seconds(raw: str, unit: str, parsed: str) -> str:
    """A duration in seconds: a number in the column's ``unit`` (``parsed``: :func:`_num` of ``raw``,
    computed once), or a value that writes its own unit: ``12秒``, ``12 s``, ``1.5min``, ``500ms``,
    ``1分30秒``, ``01:30`` (m:ss), ``1:02:03`` (h:mm:ss). No text is both a number and a duration with a
    unit, so the number is tried first."""
    t = f"lower(trim({raw}))"
    number = r"(\d+(?:\.\d+)?)"

    def part(pattern: str, group: int) -> str:
        return f"TRY_CAST(regexp_extract({t}, '{pattern}', {group}) AS DOUBLE)"

    whens = [
        f"WHEN regexp_full_match({t}, '{number}\\s*(?:{names})') THEN {part(number, 1)} * {factor}"
        for names, factor in _VALUE_UNITS
    ]
    minutes_seconds = r"(\d+)分(?:钟)?(\d+(?:\.\d+)?)秒"
    whens.append(
        f"WHEN regexp_full_match({t}, '{minutes_seconds}') THEN {part(minutes_seconds, 1)} * 60 + {part(minutes_seconds, 2)}"
    )
    clock = r"(\d+):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?"
    whens.append(
        f"WHEN regexp_full_match({t}, '{clock}') THEN CASE WHEN regexp_extract({t}, '{clock}', 3) = '' "
        f"THEN {part(clock, 1)} * 60 + {part(clock, 2)} "
        f"ELSE {part(clock, 1)} * 3600 + {part(clock, 2)} * 60 + {part(clock, 3)} END"
    )
    factor = _UNIT_FACTOR[unit]
    return f"coalesce({parsed} {factor}, CASE WHEN {raw} IS NULL THEN NULL {' '.join(whens)} END)"


def _alias_case(raw: str, aliases: dict[str, str]) -> str:
    whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in aliases.items())
    return f"CASE lower({raw}) {whens} ELSE NULL END"


def _truthy(raw: str) -> str:
    return (
        f"coalesce(lower({raw}) IN ('true', 'yes', 'y', 't', '是') "
        f"OR coalesce(TRY_CAST({raw} AS DOUBLE), 0) > 0, false)"
    )


def _reason_sql(code: str, column: str | None = None, value: str | None = None) -> str:
    """``'code|column|value'`` (the value cut to :data:`EXAMPLE_CHARS`), the per-row reason of the stage."""
    head = _lit(f"{code}|{column or ''}|")
    return f"{head} || coalesce(left({value}, {EXAMPLE_CHARS}), '')" if value else head


#: The stage's ``_reason`` (``code|column|value``) as stored in ``upload_rejects``: ``code`` or ``code:column``.
STORED_REASON_SQL = (
    "CASE WHEN split_part(_reason, '|', 2) = '' THEN split_part(_reason, '|', 1) "
    "ELSE split_part(_reason, '|', 1) || ':' || split_part(_reason, '|', 2) END"
)


def _row_reason(stage_reason: str) -> str:
    """The stage's ``code|column|value`` as a stored reason: ``code`` or ``code:column``."""
    code, column, _value = stage_reason.split("|", 2)
    return f"{code}:{column}" if column else code


def _stage_sql(
    prep: _Prepared, source: str, timezone: str, key: bytes | None, facts: readers.TextFacts | None = None
) -> tuple[str, dict[str, Any]]:
    """One SELECT over ``source`` (columns c0..cN as text) giving canonical columns, ``_f_<event>`` flags,
    ``props``, ``_formula`` and ``_reason`` (``code|column|value`` or NULL).

    ``facts`` (of the whole file read as it is) drop the per-cell tests the file cannot fail: no NUL
    byte, no line longer than the cell limit, no cell that may start like a formula; in an ASCII file
    only a space can be trimmed."""
    plan, sniffed, limits = prep.plan, prep.sniffed, prep.limits
    kind = plan.kind
    headers = list(sniffed.headers)
    params: dict[str, Any] = {
        "tz": timezone,
        "pstart": limits.plausible_start,
        "pend": limits.plausible_end,
        "maxcell": limits.max_cell_bytes,
        "longmark": readers.LONG_LINE_MARK,
    }
    fixed = fixed_offset_seconds(timezone)
    offset = None
    if fixed is not None:
        params["tzoff"] = fixed
        offset = "$tzoff"
    col = {h: f"c{i}" for i, h in enumerate(headers)}

    def raw_of(c: ColumnMap) -> str:
        return f"_r{col[c.source][1:]}"

    def num(raw: str) -> str:  # the number a raw column holds, parsed once (layer 1)
        numbers.add(raw[2:])
        return f"_n{raw[2:]}"

    target_raw = {c.target: raw_of(c) for c in plan.columns if c.target not in ("flag", "props", "ignore")}
    unit = {c.target: c.unit for c in plan.columns}
    parsed: dict[str, str] = {}
    reasons: list[tuple[str, str]] = []  # (condition, 'code|column|value' expression)
    iso_cols: list[str] = []  # source columns parsed as times: TRY_CAST(... AS TIMESTAMP) computed once
    numbers: set[str] = set()  # source columns parsed as numbers: _num(...) computed once

    if ANONYMOUS_ID in target_raw and "user_id" in target_raw:  # the visitor where the user id is empty
        target_raw["user_id"] = f"coalesce({target_raw['user_id']}, {target_raw[ANONYMOUS_ID]})"
    quantity = target_raw.get(QUANTITY)  # multiplies the revenue; negative: an order line is a refund
    status = target_raw.get(ORDER_STATUS)  # an order line's: unpaid rejects it, refunded adds a refund
    if status is not None:
        unpaid = ", ".join(_lit(v) for v, e in ORDER_STATUS_ALIASES.items() if e == "unpaid")
        reasons.append((f"lower({status}) IN ({unpaid})", _reason_sql("unpaid_order", ORDER_STATUS, status)))
    if quantity is not None:
        reasons.append((f"NOT isfinite({num(quantity)})", _reason_sql("non_finite", QUANTITY, quantity)))
        reasons.append((f"{quantity} IS NOT NULL AND {num(quantity)} IS NULL", _reason_sql("bad_number", QUANTITY, quantity)))
    for name, ctype in TABLE_COLUMNS[kind].items():
        raw = target_raw.get(name)
        if raw is None:
            if kind == "events" and name == "event_type" and plan.wide:
                row_event = _lit(plan.row_event or "view")
                parsed[name] = (
                    f"CASE WHEN {num(quantity)} < 0 THEN 'refund' ELSE {row_event} END"
                    if quantity is not None and plan.row_event == "purchase" else row_event
                )
            elif kind == "items" and name == "kind":
                parsed[name] = "'video'"
            else:
                parsed[name] = f"CAST(NULL AS {ctype})"
            continue
        unreadable = f"{raw} IS NOT NULL AND \"{name}\" IS NULL"
        if name in TIME_COLUMNS or name == "date":
            reading = prep.readings.get(name, TimeReading())
            if name == "date":
                parsed[name] = date_sql(raw, offset_param=offset, reading=reading)
                outside = f"(\"{name}\" < CAST($pstart AS DATE) OR \"{name}\" >= CAST($pend AS DATE))"
            else:
                parsed[name] = time_sql(raw, trimmed=True, offset_param=offset, iso=f"_t{raw[2:]}", reading=reading)
                iso_cols.append(raw[2:])
                outside = f"(\"{name}\" < $pstart OR \"{name}\" >= $pend)"
            # A number no TIMESTAMP can hold is as implausible as the year 9999.
            reasons.append((f"{unreadable} AND TRY_CAST({raw} AS DOUBLE) IS NOT NULL", _reason_sql("implausible_time", name, raw)))
            reasons.append((unreadable, _reason_sql("bad_time", name, raw)))
            reasons.append((outside, _reason_sql("implausible_time", name, raw)))
        elif name == "event_type":
            parsed[name] = _alias_case(raw, EVENT_ALIASES)
            reasons.append((unreadable, _reason_sql("unknown_event_type", name, raw)))
        elif name == "channel":  # a platform's name in any language or case becomes its code; others stay
            known = ", ".join(_lit(c) for c in CHANNELS)
            parsed[name] = f"CASE WHEN {raw} IN ({known}) THEN {raw} ELSE coalesce({_alias_case(raw, CHANNEL_ALIASES)}, {raw}) END"
        elif name == "kind":
            parsed[name] = f"coalesce({_alias_case(raw, KIND_ALIASES)}, CASE WHEN {raw} IS NULL THEN 'video' END)"
            reasons.append((unreadable, _reason_sql("unknown_kind", name, raw)))
        elif ctype == "DOUBLE" or ctype.startswith("DECIMAL") or ctype == "INTEGER":
            if name in DURATION_COLUMNS:
                parsed[name] = f"({_seconds(raw, unit.get(name) or 's', num(raw))})"
            elif ctype == "DOUBLE":
                parsed[name] = f"({num(raw)} {_UNIT_FACTOR[unit.get(name) or 's']})"
            elif ctype.startswith("DECIMAL"):
                amount = num(raw) if quantity is None or name != "revenue" else f"{num(raw)} * coalesce({num(quantity)}, 1)"
                parsed[name] = f"TRY_CAST(round({amount}, 2) AS DECIMAL(18,2))"
            else:
                parsed[name] = f"TRY_CAST({num(raw)} AS INTEGER)"
            reasons.append((f"NOT isfinite({num(raw)})", _reason_sql("non_finite", name, raw)))
            reasons.append((unreadable, _reason_sql("bad_number", name, raw)))
            if name in DURATION_COLUMNS:
                reasons.append((f"\"{name}\" < 0", _reason_sql("negative_duration", name, raw)))
        else:
            parsed[name] = raw
    from analytics.store.schema import REQUIRED

    # Whole-row checks first (an over-long line, a NUL byte, an over-long cell), then required values,
    # so that the reason names what is wrong before what follows from it.
    n = len(headers)
    first: list[tuple[str, str]] = []
    if facts is None:
        first.append(("starts_with(c0, $longmark)", _reason_sql("line_too_long")))
    if facts is None or facts.has_nul:
        first += [(f"strpos(c{i}, chr(0)) > 0", _reason_sql("nul_byte", h)) for i, h in enumerate(headers)]
    if facts is None or facts.longest > limits.max_cell_bytes:
        first += [(f"strlen(c{i}) > $maxcell", _reason_sql("cell_too_long", h)) for i, h in enumerate(headers)]
    for name in REQUIRED[kind]:
        raw = target_raw.get(name)
        if raw is not None:
            first.append((f"{raw} IS NULL", _reason_sql("missing_value", name)))
    reasons = first + reasons

    if key is not None and kind == "events":
        ipad, opad = privacy.hmac_pads(key)
        params["ipad"], params["opad"] = ipad, opad
        parsed["user_id"] = privacy.pseudonym_sql(target_raw["user_id"])

    select = [f"{parsed[nm]} AS \"{nm}\"" for nm in TABLE_COLUMNS[kind]]
    if plan.wide:
        for c in plan.flags:
            select.append(f"{_truthy(raw_of(c))} AS \"_f_{c.event}_{col[c.source]}\"")
    if status is not None:
        refunded = ", ".join(_lit(v) for v, e in ORDER_STATUS_ALIASES.items() if e == "refund")
        select.append(f'coalesce(lower({status}) IN ({refunded}), false) AS "{_REFUNDED}"')
    props = plan.kept_in_props
    if props:
        entries = []
        for i, c in enumerate(props):
            params[f"k{i}"] = c.source
            entries.append(f"$k{i}: {raw_of(c)}")
        select.append("MAP {" + ", ".join(entries) + "} AS props")
    else:
        select.append("CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS props")
    texts = [target_raw[nm] for nm in _TEXT_COLUMNS if nm in target_raw] + [raw_of(c) for c in props]
    if texts and (facts is None or facts.formula_start):
        # Every character the pattern starts with sorts before 'A': the cheap comparison spares the regex.
        checks = " OR ".join(f"CASE WHEN {t} < 'A' THEN regexp_matches({t}, '^(?:[=+@\\t\\r]|-[^0-9.])') ELSE false END" for t in texts)
        select.append(f"coalesce({checks}, false) AS _formula")
    else:
        select.append("false AS _formula")
    reason = "CASE " + " ".join(f"WHEN {cond} THEN {msg}" for cond, msg in reasons) + " END"
    params["delim"] = sniffed.delimiter or ","
    cells = [f"coalesce(c{i}, '')" for i in range(n)]
    cells[0] = f"replace({cells[0]}, $longmark, '')"
    raw_line = "concat_ws($delim, " + ", ".join(cells) + ")"
    src_cols = ", ".join(f"c{i}" for i in range(n))
    trimmed = ", ".join(f"_r{i}" for i in range(n))
    # Layers, so that each value is trimmed and parsed once: raw text -> parsed -> reason -> output.
    if facts is not None and facts.ascii and not facts.spaced:  # no space touches a cell's edge: nothing to trim
        trims = [f"c{i}" for i in range(n)]
    elif facts is not None and facts.ascii:
        trims = [f"CASE WHEN starts_with(c{i}, ' ') OR ends_with(c{i}, ' ') THEN nullif(trim(c{i}), '') ELSE c{i} END" for i in range(n)]
    else:
        trims = [f"nullif(trim(c{i}), '')" for i in range(n)]
    l1 = f"SELECT {src_cols}, " + ", ".join(f"{t} AS _r{i}" for i, t in enumerate(trims)) + f" FROM {source}"
    once = {f"_t{i}": f"TRY_CAST(_r{i} AS TIMESTAMP)" for i in iso_cols} | {f"_n{i}": _num(f"_r{i}") for i in sorted(numbers)}
    if once:
        l1 = "SELECT *, " + ", ".join(f"{expr} AS {name}" for name, expr in once.items()) + f" FROM ({l1})"
        trimmed += ", " + ", ".join(once)
    l2 = f"SELECT {', '.join(select)}, {trimmed}, {src_cols} FROM ({l1})"
    l3 = f"SELECT *, {reason} AS _reason FROM ({l2})"
    row_hash = _row_hash_sql(kind)
    sql = (
        f"SELECT * EXCLUDE ({src_cols}, {trimmed}), CASE WHEN _reason IS NOT NULL THEN {raw_line} END AS _raw, "
        f"{row_hash} AS _h FROM ({l3})"
    )
    return sql, params


def _source_sql(sniffed: readers.Sniffed, path: Path, params: dict[str, Any], limits: Limits) -> str:
    params["path"] = str(path)
    n = len(sniffed.headers)
    if sniffed.format == "parquet":
        import pyarrow.parquet as pq

        names = pq.ParquetFile(sniffed.path).schema_arrow.names
        cols = ", ".join(f'CAST("{nm.replace(chr(34), chr(34) * 2)}" AS VARCHAR) AS c{i}' for i, nm in enumerate(names))
        return f"(SELECT {cols} FROM read_parquet($path))"
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n)) + "}"
    params["csv_delim"] = sniffed.delimiter or ","
    header = "true" if sniffed.has_header else "false"
    skip = f"skip={len(sniffed.titles)}, " if sniffed.titles else ""
    return (
        f"read_csv($path, delim=$csv_delim, quote='\"', escape='\"', header={header}, {skip}auto_detect=false, "
        f"columns={columns}, store_rejects=true, rejects_table='_rx_csv_rejects', rejects_scan='_rx_csv_scan', "
        f"max_line_size={limits.max_line_bytes}, buffer_size={max(4 * limits.max_line_bytes, 16 << 20)}, null_padding=false)"
    )


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------
def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` refers to (DuckDB refuses unused named parameters)."""
    return {k: v for k, v in params.items() if re.search(rf"\${re.escape(k)}\b", sql)}


def _run(cur, sql: str, params: dict[str, Any], poll: Callable[[], None]):
    """Execute one long statement in a worker thread; ``poll`` reports progress from this thread
    every 0.2 s meanwhile (a dashboard's progress bar may only be updated from its own thread)."""
    box: dict[str, Any] = {}
    params = _used(sql, params)

    def work() -> None:
        try:
            box["result"] = cur.execute(sql, params).fetchall()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="reelytics-ingest", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
            poll()
    except BaseException:
        cur.interrupt()
        worker.join()
        raise
    if "error" in box:
        raise box["error"]
    return box.get("result")


def file_sha256(path: Path, progress: Progress = no_progress, lo: float = 0.0, hi: float = 0.05) -> str:
    h = hashlib.sha256()
    total = max(path.stat().st_size, 1)
    done = 0
    for chunk in readers.chunks(path):
        h.update(chunk)
        done += len(chunk)
        progress(lo + (hi - lo) * done / total, "checksum")
    return h.hexdigest()


def _checksum(path: Path, prep: _Prepared, progress: Progress) -> tuple[str, readers.TextFacts | None]:
    """The SHA-256 of ``path`` and, for a text file read as it is, the facts of its text from the same
    read (:func:`analytics.ingest.readers.text_facts`); ``None`` for a file read through a copy."""
    if prep.sniffed.format != "csv" or prep.sniffed.needs_conversion:
        return file_sha256(path, progress, 0.0, 0.05), None
    digest = hashlib.sha256()
    facts = readers.text_facts(path, prep.limits.max_line_bytes, digest, lambda f: progress(0.05 * f, "checksum"))
    return digest.hexdigest(), facts


#: DuckDB's CSV error types -> (issue code, stored reason).
_CSV_ERROR_CODES = {
    "MISSING COLUMNS": ("ragged_row", "too_few_fields"),
    "TOO MANY COLUMNS": ("ragged_row", "too_many_fields"),
    "LINE SIZE OVER MAXIMUM": ("line_too_long", "line_too_long"),
    "INVALID UNICODE": ("bad_encoding", "bad_encoding"),
    "INVALID ENCODING": ("bad_encoding", "bad_encoding"),
    "UNQUOTED VALUE": ("bad_quotes", "bad_quotes"),
    "INVALID STATE": ("bad_quotes", "bad_quotes"),
}


def _csv_error(etype: str) -> tuple[str, str]:
    return _CSV_ERROR_CODES.get(etype, ("unreadable_row", "unreadable_row"))


def _utc_bounds(expected_from: dt.date | None, expected_to: dt.date | None, timezone: str):
    zone = parse_timezone(timezone)

    def utc(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None)

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    start = utc(expected_from) if expected_from else EXPECTED_START
    end = utc(expected_to + dt.timedelta(days=1)) if expected_to else now + dt.timedelta(days=1)
    return start, end


_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _ingest_lock(store: Store) -> threading.Lock:
    """One upload at a time per database: two people uploading the same file at once would both
    find it new (each transaction sees only committed rows) and store it twice; and the staging
    memory limit is a setting of the whole database instance."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(store.path, threading.Lock())


def sheet_identity(sha256: str, sheet: str | None) -> str:
    """What makes an upload "the same file again": the content's SHA-256, and for a workbook the sheet."""
    if sheet is None:
        return sha256
    return hashlib.sha256(f"{sha256}:{sheet}".encode()).hexdigest()


def ingest_file(
    store: Store,
    path: str | Path,
    *,
    kind: str = "events",
    mapping: dict[str, str] | None = None,
    timezone: str = "Asia/Shanghai",
    encoding: str | None = None,
    columns: list[str] | None = None,
    sheet: str | None = None,
    pseudonymise_key: bytes | None = None,
    progress: Progress | None = None,
    expected_from: dt.date | None = None,
    expected_to: dt.date | None = None,
    file_name: str | None = None,
    actor: Principal | None = None,
    limits: Limits | None = None,
) -> IngestReport:
    """Ingest ``path`` as ``kind`` (events / items / spend) in one transaction; see the module docstring.

    ``mapping`` overrides the automatic header mapping ({source: target}); ``columns`` names the
    columns of a headerless file; ``sheet`` the sheet of a workbook (required when several sheets
    hold data); ``expected_from``/``expected_to`` (local dates) bound the expected event times
    (default: 2000-01-01 .. tomorrow; outside: a warning); ``limits`` (default: from the environment,
    :mod:`analytics.ingest.limits`) bound the file and the plausible times (outside: rejected);
    ``pseudonymise_key`` replaces user ids by their HMAC-SHA256 (:mod:`analytics.store.privacy`). Raises
    :class:`BadInput` for a file that cannot be used at all; returns a report (status ``ok``,
    ``already_uploaded`` or ``nothing_accepted``) otherwise. ``actor`` needs the ``ingest`` permission
    (:mod:`analytics.access`).
    """
    require(actor, "ingest")
    started = time.monotonic()
    progress = progress or no_progress
    kind = check_kind(kind)
    parse_timezone(timezone)
    if pseudonymise_key is not None:
        privacy.check_key(pseudonymise_key)
    limits = limits or Limits.from_env()
    readers.clean_staging(store.staging_dir, limits)
    path, reveal = readers.confine(Path(path), store.data_dir)
    prep = _prepare(path, kind, mapping, encoding, columns, sheet, limits, reveal)
    name = file_name or path.name
    checksum, facts = _checksum(path, prep, progress)
    sha = sheet_identity(checksum, prep.sniffed.sheet if prep.sniffed.format == "xlsx" and len(prep.sniffed.sheets) > 1 else None)
    base = dict(kind=kind, file_name=name, sha256=sha, mapping=prep.plan.as_dict(), detected=prep.sniffed.describe())

    with _ingest_lock(store), store.cursor() as cur:
        existing = find_by_sha(cur, kind, sha)
        if existing is not None:
            progress(1.0, "already_uploaded")
            return _already(existing, started, base)
        cur.execute("SET enable_progress_bar = true")
        cur.execute("SET enable_progress_bar_print = false")
        previous_limit, previous_threads = cur.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads')"
        ).fetchone()
        cur.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
        cur.execute(f"SET threads = {INGEST_THREADS}")
        try:
            report = _stage_check_insert(
                cur, store, path, prep, facts, name, base, pseudonymise_key, progress, timezone, expected_from, expected_to,
                started,
            )
        finally:
            # the default back exactly (the printed value is rounded), any other limit as printed
            cur.execute("RESET memory_limit")
            if cur.execute("SELECT current_setting('memory_limit')").fetchone()[0] != previous_limit:
                cur.execute("SET memory_limit = ?", [previous_limit])
            cur.execute(f"SET threads = {int(previous_threads)}")
            cur.execute("RESET preserve_insertion_order")
        if report.status == "ok":
            from analytics.query.engine import after_upload

            after_upload(store, report.upload_id, kind, scaled(progress, 0.98, 0.999))
    progress(1.0, "done")
    return replace(report, seconds=time.monotonic() - started)


def _readable_copy(
    path: Path, prep: _Prepared, facts: readers.TextFacts | None, store: Store, progress: Progress, sheet_rows: list
) -> tuple[list[Path], readers.TextFacts | None]:
    """The staged files to read instead of ``path`` (last one is read): a UTF-8 conversion and/or a copy
    with over-long lines marked; empty when the file is read as it is. And the facts of the text read
    (``facts``: those of ``path``, when already known), unless over-long lines were marked (or the file
    is Parquet). ``sheet_rows`` receives the data rows of each matching sheet of a workbook read whole."""
    sniffed, made = prep.sniffed, []
    if sniffed.format == "parquet":
        return made, None
    readable = path
    if sniffed.needs_conversion:
        readable = readers.convert_to_utf8_csv(
            sniffed, store.staging_dir, scaled(progress, 0.05, 0.25), prep.limits, sheet_rows
        )
        made.append(readable)
        facts = None
    if facts is None:
        facts = readers.text_facts(readable, prep.limits.max_line_bytes)
    if facts.long_lines:
        made.append(
            readers.mark_long_lines(readable, facts.long_lines, len(sniffed.headers), sniffed.delimiter or ",", store.staging_dir)
        )
        return made, None
    return made, facts


def _stage_check_insert(
    cur, store, path, prep, facts, name, base, pseudonymise_key, progress, timezone, expected_from, expected_to, started
) -> IngestReport:
    """Read the file once and insert its accepted rows as they stream by, in one transaction."""
    sniffed = prep.sniffed
    made: list[Path] = []
    sheet_rows: list[tuple[str, int]] = []
    try:
        made, facts = _readable_copy(path, prep, facts, store, progress, sheet_rows)
        readable = made[-1] if made else path
        params: dict[str, Any] = {}
        source = _source_sql(
            replace(sniffed, format="csv") if sniffed.format in ("xlsx", "json") else sniffed, readable, params, prep.limits
        )
        stage, stage_params = _stage_sql(prep, source, timezone, pseudonymise_key, facts)
        start, end = _utc_bounds(expected_from, expected_to, timezone)
        sql = _stream_sql(prep, stage)
        params.update(stage_params, ws=start, we=end, wr=WATCH_RATIO_WARNING)
        with store.cursor() as reader:
            cur.execute("BEGIN TRANSACTION")
            try:
                existing = find_by_sha(cur, prep.plan.kind, base["sha256"])
                if existing is not None:
                    report = _already(existing, started, base)
                else:
                    report = _check_and_insert(
                        cur, reader, prep, sql, params, pseudonymise_key, progress, base, sheet_rows,
                        (timezone, expected_from, expected_to, start),
                    )
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            # DuckDB turns a COMMIT after a failed statement into a silent rollback; none failed here.
            cur.execute("COMMIT" if report.status == "ok" else "ROLLBACK")
    finally:
        for f in made:
            f.unlink(missing_ok=True)
    return report


#: The stage's column saying that an order line's status is a refund (:data:`ORDER_STATUS_ALIASES`).
_REFUNDED = "_f_refund_status"


def _added_events(prep: _Prepared) -> list[tuple[str, str, bool]]:
    """The events one source row may add after its own: ``(event, stage column that says so, keeps
    the row's amounts)``. A wide file's truthy flags (no watch time, no revenue), and an order line's
    refunded status (a refund of the order's amount)."""
    plan, headers = prep.plan, prep.sniffed.headers
    added = [(c.event, f"_f_{c.event}_c{headers.index(c.source)}", False) for c in plan.flags] if plan.wide else []
    if plan.row_event == "purchase" and plan.source_for(ORDER_STATUS) is not None:
        added.append(("refund", _REFUNDED, True))
    return added


def _carries_props(prep: _Prepared) -> bool:
    """Whether the streamed rows carry ``props`` (NULL in every row of a file that keeps no column there)."""
    return bool(prep.plan.kept_in_props)


def _stream_sql(prep: _Prepared, stage: str) -> str:
    """The stage (:func:`_stage_sql`) as the streamed rows: a source row followed by one row per event
    it adds (:func:`_added_events`; ``_k``: 0 for the source row, n for the n-th added event; only
    accepted rows expand), each row's warning flags (``_w_range``, ``_w_watch``) and whether it is a purchase
    (``_purchase``; the warnings read the purchases; events only)."""
    plan = prep.plan
    kind = plan.kind
    cols = list(TABLE_COLUMNS[kind])
    added = _added_events(prep)
    # ``props`` only when the file keeps columns there: a column of NULL maps costs as much to pass
    # through Arrow as a column of values.
    carried = ", props" if _carries_props(prep) else ""
    if added:
        ks = ", ".join(f'CASE WHEN _reason IS NULL AND "{f}" THEN {i} END' for i, (_e, f, _keep) in enumerate(added, start=1))
        inner = f"SELECT *, unnest([0] || list_filter([{ks}], x -> x IS NOT NULL)) AS _k FROM ({stage})"
        event = "CASE _k WHEN 0 THEN event_type " + " ".join(
            f"WHEN {i} THEN {_lit(e)}" for i, (e, _f, _keep) in enumerate(added, start=1)
        ) + " END"
        kept = ", ".join(["0", *(str(i) for i, (_e, _f, keep) in enumerate(added, start=1) if keep)])
        values = {c: f'"{c}"' for c in cols}
        values["event_type"] = event
        for c in ("watch_seconds", "revenue", "lesson"):
            values[c] = f'CASE WHEN _k IN ({kept}) THEN "{c}" END'
        select = ", ".join(f'{v} AS "{c}"' for c, v in values.items())
        row_hash = f"CASE WHEN _k = 0 THEN _h ELSE {_row_hash_sql(kind, values)} END"
        stage = f"SELECT {select}{carried}, _formula, _reason, _raw, {row_hash} AS _h, _k FROM ({inner})"
    else:
        qcols = ", ".join(f'"{c}"' for c in cols)
        stage = f"SELECT {qcols}{carried}, _formula, _reason, _raw, _h FROM ({stage})"
    if kind != "events":
        return stage
    return (
        "SELECT *, coalesce(event_time < $ws OR event_time >= $we, false) AS _w_range, "
        "coalesce(event_type = 'view' AND video_seconds > 0 AND watch_seconds > $wr * video_seconds, false) AS _w_watch, "
        "coalesce(event_type = 'purchase', false) AS _purchase "
        f"FROM ({stage})"
    )


#: Columns left out of the duplicate filter's key (:func:`_row_hash_sql`): an event's attribution,
#: whose text costs the most to hash (on the 10M-row bench file, hashing every column took about
#: 0.75 s more CPU than hashing the others). Rows alike in every other column are rare, and like
#: every repeat of the key they are compared column by column, which decides.
_UNKEYED: dict[str, frozenset[str]] = {"events": frozenset({"course_id", "channel", "campaign", "variant"})}


def _row_hash_sql(kind: str, values: dict[str, str] | None = None) -> str:
    """The 64-bit key of a row that the duplicate filter (:class:`_SeenFilter`) reads: a hash of
    its columns (``values``: each column's expression, default the column itself) and ``props``,
    less those of :data:`_UNKEYED`. Equal rows have equal keys; rows with equal keys are compared."""
    left_out = _UNKEYED.get(kind, frozenset())
    exprs = values or {c: f'"{c}"' for c in TABLE_COLUMNS[kind]}
    return "hash(" + ", ".join(v for c, v in exprs.items() if c not in left_out) + ", props)"


class _SeenFilter:
    """A blocked Bloom filter of the 64-bit row hashes seen so far: each hash sets two bits of one
    64-bit word, the word chosen by its top bits. A hash with both bits set *may* have been seen; one
    with a bit unset was not. So every repeat is caught, and a few of the others (at 8 bits or more a
    hash, under one percent) are caught with them: the rows caught are kept aside and compared
    column by column after the pass, which decides.

    ``expected``: about how many hashes will be added (sizes the filter at 8 bits or more each, from
    1 MiB up to 128 MiB; more hashes than that only make more rows kept aside)."""

    def __init__(self, expected: int = 0) -> None:
        import numpy as np

        bits = 1 << max(23, min(30, int(8 * max(expected, 1)).bit_length()))
        self.shift = np.uint64(64 - ((bits // 64).bit_length() - 1))
        self.words = np.zeros(bits // 64, dtype=np.uint64)

    def _locate(self, hashes):
        """Each hash's word and its two bits there (from bits the word's index does not use)."""
        import numpy as np

        one, six = np.uint64(1), np.uint64(6)
        low = np.uint64(63)
        return hashes >> self.shift, (one << (hashes & low)) | (one << ((hashes >> six) & low))

    def add(self, hashes, ordered: bool = False) -> None:
        """Add ``hashes`` (``ordered``: already sorted)."""
        import numpy as np

        if not len(hashes):
            return
        word, bits = self._locate(hashes if ordered else np.sort(hashes))
        # sorted hashes: their words in order, so each word's bits are OR-ed at once
        first = np.flatnonzero(np.concatenate(([True], word[1:] != word[:-1])))
        self.words[word[first]] |= np.bitwise_or.reduceat(bits, first)

    def maybe_seen(self, hashes):
        """A mask of ``hashes`` that may have been added before or repeat another of ``hashes``
        (every copy of such a repeat); then adds them."""
        import numpy as np

        word, bits = self._locate(hashes)
        mask = (self.words[word] & bits) == bits
        ordered = np.sort(hashes)
        repeated = ordered[1:][ordered[1:] == ordered[:-1]]
        if len(repeated):
            mask |= np.isin(hashes, repeated)
        self.add(ordered, ordered=True)
        return mask


def _rows_about(prep: _Prepared) -> int:
    """About how many rows the file holds (more, rather than fewer: 32 bytes a row), to size the hash set."""
    try:
        return prep.sniffed.path.stat().st_size // 32
    except OSError:
        return 0


@dataclass
class _Stream:
    """What the streamed pass collects besides the rows it inserts (all small unless the file is)."""

    rows: int = 0  # source rows read (the reader's own rejected lines aside)
    ok: int = 0  # accepted rows, a wide file's flag events included
    batches: int = 0
    rejected: list = field(default_factory=list)  # Arrow tables (_rid, _reason, _raw)
    held: list = field(default_factory=list)  # accepted rows whose hash may have been seen: resolved after the pass
    kept: list = field(default_factory=list)  # accepted rows (for events, the purchases) the warnings read
    ok_rids: list = field(default_factory=list)  # row ids of accepted rows (workbooks read whole: counts per sheet)
    warned: dict = field(default_factory=dict)  # warning column -> [count, first row ids]
    error: BaseException | None = None


def _stream(rd, kind: str, wide: bool, seen: _SeenFilter, out_cols: list[str], state: _Stream, sheets: bool):
    """Each batch of ``rd`` as the insert reads it: ``out_cols`` and ``_keep``, true for the accepted
    rows whose hash is surely new (no row is copied out of a batch for the insert); everything else is
    collected into ``state``."""
    import numpy as np
    import pyarrow as pa

    warn_cols = ["_formula"] + (["_w_range", "_w_watch"] if kind == "events" else [])
    try:
        for batch in rd:
            n = batch.num_rows
            source = batch.column("_k").to_numpy(zero_copy_only=False) == 0 if wide else None
            rid = state.rows + (np.cumsum(source) - 1 if wide else np.arange(n))
            state.rows += int(source.sum()) if wide else n
            ok = batch.column("_reason").is_null().to_numpy(zero_copy_only=False)
            everything = bool(ok.all())
            if not everything:
                bad = ~ok
                state.rejected.append(pa.table({
                    "_rid": rid[bad], "_reason": batch.column("_reason").filter(bad), "_raw": batch.column("_raw").filter(bad),
                }))
            for col in warn_cols:
                hit = ok & batch.column(col).to_numpy(zero_copy_only=False)
                if col != "_w_watch" and wide:
                    hit &= source  # formula and time warnings name source rows
                count, first = state.warned.setdefault(col, [0, []])
                if hit.any():
                    state.warned[col] = [count + int(hit.sum()), (first + rid[hit][:5].tolist())[:5]]
            ok_rid = rid if everything else rid[ok]
            state.ok += len(ok_rid)
            if sheets:
                state.ok_rids.append(ok_rid)
            if kind == "events":
                purchases = ok & batch.column("_purchase").to_numpy(zero_copy_only=False)
                if purchases.any():
                    state.kept.append(pa.table({
                        "_rid": rid[purchases], "user_id": batch.column("user_id").filter(purchases),
                        "event_time": batch.column("event_time").filter(purchases),
                    }))
            else:
                accepted = batch if everything else batch.filter(ok)
                state.kept.append(accepted.select(out_cols).append_column("_rid", pa.array(ok_rid)))
            hashes = batch.column("_h").to_numpy(zero_copy_only=False)
            if everything:
                held = seen.maybe_seen(hashes)
            else:
                held = np.zeros(n, dtype=bool)
                held[ok] = seen.maybe_seen(hashes[ok])
            if held.any():
                state.held.append(batch.filter(held).select(out_cols + ["_h"]).append_column("_rid", pa.array(rid[held])))
            state.batches += 1
            yield batch.select(out_cols).append_column("_keep", pa.array(ok & ~held))
    except BaseException as exc:
        state.error = exc
        raise


def _read_stream(reader, sql: str, params: dict[str, Any], name: str):
    """Start the streamed read of the file (cursor ``reader``): an Arrow batch reader."""
    try:
        return reader.execute(sql, _used(sql, params)).to_arrow_reader(BATCH_ROWS)
    except PermissionDenied as exc:
        raise BadInput(
            f"the database may not read {name}: only files inside the data folder or handed to it can be read",
            code="file_not_allowed",
            path=name,
        ) from exc
    except EngineError as exc:
        raise _read_error(exc, name) from exc


def _read_error(exc: BaseException, name: str) -> BadInput:
    if isinstance(exc, OutOfMemory):
        return BadInput(
            f"{name} needs more memory than the upload may use ({INGEST_MEMORY_LIMIT}); split the file or remove columns",
            code="out_of_memory",
            limit=INGEST_MEMORY_LIMIT,
        )
    # The engine's text may quote the file: only its kind is passed on.
    return BadInput(f"cannot read {name} as a table", code="unreadable_file", error=type(exc).__name__)


def _already(existing: int, started: float, base: dict[str, Any]) -> IngestReport:
    return IngestReport(
        status="already_uploaded",
        upload_id=None,
        existing_upload_id=existing,
        issues=(Issue("already_uploaded", "info", params={"upload_id": existing}),),
        seconds=time.monotonic() - started,
        **base,
    )


def _line_mapper(cur, sniffed: readers.Sniffed) -> tuple[Callable[[int], int], list[tuple[int, str, str, str]]]:
    """``rowid -> source line`` and the reader's own rejected lines (line, code, message, raw)."""
    csv_rejects: list[tuple[int, str, str, str]] = []
    if sniffed.format != "parquet":
        try:
            rows = cur.execute(
                "SELECT line, any_value(error_type), any_value(error_message), any_value(csv_line) "
                "FROM _rx_csv_rejects GROUP BY line ORDER BY line"
            ).fetchall()
        except MissingTable:
            rows = []
        csv_rejects = [(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]
    header = sniffed.header_lines
    before = [line - header - i for i, (line, *_rest) in enumerate(csv_rejects, start=1)]

    def line_of(rowid: int) -> int:
        k = rowid + 1
        if sniffed.format == "parquet":
            return k
        return k + header + bisect.bisect_left(before, k)

    return line_of, csv_rejects


def rejection_params(stage_reason: str, limits: Limits) -> dict[str, Any]:
    """The parameters of the error issue whose first example is the stage's ``code|column|value``
    (``unknown_event_type`` takes the counted values instead)."""
    code, column, value = stage_reason.split("|", 2)
    wanted = ISSUE_CODES.get(code, ())
    params = {k: v for k, v in {"column": column, "example": value}.items() if k in wanted}
    if code == "implausible_time":
        params.update(start=limits.plausible_from.isoformat(), end=limits.plausible_to.isoformat())
    elif code == "cell_too_long":
        params["limit"] = limits.max_cell_bytes
    elif code == "line_too_long":
        params["limit"] = limits.max_line_bytes
    return params


def _rejection_issues(cur, line_of, csv_rejects, limits: Limits) -> list[Issue]:
    """One error issue per reason code, with its count, example lines and the first example's parameters."""
    issues: list[Issue] = []
    for code, n, rids, examples in cur.execute(
        "SELECT split_part(_reason, '|', 1) AS code, count(*), list(_rid ORDER BY _rid)[1:5], "
        "list(_reason ORDER BY _rid)[1:1] FROM _rx_rejected GROUP BY code ORDER BY 2 DESC, 1"
    ).fetchall():
        if code == "unknown_event_type":
            counted = cur.execute(
                "SELECT split_part(_reason, '|', 3) r, count(*) FROM _rx_rejected WHERE _reason LIKE 'unknown_event_type|%' "
                "GROUP BY r ORDER BY 2 DESC, 1 LIMIT 10"
            ).fetchall()
            params: dict[str, Any] = {"values": [[r, int(c)] for r, c in counted]}
        else:
            params = rejection_params(examples[0], limits)
        issues.append(Issue(code, "error", int(n), tuple(line_of(r) for r in rids), params))
    by_code: dict[str, list[int]] = {}
    for line, etype, _msg, _raw in csv_rejects:
        by_code.setdefault(_csv_error(etype)[0], []).append(line)
    for code, lines in by_code.items():
        params = {"limit": limits.max_line_bytes} if code == "line_too_long" else {}
        if code == "unreadable_row":
            params = {"error": next(e.lower() for ln, e, *_ in csv_rejects if _csv_error(e)[0] == code)}
        existing = next((i for i in issues if i.code == code), None)
        if existing is not None:  # over-long lines marked before reading and those the reader found
            issues[issues.index(existing)] = replace(
                existing, count=existing.count + len(lines), lines=tuple(sorted(existing.lines + tuple(lines)))[:5]
            )
        else:
            issues.append(Issue(code, "error", len(lines), tuple(lines[:5]), params))
    return issues


def _row_ddl(kind: str) -> str:
    """The columns of a row of ``kind`` (and its ``props``) as DDL."""
    return ", ".join(f'"{c}" {t}' for c, t in TABLE_COLUMNS[kind].items()) + ", props MAP(VARCHAR, VARCHAR)"


def _temp_table(cur, name: str, parts: list, columns: str) -> None:
    """A temporary table ``name`` (``columns``: its DDL) holding the Arrow tables ``parts``."""
    import pyarrow as pa

    cur.execute(f"CREATE TEMP TABLE {name} ({columns})")
    if parts:
        tables = [pa.Table.from_batches([p]) if isinstance(p, pa.RecordBatch) else p for p in parts]
        cur.register("_rx_arrow", pa.concat_tables(tables, promote_options="permissive"))
        cur.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _rx_arrow")
        cur.unregister("_rx_arrow")


def _check_and_insert(cur, reader, prep: _Prepared, sql, params, key, progress, base, sheet_rows, when) -> IngestReport:
    """Stream the file's rows (cursor ``reader``) into the table (cursor ``cur``, in its transaction):
    accepted rows whose hash is surely new go straight in; the rejected rows and the rows whose hash
    may have been seen before (in the file or the table; :class:`_SeenFilter`) are kept aside; the
    latter are compared column by column after the pass, and those no stored row equals are inserted
    then (exact duplicates are skipped)."""
    plan, sniffed = prep.plan, prep.sniffed
    kind = plan.kind
    cols = list(TABLE_COLUMNS[kind])
    qcols = ", ".join(f'"{c}"' for c in cols)
    row_hash = _row_hash_sql(kind)
    timezone, expected_from, expected_to, start = when
    fp = privacy.check_key_matches(cur, key) if kind == "events" else None
    mapping_doc = {**plan.as_dict(), **({"pseudonym_fingerprint": fp} if fp else {})}
    upload_id = register_upload(
        cur, kind=kind, file_name=base["file_name"], sha256=base["sha256"], rows_accepted=0, mapping=mapping_doc
    )

    stored = cur.execute(f'SELECT count(*) FROM "{kind}"').fetchone()[0]
    seen = _SeenFilter(stored + _rows_about(prep))
    if stored:
        seen.add(cur.execute(f'SELECT {row_hash} AS h FROM "{kind}"').fetchnumpy()["h"])
    state = _Stream()
    rd = _read_stream(reader, sql, params, base["file_name"])
    import pyarrow as pa

    out_cols = cols + (["props"] if _carries_props(prep) else [])
    rows = pa.RecordBatchReader.from_batches(
        pa.schema([rd.schema.field(c) for c in out_cols] + [pa.field("_keep", pa.bool_())]),
        _stream(rd, kind, bool(_added_events(prep)), seen, out_cols, state, bool(sniffed.parts)),
    )

    def poll() -> None:
        try:
            pct = reader.query_progress()
        except EngineError:
            pct = -1
        if pct >= 0:
            progress(0.25 + 0.6 * min(pct, 100.0) / 100.0, "storing" if state.batches else "reading")

    progress(0.25, "reading")
    cur.register("_rx_rows", rows)
    # The read above was planned in file order (a row's position is its line). The insert is planned
    # without that order (a setting of the whole database instance, restored after it; after a failure,
    # by ingest_file once the transaction is rolled back): DuckDB then compresses each row group as it
    # writes it, instead of writing it once and compressing it again at the next checkpoint.
    cur.execute("SET preserve_insertion_order = false")
    try:
        inserted = _run(
            cur,
            f'INSERT INTO "{kind}" ({qcols}, upload_id, props) SELECT {qcols}, $uid, '
            f'{"props" if _carries_props(prep) else "NULL"} FROM _rx_rows WHERE _keep',
            {"uid": upload_id}, poll,
        )[0][0]
    except BaseException as exc:
        if state.error is not None and isinstance(state.error, EngineError):
            raise _read_error(state.error, base["file_name"]) from state.error
        if state.error is not None:
            raise state.error from exc
        raise
    finally:
        cur.unregister("_rx_rows")
    cur.execute("RESET preserve_insertion_order")
    progress(0.85, "storing")

    line_of, csv_rejects = _line_mapper(reader, sniffed)
    _temp_table(cur, "_rx_rejected", state.rejected, "_rid BIGINT, _reason VARCHAR, _raw VARCHAR")
    issues = _rejection_issues(cur, line_of, csv_rejects, prep.limits)
    rejected: list[RejectedRow] = [
        RejectedRow(line_of(int(r[0])), _row_reason(r[1]), r[2])
        for r in cur.execute("SELECT _rid, _reason, _raw FROM _rx_rejected ORDER BY _rid LIMIT ?", [REJECTS_IN_REPORT]).fetchall()
    ]
    for line, etype, _msg, raw in csv_rejects[:REJECTS_IN_REPORT]:
        rejected.append(RejectedRow(line, _csv_error(etype)[1], (raw or "")[:2000]))
    rejected.sort(key=lambda r: r.line or 0)
    n_rejected = sum(len(t) for t in state.rejected)
    rows_read = state.rows + len(csv_rejects)
    rows_rejected = n_rejected + len(csv_rejects)

    if state.ok == 0:
        if state.rows == 0 and not csv_rejects:
            raise BadInput(f"{base['file_name']} has no data rows", code="no_rows")
        return IngestReport(
            status="nothing_accepted",
            upload_id=None,
            rows_read=rows_read,
            rows_rejected=rows_rejected,
            issues=tuple(issues) + _info_issues(prep),
            rejected=tuple(rejected),
            sheets=_sheet_counts(cur, prep, sheet_rows, csv_rejects, state),
            **base,
        )

    # The rows kept aside: a duplicate when an equal row is stored (earlier uploads, or this one's
    # rows inserted above) or comes earlier among them; the others are inserted now.
    progress(0.87, "checking")
    _temp_table(cur, "_rx_held", state.held, f"{_row_ddl(kind)}, _h UBIGINT, _rid BIGINT")
    same = " AND ".join(f"d.{c} IS NOT DISTINCT FROM s.{c}" for c in [*[f'"{c}"' for c in cols], "props"])
    first = f'"{cols[0]}"'
    cur.execute(
        f"CREATE TEMP TABLE _rx_dups AS WITH d AS (SELECT *, row_number() OVER (PARTITION BY {qcols}, props ORDER BY _rid) AS _n "
        f"FROM _rx_held), s AS (SELECT {qcols}, props FROM \"{kind}\" WHERE {first} IN (SELECT {first} FROM _rx_held) "
        f"AND {row_hash} IN (SELECT _h FROM _rx_held)) "
        f"SELECT *, _n > 1 OR EXISTS (SELECT 1 FROM s WHERE {same}) AS _dup FROM d"
    )
    accepted = int(inserted) + cur.execute(
        f'INSERT INTO "{kind}" ({qcols}, upload_id, props) SELECT {qcols}, $uid, props FROM _rx_dups WHERE NOT _dup ORDER BY _rid',
        {"uid": upload_id},
    ).fetchone()[0]
    duplicates = int(state.ok - accepted)
    sheets = _sheet_counts(cur, prep, sheet_rows, csv_rejects, state)
    issues += _warnings(cur, kind, line_of, state, upload_id, timezone, expected_from, expected_to, start)
    if duplicates:
        issues.append(Issue("duplicates_skipped", "warning", duplicates))
    issues += list(_info_issues(prep))

    cur.execute(
        f"INSERT INTO upload_rejects SELECT $uid, _rid + 1, {STORED_REASON_SQL}, _raw FROM _rx_rejected ORDER BY _rid",
        {"uid": upload_id},
    )
    if csv_rejects or sniffed.format != "parquet":
        _fix_reject_lines(cur, upload_id, sniffed, csv_rejects)
    report = IngestReport(
        status="ok",
        upload_id=upload_id,
        rows_read=rows_read,
        rows_accepted=accepted,
        rows_rejected=rows_rejected,
        rows_duplicate=duplicates,
        issues=tuple(issues),
        rejected=tuple(rejected),
        sheets=sheets,
        **base,
    )
    doc = report.to_dict()
    doc.pop("rejected_sample", None)
    cur.execute(
        "UPDATE uploads SET rows_accepted = ?, rows_rejected = ?, rows_duplicate = ?, report = ? WHERE upload_id = ?",
        [accepted, rows_rejected, duplicates, json.dumps(doc, ensure_ascii=False, default=str), upload_id],
    )
    progress(0.98, "storing")  # everything written, not committed yet
    return report


def _sheet_counts(cur, prep: _Prepared, sheet_rows, csv_rejects, state: _Stream) -> tuple:
    """Each sheet of a workbook read whole with its own counts: a row is a duplicate when an identical
    row comes earlier in the file or is already stored, as the insert itself decides."""
    parts = prep.sniffed.parts
    if not parts:
        return ()
    import numpy as np

    ok_rids = np.concatenate(state.ok_rids) if state.ok_rids else np.zeros(0, dtype=np.int64)
    has_dups = cur.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_rx_dups' AND temporary").fetchone()[0]
    header = prep.sniffed.header_lines
    counted: dict[str, SheetPart] = {}
    start = 0  # data rows (records) before the sheet, the reader's rejected lines included
    for sheet, n in sheet_rows:
        lo, hi = start, start + n
        # the reader's own rejected lines take no row id: row ids count the other records
        bad_lines = sum(1 for line, *_r in csv_rejects if lo < line - header <= hi)
        before = sum(1 for line, *_r in csv_rejects if line - header <= lo)
        span = {"lo": lo - before, "hi": hi - before - bad_lines}
        rejected_n, = cur.execute("SELECT count(*) FROM _rx_rejected WHERE _rid >= $lo AND _rid < $hi", span).fetchone()
        ok_n = int(np.count_nonzero((ok_rids >= span["lo"]) & (ok_rids < span["hi"])))
        dup = cur.execute("SELECT count(*) FROM _rx_dups WHERE _dup AND _rid >= $lo AND _rid < $hi", span).fetchone()[0] if has_dups else 0
        counted[sheet] = SheetPart(
            sheet, "match", rows_read=n, rows_accepted=int(ok_n - dup), rows_rejected=int(rejected_n) + bad_lines,
            rows_duplicate=int(dup), lines=(lo + header + 1, hi + header) if n else None,
        )
        start = hi
    return tuple(counted.get(p.sheet, p) for p in parts)


def _fix_reject_lines(cur, upload_id: int, sniffed: readers.Sniffed, csv_rejects) -> None:
    """Turn stored row numbers into source lines and add the reader's own rejected lines."""
    header = sniffed.header_lines
    if csv_rejects:
        before = [line - header - i for i, (line, *_r) in enumerate(csv_rejects, start=1)]
        cur.execute("CREATE TEMP TABLE _rx_before AS SELECT unnest($b) AS a", {"b": before})
        cur.execute(
            "UPDATE upload_rejects SET line = line + $h + (SELECT count(*) FROM _rx_before WHERE a < upload_rejects.line) "
            "WHERE upload_id = $uid",
            {"h": header, "uid": upload_id},
        )
        rows = [(upload_id, line, _csv_error(etype)[1], (raw or "")[:100_000]) for line, etype, _msg, raw in csv_rejects]
        cur.executemany("INSERT INTO upload_rejects VALUES (?, ?, ?, ?)", rows)
    elif header:
        cur.execute("UPDATE upload_rejects SET line = line + $h WHERE upload_id = $uid", {"h": header, "uid": upload_id})


def _warnings(cur, kind, line_of, state: _Stream, upload_id, timezone, expected_from, expected_to, start) -> list[Issue]:
    out: list[Issue] = []

    def found(code: str, n: int, rids, **issue_params) -> None:
        if n:
            out.append(Issue(code, "warning", int(n), tuple(line_of(int(r)) for r in (rids or [])), issue_params))

    def add(code: str, sql: str, params=None, **issue_params) -> None:
        found(code, *cur.execute(sql, params or {}).fetchone(), **issue_params)

    found("formula_like", *state.warned.get("_formula", (0, [])))
    if kind != "events":
        _temp_table(cur, "_rx_ok", state.kept, f"{_row_ddl(kind)}, _rid BIGINT")
    if kind == "items":
        add(
            "item_repeated",
            "WITH ids AS (SELECT item_id FROM _rx_ok GROUP BY item_id HAVING count(DISTINCT (title, kind, creator, category, "
            "tags, duration_seconds, price, lessons, course_id, published_at)) > 1 "
            "UNION SELECT item_id FROM items WHERE upload_id <> $uid AND item_id IN (SELECT item_id FROM _rx_ok)) "
            "SELECT count(*), list(_rid ORDER BY _rid)[1:5] FROM _rx_ok WHERE item_id IN (SELECT item_id FROM ids)",
            {"uid": upload_id},
        )
    if kind == "spend":
        add(
            "spend_repeated",
            "WITH k AS (SELECT date, channel, campaign FROM _rx_ok GROUP BY ALL HAVING count(*) > 1 "
            "UNION SELECT s.date, s.channel, s.campaign FROM spend s SEMI JOIN _rx_ok o "
            "ON s.date = o.date AND s.channel IS NOT DISTINCT FROM o.channel AND s.campaign IS NOT DISTINCT FROM o.campaign "
            "WHERE s.upload_id <> $uid) "
            "SELECT count(*), list(o._rid ORDER BY o._rid)[1:5] FROM _rx_ok o SEMI JOIN k "
            "ON o.date = k.date AND o.channel IS NOT DISTINCT FROM k.channel AND o.campaign IS NOT DISTINCT FROM k.campaign",
            {"uid": upload_id},
        )
    if kind != "events":
        return out
    found("watch_far_above_video", *state.warned.get("_w_watch", (0, [])), ratio=WATCH_RATIO_WARNING)
    if state.kept:
        # Every view is in the table now: this upload's, and the earlier ones'. A database without any
        # view (an order export on its own) has nothing to compare with: no warning.
        _temp_table(cur, "_rx_purchases", state.kept, "_rid BIGINT, user_id VARCHAR, event_time TIMESTAMP")
        add(
            "purchase_without_view",
            "WITH v AS (SELECT user_id, min(event_time) AS t FROM events WHERE event_type = 'view' "
            "AND user_id IN (SELECT user_id FROM _rx_purchases) GROUP BY user_id) "
            "SELECT count(*), list(p._rid ORDER BY p._rid)[1:5] FROM _rx_purchases p LEFT JOIN v USING (user_id) "
            "WHERE (v.t IS NULL OR v.t > p.event_time) AND EXISTS (SELECT 1 FROM events WHERE event_type = 'view')",
        )
    found(
        "time_out_of_range",
        *state.warned.get("_w_range", (0, [])),
        start=str(expected_from or start.date()),
        end=str(expected_to) if expected_to else None,
        timezone=timezone,
    )
    return out


def _info_issues(prep: _Prepared) -> tuple[Issue, ...]:
    plan = prep.plan
    out = []
    converted = [c for c in plan.columns if c.target in DURATION_COLUMNS and c.unit in ("ms", "min")]
    if converted:
        out.append(Issue("units_converted", "info", params={"columns": [[c.source, c.unit] for c in converted]}))
    if plan.props:
        out.append(Issue("kept_in_props", "info", len(plan.props), params={"columns": [c.source for c in plan.props]}))
    personal = [c.source for c in plan.ignored if not c.manual]
    if personal:
        out.append(Issue("personal_not_stored", "info", len(personal), params={"columns": personal}))
    return tuple(out) + prep.notes
