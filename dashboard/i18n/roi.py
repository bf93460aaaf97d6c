"""Text of the ROI page."""

TEXT = {
    "roi.intro": {"en": "Uploaded spend joined to what the events show for each group. Groups without spend are listed as \"no spend uploaded\", never as zero spend, and are not ranked.",
                  "zh": "将上传的投放花费与各分组的事件结果关联。没有花费数据的分组标记为“未上传花费”（不按零计算），也不参与排名。"},
    "roi.level": {"en": "Group by", "zh": "分组方式"},
    "roi.level.campaign": {"en": "Campaign", "zh": "投放计划"},
    "roi.level.channel": {"en": "Channel", "zh": "渠道"},
    "roi.level.campaign_channel": {"en": "Campaign × channel", "zh": "投放计划 × 渠道"},
    "roi.totals": {"en": "Totals", "zh": "合计"},
    "roi.roas_with_spend": {"en": "ROAS (groups with spend)", "zh": "ROAS（有花费的分组）"},
    "roi.missing_spend": {"en": "No spend uploaded for: {groups}. Their CAC and ROAS are not available.",
                          "zh": "以下分组未上传花费：{groups}。无法计算其获客成本和 ROAS。"},
    "roi.no_spend": {"en": "No spend uploaded for this period. Upload a spend file (date, channel, campaign, spend) on the Data page.",
                     "zh": "本周期没有上传投放花费。请在“数据”页上传花费文件（日期、渠道、投放计划、花费）。"},
    "roi.spend_not_by_category": {"en": "Spend has no category: with a category filter spend, CAC and ROAS are not available.",
                                  "zh": "投放花费没有品类信息：按品类筛选时无法计算花费、获客成本和 ROAS。"},
    "roi.spend_without_events": {"en": "Spend without any events in the period: {groups}.", "zh": "本周期有花费但没有任何事件：{groups}。"},
    "roi.table": {"en": "Ranked by ROAS", "zh": "按 ROAS 排名"},
    "roi.none": {"en": "(none)", "zh": "（无）"},
}
