"""Data: upload a file, check the proposed mapping and first rows, import, read the quality report,
list and remove uploads. Only an admin sees the upload and removal controls.

Every string that comes from a file or a person (file, sheet and column names, values) is shown as
text: in data frames and ``st.text``, or escaped with :func:`dashboard.markdown_text.plain` inside
Markdown elements.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from analytics.access import can
from analytics.errors import BadInput, ReelyticsError
from analytics.ingest import (
    ingest_file,
    preview_file,
    rejected_rows,
    remove_upload,
    workbook_sheets,
)
from analytics.ingest.mapping import EXTRA_TARGETS
from analytics.ingest.quality import split_reason
from analytics.ingest.readers import ALL_SHEETS, CHUNK_BYTES, clean_staging
from analytics.store.schema import EVENT_TYPES, TABLE_COLUMNS
from analytics.store.uploads import list_uploads
from dashboard.common import (
    actor,
    data_changed,
    download_buttons,
    duckdb_only,
    get_store,
    guarded,
    prepare_pages,
    settings,
)
from dashboard.format import MISSING, column_label, count, progress_bar, table, value
from dashboard.i18n import TEXT, t
from dashboard.markdown_text import plain

KINDS = ("events", "items", "spend")
ENCODINGS = ("auto", "utf-8", "gbk", "gb18030", "utf-16", "cp1252", "latin-1")
DURATIONS = {"watch_seconds", "video_seconds", "duration_seconds"}


def _targets(kind: str) -> list[str]:
    out = []
    for c in TABLE_COLUMNS[kind]:
        out.append(c)
        if c in DURATIONS:
            out += [f"{c}:ms", f"{c}:min"]
    if kind == "events":
        out += [*EXTRA_TARGETS, *(f"flag:{e}" for e in EVENT_TYPES)]
    return out + ["props", "ignore"]


def _target_label(target: str) -> str:
    """A mapping target as a person reads it (the stored mapping keeps the canonical name)."""
    if target in ("props", "ignore"):
        return t(f"data.target.{target}")
    if target.startswith("flag:"):
        return t("data.target.flag", event=value("event", target[len("flag:"):]))
    name, _, unit = target.partition(":")
    label = column_label(name)
    return t(f"data.target.unit.{unit}", field=label) if unit else label


# -- wording of the library's codes ------------------------------------------------------------
def _value(key: str, value, esc=plain) -> str:
    """One issue or error parameter as text (``esc``: how user text is escaped)."""
    if isinstance(value, list):
        if not value:
            return t("data.none")
        return ", ".join(
            f"{esc(v[0])}: {v[1]:,}" if isinstance(v, list) and isinstance(v[1], int)
            else f"{esc(v[0])} ({t(f'data.unit.{v[1]}') if v[1] in ('ms', 'min') else esc(v[1])})" if isinstance(v, list)
            else esc(v)
            for v in value
        )
    if key == "order":
        return t(f"data.order.{value}")
    if key == "unit":
        return t(f"data.unit.{value}")
    if isinstance(value, (int, float)) or value is None:
        return value if value is not None else t("data.today")
    return esc(value)


def issue_text(issue, markdown: bool = True) -> str:
    """An issue (code, count, params) in the page's language; user values escaped for Markdown
    elements (``markdown``), as written for data frames."""
    esc = plain if markdown else str
    values = {k: _value(k, v, esc) for k, v in issue.params.items()}
    return t(f"ingest.issue.{issue.code}", n=issue.count, **values)


def reason_text(reason: str | None) -> str | None:
    if not reason:
        return None
    code, column = split_reason(reason)
    key = f"ingest.reason.{code}"
    return t(key, column=column or "") if key in TEXT else reason


def _show_error(exc: ReelyticsError, next_step: str) -> None:
    """A library error, worded by its code where the page knows it; never rendered as Markdown."""
    key = f"ingest.error.{exc.code}"
    try:
        message = t(key, **{k: _value(k, v) for k, v in exc.details.items()}) if key in TEXT else plain(exc.message)
    except (KeyError, ValueError, IndexError):
        message = plain(exc.message)
    if exc.details.get("looks_like") in KINDS:  # a catalog or a spend file chosen as another kind
        message += " " + t("data.looks_like", kind=t(f"data.kind.{exc.details['looks_like']}"))
    st.error(message)
    if exc.details:
        with st.expander(t("common.details")):
            st.json({"code": exc.code, **{k: str(v) for k, v in exc.details.items()}})
    st.caption(t("common.next_step", step=next_step))


@contextmanager
def _guarded(next_step: str | None = None):
    try:
        yield
    except ReelyticsError as exc:
        _show_error(exc, next_step or t("common.fix_input"))


# -- choosing a file ----------------------------------------------------------------------------
def _stage_upload(store, uploaded) -> tuple[Path, str]:
    """Copy the uploaded file into the staging folder (inside the data folder) in 1 MiB chunks, hashing
    on the way; the name holds the content hash, so the same content is staged once."""
    store.staging_dir.mkdir(parents=True, exist_ok=True)
    part = store.staging_dir / f"upload-{os.getpid()}-{id(uploaded)}.part"
    digest = hashlib.sha256()
    uploaded.seek(0)
    with open(part, "wb") as fh:
        while chunk := uploaded.read(CHUNK_BYTES):
            digest.update(chunk)
            fh.write(chunk)
    suffix = "".join(c for c in Path(uploaded.name).suffix.lower() if c.isalnum() or c == ".")[:10]
    path = store.staging_dir / f"upload-{digest.hexdigest()[:20]}{suffix}"
    part.replace(path)
    return path, uploaded.name


def _forget_upload(uploaded) -> None:
    """Drop the server's in-memory copy of an upload once it is staged on disk: Streamlit keeps the
    bytes of every file in a file uploader until the widget is cleared or the session ends."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        ctx.uploaded_file_mgr.remove_file(ctx.session_id, uploaded.file_id)
    uploaded.close()


def _chosen_file(store) -> tuple[Path, str, bool] | None:
    """(path, display name, staged copy?) of the file the person picked, if any.

    An upload is copied to the staging folder as soon as it arrives, its bytes are dropped from the
    server's memory, and the uploader starts empty again (a new key): the staged copy is the file."""
    n = st.session_state.get("data_upload_n", 0)
    uploaded = st.file_uploader(
        t("data.upload"), type=["csv", "tsv", "txt", "xlsx", "parquet", "json", "jsonl", "ndjson"], key=f"data_upload_{n}",
        help=t("data.upload_help", mb=st.get_option("server.maxUploadSize")),
    )
    if uploaded is not None:
        path, shown = _stage_upload(store, uploaded)
        _forget_upload(uploaded)
        del uploaded
        previous = st.session_state.get("data_staged")
        if previous is not None and previous[0] != str(path):  # replaced by another file: not kept for a day
            Path(previous[0]).unlink(missing_ok=True)
        st.session_state["data_staged"] = (str(path), shown)
        st.session_state["data_upload_n"] = n + 1
        st.rerun()
    name = st.text_input(t("data.path"), key="data_path", help=t("data.path_help", folder=plain(store.data_dir)))
    staged = st.session_state.get("data_staged")
    if staged is not None and Path(staged[0]).exists():
        c1, c2 = st.columns([6, 1])
        c1.text(t("data.staged", name=staged[1], size=Path(staged[0]).stat().st_size / 2**20))
        if not c2.button(t("data.unstage"), key="data_unstage"):
            return Path(staged[0]), staged[1], True
        Path(staged[0]).unlink(missing_ok=True)
        st.session_state.pop("data_staged", None)
    if name.strip():
        # Lexically inside the data folder (no "..", no absolute path); a symbolic link out of it is
        # refused by the library with its own code.
        path = Path(os.path.normpath(store.data_dir / name.strip()))
        if store.data_dir not in path.parents or not path.is_file():
            raise BadInput(t("data.no_such_file", name=name.strip()), code="no_such_file", name=name.strip())
        return path, path.name, False
    return None


def _sheet(path: Path) -> tuple[bool, str | None]:
    """(ready, sheet): the sheet picked of a workbook with several sheets holding data; not ready
    until one is picked. (True, None) for any other file."""
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return True, None
    sheets = workbook_sheets(path)
    if len(sheets) < 2:
        return True, None
    every = t("data.sheet_all")
    choice = st.selectbox(
        t("data.sheet"), [every, *sheets], index=None, placeholder=t("data.sheet_pick"), key="data_sheet", help=t("data.sheet_help")
    )
    return choice is not None, ALL_SHEETS if choice == every else choice


def _sheets_frame(parts, counts: bool) -> pd.DataFrame:
    """Each sheet of a workbook read whole: imported or why not (and its counts after the import);
    sheet and column names as written."""
    def why(p) -> str:
        names = [(k, ", ".join(v)) for k, v in (("data.sheet_lacks", p.missing), ("data.sheet_adds", p.extra)) if v]
        return "; ".join(t(k, columns=v) for k, v in names)

    frame = {
        t("data.col.sheet"): [p.sheet for p in parts],
        t("data.col.sheet_read"): [t(f"data.sheet_status.{p.status}") for p in parts],
        t("data.col.sheet_why"): [why(p) or None for p in parts],
    }
    if counts:
        frame.update({
            t("data.m.read"): [p.rows_read for p in parts],
            t("data.col.accepted"): [p.rows_accepted for p in parts],
            t("data.col.rejected"): [p.rows_rejected for p in parts],
            t("data.col.duplicates"): [p.rows_duplicate for p in parts],
            t("data.col.line_range"): [f"{p.lines[0]}–{p.lines[1]}" if p.lines else None for p in parts],
        })
    return pd.DataFrame(frame)


def _options(kind: str) -> dict:
    with st.expander(t("data.options")):
        c1, c2 = st.columns(2)
        # Options are the shown labels (no format_func: it would be evaluated outside the run's language).
        labels = [t("data.encoding.auto"), *ENCODINGS[1:]]
        enc = ENCODINGS[labels.index(c1.selectbox(t("data.encoding"), labels, key="data_encoding"))]
        tz = c2.text_input(t("data.timezone"), value=settings().timezone, key="data_tz")
        cols = st.text_input(t("data.columns"), key="data_columns")
        expect = {}
        if kind == "events":
            d1, d2 = st.columns(2)
            expect["expected_from"] = d1.date_input(t("data.expect_from"), value=None, key="data_expect_from")
            expect["expected_to"] = d2.date_input(t("data.expect_to"), value=None, key="data_expect_to")
    return {
        "kind": kind,
        "encoding": None if enc == "auto" else enc,
        "timezone": tz.strip() or settings().timezone,
        "columns": [c.strip() for c in cols.split(",") if c.strip()] or None,
    }, expect


def _mapping_editor(auto, kind: str) -> dict[str, str]:
    """The proposed mapping as an editable table; returns the overrides ({source: target})."""
    st.markdown(f"**{t('data.mapping')}**")
    frame = pd.DataFrame(
        {
            "source": [c.source for c in auto.columns],
            "target": [c.target for c in auto.columns],
            "confidence": [c.confidence for c in auto.columns],
            "example": [c.example for c in auto.columns],
        }
    )
    edited = st.data_editor(
        frame,
        key=f"data_map_editor_{kind}_{abs(hash(tuple(auto.headers)))}",
        hide_index=True,
        disabled=["source", "confidence", "example"],
        column_config={
            "source": st.column_config.TextColumn(t("data.col.source")),
            "target": st.column_config.SelectboxColumn(t("data.col.target"), options=_targets(kind), required=True,
                                                      format_func=_target_label),
            "confidence": st.column_config.ProgressColumn(t("data.col.confidence"), min_value=0.0, max_value=1.0, format="percent"),
            "example": st.column_config.TextColumn(t("data.col.example")),
        },
        width="stretch",
    )
    proposed = dict(zip(frame["source"], frame["target"]))
    return {s: tgt for s, tgt in zip(edited["source"], edited["target"]) if tgt and tgt != proposed.get(s)}


def _notes(notes) -> None:
    for note in notes:
        (st.warning if note.level == "warning" else st.caption)(issue_text(note))


def _issues_frame(issues) -> pd.DataFrame:
    return pd.DataFrame(
        {
            t("data.col.level"): [t(f"data.level.{i.level}") for i in issues],
            t("data.col.issue"): [issue_text(i, markdown=False) for i in issues],
            t("data.col.count"): [i.count or None for i in issues],
            t("data.col.lines"): [", ".join(map(str, i.lines)) for i in issues],
        }
    )


def _rejects_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["reason"] = out["reason"].map(reason_text)
    return out.rename(columns={"line": t("data.col.line"), "reason": t("data.col.reason"), "raw": t("data.col.raw")})


def _show_report(report) -> None:
    st.subheader(t("data.report"))
    name = plain(report.file_name)
    if report.status == "ok":
        st.success(t("data.imported", n=report.rows_accepted, name=name, id=report.upload_id))
    elif report.status == "already_uploaded":
        st.info(t("data.already", name=name, id=report.existing_upload_id))
    else:
        st.warning(t("data.nothing", name=name))
    c = st.columns(4)
    c[0].metric(t("data.m.read"), count(report.rows_read))
    c[1].metric(t("data.m.accepted"), count(report.rows_accepted))
    c[2].metric(t("data.m.rejected"), count(report.rows_rejected))
    c[3].metric(t("data.m.duplicates"), count(report.rows_duplicate))
    if report.sheets:
        st.markdown(f"**{t('data.sheets')}**")
        table(_sheets_frame(report.sheets, counts=True), key="data_report_sheets")
    st.markdown(f"**{t('data.issues')}**")
    if report.issues:
        table(_issues_frame(report.issues), key="data_issues_table")
    else:
        st.caption(t("data.no_issues"))
    if report.rows_rejected:
        st.markdown(f"**{t('data.rejected')}**")
        df = _rejects_frame(rejected_rows(get_store(), report.upload_id) if report.upload_id else report.rejected_frame())
        table(df.head(200), key="data_rejected_table")
        download_buttons(df, f"rejected_rows_{report.upload_id or 'preview'}", None, key="data_rejects_last")


def _uploads(store) -> None:
    st.subheader(t("data.uploads"))
    done = st.session_state.pop("data_removed", None)
    if done:
        st.success(t("data.removed", id=done[0], rows=done[1]))
    ups = list_uploads(store)
    if not ups:
        st.caption(t("data.no_uploads"))
        return
    confirm = st.session_state.get("data_confirm")
    may_remove = can(actor(), "remove_upload")
    for u in ups:
        c1, c2 = st.columns([6, 1])
        c1.text(
            t(
                "data.upload_row", id=u.upload_id, name=u.file_name, kind=t(f"data.kind.{u.kind}"), when=f"{u.created_at:%Y-%m-%d %H:%M}",
                accepted=u.rows_accepted, rejected=u.rows_rejected, dup=u.rows_duplicate,
            )
        )
        if may_remove and c2.button(t("data.remove"), key=f"data_rm_{u.upload_id}"):
            st.session_state["data_confirm"] = confirm = u.upload_id
        if may_remove and confirm == u.upload_id:
            st.warning(t("data.confirm", id=u.upload_id, name=plain(u.file_name)))
            y, n = st.columns(2)
            if y.button(t("data.confirm_yes"), key="data_rm_yes", type="primary"):
                removed = remove_upload(store, u.upload_id, actor=actor())
                data_changed()
                st.session_state.pop("data_confirm", None)
                st.session_state["data_removed"] = (u.upload_id, sum(removed.values()))
                st.rerun()
            if n.button(t("data.cancel"), key="data_rm_no"):
                st.session_state.pop("data_confirm", None)
                st.rerun()
    with_rejects = [u.upload_id for u in ups if u.rows_rejected]
    if with_rejects:
        pick = st.selectbox(t("data.rejects_of"), with_rejects, key="data_rejects_pick")
        download_buttons(_rejects_frame(rejected_rows(store, pick)), f"rejected_rows_{pick}", None, key="data_rejects_pick")


st.title(t("page.data"))
st.caption(t("data.intro"))
if not duckdb_only():
    st.stop()
store = get_store()
clean_staging(store.staging_dir)
if not can(actor(), "ingest"):
    st.info(t("access.data_admin_only", role=t(f"auth.role.{actor().role}")))
    with guarded():
        _uploads(store)
    st.stop()
kind_labels = [t(f"data.kind.{k}") for k in KINDS]
kind = KINDS[kind_labels.index(st.radio(t("data.kind"), kind_labels, horizontal=True, key="data_kind"))]
with _guarded(t("data.next_step")):
    chosen = _chosen_file(store)
    options, expect = _options(kind)
    ready, options["sheet"] = _sheet(chosen[0]) if chosen is not None else (False, None)
    if ready:
        path, shown, staged = chosen
        st.subheader(t("data.preview"))
        auto = preview_file(path, **options, data_dir=store.data_dir, actor=actor())
        d = auto.detected
        fmt = t(f"data.format.{d['format']}")
        if d["format"] == "csv":
            detected = t("data.detected", format=fmt, encoding=d["encoding"] or MISSING,
                         delimiter=plain(repr(d["delimiter"])) if d["delimiter"] else MISSING,
                         header=value("flag", bool(d["header"])))
        elif d["format"] == "xlsx":
            detected = t("data.detected_sheet", format=fmt, header=value("flag", bool(d["header"])))
        else:
            detected = t("data.detected_plain", format=fmt)
        st.caption(detected)
        overrides = _mapping_editor(auto, kind)
        pv = preview_file(path, **options, mapping=overrides, data_dir=store.data_dir, actor=actor()) if overrides else auto
        _notes(pv.notes)
        if pv.sheets:
            st.markdown(f"**{t('data.sheets')}**")
            table(_sheets_frame(pv.sheets, counts=False), key="data_preview_sheets")
        st.markdown(f"**{t('data.first_rows')}**")
        st.caption(t("data.first_rows_zone", zone=plain(pv.timezone)))
        rows = pv.local_rows()
        rows["reason"] = rows["reason"].map(reason_text)
        table(rows, key="data_preview_table")
        if st.button(t("data.import"), key="data_import", type="primary"):
            bar = st.progress(0.0, text=t("data.importing", name=plain(shown)))
            progress = progress_bar(bar, plain(shown))
            report = ingest_file(
                store, path, **options, mapping=overrides or None, file_name=shown, actor=actor(),
                progress=progress, **expect,
            )
            data_changed()
            st.session_state["data_report"] = report
            if staged:
                path.unlink(missing_ok=True)
                st.session_state.pop("data_staged", None)
            if report.status == "ok" and report.kind == "events":
                try:
                    prepare_pages(store, progress)
                except ReelyticsError as exc:  # the upload is stored; each page builds what it needs instead
                    st.warning(t("data.prepare_failed", error=plain(exc.message)))
            bar.empty()
    report = st.session_state.get("data_report")
    if report is not None:
        _show_report(report)
with _guarded():
    _uploads(store)
