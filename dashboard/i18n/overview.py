"""Text of the Overview page; KPI names come from the registry in analytics/kpis.py (keys ``kpi.*``)."""

from analytics.kpis import ALL_KPIS, KPIS

TEXT = {
    **{f"kpi.{k.name}": {"en": k.label_en, "zh": k.label_zh} for k in ALL_KPIS},
    **{f"kpi.help.{k.name}": {"en": k.formula, "zh": k.formula} for k in ALL_KPIS},
    "ov.period": {"en": "Period {start} to {end}, compared with {prev_start} to {prev_end}.",
                  "zh": "统计周期 {start} 至 {end}，对比上一周期 {prev_start} 至 {prev_end}。"},
    "ov.cards": {"en": "Key figures", "zh": "核心指标"},
    "ov.cards_caption": {"en": "Change against the previous period of equal length; ratios change in percentage points (pp). The line is the daily series. Definitions: docs/metrics.md.",
                         "zh": "与等长的上一周期相比；比率类指标的变化以百分点（pp）表示。折线为每日走势。指标定义见 docs/metrics.md。"},
    "ov.note.no_spend": {"en": "No spend uploaded for this period: spend, CAC and ROAS are not available (not zero). Upload spend on the Data page.",
                         "zh": "本周期没有上传投放花费：花费、获客成本和 ROAS 无法计算（不是零）。请在“数据”页上传花费。"},
    "ov.note.spend_not_by_category": {"en": "Spend has no category: with a category filter, spend, CAC and ROAS are not available.",
                                      "zh": "投放花费没有品类信息：按品类筛选时无法计算花费、获客成本和 ROAS。"},
    "ov.note.spend_not_split": {"en": "Spend is split only by channel and campaign; this breakdown leaves spend, CAC and ROAS empty.",
                                "zh": "投放花费只能按渠道和投放计划拆分；此拆分中花费、获客成本和 ROAS 为空。"},
    "ov.note.external_failed": {"en": "{kpi} could not be computed; its page shows the details.",
                                "zh": "{kpi} 暂时无法计算，请查看其对应页面。"},
    "ov.breakdown": {"en": "Breakdown", "zh": "维度拆分"},
    "ov.by": {"en": "Break down by", "zh": "拆分维度"},
    "ov.dim.channel": {"en": "Channel", "zh": "渠道"},
    "ov.dim.campaign": {"en": "Campaign", "zh": "投放计划"},
    "ov.dim.variant": {"en": "Variant", "zh": "实验版本"},
    "ov.dim.creator": {"en": "Creator", "zh": "创作者"},
    "ov.dim.category": {"en": "Category", "zh": "品类"},
    "ov.dim.video": {"en": "Video", "zh": "视频"},
    "ov.dim.course": {"en": "Course", "zh": "课程"},
    "ov.videos": {"en": "Top and bottom videos", "zh": "表现最好和最差的视频"},
    "ov.rank_by": {"en": "Rank videos by", "zh": "视频排序指标"},
    "ov.top": {"en": "Top {n}", "zh": "前 {n} 名"},
    "ov.bottom": {"en": "Bottom {n}", "zh": "后 {n} 名"},
    "ov.min_views": {"en": "Rates rank only videos with at least {n} views.", "zh": "比率类指标只对播放量不少于 {n} 的视频排序。"},
    "ov.no_videos": {"en": "No video has enough views to rank on this KPI.", "zh": "没有播放量足够的视频可按此指标排序。"},
    "ov.download_kpis": {"en": "KPI table", "zh": "指标表"},
}
# the registry's own KPIs are the ones a breakdown can show
BREAKDOWN_KPIS = tuple(k.name for k in KPIS)
