"""Videos page: hook, completion, hold and audience-retention curves."""

TEXT = {
    "videos.caption": {
        "en": "How well each video hooks (still watching at 3 s) and holds (average percent watched) its viewers. Definitions: docs/metrics.md.",
        "zh": "每条视频的开头吸引力（3 秒后仍在观看）与留存能力（平均观看比例）。指标定义见 docs/metrics.md。",
    },
    "videos.creator": {"en": "Creator", "zh": "创作者"},
    "videos.all_creators": {"en": "All creators", "zh": "全部创作者"},
    "videos.min_views": {"en": "Minimum usable views to be ranked", "zh": "参与排名的最少有效播放数"},
    "videos.no_views": {"en": "No video views match the current filters.", "zh": "当前筛选条件下没有视频播放记录。"},
    "videos.no_usable": {
        "en": "Views were found, but none has both a watch time and a usable video length, so ratio metrics cannot be computed. Add video durations (events.video_seconds or the catalog's duration_seconds).",
        "zh": "找到了播放记录，但没有一条同时具备观看时长和有效的视频时长，无法计算比例类指标。请补充视频时长（events.video_seconds 或目录中的 duration_seconds）。",
    },
    "videos.views": {"en": "Views", "zh": "播放数"},
    "videos.hook_rate": {"en": "Hook rate (3 s)", "zh": "3 秒留存率"},
    "videos.completion_rate": {"en": "Completion rate (≥ 90%)", "zh": "完播率（≥ 90%）"},
    "videos.avg_watched": {"en": "Average percent watched", "zh": "平均观看比例"},
    "videos.excluded": {
        "en": "{no_duration} views without a usable video length and {no_watch} views without a watch time are left out of ratio metrics; {capped} replays were capped at 100%.",
        "zh": "{no_duration} 次播放缺少有效视频时长、{no_watch} 次播放缺少观看时长，未计入比例类指标；{capped} 次重复观看按 100% 计。",
    },
    "videos.histogram": {"en": "Watch-ratio distribution", "zh": "观看比例分布"},
    "videos.hist_x": {"en": "Share of the video watched", "zh": "观看比例"},
    "videos.hist_y": {"en": "Views", "zh": "播放数"},
    "videos.curve": {"en": "Audience retention", "zh": "观众留存曲线"},
    "videos.video": {"en": "Video", "zh": "视频"},
    "videos.curve_x": {"en": "Percent of the video", "zh": "视频进度（%）"},
    "videos.curve_y": {"en": "Share of views still watching", "zh": "仍在观看的播放占比"},
    "videos.this_video": {"en": "This video", "zh": "本视频"},
    "videos.typical": {"en": "Creator's typical ({bucket})", "zh": "创作者同时长典型曲线（{bucket}）"},
    "videos.curve_caption": {
        "en": "{views} usable views; typical curve = median of {peers} other videos by {creator} in the same length bucket ({bucket}).",
        "zh": "{views} 次有效播放；典型曲线 = {creator} 同一时长区间（{bucket}）其他 {peers} 条视频的中位数。",
    },
    "videos.curve_no_peers": {
        "en": "No other video by this creator in the same length bucket: no typical curve to compare with.",
        "zh": "该创作者在同一时长区间没有其他视频，无法对比典型曲线。",
    },
    "videos.curve_no_creator": {
        "en": "This video has no creator in the catalog: no typical curve to compare with.",
        "zh": "目录中没有该视频的创作者，无法对比典型曲线。",
    },
    "videos.no_curve": {"en": "No video has a usable view for a retention curve.", "zh": "没有可绘制留存曲线的有效播放。"},
    "videos.by_hook": {"en": "Best hooks", "zh": "开头最吸引人的视频"},
    "videos.by_hold": {"en": "Best holds", "zh": "留存最好的视频"},
    "videos.rank_caption": {
        "en": "Videos with at least {n} usable views, best first.",
        "zh": "有效播放数不少于 {n} 的视频，按表现从高到低排列。",
    },
    "videos.nothing_ranked": {"en": "No video has enough usable views to be ranked.", "zh": "没有视频达到排名所需的有效播放数。"},
    "videos.creators": {"en": "Per creator", "zh": "按创作者"},
    "videos.all_videos": {"en": "All videos", "zh": "全部视频"},
    "videos.unknown_creator": {"en": "(no creator)", "zh": "（无创作者）"},
}
