"""Data: upload a file, check the proposed mapping and first rows, import, read the quality report,
list and remove uploads."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics.errors import BadInput
from analytics.ingest import ingest_file, preview_file, rejected_rows
from analytics.schema import EVENT_TYPES, TABLE_COLUMNS
from analytics.uploads import list_uploads, remove_upload
from dashboard.common import download_buttons, get_store, guarded, settings
from dashboard.format import MISSING, count, table, value
from dashboard.i18n import t

KINDS = ("events", "items", "spend")
ENCODINGS = ("auto", "utf-8", "gbk", "gb18030", "utf-16", "latin-1")
DURATIONS = {"watch_seconds", "video_seconds", "duration_seconds"}


def _targets(kind: str) -> list[str]:
    out = []
    for c in TABLE_COLUMNS[kind]:
        out.append(c)
        if c in DURATIONS:
            out += [f"{c}:ms", f"{c}:min"]
    if kind == "events":
        out += [f"flag:{e}" for e in EVENT_TYPES]
    return out + ["props", "ignore"]


def _tidy_staging(store, max_age_seconds: float = 86400) -> None:
    """Remove uploads staged more than a day ago and never imported."""
    now = time.time()
    for old in store.staging_dir.glob("upload-*"):
        try:
            if now - old.stat().st_mtime > max_age_seconds:
                old.unlink()
        except OSError:
            pass


def _stage_upload(store, uploaded) -> tuple[Path, str]:
    """Save the uploaded bytes in the staging folder (inside the data folder) once per content."""
    data = uploaded.getbuffer()
    digest = hashlib.sha256(data).hexdigest()[:20]
    path = store.staging_dir / f"upload-{digest}{Path(uploaded.name).suffix.lower()}"
    if not path.exists():
        tmp = path.with_suffix(path.suffix + ".part")
        with open(tmp, "wb") as fh:
            for start in range(0, len(data), 1 << 20):
                fh.write(data[start : start + (1 << 20)])
        tmp.replace(path)
    return path, uploaded.name


def _chosen_file(store) -> tuple[Path, str, bool] | None:
    """(path, display name, staged copy?) of the file the person picked, if any."""
    uploaded = st.file_uploader(
        t("data.upload"), type=["csv", "tsv", "txt", "xlsx", "parquet"], key="data_upload"
    )
    name = st.text_input(t("data.path"), key="data_path", help=t("data.path_help", folder=store.data_dir))
    if uploaded is not None:
        path, shown = _stage_upload(store, uploaded)
        return path, shown, True
    if name.strip():
        path = (store.data_dir / name.strip()).resolve()
        if store.data_dir not in path.parents or not path.is_file():
            raise BadInput(t("data.no_such_file", name=name.strip()), code="no_file", name=name.strip())
        return path, path.name, False
    return None


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
            "target": st.column_config.SelectboxColumn(t("data.col.target"), options=_targets(kind), required=True),
            "confidence": st.column_config.ProgressColumn(t("data.col.confidence"), min_value=0.0, max_value=1.0, format="percent"),
            "example": st.column_config.TextColumn(t("data.col.example")),
        },
        width="stretch",
    )
    proposed = dict(zip(frame["source"], frame["target"]))
    return {s: tgt for s, tgt in zip(edited["source"], edited["target"]) if tgt and tgt != proposed.get(s)}


def _show_report(report) -> None:
    st.subheader(t("data.report"))
    if report.status == "ok":
        st.success(t("data.imported", n=report.rows_accepted, name=report.file_name, id=report.upload_id))
    elif report.status == "already_uploaded":
        st.info(t("data.already", name=report.file_name, id=report.existing_upload_id))
    else:
        st.warning(t("data.nothing", name=report.file_name))
    c = st.columns(4)
    c[0].metric(t("data.m.read"), count(report.rows_read))
    c[1].metric(t("data.m.accepted"), count(report.rows_accepted))
    c[2].metric(t("data.m.rejected"), count(report.rows_rejected))
    c[3].metric(t("data.m.duplicates"), count(report.rows_duplicate))
    st.markdown(f"**{t('data.issues')}**")
    if report.issues:
        table(report.issues_frame().rename(columns={"level": "severity"}), key="data_issues_table")
    else:
        st.caption(t("data.no_issues"))
    if report.rows_rejected:
        st.markdown(f"**{t('data.rejected')}**")
        df = rejected_rows(get_store(), report.upload_id) if report.upload_id else report.rejected_frame()
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
    for u in ups:
        c1, c2 = st.columns([6, 1])
        c1.markdown(
            t(
                "data.upload_row", id=u.upload_id, name=u.file_name, kind=t(f"data.kind.{u.kind}"), when=f"{u.created_at:%Y-%m-%d %H:%M}",
                accepted=u.rows_accepted, rejected=u.rows_rejected, dup=u.rows_duplicate,
            )
        )
        if c2.button(t("data.remove"), key=f"data_rm_{u.upload_id}"):
            st.session_state["data_confirm"] = confirm = u.upload_id
        if confirm == u.upload_id:
            st.warning(t("data.confirm", id=u.upload_id, name=u.file_name))
            y, n = st.columns(2)
            if y.button(t("data.confirm_yes"), key="data_rm_yes", type="primary"):
                removed = remove_upload(store, u.upload_id)
                st.session_state.pop("data_confirm", None)
                st.session_state["data_removed"] = (u.upload_id, sum(removed.values()))
                st.rerun()
            if n.button(t("data.cancel"), key="data_rm_no"):
                st.session_state.pop("data_confirm", None)
                st.rerun()
    with_rejects = [u.upload_id for u in ups if u.rows_rejected]
    if with_rejects:
        pick = st.selectbox(t("data.rejects_of"), with_rejects, key="data_rejects_pick")
        download_buttons(rejected_rows(store, pick), f"rejected_rows_{pick}", None, key="data_rejects_pick")


st.title(t("page.data"))
st.caption(t("data.intro"))
store = get_store()
_tidy_staging(store)
kind_labels = [t(f"data.kind.{k}") for k in KINDS]
kind = KINDS[kind_labels.index(st.radio(t("data.kind"), kind_labels, horizontal=True, key="data_kind"))]
with guarded(t("data.next_step")):
    chosen = _chosen_file(store)
    options, expect = _options(kind)
    if chosen is not None:
        path, shown, staged = chosen
        st.subheader(t("data.preview"))
        auto = preview_file(path, **options)
        d = auto.detected
        st.caption(
            t("data.detected", format=d["format"], encoding=d["encoding"] or MISSING, delimiter=repr(d["delimiter"]) if d["delimiter"] else MISSING,
              header=value("flag", bool(d["header"])))
        )
        overrides = _mapping_editor(auto, kind)
        pv = preview_file(path, **options, mapping=overrides) if overrides else auto
        for note in pv.notes:
            st.caption(note)
        st.markdown(f"**{t('data.first_rows')}**")
        table(pv.rows, key="data_preview_table")
        if st.button(t("data.import"), key="data_import", type="primary"):
            bar = st.progress(0.0, text=t("data.importing", name=shown))
            report = ingest_file(
                store, path, **options, mapping=overrides or None, file_name=shown,
                progress=lambda f, m="": bar.progress(min(max(f, 0.0), 1.0), text=f"{shown}: {m}"), **expect,
            )
            bar.empty()
            st.session_state["data_report"] = report
            if staged:
                path.unlink(missing_ok=True)
    report = st.session_state.get("data_report")
    if report is not None:
        _show_report(report)
with guarded():
    _uploads(store)
