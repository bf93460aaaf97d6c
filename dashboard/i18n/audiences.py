"""Text of the Audiences page."""

TEXT = {
    "aud.intro": {
        "en": "Which users to promote a course or video to: the users the ALS recommender scores highest for it, with an expected conversion, exportable as a target list.",
        "zh": "把课程或视频推给谁：ALS 推荐模型给出得分最高的用户及其预期转化率，可导出为投放名单。",
    },
    "aud.item": {"en": "Course or video", "zh": "课程或视频"},
    "aud.k": {"en": "Audience size (users)", "zh": "人群规模（用户数）"},
    "aud.include_engaged": {"en": "Include users who already interacted with it", "zh": "包含已与其有交互的用户"},
    "aud.size": {"en": "Users in the list", "zh": "名单人数"},
    "aud.pool": {"en": "of {pool} candidates", "zh": "候选 {pool} 人"},
    "aud.expected": {"en": "Expected conversions", "zh": "预期转化人数"},
    "aud.expected_rate": {"en": "Expected conversion rate", "zh": "预期转化率"},
    "aud.base_rate": {"en": "Conversion among all users", "zh": "全体用户转化率"},
    "aud.outcome.purchase": {
        "en": "Sold item: conversion means buying it.",
        "zh": "付费内容：转化指购买。",
    },
    "aud.outcome.engagement": {
        "en": "Free item: conversion means any interaction with it (view, like, share…).",
        "zh": "免费内容：转化指任何交互（观看、点赞、分享等）。",
    },
    "aud.definition": {
        "en": "Expected conversion: all users are ranked by score for this item and cut into ten equal groups; a user's expected conversion is the share of its group that already converted. It is calibrated on the same history the model learned from, so read it as an optimistic estimate for ranking and sizing.",
        "zh": "预期转化率：按该内容的得分将全部用户排序并等分为十组，某用户的预期转化率即其所在组中已转化用户的占比。它基于模型训练所用的同一份历史数据校准，偏乐观，适合用于排序和估算规模。",
    },
    "aud.nobody_left": {
        "en": "Every user in the model already interacted with this item. Tick “Include users who already interacted with it” to list them.",
        "zh": "模型中的所有用户都已与该内容有交互。勾选“包含已与其有交互的用户”即可列出。",
    },
    "aud.list": {"en": "Target list", "zh": "投放名单"},
    "aud.calibration": {"en": "Conversion by score decile", "zh": "按得分十分位的转化率"},
    "aud.chart.x": {"en": "score decile (1 = highest)", "zh": "得分十分位（1 = 最高）"},
    "aud.chart.y": {"en": "conversion rate", "zh": "转化率"},
}
