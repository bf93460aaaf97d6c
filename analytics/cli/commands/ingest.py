"""``reelytics ingest FILE``, ``preview FILE``, ``uploads``, ``remove-upload ID`` and ``rejects ID``.

The library reports issues as codes with parameters (:data:`analytics.ingest.quality.ISSUE_CODES`);
this module words them for the terminal (the dashboard words them in ``dashboard/i18n/data.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analytics.cli.main import Output
from analytics.cli.progress_bar import StderrProgress
from analytics.query.filters import parse_date

#: English text of each issue code; ``{n}`` is the issue's count, the rest its parameters.
ISSUE_TEXT = {
    "missing_value": "{n:,} row(s) rejected: a required value is empty ({column})",
    "bad_time": "{n:,} row(s) rejected: a time cannot be read (e.g. {column} {example!r})",
    "implausible_time": "{n:,} row(s) rejected: a time outside the plausible range {start} .. {end} (e.g. {column} {example!r})",
    "unknown_event_type": "{n:,} row(s) rejected: unknown event type ({values}); map them or fix the file",
    "unknown_kind": "{n:,} row(s) rejected: unknown item kind (e.g. {example!r}); use video, course, ebook, live or consult",
    "bad_number": "{n:,} row(s) rejected: a number cannot be read (e.g. {column} {example!r})",
    "non_finite": "{n:,} row(s) rejected: not a finite number (e.g. {column} {example!r})",
    "negative_duration": "{n:,} row(s) rejected: negative duration (e.g. {column} {example!r})",
    "unpaid_order": "{n:,} order(s) not stored: never paid (e.g. {column} {example!r})",
    "nul_byte": "{n:,} row(s) rejected: a NUL byte inside a cell ({column})",
    "cell_too_long": "{n:,} row(s) rejected: a cell longer than {limit:,} bytes ({column})",
    "line_too_long": "{n:,} row(s) rejected: a line longer than {limit:,} bytes",
    "ragged_row": "{n:,} row(s) rejected: wrong number of fields",
    "bad_encoding": "{n:,} row(s) rejected: invalid text for the encoding; pass the right --encoding",
    "bad_quotes": "{n:,} row(s) rejected: unbalanced quotes",
    "unreadable_row": "{n:,} row(s) rejected: unreadable ({error})",
    "formula_like": "{n:,} row(s) hold text starting with = + - @ tab or CR; stored as text, and exports neutralise it",
    "watch_far_above_video": "{n:,} view(s) watched more than {ratio:g} times the video length",
    "purchase_without_view": "{n:,} purchase(s) with no earlier view by the same user",
    "time_out_of_range": "{n:,} event time(s) outside the expected range {start} .. {end} ({timezone}); stored, please check",
    "item_repeated": "{n:,} catalog row(s) repeat an item_id of this file or of the stored catalog with other values; "
    "all are kept -- remove the outdated upload so that each item has one row",
    "spend_repeated": "{n:,} spend row(s) repeat a day, channel and campaign of this file or of the stored spend; "
    "all are kept and add up -- remove the outdated upload if they are corrections",
    "duplicates_skipped": "{n:,} exact duplicate row(s) skipped (within the file or already stored)",
    "date_order_assumed": "no value of {column} shows whether dates are day/month or month/day: read as {order}; "
    "check the preview",
    "date_order_conflict": "{column} has dates that are only day/month and others only month/day: read as {order}, "
    "the others are rejected",
    "already_uploaded": "this file was already uploaded as upload {upload_id}; nothing was added",
    "units_converted": "converted to seconds: {columns}",
    "kept_in_props": "kept as properties: {columns}",
    "personal_not_stored": "personal columns not stored: {columns}",
    "also_looks_like": "{column!r} also looks like {target}; {used!r} was used and {column!r} kept in props",
    "event_type_by_values": "no column is named as the event type; {column!r} holds event types, so it is read as one "
    "(map another column as event_type to change it)",
    "columns_named_by_values": "the file has no header row; its columns were named by their values: {columns} "
    "(give --columns a,b,c to name them yourself)",
    "title_lines_skipped": "{lines} line(s) above the header row were skipped (a title, or a row grouping the columns): {title!r}",
    "user_id_or_visitor": "rows without a user id take the visitor id in {column!r} as their user ({used!r} is the user "
    "id); {column!r} is also kept in props",
    "course_id_as_item_id": "the catalog names no item id: {column!r}, a course id, is read as each row's item id",
    "read_as_ms": "{column!r} has no unit in its name and a median of {median:,.0f}: read as milliseconds "
    "(map it as ...:s to keep seconds)",
    "read_as_ms_like": "{column!r} has no unit in its name: read as milliseconds like {like!r} (map it as ...:s to keep seconds)",
    "wide_form": "no event type column: each row is a view, plus one event per truthy flag ({flags})",
    "rows_are_views": "no event type column: each row is read as a view (map a column as event_type if the file has one)",
    "rows_are_purchases": "no event type column, but amounts: each row is read as a purchase "
    "(map a column as event_type if the file has one)",
    "order_status_read": "{column!r} is read as each order's status: a refunded order adds a refund of its amount, "
    "an unpaid one is not stored",
    "rows_are_purchases_by_quantity": "no event type column, but order lines: each row is read as a purchase of "
    "its price times {quantity!r}, or as a refund where {quantity!r} is negative (map a column as event_type if "
    "the file has one)",
    "date_order_proven": "{column}: dates read as {order}",
    "epoch_unit": "{column}: numbers read as epoch {unit}",
    "not_checked_on_spark": "not checked on Spark: {checks} (they need the DuckDB store)",
}
ORDER_TEXT = {"dmy": "day/month/year", "mdy": "month/day/year"}
UNIT_TEXT = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}

#: English text of each rejected row's reason code (``code`` or ``code:column``).
REASON_TEXT = {
    "missing_value": "missing {column}",
    "bad_time": "cannot read {column}",
    "implausible_time": "implausible {column}",
    "unknown_event_type": "unknown event type",
    "unknown_kind": "unknown item kind",
    "bad_number": "cannot read {column} as a number",
    "non_finite": "{column} is not a finite number",
    "negative_duration": "negative {column}",
    "unpaid_order": "order not paid ({column})",
    "nul_byte": "NUL byte in {column}",
    "cell_too_long": "{column} too long",
    "line_too_long": "line too long",
    "too_few_fields": "too few fields",
    "too_many_fields": "too many fields",
    "bad_encoding": "invalid text for the encoding",
    "bad_quotes": "unbalanced quotes",
    "unreadable_row": "unreadable row",
}


def _listed(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(
            f"{v[0]!r}: {v[1]:,}" if isinstance(v, list) and isinstance(v[1], int)
            else f"{v[0]} ({v[1]})" if isinstance(v, list) else str(v)
            for v in value
        ) or "none"
    return value


def issue_text(code: str, count: int, params: dict[str, Any]) -> str:
    """The English sentence of one issue."""
    values = {k: _listed(v) for k, v in params.items()}
    if "order" in values:
        values["order"] = ORDER_TEXT.get(values["order"], values["order"])
    if "unit" in values:
        values["unit"] = UNIT_TEXT.get(values["unit"], values["unit"])
    if code == "time_out_of_range" and not values.get("end"):
        values["end"] = "today"
    return ISSUE_TEXT[code].format(n=count, **values)


def reason_text(reason: str) -> str:
    """The English text of a rejected row's reason."""
    from analytics.ingest.quality import split_reason

    code, column = split_reason(reason)
    if code not in REASON_TEXT:  # a reason stored in words by an older version
        return reason
    return REASON_TEXT[code].format(column=column or "")
from analytics.cli.text_output import pad, table


def register(sub) -> None:
    p = sub.add_parser("ingest")
    _file_args(p)
    p.add_argument("--pseudonymise", action="store_true", help="replace user ids by HMAC-SHA256 pseudonyms (key from $REELYTICS_PSEUDONYM_KEY or $REELYTICS_PSEUDONYM_KEY_FILE)")
    p.add_argument("--expect-from", metavar="YYYY-MM-DD", help="first expected day of the events (local); earlier times are flagged")
    p.add_argument("--expect-to", metavar="YYYY-MM-DD", help="last expected day of the events (local); later times are flagged")
    p.set_defaults(func=run_ingest, prepare=prepare_file)

    p = sub.add_parser("preview")
    _file_args(p)
    p.add_argument("--rows", type=int, default=10, help="rows to show (default 10)")
    p.set_defaults(func=run_preview)

    p = sub.add_parser("uploads")
    p.set_defaults(func=run_uploads)

    p = sub.add_parser("remove-upload")
    p.add_argument("upload_id", type=int, metavar="ID")
    p.set_defaults(func=run_remove)

    p = sub.add_parser("rejects")
    p.add_argument("upload_id", type=int, metavar="ID")
    p.set_defaults(func=run_rejects)


def _file_args(p) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--kind", default="events", choices=["events", "items", "spend"], help="what the file holds (default events)")
    p.add_argument("--map", action="append", default=[], metavar="SRC=DST", help="map a column by hand (repeatable); DST may carry a unit (watch_seconds:ms) or be an event type for a 0/1 flag column, props or ignore")
    p.add_argument("--encoding", default=None, help="text encoding (default: detected; utf-8, gbk, gb18030 ...)")
    p.add_argument("--columns", default=None, metavar="a,b,c", help="column names of a headerless file, in order")
    p.add_argument(
        "--sheet", default=None, metavar="NAME",
        help="the sheet of an Excel workbook to read (needed when several sheets hold data); "
        "'all': every sheet whose columns match the first sheet that maps",
    )


def prepare_file(args, ctx) -> None:
    """Hand the file to the store before it is opened (the connection may read nothing else)."""
    ctx.read_paths.append(Path(args.file).resolve())


def _options(args, ctx) -> dict:
    from analytics.ingest.mapping import parse_map_args
    from analytics.ingest.readers import ALL_SHEETS

    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    return dict(
        kind=args.kind,
        mapping=parse_map_args(args.map),
        timezone=ctx.settings.timezone,
        encoding=args.encoding,
        columns=columns,
        sheet=ALL_SHEETS if args.sheet == "all" else args.sheet,
    )


def _sheet_lines(parts, counts: bool = True) -> list[str]:
    """Each sheet of a workbook read whole: its counts and lines (``counts``), or why it is not read."""
    out = []
    for p in parts:
        if p.status == "match" and not counts:
            out.append(f"  sheet {p.sheet!r}: read")
        elif p.status == "match":
            where = f" (lines {p.lines[0]}-{p.lines[1]})" if p.lines else ""
            out.append(
                f"  sheet {p.sheet!r}: read {p.rows_read:,}  accepted {p.rows_accepted:,}  rejected {p.rows_rejected:,}  "
                f"duplicates {p.rows_duplicate:,}{where}"
            )
        elif p.status == "empty":
            out.append(f"  sheet {p.sheet!r}: not read, empty")
        else:
            diff = "; ".join(
                f"{label} {', '.join(map(repr, names))}" for label, names in (("lacks", p.missing), ("adds", p.extra)) if names
            )
            out.append(f"  sheet {p.sheet!r}: not read, other columns ({diff})")
    return out


def _issue_lines(issues) -> list[str]:
    return [
        f"  [{i.level}] {issue_text(i.code, i.count, i.params)}" + (f" (lines {', '.join(map(str, i.lines))})" if i.lines else "")
        for i in issues
    ]


def run_ingest(args, ctx) -> Output:
    from analytics.ingest import ingest_file
    from analytics.store.privacy import key_from_env

    key = key_from_env() if args.pseudonymise else None
    progress = None if args.json else StderrProgress(f"ingest {args.file.name}")
    ingest, target = ingest_file, None
    if ctx.settings.engine == "spark":  # into the Parquet dataset Spark reads (docs/scale-out.md)
        from analytics.ingest.on_spark import ingest_on_spark as ingest

        target = ctx.source
    report = ingest(
        target or ctx.store,
        args.file,
        **_options(args, ctx),
        pseudonymise_key=key,
        progress=progress,
        expected_from=parse_date(args.expect_from, "--expect-from"),
        expected_to=parse_date(args.expect_to, "--expect-to"),
    )
    lines = [
        {
            "ok": f"Imported {report.rows_accepted:,} rows from {report.file_name} as upload {report.upload_id}",
            "already_uploaded": f"{report.file_name} was already uploaded (upload {report.existing_upload_id}); nothing added",
            "nothing_accepted": f"Nothing imported from {report.file_name}: every row was rejected",
        }[report.status],
        f"  read {report.rows_read:,}  accepted {report.rows_accepted:,}  rejected {report.rows_rejected:,}  "
        f"duplicates {report.rows_duplicate:,}",
    ]
    lines += _sheet_lines(report.sheets)
    lines += _issue_lines(report.issues)
    if report.rows_rejected and report.upload_id:
        lines.append(f"  rejected rows: reelytics rejects {report.upload_id}")
    return Output(report.to_dict(), "\n".join(lines))


def _detected_words(d: dict) -> list[str]:
    """How the file was read, in words: its format, and for text its encoding, delimiter and header."""
    from dashboard.i18n import t

    words = [t(f"data.format.{d['format']}", "en")]  # the Data page's words for the format
    if d["format"] == "csv":
        words += [f"encoding {d['encoding']}", f"delimiter {d['delimiter']!r}"]
    if d["format"] in ("csv", "xlsx"):
        words.append("header row" if d["header"] else "no header row (columns named by their values or by --columns)")
    return words


def run_preview(args, ctx) -> Output:
    from analytics.ingest import preview_file

    pv = preview_file(args.file, **_options(args, ctx), rows=args.rows, data_dir=ctx.settings.data_dir)
    d = pv.detected
    lines = [f"{pv.file_name}: " + ", ".join(_detected_words(d))]
    if pv.sheets:
        lines[0] += ", every matching sheet"
        lines += _sheet_lines(pv.sheets, counts=False)
    elif d.get("sheet"):
        lines[0] += f", sheet {d['sheet']!r} of {', '.join(map(repr, d['sheets']))}"
    for c in pv.columns:
        lines.append(f"  {pad(c.source, 24)} -> {c.target:<20} {c.confidence:>4.2f}{'  (manual)' if c.manual else ''}  e.g. {c.example}")
    lines += [f"  note: {issue_text(n.code, n.count, n.params)}" for n in pv.notes]
    rows = pv.local_rows()
    rows["reason"] = rows["reason"].map(lambda r: reason_text(r) if r else None)
    lines.append(f"first rows (times in {pv.timezone}):")
    lines.append(table(rows))
    return Output(pv.to_dict(), "\n".join(lines))


def run_uploads(args, ctx) -> Output:
    from analytics.store.uploads import list_uploads

    ups = list_uploads(ctx.store)
    text = "\n".join(
        f"{u.upload_id:>5}  {u.kind:<7} {u.created_at:%Y-%m-%d %H:%M} UTC  accepted {u.rows_accepted:>10,}  "
        f"rejected {u.rows_rejected:>8,}  dup {u.rows_duplicate:>8,}  {u.file_name}"
        for u in ups
    ) or "no uploads yet"
    return Output({"uploads": ups}, text)


def run_remove(args, ctx) -> Output:
    from analytics.ingest import remove_upload

    removed = remove_upload(ctx.store, args.upload_id)
    text = f"removed upload {args.upload_id}: " + ", ".join(f"{n:,} {t}" for t, n in removed.items() if n) if any(removed.values()) else f"removed upload {args.upload_id}"
    return Output({"upload_id": args.upload_id, "removed": removed}, text)


def run_rejects(args, ctx) -> Output:
    from analytics.export import to_csv_bytes
    from analytics.ingest import rejected_rows

    df = rejected_rows(ctx.store, args.upload_id)
    if args.json:
        return Output({"upload_id": args.upload_id, "rejected": df})
    df["reason"] = df["reason"].map(reason_text)
    return Output({}, raw=to_csv_bytes(df).decode("utf-8").lstrip("\ufeff"))
