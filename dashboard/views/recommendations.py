"""Recommendations: train (or reuse) ALS, tuned by default; top-N with explanations for one user;
evaluation against baselines with intervals; batch export."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from analytics.access import can  # noqa: E402
from analytics.recsys.evaluation import METRICS, SplitSettings, evaluate  # noqa: E402
from analytics.recsys.recommend import AlsParams, search_users, user_panel  # noqa: E402
from analytics.recsys.tuning import DEFAULT_BUDGET_SECONDS  # noqa: E402
from dashboard.common import (  # noqa: E402
    actor,
    current_filters,
    download_buttons,
    duckdb_only,
    facets,
    get_store,
    guarded,
    model_tune,
    require_events,
    shared,
    trained_model,
)
from dashboard.format import chart, column_label, count, progress_bar, table, value  # noqa: E402
from dashboard.i18n import t  # noqa: E402


def _user_panel(store, fingerprint: str, user: str, k: int, filter_seen: bool, only_purchasable: bool,
                category: str | None, timezone: str, *, _model):
    """:func:`user_panel` of the model ``_model`` (the one ``fingerprint`` names): its history query
    reads every event of the user, so every session and rerun asking the same shares one answer."""
    return user_panel(store, _model, user, k, filter_seen=filter_seen, only_purchasable=only_purchasable,
                      category=category, timezone=timezone)


_panel = shared(_user_panel)

st.title(t("page.recommendations"))
st.caption(t("rec.intro"))


def _because(rec) -> str:
    """The distinct history items behind a recommendation."""
    names = rec.reason_names()
    return t("rec.because", items=t("common.group_sep").join(names)) if names else t("rec.because_none")


def _settings_form() -> tuple[AlsParams, bool]:
    saved = st.session_state.get("rec_params", {})
    tune = st.session_state.get("rec_tune", {"enabled": True, "budget_seconds": None})
    base = AlsParams(**saved)
    with st.expander(t("rec.settings")):
        with st.form("rec_train_form"):
            mode = st.radio(t("rec.mode"), ["auto", "manual"], index=0 if tune["enabled"] else 1,
                            format_func=lambda v: t(f"rec.mode.{v}"), key="rec_mode", horizontal=True)
            budget = st.number_input(t("rec.tune_budget"), 5.0, 3600.0, float(tune["budget_seconds"] or DEFAULT_BUDGET_SECONDS),
                                     step=5.0, key="rec_tune_budget")
            st.caption(t("rec.manual_hint"))
            c1, c2, c3, c4 = st.columns(4)
            factors = c1.number_input(t("rec.factors"), 1, 512, base.factors, key="rec_factors")
            iterations = c2.number_input(t("rec.iterations"), 1, 100, base.iterations, key="rec_iterations")
            reg = c3.number_input(t("rec.regularization"), 0.0, 1000.0, float(base.regularization), format="%.3f", key="rec_reg")
            alpha = c4.number_input(t("rec.alpha"), 0.01, 1000.0, float(base.alpha), key="rec_alpha")
            c5, c6, c7 = st.columns(3)
            half_life = c5.number_input(t("rec.half_life"), 0.0, 3650.0, float(base.half_life_days or 0.0), key="rec_half_life")
            weighting = c6.selectbox(t("rec.weighting"), ["none", "bm25", "tfidf"], index=["none", "bm25", "tfidf"].index(base.weighting),
                                     format_func=lambda v: t(f"rec.weighting.{v}"), key="rec_weighting")
            gpu = c7.radio(t("rec.gpu"), ["auto", "on", "off"], index=["auto", "on", "off"].index(base.gpu),
                           format_func=lambda v: t(f"rec.gpu.{v}"), key="rec_gpu", horizontal=True)
            force = st.checkbox(t("rec.retrain"), value=False, key="rec_force")
            submitted = st.form_submit_button(t("rec.train"))
    if submitted:
        st.session_state["rec_params"] = {
            "factors": int(factors), "iterations": int(iterations), "regularization": float(reg), "alpha": float(alpha),
            "half_life_days": float(half_life) or None, "weighting": weighting, "gpu": gpu,
        }
        default_budget = float(budget) == DEFAULT_BUDGET_SECONDS
        st.session_state["rec_tune"] = {"enabled": mode == "auto", "budget_seconds": None if default_budget else float(budget)}
    return AlsParams(**st.session_state.get("rec_params", {})), bool(submitted and force)


def _tuning_caption(model) -> None:
    p, tuning = model.params, model.tuning
    values = dict(factors=p.factors, reg=f"{p.regularization:.3g}", alpha=f"{p.alpha:.3g}", weighting=t(f"rec.weighting.{p.weighting}"))
    if tuning and tuning["status"] == "ok":
        st.caption(t("rec.tuned", **values, k=tuning["k"], score=tuning["validation_ndcg"], given=tuning["given_ndcg"],
                     trials=len(tuning["trials"]), seconds=tuning["seconds"], users=f"{tuning['validation_users']:,}"))
    else:
        st.caption(t("rec.not_tuned" if not tuning else "rec.tune_no_data", **values))


def _evaluation(store, model, params, filters, may_train: bool) -> None:
    st.subheader(t("rec.eval.header"))
    st.caption(t("rec.eval.intro"))
    e1, e2 = st.columns([1, 3])
    eval_k = int(e1.number_input(t("rec.eval.k"), 1, 100, 10, key="rec_eval_k"))
    split_mode = e2.radio(t("rec.eval.split"), ["auto", "random", "last_k", "days"], format_func=lambda v: t(f"rec.eval.split.{v}"),
                          key="rec_eval_split", horizontal=True)
    if may_train and st.button(t("rec.eval.run"), key="rec_eval_run"):
        bar = st.progress(0.0)
        st.session_state["rec_eval"] = model.fingerprint, evaluate(
            store, k=eval_k, split=SplitSettings(split_mode), params=params, filters=filters, tune=model_tune(),
            progress=progress_bar(bar), actor=actor(),
        )
        bar.empty()
    kept = st.session_state.get("rec_eval")
    result = kept[1] if kept is not None and kept[0] == model.fingerprint else None  # same data and model
    if result is None:
        return
    if result.status != "ok":
        st.info(t(f"rec.eval.refused.{result.reason}", **result.details))
        return
    split = result.split
    st.caption(t(f"rec.eval.protocol.{split['mode']}", users=f"{split['test_users']:,}", fraction=split.get("fraction", 0),
                 last_k=split.get("last_k"), days=split.get("holdout_days"), cutoff=split.get("cutoff")))
    if "chosen" in split:
        st.caption(t(f"rec.eval.chosen.{split['chosen']['why']}", **split["chosen"]))
    win = result.winner()
    if win is not None:
        st.markdown(t(f"rec.eval.winner.{'clear' if win.verdict == 'better' else 'unclear'}", model=value("model", win.model), other=value("model", win.other),
                      k=result.k, diff=win.difference, low=win.ci_low, high=win.ci_high))
    if {"als", "popularity"} <= {m.model for m in result.models}:
        c = result.compare("als", "popularity")
        st.caption(t("rec.eval.vs_popularity", k=result.k, diff=c.difference, low=c.ci_low, high=c.ci_high))
    for name, why in result.skipped.items():
        st.caption(t(f"rec.eval.skipped.{why['reason']}", model=value("model", name), **{k: v for k, v in why.items() if k != "reason"}))
    metrics_table = result.table()
    table(metrics_table, key="rec_eval_table")
    fig = go.Figure()
    shown = [m for m in METRICS if m not in ("novelty",)]
    for m in result.models:
        fig.add_trace(go.Bar(name=value("model", m.model), x=[column_label(x).replace("@K", f"@{result.k}") for x in shown],
                             y=[m.get(x) for x in shown]))
    fig.update_layout(barmode="group", title=t("rec.eval.chart"), yaxis_range=[0, 1])
    chart(fig, key="rec_eval_chart")
    st.caption(t("rec.eval.interval_note"))
    download_buttons(metrics_table, f"recommender_evaluation_k{result.k}", filters, key="rec_eval")


if duckdb_only() and require_events():
    store = get_store()
    filters = current_filters()
    with guarded():
        may_train = can(actor(), "train")
        params, force = _settings_form() if may_train else (AlsParams(**st.session_state.get("rec_params", {})), False)
        model = trained_model(params, filters, force=force)
        _tuning_caption(model)

        c1, c2 = st.columns([1, 2])
        text = c1.text_input(t("rec.user_search"), key="rec_search")
        options = search_users(model, text)
        if text.strip() and text.strip() not in options:
            options = [text.strip()] + options  # an id unseen at training time is folded in from its events
        if not options:
            st.info(t("rec.no_match"))
        else:
            user = c2.selectbox(t("rec.user"), options, key="rec_user")
            c3, c4, c5, c6 = st.columns(4)
            k = int(c3.number_input(t("rec.k"), 1, 100, 10, key="rec_k"))
            filter_seen = c4.checkbox(t("rec.filter_seen"), value=True, key="rec_filter_seen")
            only_purchasable = c5.checkbox(t("rec.only_purchasable"), value=False, key="rec_only_purchasable")
            categories = [""] + list(facets().categories)
            category = c6.selectbox(t("rec.category"), categories, format_func=lambda v: v or t("rec.all_categories"), key="rec_category")
            panel = _panel(model.fingerprint, user, k, filter_seen, only_purchasable, category or None,
                           filters.timezone, _model=model)
            # one above the other: side by side, the "why" sentences and the history's titles were cut off
            left, right = st.container(), st.container()
            with left:
                st.subheader(t("rec.top", n=len(panel.recommendations), user=panel.user))
                if panel.status == "cold_start":
                    st.info(t("rec.cold_start", n=len(panel.history)))
                elif panel.status in ("unknown_user", "nothing_left"):
                    st.info(t(f"rec.{panel.status}"))
                if panel.recommendations:
                    top = pd.DataFrame([
                        {
                            "rank": n, "item": r.item, "title": r.title, "score": r.score, "why": _because(r),
                            "contributions": ", ".join(f"{c.title or c.item} ({c.item}): {c.contribution:+.3f}" for c in r.because),
                        }
                        for n, r in enumerate(panel.recommendations, 1)
                    ])
                    table(top, key="rec_top_table")
            with right:
                st.subheader(t("rec.history", user=panel.user))
                table(panel.history, key="rec_history_table")

        st.divider()
        _evaluation(store, model, params, filters, may_train)

        st.divider()
        st.subheader(t("rec.export.header"))
        export_k = int(st.number_input(t("rec.k"), 1, 100, 10, key="rec_export_k"))
        if can(actor(), "export") and st.button(t("rec.export.prepare"), key="rec_export_run"):
            st.session_state["rec_export"] = (model.fingerprint, export_k, model.recommend_all(export_k).to_pandas())
        ready = st.session_state.get("rec_export")
        if ready is not None and ready[0] == model.fingerprint:
            st.caption(t("rec.export.ready", rows=count(len(ready[2]))))
            download_buttons(ready[2], f"recommendations_top{ready[1]}", filters, key="rec_export")
