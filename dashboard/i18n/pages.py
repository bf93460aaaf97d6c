"""Page titles shown in the navigation."""

TEXT = {
    "page.overview": {"en": "Overview", "zh": "总览"},
    "page.funnels": {"en": "Funnels", "zh": "转化漏斗"},
    "page.retention": {"en": "Retention", "zh": "留存"},
    "page.courses": {"en": "Course completion", "zh": "课程完课"},
    "page.roi": {"en": "ROI", "zh": "投放回报"},
    "page.videos": {"en": "Videos", "zh": "视频"},
    "page.recommendations": {"en": "Recommendations", "zh": "推荐"},
    "page.similarity": {"en": "Similarity", "zh": "相似度"},
    "page.timing": {"en": "Timing", "zh": "发布时间"},
    "page.data": {"en": "Data", "zh": "数据"},
    "page.experiments": {"en": "Experiments", "zh": "A/B 实验"},
    "page.audiences": {"en": "Audiences", "zh": "目标人群"},
    "page.segments": {"en": "Segments", "zh": "用户分群"},
}
