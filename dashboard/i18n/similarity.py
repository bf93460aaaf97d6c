"""Text of the Similarity page."""

TEXT = {
    "sim.intro": {
        "en": "Which videos, courses and viewers are alike, from the ALS recommender's factors: cosine similarity of items and of users, and each user's score for each item.",
        "zh": "根据 ALS 推荐模型的隐因子，查看哪些视频、课程和观众彼此相似：内容之间、用户之间的余弦相似度，以及每位用户对每个内容的得分。",
    },
    "sim.view": {"en": "Heatmap", "zh": "热力图"},
    "sim.view.item_item": {"en": "item × item", "zh": "内容 × 内容"},
    "sim.view.user_user": {"en": "user × user", "zh": "用户 × 用户"},
    "sim.view.user_item": {"en": "user × item scores", "zh": "用户 × 内容 得分"},
    "sim.cap": {
        "en": "To keep the browser responsive a heatmap draws at most {cap} × {cap} cells; larger choices are cut to the first {cap} (most users / most active first).",
        "zh": "为保证浏览器流畅，热力图最多绘制 {cap} × {cap} 个单元格；超出部分只保留前 {cap} 个（按用户数 / 活跃度排序）。",
    },
    "sim.capped": {
        "en": "Showing {rows} of {total_rows} rows and {cols} of {total_cols} columns (the cap is {cap}).",
        "zh": "显示 {total_rows} 行中的 {rows} 行、{total_cols} 列中的 {cols} 列（上限 {cap}）。",
    },
    "sim.items_choice": {"en": "Items", "zh": "内容范围"},
    "sim.items_choice.top": {"en": "top N by users", "zh": "按用户数前 N 个"},
    "sim.items_choice.category": {"en": "one category", "zh": "单个品类"},
    "sim.items_choice.selection": {"en": "a selection", "zh": "手动选择"},
    "sim.n_items": {"en": "Number of items", "zh": "内容数量"},
    "sim.n_users": {"en": "Number of users (most active first)", "zh": "用户数量（按活跃度）"},
    "sim.category": {"en": "Category", "zh": "品类"},
    "sim.selection": {"en": "Choose items", "zh": "选择内容"},
    "sim.empty": {"en": "Nothing to draw: choose at least one item or user.", "zh": "没有可绘制的数据：请至少选择一个内容或用户。"},
    "sim.heatmap.item_item": {"en": "Item × item cosine similarity", "zh": "内容 × 内容 余弦相似度"},
    "sim.heatmap.user_user": {"en": "User × user cosine similarity", "zh": "用户 × 用户 余弦相似度"},
    "sim.heatmap.user_item": {"en": "User × item scores (x_u · y_i)", "zh": "用户 × 内容 得分 (x_u · y_i)"},
    "sim.export": {"en": "Offer this matrix for download (CSV, Excel)", "zh": "提供此矩阵下载（CSV、Excel）"},
    "sim.hover.value": {"en": "value", "zh": "数值"},
    "sim.hover.seen": {"en": "already interacted", "zh": "已有交互"},
    "sim.list.header": {"en": "Similar items", "zh": "相似内容"},
    "sim.list.item": {"en": "Item", "zh": "内容"},
    "sim.list.k": {"en": "How many", "zh": "数量"},
    "sim.list.als": {
        "en": "Neighbours by the cosine of the ALS item factors ({n} users interacted with this item).",
        "zh": "按 ALS 内容因子的余弦相似度给出（{n} 位用户与该内容有交互）。",
    },
    "sim.list.cold": {
        "en": "Cold item: only {n} user(s) interacted with it (fewer than {min}), so its neighbours are content-based (TF-IDF over title, tags and category) and marked “Similar text”.",
        "zh": "冷启动内容：仅 {n} 位用户与其有交互（少于 {min} 位），因此相似内容基于文本（标题、标签、品类的 TF-IDF）计算，并标记为“文本相似”。",
    },
    "sim.list.no_catalog": {
        "en": "This item has too few interactions and no catalog text (title, tags, category) to compare with.",
        "zh": "该内容交互太少，且没有可比较的目录文本（标题、标签、品类）。",
    },
    "sim.list.no_neighbours": {
        "en": "No catalog item shares a word, tag or category with this item.",
        "zh": "没有任何目录内容与它有相同的词、标签或品类。",
    },
}
