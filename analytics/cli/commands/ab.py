"""``reelytics ab`` (analyse an A/B test) and ``reelytics ab-plan`` (sample size / power calculator)."""

from __future__ import annotations

from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.errors import BadInput
from analytics.experiments.analysis import (
    EVENT_METRICS,
    Options,
    analyse_events,
    analyse_table,
    parse_split,
    plan_experiment,
)
from dashboard.numbers import MISSING, p_text, p_value, signed_pct, significant
from dashboard.numbers import pct as percent


def register(sub) -> None:
    p = sub.add_parser(
        "ab",
        description="Events: --metric NAME (repeatable) --control NAME. "
        "Table: --table FILE [--variant-col C] [--metric-col M (repeatable)] --control NAME.",
    )
    p.add_argument(
        "--metric", action="append", default=[],
        help=f"metric from events (repeatable or comma-separated): {', '.join(EVENT_METRICS)}; default conversion",
    )
    p.add_argument("--control", default=None, help="the control variant (default: control / 对照组 / 对照 / baseline / A if present, else the first A-Z)")
    p.add_argument("--table", default=None, metavar="FILE", help="user-level result table (CSV, Excel or Parquet)")
    p.add_argument("--variant-col", default=None, help="variant column of --table (default: the column named variant, group, arm, test group, 实验组 ...)")
    p.add_argument("--metric-col", action="append", default=[], help="metric column of --table (repeatable; default every numeric or true/false column but ids and unnamed ones)")
    p.add_argument("--user-col", default=None, help="user id column of --table (default: the column named user_id, userid, uid, 用户ID ...)")
    p.add_argument("--covariate-col", default=None, help="pre-period covariate column of --table for CUPED")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--correction", choices=("holm", "bh", "none"), default="holm", help="multiple-testing correction (default holm)")
    p.add_argument("--split", default=None, help="intended split, e.g. control=50,treatment=50 (default equal)")
    p.add_argument("--winsorize", type=float, default=None, metavar="Q", help="cap continuous metrics at the pooled Q quantile, e.g. 0.99")
    p.add_argument("--min-users", type=int, default=50, help="users per arm before a verdict (default 50)")
    p.add_argument("--min-conversions", type=int, default=5, help="conversions per arm before a verdict (default 5)")
    p.add_argument("--ci-se", choices=("unpooled", "pooled"), default="unpooled", help="SE of the proportion-difference CI")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the warnings and the verdict (default en)")
    add_filter_args(p)
    p.set_defaults(func=run)

    q = sub.add_parser("ab-plan")
    q.add_argument("--baseline", type=float, required=True, help="baseline rate in (0, 1), or baseline mean with --sd")
    q.add_argument("--mde", type=float, default=None, help="minimum detectable effect, relative (0.1 = +10%%)")
    q.add_argument("--n", type=int, default=None, help="users per arm available (gives the detectable effect)")
    q.add_argument("--sd", type=float, default=None, help="per-user standard deviation (continuous metric)")
    q.add_argument("--alpha", type=float, default=0.05)
    q.add_argument("--power", type=float, default=0.8)
    q.add_argument("--arms", type=int, default=2, help="number of variants including control (default 2)")
    q.add_argument("--daily-users", type=float, default=None, help="users entering per day (default: recent average from the data)")
    add_filter_args(q)
    q.set_defaults(func=run_plan)


def _options(args) -> Options:
    return Options(
        alpha=args.alpha,
        correction=args.correction,
        split=parse_split(args.split),
        winsorize=args.winsorize,
        min_users=args.min_users,
        min_conversions=args.min_conversions,
        ci_se=args.ci_se,
    )


def run(args, ctx) -> Output:
    options = _options(args)
    if args.table:
        if args.metric:
            raise BadInput("--metric is for events; name table columns with --metric-col", code="usage")
        if args.date_from or args.date_to or args.channel or args.campaign or args.category:
            raise BadInput("--from/--to/--channel/--campaign/--category filter events, not a --table", code="usage")
        result = analyse_table(
            args.table, args.variant_col, args.metric_col or None, args.control, options,
            user_col=args.user_col, covariate_col=args.covariate_col,
        )
    else:
        if args.variant_col or args.metric_col or args.covariate_col or args.user_col:
            raise BadInput("--variant-col/--metric-col/--user-col/--covariate-col need --table", code="usage")
        metrics = [m for arg in (args.metric or ["conversion"]) for m in arg.split(",") if m.strip()]
        result = analyse_events(ctx.source, filters_from_args(args, ctx), metrics, args.control, options)
    return Output(_payload(result), _text(result, args.lang))


def _payload(result) -> dict:
    """The result's JSON with its words: ``message`` / ``message_zh`` of each warning and reason, and
    ``verdict`` (``en``, ``zh``) next to the structured ``verdicts``."""
    from dashboard.experiment_text import notice_text, reason_text, verdict_lines

    def message(render, coded) -> dict[str, str]:
        return {"message": render(coded, "en"), "message_zh": render(coded, "zh")}

    doc = result.to_dict()
    doc["warnings"] = [{**d, **message(notice_text, n)} for d, n in zip(doc["warnings"], result.notices)]
    arms = [(d, a) for dm, m in zip(doc["metrics"], result.metrics) for d, a in zip(dm["variants"], m.arms)]
    if result.metrics:
        arms += list(zip(doc["variants"], result.metrics[0].arms))
    for d, arm in arms:
        if arm.reason:
            d["reason"] = {**d["reason"], **message(reason_text, arm.reason)}
    doc["verdict"] = {lang: "\n".join(verdict_lines(result, lang)) for lang in ("en", "zh")}
    return doc


def _text(result, lang: str) -> str:
    from dashboard.experiment_text import notice_text, verdict_lines

    lines = []
    if result.srm is not None:
        lines.append(f"Sample ratio check: {p_text(result.srm.p_value)}" + ("  ** MISMATCH **" if result.srm_flagged else "  ok"))
    width = max([14, *(len(str(a.variant)) + 1 for m in result.metrics for a in m.arms)])  # the longest name
    for m in result.metrics:
        pct = m.kind in ("proportion", "ratio")

        def value(x, pct=pct):  # a value and its expected loss read in the metric's own unit
            return percent(x, 2) if pct else significant(x)

        lines.append(f"\n{m.metric} ({m.kind}, {m.test})")
        lines.append(f"  {'variant':<{width}}{'n':>9}{'value':>11}{'lift':>9}{'CI':>20}{'p':>11}{'p adj':>11}{'P(beat)':>9}{'loss':>11}")
        for a in m.arms:
            ci = MISSING if a.ci_low is None else f"{signed_pct(a.ci_low)}..{signed_pct(a.ci_high)}"
            lines.append(
                f"  {a.variant:<{width}}{a.n:>9,}{value(a.value):>11}"
                f"{signed_pct(a.lift):>9}{ci:>20}"
                f"{p_value(a.p_value):>11}{p_value(a.p_value_adjusted):>11}"
                f"{percent(a.chance_to_beat_control, 2):>9}{value(a.expected_loss):>11}"
            )
    for n in result.notices:
        lines.append(f"warning: {notice_text(n, lang)}")
    lines.append("")
    lines.extend(verdict_lines(result, lang))
    return "\n".join(lines).strip()


def run_plan(args, ctx) -> Output:
    store = None
    if args.daily_users is None and (ctx.settings.engine == "spark" or ctx.settings.db_path.exists()):
        store = ctx.source
    plan = plan_experiment(
        args.baseline, args.mde, alpha=args.alpha, power=args.power, arms=args.arms, n_per_arm=args.n,
        sd=args.sd, daily_users=args.daily_users, source=store, filters=filters_from_args(args, ctx),
    )
    text = [
        f"users per arm:      {plan.n_per_arm:,}",
        f"users in total:     {plan.total_users:,} ({plan.arms} arms)",
    ]
    if plan.detectable_abs is not None:
        unit = f"{plan.detectable_abs:.4g}" if plan.kind == "mean" else f"{plan.detectable_abs * 100:.3g} pp"
        text.append(f"detectable effect:  {unit} ({plan.detectable_rel:+.1%} relative)")
    if plan.days_needed is not None:
        source = "average of the last 14 days" if plan.traffic_source == "recent" else "given"
        text.append(f"days needed:        {plan.days_needed} at {plan.daily_users:,.0f} users/day ({source})")
    return Output(plan, "\n".join(text))
