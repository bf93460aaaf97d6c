"""Text shared by the app shell: navigation, sidebar, filters, errors, exports."""

TEXT = {
    "app.title": {"en": "Reelytics", "zh": "Reelytics 短视频知识付费分析"},
    "nav.marketer": {"en": "Marketer", "zh": "营销"},
    "nav.creator": {"en": "Creator", "zh": "创作者"},
    "nav.manager": {"en": "Manager", "zh": "管理者"},
    "sidebar.language": {"en": "Language", "zh": "语言"},
    "sidebar.filters": {"en": "Filters", "zh": "筛选"},
    "sidebar.dates": {"en": "Date range", "zh": "日期范围"},
    "sidebar.channel": {"en": "Channel", "zh": "渠道"},
    "sidebar.campaign": {"en": "Campaign", "zh": "投放计划"},
    "sidebar.category": {"en": "Category", "zh": "品类"},
    "sidebar.db": {"en": "Database: {path}", "zh": "数据库：{path}"},
    "sidebar.timezone": {"en": "Times in {tz}", "zh": "时间按 {tz} 显示"},
    "sidebar.spark": {"en": "Computed by Apache Spark ({url}) over {data}", "zh": "由 Apache Spark（{url}）基于 {data} 计算"},
    "sidebar.share": {"en": "Filters are kept in the address bar: copy it to share this view.", "zh": "筛选条件保存在地址栏中，复制链接即可分享当前视图。"},
    "common.no_data": {"en": "No events yet. Load the sample data (`reelytics sample`) or upload a file on the Data page.", "zh": "暂无事件数据。请加载示例数据（`reelytics sample`）或在“数据”页上传文件。"},
    "common.duckdb_only": {
        "en": "This page works on the DuckDB database, and this dashboard runs on Spark (read-only analytics). "
        "Upload, remove and train with the DuckDB engine, then run `reelytics export --parquet` to refresh the Parquet data.",
        "zh": "此页面需要 DuckDB 数据库，而当前看板运行在 Spark 上（只读分析）。请用 DuckDB 引擎上传、删除和训练，"
        "再运行 `reelytics export --parquet` 更新 Parquet 数据。",
    },
    "common.no_rows": {"en": "Nothing matches the current filters.", "zh": "当前筛选条件下没有数据。"},
    "common.working": {"en": "Computing…", "zh": "正在计算…"},
    "common.list_sep": {"en": ", ", "zh": "、"},
    "common.group_sep": {"en": "; ", "zh": "；"},
    "common.as_of": {
        "en": "Shown as of {when}, before the latest upload: the update is being computed. Open the page again in a moment for the new figures.",
        "zh": "当前显示的是 {when} 的结果（最近一次上传之前）：新结果正在计算，请稍后重新打开本页查看。",
    },
    "common.details": {"en": "Details", "zh": "详情"},
    "common.next_step": {"en": "Next step: {step}", "zh": "下一步：{step}"},
    "common.download_csv": {"en": "Download CSV", "zh": "下载 CSV"},
    "common.download_xlsx": {"en": "Download Excel", "zh": "下载 Excel"},
    "common.fix_input": {"en": "check the input above and try again", "zh": "请检查上面的输入后重试"},
    # a trained recommender model, shown by every page that uses one
    "model.training": {"en": "Training the model…", "zh": "正在训练模型…"},
    "model.device": {"en": "Trained on {device}", "zh": "训练设备：{device}"},
    "model.summary": {
        "en": "Model {fingerprint}: {users} users × {items} items, {interactions} interactions; {source}.",
        "zh": "模型 {fingerprint}：{users} 位用户 × {items} 个内容，{interactions} 条交互；{source}。",
    },
    "model.source.loaded": {"en": "reused the saved model", "zh": "复用已保存的模型"},
    "model.source.trained": {"en": "trained in {seconds:.1f} s", "zh": "训练耗时 {seconds:.1f} 秒"},
}
