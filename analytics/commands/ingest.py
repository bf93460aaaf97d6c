"""``reelytics ingest FILE``, ``preview FILE``, ``uploads``, ``remove-upload ID`` and ``rejects ID``."""

from __future__ import annotations

from pathlib import Path

from analytics.cli import Output
from analytics.filters import parse_date
from analytics.progress import StderrProgress
from analytics.text_output import table


def register(sub) -> None:
    p = sub.add_parser("ingest", help="load a CSV/TSV, Excel or Parquet file into the database")
    _file_args(p)
    p.add_argument("--pseudonymise", action="store_true", help="replace user ids by HMAC-SHA256 pseudonyms (key from $REELYTICS_PSEUDONYM_KEY or $REELYTICS_PSEUDONYM_KEY_FILE)")
    p.add_argument("--expect-from", metavar="YYYY-MM-DD", help="first expected day of the events (local); earlier times are flagged")
    p.add_argument("--expect-to", metavar="YYYY-MM-DD", help="last expected day of the events (local); later times are flagged")
    p.set_defaults(func=run_ingest, prepare=prepare_file)

    p = sub.add_parser("preview", help="show how a file would be mapped, without loading it")
    _file_args(p)
    p.add_argument("--rows", type=int, default=10, help="rows to show (default 10)")
    p.set_defaults(func=run_preview)

    p = sub.add_parser("uploads", help="list the uploads, newest first")
    p.set_defaults(func=run_uploads)

    p = sub.add_parser("remove-upload", help="remove an upload and every row it brought")
    p.add_argument("upload_id", type=int, metavar="ID")
    p.set_defaults(func=run_remove)

    p = sub.add_parser("rejects", help="print the rejected rows of an upload as CSV")
    p.add_argument("upload_id", type=int, metavar="ID")
    p.set_defaults(func=run_rejects)


def _file_args(p) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--kind", default="events", choices=["events", "items", "spend"], help="what the file holds (default events)")
    p.add_argument("--map", action="append", default=[], metavar="SRC=DST", help="map a column by hand (repeatable); DST may carry a unit (watch_seconds:ms) or be an event type for a 0/1 flag column, props or ignore")
    p.add_argument("--encoding", default=None, help="text encoding (default: detected; utf-8, gbk, gb18030 ...)")
    p.add_argument("--columns", default=None, metavar="a,b,c", help="column names of a headerless file, in order")


def prepare_file(args, ctx) -> None:
    """Hand the file to the store before it is opened (the connection may read nothing else)."""
    ctx.read_paths.append(Path(args.file).resolve())


def _options(args, ctx) -> dict:
    from analytics.ingest.mapping import parse_map_args

    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    return dict(
        kind=args.kind,
        mapping=parse_map_args(args.map),
        timezone=ctx.settings.timezone,
        encoding=args.encoding,
        columns=columns,
    )


def run_ingest(args, ctx) -> Output:
    from analytics.ingest import ingest_file
    from analytics.privacy import key_from_env

    key = key_from_env() if args.pseudonymise else None
    progress = None if args.json else StderrProgress(f"ingest {args.file.name}")
    report = ingest_file(
        ctx.store,
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
    lines += [f"  [{i.level}] {i.message}" + (f" (lines {', '.join(map(str, i.lines))})" if i.lines else "") for i in report.issues]
    if report.rows_rejected and report.upload_id:
        lines.append(f"  rejected rows: reelytics rejects {report.upload_id}")
    return Output(report.to_dict(), "\n".join(lines))


def run_preview(args, ctx) -> Output:
    from analytics.ingest import preview_file

    pv = preview_file(args.file, **_options(args, ctx), rows=args.rows)
    d = pv.detected
    lines = [f"{pv.file_name}: {d['format']}, encoding {d['encoding']}, delimiter {d['delimiter']!r}, header {d['header']}"]
    for c in pv.columns:
        lines.append(f"  {c.source:<24} -> {c.target:<20} {c.confidence:>4.2f}{'  (manual)' if c.manual else ''}  e.g. {c.example}")
    lines += [f"  note: {n}" for n in pv.notes]
    lines.append(table(pv.rows))
    return Output(pv.to_dict(), "\n".join(lines))


def run_uploads(args, ctx) -> Output:
    from analytics.uploads import list_uploads

    ups = list_uploads(ctx.store)
    text = "\n".join(
        f"{u.upload_id:>5}  {u.kind:<7} {u.created_at:%Y-%m-%d %H:%M} UTC  accepted {u.rows_accepted:>10,}  "
        f"rejected {u.rows_rejected:>8,}  dup {u.rows_duplicate:>8,}  {u.file_name}"
        for u in ups
    ) or "no uploads yet"
    return Output({"uploads": ups}, text)


def run_remove(args, ctx) -> Output:
    from analytics.uploads import remove_upload

    removed = remove_upload(ctx.store, args.upload_id)
    text = f"removed upload {args.upload_id}: " + ", ".join(f"{n:,} {t}" for t, n in removed.items() if n) if any(removed.values()) else f"removed upload {args.upload_id}"
    return Output({"upload_id": args.upload_id, "removed": removed}, text)


def run_rejects(args, ctx) -> Output:
    from analytics.export import to_csv_bytes
    from analytics.ingest import rejected_rows

    df = rejected_rows(ctx.store, args.upload_id)
    if args.json:
        return Output({"upload_id": args.upload_id, "rejected": df})
    return Output({}, raw=to_csv_bytes(df).decode("utf-8").lstrip("\ufeff"))
