"""Recommendations: train (or reuse) ALS, top-N with explanations for one user, evaluation, batch export."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from analytics.evaluation import METRICS, SplitSettings, evaluate  # noqa: E402
from analytics.recommend import AlsParams, search_users, user_panel  # noqa: E402
from dashboard.common import current_filters, download_buttons, facets, get_store, guarded, require_events, trained_model  # noqa: E402
from dashboard.format import chart, column_label, count, table, value  # noqa: E402
from dashboard.i18n import t  # noqa: E402

st.title(t("page.recommendations"))
st.caption(t("rec.intro"))


def _because(rec) -> str:
    names = [c.title or c.item for c in rec.because[:2] if c.contribution > 0]
    return t("rec.because", items=t("rec.and").join(names)) if names else t("rec.because_none")


def _settings_form() -> tuple[AlsParams, bool]:
    saved = st.session_state.get("rec_params", {})
    base = AlsParams(**saved)
    with st.expander(t("rec.settings")):
        with st.form("rec_train_form"):
            c1, c2, c3, c4 = st.columns(4)
            factors = c1.number_input(t("rec.factors"), 1, 512, base.factors, key="rec_factors")
            iterations = c2.number_input(t("rec.iterations"), 1, 100, base.iterations, key="rec_iterations")
            reg = c3.number_input(t("rec.regularization"), 0.0, 1000.0, float(base.regularization), format="%.3f", key="rec_reg")
            alpha = c4.number_input(t("rec.alpha"), 0.01, 1000.0, float(base.alpha), key="rec_alpha")
            c5, c6, c7 = st.columns(3)
            half_life = c5.number_input(t("rec.half_life"), 0.0, 3650.0, float(base.half_life_days or 0.0), key="rec_half_life")
            weighting = c6.selectbox(t("rec.weighting"), ["none", "bm25", "tfidf"], index=["none", "bm25", "tfidf"].index(base.weighting), key="rec_weighting")
            gpu = c7.radio(t("rec.gpu"), ["auto", "on", "off"], index=["auto", "on", "off"].index(base.gpu),
                           format_func=lambda v: t(f"rec.gpu.{v}"), key="rec_gpu", horizontal=True)
            force = st.checkbox(t("rec.retrain"), value=False, key="rec_force")
            submitted = st.form_submit_button(t("rec.train"))
    if submitted:
        st.session_state["rec_params"] = {
            "factors": int(factors), "iterations": int(iterations), "regularization": float(reg), "alpha": float(alpha),
            "half_life_days": float(half_life) or None, "weighting": weighting, "gpu": gpu,
        }
    return AlsParams(**st.session_state.get("rec_params", {})), bool(submitted and force)


if require_events():
    store = get_store()
    filters = current_filters()
    with guarded():
        params, force = _settings_form()
        model = trained_model(params, filters, force=force)

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
            panel = user_panel(store, model, user, k, filter_seen=filter_seen, only_purchasable=only_purchasable,
                               category=category or None, timezone=filters.timezone)
            left, right = st.columns([3, 2])
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
                            "contributions": ", ".join(f"{c.title or c.item}: {c.contribution:+.3f}" for c in r.because),
                        }
                        for n, r in enumerate(panel.recommendations, 1)
                    ])
                    table(top, key="rec_top_table")
            with right:
                st.subheader(t("rec.history", user=panel.user))
                table(panel.history, key="rec_history_table")

        st.divider()
        st.subheader(t("rec.eval.header"))
        st.caption(t("rec.eval.intro"))
        e1, e2, e3 = st.columns(3)
        eval_k = int(e1.number_input(t("rec.eval.k"), 1, 100, 10, key="rec_eval_k"))
        split_mode = e2.radio(t("rec.eval.split"), ["days", "last_k"], format_func=lambda v: t(f"rec.eval.split.{v}"),
                              key="rec_eval_split", horizontal=True)
        do_search = e3.checkbox(t("rec.eval.search"), value=False, key="rec_eval_search")
        if st.button(t("rec.eval.run"), key="rec_eval_run"):
            bar = st.progress(0.0)
            st.session_state["rec_eval"] = model.fingerprint, evaluate(
                store, k=eval_k, split=SplitSettings(split_mode), params=params, filters=filters, search=do_search,
                progress=lambda f, m="": bar.progress(min(max(f, 0.0), 1.0), text=m),
            )
            bar.empty()
        kept = st.session_state.get("rec_eval")
        result = kept[1] if kept is not None and kept[0] == model.fingerprint else None  # same data and model
        if result is not None:
            if result.status != "ok":
                st.info(t("rec.eval.not_enough", reason=result.message))
            else:
                st.caption(t("rec.eval.summary", users=count(result.split.get("test_users")), factors=result.params.factors,
                             reg=result.params.regularization, alpha=result.params.alpha, k=result.k,
                             lift=result.lift("ndcg_at_k")))
                metrics_table = result.table()
                table(metrics_table, key="rec_eval_table")
                fig = go.Figure()
                shown = [m for m in METRICS if m not in ("novelty",)]
                for m in result.models:
                    fig.add_trace(go.Bar(name=value("model", m.model), x=[column_label(x).replace("@K", f"@{result.k}") for x in shown], y=[m.get(x) for x in shown]))
                fig.update_layout(barmode="group", title=t("rec.eval.chart"), yaxis_range=[0, 1])
                chart(fig, key="rec_eval_chart")
                if result.search is not None and result.search.trials:
                    st.caption(t("rec.eval.trials"))
                    table(pd.DataFrame([tr.__dict__ for tr in result.search.trials]), key="rec_trials_table")
                download_buttons(metrics_table, f"recommender_evaluation_k{result.k}", filters, key="rec_eval")

        st.divider()
        st.subheader(t("rec.export.header"))
        export_k = int(st.number_input(t("rec.k"), 1, 100, 10, key="rec_export_k"))
        if st.button(t("rec.export.prepare"), key="rec_export_run"):
            st.session_state["rec_export"] = (model.fingerprint, export_k, model.recommend_all(export_k).to_pandas())
        ready = st.session_state.get("rec_export")
        if ready is not None and ready[0] == model.fingerprint:
            st.caption(t("rec.export.ready", rows=count(len(ready[2]))))
            download_buttons(ready[2], f"recommendations_top{ready[1]}", filters, key="rec_export")
