"""Text of the Segments page."""

TEXT = {
    "seg.intro": {
        "en": "Users grouped by behaviour — active days, watch time, likes, interactions, purchases, active hours — with k-means; each segment is described against all users.",
        "zh": "按行为（活跃天数、观看时长、点赞、互动、购买、活跃时段）用 k-means 对用户分群，并与全体用户对比描述每个分群。",
    },
    "seg.k": {"en": "Number of segments", "zh": "分群数量"},
    "seg.k.auto": {"en": "automatic (best silhouette, 2–8)", "zh": "自动（轮廓系数最优，2–8）"},
    "seg.summary.silhouette": {
        "en": "{k} segments of {users} users, chosen by silhouette ({score:.3f}).",
        "zh": "{users} 位用户分为 {k} 群，按轮廓系数选择（{score:.3f}）。",
    },
    "seg.summary.given": {
        "en": "{k} segments of {users} users as asked (silhouette {score:.3f}).",
        "zh": "{users} 位用户按要求分为 {k} 群（轮廓系数 {score:.3f}）。",
    },
    "seg.not_enough_users": {
        "en": "Only {n} user(s) with activity under the current filters; segments need at least 10.",
        "zh": "当前筛选条件下只有 {n} 位有行为的用户；分群至少需要 10 位。",
    },
    "seg.no_variation": {
        "en": "The users' behaviour hardly differs under the current filters; there is nothing to split.",
        "zh": "当前筛选条件下用户行为几乎没有差异，无法分群。",
    },
    "seg.silhouette": {"en": "Silhouette", "zh": "轮廓系数"},
    "seg.silhouette_chart": {"en": "Silhouette by number of segments", "zh": "不同分群数量的轮廓系数"},
    "seg.segment": {"en": "Segment {n}: {name}", "zh": "分群 {n}：{name}"},
    "seg.table": {"en": "Segment averages", "zh": "各分群均值"},
    "seg.export": {"en": "Every user with its segment and features", "zh": "每位用户的分群与特征"},
}
