"""Experiments: analyse an A/B test (from events or an uploaded result table) and plan the next one."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.experiments.analysis import (
    EVENT_METRICS,
    Options,
    analyse_events,
    analyse_table,
    guess_user_column,
    guess_variant_column,
    list_variants,
    metric_columns,
    parse_split,
    plan_experiment,
    read_result_table,
    variant_values,
)
from dashboard.common import (
    current_filters,
    download_buttons,
    guarded,
    require_events,
    shared,
)
from dashboard.experiment_text import (
    metric_text,
    notice_text,
    reason_text,
    verdict_lines,
)
from dashboard.format import MISSING, chart, count, pct, points, signed_pct, table
from dashboard.i18n import current_lang, t
from dashboard.numbers import p_text

_variants = shared(list_variants)
_analysis = shared(analyse_events)


@shared
def _plan(store, baseline: float, mde: float | None, **options):
    """The plan; the daily users are measured from the events unless given."""
    return plan_experiment(baseline, mde, source=None if options.get("daily_users") else store, **options)

SAMPLE_TABLE = "sample_data/ab_results.csv"

st.title(t("page.experiments"))
st.caption(t("exp.intro"))
lang = current_lang()


def _options() -> Options:
    with st.expander(t("exp.settings")):
        c1, c2 = st.columns(2)
        alpha = c1.selectbox(t("exp.alpha"), [0.05, 0.01, 0.1], key="exp_alpha", format_func=lambda a: pct(a, 0))
        correction = c2.selectbox(
            t("exp.correction"), ["holm", "bh", "none"], format_func=lambda v: t(f"exp.correction.{v}"), key="exp_correction"
        )
        split = st.text_input(t("exp.split"), key="exp_split")
        winsorize = st.checkbox(t("exp.winsorize"), key="exp_winsorize")
    return Options(alpha=alpha, correction=correction, split=parse_split(split), winsorize=0.99 if winsorize else None)


def _render(result) -> None:
    if result.status == "no_experiment":
        st.info("\n\n".join(verdict_lines(result, lang)))
        return
    if result.srm is not None:
        p = p_text(result.srm.p_value)
        (st.error if result.srm_flagged else st.success)(t("exp.srm_bad" if result.srm_flagged else "exp.srm_ok", p=p))
    st.caption(t("exp.sizes", sizes=", ".join(f"{v} {count(n)}" for v, n in zip(result.variants, result.sizes))))
    for notice in result.notices:
        if notice.code != "srm":
            st.warning(notice_text(notice, lang))
    st.subheader(t("exp.verdict"))
    st.info("\n\n".join(verdict_lines(result, lang)))
    st.caption(t("exp.correction_used", name=t(f"exp.correction.{result.correction}"), alpha=result.alpha))
    conf = f"{1 - result.alpha:.0%}"
    for m in result.metrics:
        st.subheader(metric_text(m.metric, lang))
        notes = [t("exp.test_used", test=t(f"exp.test.{m.kind}"), kind=t(f"exp.kind.{m.kind}"))]
        if m.winsorized_at is not None:
            notes.append(t("exp.winsorized", cap=f"{m.winsorized_at:,.4g}"))
        if m.cuped_theta is not None:
            notes.append(t("exp.cuped", theta=f"{m.cuped_theta:.3g}"))
        st.caption(" ".join(notes))
        pct = m.kind in ("proportion", "ratio")
        arms = pd.DataFrame([
            {
                "variant": a.variant, "n": a.n, "value": a.value, "lift": a.lift, "ci_low": a.ci_low, "ci_high": a.ci_high,
                "p_value": a.p_value, "p_value_adjusted": a.p_value_adjusted,
                "chance_to_beat_control": a.chance_to_beat_control, "expected_loss": a.expected_loss,
                "status": t("exp.status_reason", status=t(f"exp.status.{a.status}"), reason=reason_text(a.reason, lang))
                if a.reason else t(f"exp.status.{a.status}"),
            }
            for a in m.arms
        ])
        rate = "percent" if pct else "number"
        table(arms, kinds={"value": rate, "expected_loss": rate, "status": "text"}, domains={"status": None},
              key=f"exp_arms_{m.metric}")
        tested = [a for a in m.arms[1:] if a.status == "ok"]
        if not tested:
            st.info(t("exp.not_enough", metric=metric_text(m.metric, lang)))
        else:
            relative = all(a.lift is not None for a in tested)
            y = [a.lift if relative else a.diff for a in tested]
            lo = [a.ci_low if relative else a.diff_ci_low for a in tested]
            hi = [a.ci_high if relative else a.diff_ci_high for a in tested]
            fig = go.Figure(go.Scatter(
                x=y, y=[a.variant for a in tested], mode="markers",
                error_x={"type": "data", "symmetric": False, "array": [h - v for h, v in zip(hi, y)], "arrayminus": [v - lw for v, lw in zip(y, lo)]},
                marker={"size": 12},
            ))
            fig.add_vline(x=0, line_dash="dash", line_color="grey")
            fig.update_layout(
                title=t("exp.lift_chart", conf=conf), height=160 + 50 * len(tested),
                xaxis_title=t("exp.lift_axis") if relative else t("exp.diff_axis"),
                xaxis_tickformat="+.0%" if relative else None,
            )
            chart(fig, key=f"exp_lift_{m.metric}")
            if m.posteriors:
                post = go.Figure()
                for variant, dist in m.posteriors:
                    xs, ys = dist.curve()
                    post.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=variant, fill="tozeroy", opacity=0.5))
                post.update_layout(
                    title=t("exp.posterior_chart"), xaxis_title=t("exp.posterior_axis", metric=metric_text(m.metric, lang)),
                    yaxis_title=t("exp.density"), xaxis_tickformat=".1%" if pct else None,
                )
                chart(post, key=f"exp_post_{m.metric}")
    download_buttons(result.to_frame(), "experiment", current_filters() if result.source == "events" else {})


tab_analyse, tab_plan = st.tabs([t("exp.tab.analyse"), t("exp.tab.plan")])

with tab_analyse:
    source = st.radio(
        t("exp.source"), ["events", "table"], format_func=lambda v: t(f"exp.source.{v}"), horizontal=True, key="exp_source"
    )
    if source == "events":
        if require_events():
            filters = current_filters()
            with guarded():
                variants = [v for v, _ in _variants(filters)]
                if not variants:
                    st.info(t("exp.no_variants"))
                else:
                    c1, c2 = st.columns([2, 1])
                    metrics = c1.multiselect(
                        t("exp.metrics"), list(EVENT_METRICS), default=["conversion", "ctr"],
                        format_func=lambda m: metric_text(m, lang), key="exp_metrics", placeholder=t("common.choose"),
                    )
                    control = c2.selectbox(
                        t("exp.control"), variants, index=variants.index("control") if "control" in variants else 0,
                        key="exp_control",
                    )
                    options = _options()
                    if not metrics:
                        st.info(t("exp.pick_metric"))
                    else:
                        _render(_analysis(filters, metrics, control, options))
    else:
        upload = st.file_uploader(t("exp.upload"), type=["csv", "txt", "xlsx", "xls", "parquet"], key="exp_upload")
        use_sample = st.checkbox(t("exp.use_sample"), key="exp_use_sample")
        with guarded():
            result_table = None
            if upload is not None:
                result_table = read_result_table(upload.getvalue(), upload.name)
            elif use_sample:
                from pathlib import Path

                result_table = read_result_table(Path(__file__).resolve().parents[2] / SAMPLE_TABLE)
            if result_table is None:
                st.info(t("exp.upload_hint"))
            else:
                columns = [str(c) for c in result_table.columns]
                sig = abs(hash(tuple(columns))) % 10**8  # a new table's columns get fresh widgets
                c1, c2, c3 = st.columns(3)
                guessed_variant = guess_variant_column(result_table)
                variant_col = c1.selectbox(
                    t("exp.variant_col"), columns, index=columns.index(guessed_variant) if guessed_variant else 0,
                    key=f"exp_variant_col_{sig}",
                )
                none = t("exp.none")
                user_choices = [none, *[c for c in columns if c != variant_col]]
                guessed_user = guess_user_column(user_choices[1:])
                user_col = c2.selectbox(
                    t("exp.user_col"), user_choices,
                    index=user_choices.index(guessed_user) if guessed_user else 0, key=f"exp_user_col_{sig}",
                )
                numeric = metric_columns(result_table, (variant_col, None if user_col == none else user_col))
                metric_cols = c3.multiselect(t("exp.metric_cols"), numeric, default=numeric, key=f"exp_metric_cols_{sig}",
                                             placeholder=t("common.choose"))
                c4, c5 = st.columns(2)
                arms = variant_values(result_table, variant_col)
                control = c4.selectbox(
                    t("exp.control"), arms, index=arms.index("control") if "control" in arms else (0 if arms else None),
                    key=f"exp_table_control_{sig}",
                )
                covariate = c5.selectbox(
                    t("exp.covariate_col"), [none, *[c for c in numeric if c not in metric_cols]], key=f"exp_covariate_{sig}"
                )
                options = _options()
                if not metric_cols:
                    st.info(t("exp.pick_metric"))
                else:
                    _render(analyse_table(
                        result_table, variant_col, metric_cols, control, options,
                        user_col="" if user_col == none else user_col,
                        covariate_col=None if covariate == none else covariate,
                    ))

with tab_plan:
    st.caption(t("exp.plan.intro"))
    kind = st.radio(
        t("exp.plan.kind"), ["proportion", "mean"], format_func=lambda v: t(f"exp.plan.kind.{v}"), horizontal=True,
        key="exp_plan_kind",
    )
    c1, c2, c3 = st.columns(3)
    if kind == "proportion":
        baseline = c1.number_input(t("exp.plan.baseline_rate"), 0.0001, 0.9999, 0.05, format="%.4f", key="exp_plan_baseline")
        sd = None
    else:
        baseline = c1.number_input(t("exp.plan.baseline_mean"), value=60.0, key="exp_plan_mean")
        sd = c1.number_input(t("exp.plan.sd"), min_value=0.0001, value=90.0, key="exp_plan_sd")
    mde = c2.number_input(t("exp.plan.mde"), -0.99, 10.0, 0.10, step=0.01, format="%.2f", key="exp_plan_mde")
    alpha = c3.selectbox(t("exp.alpha"), [0.05, 0.01, 0.1], key="exp_plan_alpha", format_func=lambda a: pct(a, 0))
    c4, c5, c6 = st.columns(3)
    power = c4.selectbox(t("exp.plan.power"), [0.8, 0.9, 0.95], key="exp_plan_power", format_func=lambda p: pct(p, 0))
    arms = int(c5.number_input(t("exp.plan.arms"), 2, 10, 2, key="exp_plan_arms"))
    n_have = int(c6.number_input(t("exp.plan.n"), 0, 10**9, 0, step=1000, key="exp_plan_n"))
    daily = st.number_input(t("exp.plan.daily"), 0.0, 1e9, 0.0, step=100.0, key="exp_plan_daily")
    with guarded():
        plan = _plan(
            baseline, None if n_have else mde, alpha=alpha, power=power, arms=arms, n_per_arm=n_have or None,
            sd=sd, daily_users=daily or None, filters=current_filters(),
        )
        m1, m2, m3, m4 = st.columns(4)
        m1.metric(t("exp.plan.n_per_arm"), count(plan.n_per_arm))
        m2.metric(t("exp.plan.total"), count(plan.total_users))
        if plan.detectable_abs is None:
            m3.metric(t("exp.plan.detectable"), MISSING)
        elif plan.kind == "proportion":
            m3.metric(t("exp.plan.detectable"), signed_pct(plan.detectable_rel), points(plan.detectable_abs, 2), delta_color="off")
        else:
            m3.metric(t("exp.plan.detectable"), signed_pct(plan.detectable_rel), f"{plan.detectable_abs:,.3g}", delta_color="off")
        m4.metric(t("exp.plan.days"), count(plan.days_needed))
        if plan.days_needed is None:
            st.caption(t("exp.plan.no_traffic"))
        else:
            st.caption(t("exp.plan.traffic", users=f"{plan.daily_users:,.0f}", source=t(f"exp.plan.source.{plan.traffic_source}")))
