"""Course completion page: purchase -> lesson 1 -> ... -> last lesson, split by acquisition."""

TEXT = {
    "courses.caption": {
        "en": "Buyers who purchased in the selected period and how far they got; lessons are counted at any time after the purchase. Definitions: docs/metrics.md.",
        "zh": "所选时间段内购买课程的学员以及他们学到了第几课；购买后任何时间的学习都计入。指标定义见 docs/metrics.md。",
    },
    "courses.course": {"en": "Course", "zh": "课程"},
    "courses.still_learning": {
        "en": "{recent} of {buyers} buyers bought less than {days} days before the data ends, the time 90% of "
              "those who completed took: some of them are still learning, so the completion rate may still rise.",
        "zh": "{buyers} 名购买者中有 {recent} 名在数据结束前不到 {days} 天内购买（90% 的完课者在这段时间内完课）："
              "其中一些人仍在学习，完课率可能还会上升。",
    },
    "courses.by": {"en": "Split buyers by the acquiring", "zh": "按获客来源拆分"},
    "courses.by.video": {"en": "video", "zh": "视频"},
    "courses.by.channel": {"en": "channel", "zh": "渠道"},
    "courses.by.variant": {"en": "variant", "zh": "实验组"},
    "courses.count_starts": {"en": "Count a started lesson as reached", "zh": "开始学习即算到达该课"},
    "courses.no_courses": {
        "en": "No course found: add catalog items of kind 'course' or lesson events.",
        "zh": "没有找到课程：请上传类型为 course 的目录条目或课时学习事件。",
    },
    "courses.no_buyers": {"en": "No course purchase matches the current filters.", "zh": "当前筛选条件下没有课程购买记录。"},
    "courses.overview": {"en": "All courses", "zh": "全部课程"},
    "courses.buyers": {"en": "Buyers", "zh": "购买人数"},
    "courses.start_rate": {"en": "Started lesson 1", "zh": "开始第 1 课"},
    "courses.completion_rate": {"en": "Completed the course", "zh": "完课率"},
    "courses.avg_progress": {"en": "Average progress", "zh": "平均学习进度"},
    "courses.lessons_caption": {
        "en": "{lessons} lessons (from the {source}).",
        "zh": "共 {lessons} 课（来自{source}）。",
    },
    "courses.source.catalog": {"en": "catalog", "zh": "课程目录"},
    "courses.source.events": {"en": "highest lesson in the events; the catalog has no lesson count", "zh": "事件中出现的最大课时，目录未提供课时数"},
    "courses.funnel": {"en": "Completion funnel", "zh": "完课漏斗"},
    "courses.purchase": {"en": "Purchase", "zh": "购买"},
    "courses.lesson": {"en": "Lesson {k}", "zh": "第 {k} 课"},
    "courses.stops": {"en": "Where learners stop", "zh": "学员停在第几课"},
    "courses.last_lesson": {"en": "Last lesson reached (0 = none)", "zh": "到达的最后一课（0 = 未开始）"},
    "courses.learners": {"en": "Learners", "zh": "学员数"},
    "courses.gaps": {"en": "Time between lessons (hours)", "zh": "课时间隔（小时）"},
    "courses.no_gaps": {"en": "No learner reached two consecutive steps yet.", "zh": "还没有学员连续完成两个步骤。"},
    "courses.split": {"en": "Completion by acquiring {by}", "zh": "按获客{by}拆分的完课情况"},
    "courses.split_caption": {
        "en": "The acquiring view is the buyer's last view of a video promoting the course before the purchase; '(no promoting view)' collects buyers without one.",
        "zh": "获客播放 = 购买前最后一次观看推广该课程的视频；“（无推广播放）”为没有此类播放的购买者。",
    },
    "courses.no_view": {"en": "(no promoting view)", "zh": "（无推广播放）"},
    "courses.unknown": {"en": "(unknown)", "zh": "（未知）"},
}
