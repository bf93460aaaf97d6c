"""Ingest on Spark: a delimited text file into the Parquet dataset a Spark source reads.

The same steps and the same meaning as the DuckDB ingest (:mod:`analytics.ingest.pipeline`), run on
Spark (:mod:`analytics.store.spark_ingest`):

1. **Sniff and map** with the DuckDB ingest's own functions (format, encoding, delimiter, header,
   the header mapping, each time column's reading). The same file content (SHA-256) of the same kind
   uploaded again adds nothing.
2. **Stage**: Spark's CSV reader in permissive mode (a record with the wrong number of fields lands
   in a corrupt-record column and is rejected as ``ragged_row``: too few or too many fields), then on
   every partition the ingest's one row transform (:func:`analytics.ingest.pipeline._stage_sql`: the
   parsing and every rejection rule, the formula-like flag), so a rule is written once.
3. **Report**: counts, rejection issues with the same codes and parameters, the formula-like and
   duplicate warnings; the warnings that compare with stored rows of other tables or with a time range
   (``watch_far_above_video``, ``purchase_without_view``, ``time_out_of_range``, ``item_repeated``,
   ``spend_repeated``) are DuckDB-only and named in an ``not_checked_on_spark`` issue. Spark reads no
   line numbers: the issues carry none, rejected rows have an empty line.
4. **Publish**: the new rows (exact duplicates within the file or of stored rows skipped), the rejected
   rows and the registry row land in a new version of the dataset, switched to by one rename; any
   failure before the switch leaves the dataset as it was.

Not on Spark (refused with one line): Excel and Parquet files, an events file without an event type column
(the wide form, order lines), pseudonymising.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import ibis

from analytics.access import Principal, require
from analytics.config import parse_timezone
from analytics.errors import BadInput
from analytics.ingest.limits import Limits
from analytics.ingest.pipeline import (
    STORED_REASON_SQL,
    _already,
    _info_issues,
    _prepare,
    _stage_sql,
    _used,
    file_sha256,
    rejection_params,
)
from analytics.ingest.quality import REJECTS_IN_REPORT, IngestReport, Issue, RejectedRow
from analytics.progress import Progress, no_progress
from analytics.store import spark_ingest
from analytics.store.schema import TABLE_COLUMNS
from analytics.store.spark import SPARK_COLUMNS, SparkSource, open_spark_source
from analytics.store.uploads import check_kind

#: The warnings of the DuckDB ingest an ingest on Spark does not compute, by kind.
NOT_CHECKED = {
    "events": ("watch_far_above_video", "purchase_without_view", "time_out_of_range"),
    "items": ("item_repeated",),
    "spend": ("spend_repeated",),
}
#: The columns the row transform gives besides the canonical ones, with their Spark types.
_EXTRA = {
    "props": "MAP<STRING, STRING>",
    "_formula": "BOOLEAN",
    "_reason": "STRING",
    "_raw": "STRING",
    "_code": "STRING",
    "_value": "STRING",
    "_stored": "STRING",
}


def ingest_on_spark(
    source: SparkSource,
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
    before_switch: Callable[[], None] = lambda: None,
) -> IngestReport:
    """Ingest ``path`` as ``kind`` into the dataset of ``source``; the options mean what they mean for
    :func:`analytics.ingest.ingest_file` (``expected_from``/``expected_to`` bound a warning that is
    not computed on Spark). ``before_switch`` runs after the new version is written, just before the
    switch (a failure there leaves the dataset as it was)."""
    require(actor, "ingest")
    started = time.monotonic()
    progress = progress or no_progress
    kind = check_kind(kind)
    parse_timezone(timezone)
    if pseudonymise_key is not None:
        raise BadInput(
            "pseudonymising user ids runs on the DuckDB store only; ingest with --engine duckdb",
            code="not_on_spark",
            command="ingest --pseudonymise",
        )
    limits = limits or Limits.from_env()
    path = Path(path).expanduser().resolve()
    prep = _prepare(path, kind, mapping, encoding, columns, sheet, limits, True)
    sniffed = prep.sniffed
    if sniffed.format != "csv" or prep.plan.wide or sniffed.titles:
        what = ("an events file without an event type column" if prep.plan.wide
                else "a file with title lines above its header row" if sniffed.titles else f"a {sniffed.format} file")
        raise BadInput(
            f"an ingest on Spark reads delimited text files with an event type column, not {what}; ingest it with --engine duckdb",
            code="spark_ingest_unsupported",
            format=sniffed.format,
        )
    name = file_name or path.name
    sha = file_sha256(path, progress, 0.0, 0.05)
    base = {"kind": kind, "file_name": name, "sha256": sha, "mapping": prep.plan.as_dict(), "detected": sniffed.describe()}

    with spark_ingest.dataset_lock(spark_ingest.dataset_folder(source)):
        source = open_spark_source(source.data, source.url)  # the current version, under the lock
        uploads = source.table("uploads")
        found = source.execute(
            uploads.filter((uploads.kind == kind) & (uploads.file_sha256 == sha)).order_by("upload_id").limit(1)
        )
        if not found.empty:
            return _already(int(found.upload_id.iloc[0]), started, base)
        stage, params = _stage_sql(prep, "_rx_src", timezone, None)
        canonical = list(TABLE_COLUMNS[kind])
        output = {c: SPARK_COLUMNS[kind][c] for c in canonical} | _EXTRA
        quoted = ", ".join(f'"{c}"' for c in canonical)
        transform = (
            f"SELECT {quoted}, props, _formula, _reason, _raw, split_part(_reason, '|', 1) AS _code, "
            f"split_part(_reason, '|', 3) AS _value, {STORED_REASON_SQL} AS _stored FROM ({stage})"
        )
        progress(0.05, "reading")
        staged = spark_ingest.stage_csv(
            source,
            path,
            delimiter=sniffed.delimiter or ",",
            header=sniffed.has_header,
            encoding=sniffed.encoding,
            n_columns=len(sniffed.headers),
            transform=transform,
            params=_used(transform, params),
            output=output,
        )
        try:
            report, new = _check(staged, prep, base, limits, canonical, len(sniffed.headers), progress)
            if report.status == "ok":
                progress(0.9, "storing")
                doc = report.to_dict()
                doc.pop("rejected_sample", None)
                upload = {
                    "upload_id": report.upload_id,
                    "kind": kind,
                    "file_name": name,
                    "file_sha256": sha,
                    "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    "rows_accepted": report.rows_accepted,
                    "rows_rejected": report.rows_rejected,
                    "rows_duplicate": report.rows_duplicate,
                    "mapping": json.dumps(prep.plan.as_dict(), ensure_ascii=False),
                    "report": json.dumps(doc, ensure_ascii=False, default=str),
                }
                spark_ingest.publish(staged, kind, new, _rejects(staged, report.upload_id, len(sniffed.headers)), upload, before_switch)
        finally:
            staged.close()
    progress(1.0, "done")
    return replace(report, seconds=time.monotonic() - started)


def _ragged(t):
    return t._fields.notnull()


def _rejected(t, n_fields: int):
    """The rejected staged rows with their stored ``reason`` (a ragged record: too few or too many fields)."""
    reason = ibis.cases(
        (_ragged(t) & (t._fields < n_fields), "too_few_fields"), (_ragged(t), "too_many_fields"), else_=t._stored
    )
    return t.filter(t._reason.notnull() | _ragged(t)).mutate(reason=reason)


def _rejects(staged, upload_id: int, n_fields: int):
    """The rejected rows as ``upload_rejects`` rows (lines unknown on Spark)."""
    rejected = _rejected(staged.table, n_fields)
    return rejected.select(
        upload_id=ibis.literal(upload_id, "int32"), line=ibis.null("int64"), reason=rejected.reason, raw=rejected._raw
    )


def _check(staged, prep, base: dict[str, Any], limits: Limits, canonical: list[str], n_fields: int, progress):
    """The report of the staged rows and, when some are new, the view of the new rows."""
    source, t = staged.source, staged.table
    ragged = _ragged(t)
    ok = t._reason.isnull() & ~ragged
    counts = source.execute(
        t.aggregate(total=t.count(), ok=ok.cast("int64").sum(), ragged=ragged.cast("int64").sum(),
                    formula=(ok & t._formula).cast("int64").sum())
    ).iloc[0]
    total, accepted_rows, n_ragged = (int(counts[k] or 0) for k in ("total", "ok", "ragged"))
    bad = t.filter(t._reason.notnull() & ~ragged)
    # per code: its rows and the reason of its first row (the example, as the DuckDB ingest gives it)
    by_code = source.execute(bad.group_by("_code").aggregate(n=bad.count(), first=bad._reason.argmin(bad._rid)))
    by_code = by_code.sort_values(["n", "_code"], ascending=[False, True])
    issues: list[Issue] = []
    for code, n, first in by_code[["_code", "n", "first"]].itertuples(index=False):
        if code == "unknown_event_type":
            unknown = bad.filter(bad._code == code)
            counted = source.execute(unknown.group_by("_value").aggregate(n=unknown.count()))
            counted = counted.sort_values(["n", "_value"], ascending=[False, True]).head(10)
            params: dict[str, Any] = {"values": [[v, int(c)] for v, c in counted[["_value", "n"]].itertuples(index=False)]}
        else:
            params = rejection_params(first, limits)
        issues.append(Issue(code, "error", int(n), (), params))
    if n_ragged:
        issues.append(Issue("ragged_row", "error", n_ragged))
    first_rejected = _rejected(t, n_fields).order_by("_rid").limit(REJECTS_IN_REPORT).select("_rid", "reason", "_raw")
    rows = source.execute(first_rejected).sort_values("_rid")
    rejected = tuple(RejectedRow(None, r, raw) for r, raw in rows[["reason", "_raw"]].itertuples(index=False))
    read = {"rows_read": total, "rows_rejected": total - accepted_rows, "rejected": rejected, **base}
    if accepted_rows == 0:
        if total == 0:
            raise BadInput(f"{base['file_name']} has no data rows", code="no_rows")
        return IngestReport(status="nothing_accepted", upload_id=None, issues=tuple(issues) + _info_issues(prep), **read), None
    progress(0.6, "checking")
    new, n_new = spark_ingest.new_rows(staged, t.filter(ok).select(*canonical, "props"), prep.plan.kind)
    if int(counts["formula"] or 0):
        issues.append(Issue("formula_like", "warning", int(counts["formula"])))
    duplicates = accepted_rows - n_new
    if duplicates:
        issues.append(Issue("duplicates_skipped", "warning", duplicates))
    issues += _info_issues(prep)
    issues.append(Issue("not_checked_on_spark", "info", params={"checks": list(NOT_CHECKED[prep.plan.kind])}))
    report = IngestReport(
        status="ok",
        upload_id=spark_ingest.next_upload_id(source),
        rows_accepted=n_new,
        rows_duplicate=duplicates,
        issues=tuple(issues),
        **read,
    )
    return report, new
