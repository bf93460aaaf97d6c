"""Text of the Data page (upload, preview, import report, uploads list)."""

TEXT = {
    "data.intro": {
        "en": "Upload a CSV/TSV, Excel (.xlsx) or Parquet export. Check the proposed column mapping and the first rows, then import. An upload lands whole or not at all; the same file twice adds nothing.",
        "zh": "上传 CSV/TSV、Excel（.xlsx）或 Parquet 导出文件。先检查系统建议的列映射和前几行，再导入。每次上传要么完整导入，要么完全不导入；同一文件重复上传不会重复计数。",
    },
    "data.kind": {"en": "What the file holds", "zh": "文件内容"},
    "data.kind.events": {"en": "Events (behaviour log)", "zh": "行为事件日志"},
    "data.kind.items": {"en": "Catalog (videos, courses)", "zh": "内容目录（视频、课程）"},
    "data.kind.spend": {"en": "Ad spend", "zh": "投放花费"},
    "data.looks_like": {"en": "The columns look like this kind of file: {kind}. Choose it above.",
                        "zh": "这些列看起来属于另一类文件：{kind}。请在上方选择该类型。"},
    "data.upload": {"en": "Upload a file", "zh": "上传文件"},
    "data.upload_help": {
        "en": "CSV or other delimited text, Excel, Parquet, or JSON records (one object per line, or one array). "
        "Up to {mb:,} MB through the browser (the server setting server.maxUploadSize). For larger files, copy "
        "the file into the data folder and give its name below, or run reelytics ingest FILE on the server.",
        "zh": "支持 CSV 等分隔符文本、Excel、Parquet 和 JSON 记录（每行一个对象，或一个数组）。"
        "通过浏览器最多上传 {mb:,} MB（服务器设置 server.maxUploadSize）。更大的文件请复制到数据文件夹后在下方填写"
        "文件名，或在服务器上运行 reelytics ingest FILE。",
    },
    "data.staged": {"en": "Uploaded: {name} ({size:,.1f} MB)", "zh": "已上传：{name}（{size:,.1f} MB）"},
    "data.unstage": {"en": "Discard", "zh": "放弃"},
    "data.path": {"en": "Or the name of a file in the data folder", "zh": "或填写数据文件夹中的文件名"},
    "data.path_help": {
        "en": "For large files copied to the server: the file must be inside the data folder ({folder}).",
        "zh": "适用于已复制到服务器的大文件：文件必须位于数据文件夹（{folder}）内。",
    },
    "data.no_such_file": {"en": "There is no file {name} in the data folder.", "zh": "数据文件夹中没有文件 {name}。"},
    "data.options": {"en": "Reading options", "zh": "读取选项"},
    "data.encoding": {"en": "Text encoding", "zh": "文本编码"},
    "data.encoding.auto": {"en": "detect", "zh": "自动识别"},
    "data.timezone": {"en": "Time zone of times without an offset", "zh": "不带时区的时间所用时区"},
    "data.columns": {"en": "Column names of a file without a header row (comma-separated)", "zh": "无表头文件的列名（逗号分隔）"},
    "data.expect_from": {"en": "Expected first day (optional)", "zh": "预期起始日期（可选）"},
    "data.expect_to": {"en": "Expected last day (optional)", "zh": "预期结束日期（可选）"},
    "data.preview": {"en": "Preview", "zh": "预览"},
    "data.detected": {
        "en": "Detected: {format}, encoding {encoding}, delimiter {delimiter}, header row: {header}.",
        "zh": "识别结果：{format}，编码 {encoding}，分隔符 {delimiter}，表头：{header}。",
    },
    "data.detected_sheet": {"en": "Detected: {format}, header row: {header}.", "zh": "识别结果：{format}，表头：{header}。"},
    "data.detected_plain": {"en": "Detected: {format}.", "zh": "识别结果：{format}。"},
    "data.format.csv": {"en": "delimited text", "zh": "分隔符文本"},
    "data.format.xlsx": {"en": "Excel workbook", "zh": "Excel 工作簿"},
    "data.format.parquet": {"en": "Parquet", "zh": "Parquet"},
    "data.format.json": {"en": "JSON records (one column per key path)", "zh": "JSON 记录（每个键路径一列）"},
    "data.mapping": {"en": "Column mapping (change a target to override)", "zh": "列映射（可修改目标列）"},
    "data.col.source": {"en": "File column", "zh": "文件列"},
    "data.col.target": {"en": "Maps to", "zh": "映射到"},
    "data.target.props": {"en": "Keep as an extra property", "zh": "保留为附加属性"},
    "data.target.ignore": {"en": "Ignore", "zh": "忽略"},
    "data.target.flag": {"en": "Flag (0/1): {event}", "zh": "标记列（0/1）：{event}"},
    "data.target.unit.ms": {"en": "{field}, given in milliseconds", "zh": "{field}（文件中为毫秒）"},
    "data.target.unit.min": {"en": "{field}, given in minutes", "zh": "{field}（文件中为分钟）"},
    "data.col.confidence": {"en": "Confidence", "zh": "置信度"},
    "data.col.example": {"en": "Example", "zh": "示例"},
    "data.first_rows": {"en": "First rows after mapping", "zh": "映射后的前几行"},
    "data.first_rows_zone": {"en": "Times in {zone}, the zone the file's local times are read in.", "zh": "时间按 {zone} 时区显示（文件中的本地时间按此时区读取）。"},
    "data.import": {"en": "Import", "zh": "导入"},
    "data.importing": {"en": "Importing {name} ...", "zh": "正在导入 {name} ……"},
    "data.prepare_failed": {
        "en": "The upload is stored, but preparing the pages failed ({error}): each page builds what it needs when first opened.",
        "zh": "上传已保存，但准备页面失败（{error}）：各页面会在首次打开时自行构建所需数据。",
    },
    "data.imported": {"en": "Imported {n:,} rows from {name} (upload {id}).", "zh": "已导入 {n:,} 行，来自 {name}（上传 {id}）。"},
    "data.already": {
        "en": "{name} was already uploaded (upload {id}); nothing was added.",
        "zh": "{name} 已上传过（上传 {id}），本次未新增数据。",
    },
    "data.nothing": {
        "en": "Nothing was imported from {name}: every row was rejected. See the reasons below.",
        "zh": "{name} 未导入任何数据：所有行均被拒绝，原因见下方。",
    },
    "data.report": {"en": "Data-quality report", "zh": "数据质量报告"},
    "data.m.read": {"en": "Rows read", "zh": "读取行数"},
    "data.m.accepted": {"en": "Accepted", "zh": "已接收"},
    "data.m.rejected": {"en": "Rejected", "zh": "已拒绝"},
    "data.m.duplicates": {"en": "Duplicates skipped", "zh": "跳过的重复行"},
    "data.issues": {"en": "Issues", "zh": "问题"},
    "data.no_issues": {"en": "No issues found.", "zh": "未发现问题。"},
    "data.rejected": {"en": "Rejected rows", "zh": "被拒绝的行"},
    "data.uploads": {"en": "Uploads", "zh": "上传记录"},
    "data.no_uploads": {"en": "No uploads yet.", "zh": "暂无上传记录。"},
    "data.upload_row": {
        "en": "#{id}  {name} · {kind} · {when} UTC · accepted {accepted:,} · rejected {rejected:,} · duplicates {dup:,}",
        "zh": "#{id}  {name} · {kind} · {when} UTC · 接收 {accepted:,} · 拒绝 {rejected:,} · 重复 {dup:,}",
    },
    "data.remove": {"en": "Remove", "zh": "删除"},
    "data.confirm": {
        "en": "Remove upload {id} ({name}) and every row it brought? This cannot be undone.",
        "zh": "确定删除上传 {id}（{name}）及其导入的所有数据？此操作不可撤销。",
    },
    "data.confirm_yes": {"en": "Yes, remove", "zh": "确认删除"},
    "data.cancel": {"en": "Cancel", "zh": "取消"},
    "data.removed": {"en": "Removed upload {id}: {rows:,} rows.", "zh": "已删除上传 {id}：共 {rows:,} 行。"},
    "data.rejects_of": {"en": "Rejected rows of upload", "zh": "查看被拒绝行的上传"},
    "data.next_step": {
        "en": "fix the file or the mapping and upload again",
        "zh": "请修正文件或列映射后重新上传",
    },
    "data.sheet": {"en": "Sheet of the workbook", "zh": "工作表"},
    "data.sheet_help": {
        "en": "Every sheet holding data is listed. Pick one, or all matching sheets: every sheet with the same "
        "columns as the first sheet that maps is imported in one upload, with counts per sheet.",
        "zh": "列出所有含数据的工作表。可选择一个，或选择「所有匹配的工作表」：与第一个可映射工作表列相同的"
        "所有工作表在一次上传中导入，并分别统计每个工作表。",
    },
    "data.sheet_pick": {"en": "pick a sheet", "zh": "请选择工作表"},
    "data.sheet_all": {"en": "all matching sheets", "zh": "所有匹配的工作表"},
    "data.sheets": {"en": "Sheets of the workbook", "zh": "工作簿中的工作表"},
    "data.col.sheet": {"en": "Sheet", "zh": "工作表"},
    "data.col.line_range": {"en": "Lines", "zh": "行号范围"},
    "data.col.sheet_read": {"en": "Imported", "zh": "是否导入"},
    "data.col.sheet_why": {"en": "Why not", "zh": "未导入原因"},
    "data.col.accepted": {"en": "Accepted", "zh": "接收"},
    "data.col.rejected": {"en": "Rejected", "zh": "拒绝"},
    "data.col.duplicates": {"en": "Duplicates", "zh": "重复"},
    "data.sheet_status.match": {"en": "yes", "zh": "是"},
    "data.sheet_status.empty": {"en": "no: the sheet is empty", "zh": "否：工作表为空"},
    "data.sheet_status.other_columns": {"en": "no: other columns", "zh": "否：列不同"},
    "data.sheet_lacks": {"en": "lacks {columns}", "zh": "缺少 {columns}"},
    "data.sheet_adds": {"en": "adds {columns}", "zh": "多出 {columns}"},
    "data.col.level": {"en": "Level", "zh": "级别"},
    "data.col.issue": {"en": "Issue", "zh": "问题"},
    "data.col.count": {"en": "Rows", "zh": "行数"},
    "data.col.lines": {"en": "Lines (examples)", "zh": "行号（示例）"},
    "data.col.line": {"en": "Line", "zh": "行号"},
    "data.col.reason": {"en": "Reason", "zh": "原因"},
    "data.col.raw": {"en": "Raw text", "zh": "原始内容"},
    "data.level.error": {"en": "error", "zh": "错误"},
    "data.level.warning": {"en": "warning", "zh": "警告"},
    "data.level.info": {"en": "info", "zh": "信息"},
    "data.order.dmy": {"en": "day/month/year", "zh": "日/月/年"},
    "data.order.mdy": {"en": "month/day/year", "zh": "月/日/年"},
    "data.unit.s": {"en": "seconds", "zh": "秒"},
    "data.unit.ms": {"en": "milliseconds", "zh": "毫秒"},
    "data.unit.us": {"en": "microseconds", "zh": "微秒"},
    "data.unit.ns": {"en": "nanoseconds", "zh": "纳秒"},
    "data.unit.min": {"en": "minutes", "zh": "分钟"},
    "data.today": {"en": "today", "zh": "今天"},
    "data.none": {"en": "none", "zh": "无"},
    # Issues of the data-quality report and the preview: one per code of analytics.ingest.quality.ISSUE_CODES.
    "ingest.issue.missing_value": {
        "en": "{n:,} row(s) rejected: a required value is empty ({column})",
        "zh": "{n:,} 行被拒绝：必填值为空（{column}）",
    },
    "ingest.issue.bad_time": {
        "en": "{n:,} row(s) rejected: a time cannot be read (e.g. {column} {example})",
        "zh": "{n:,} 行被拒绝：时间无法识别（例如 {column} {example}）",
    },
    "ingest.issue.implausible_time": {
        "en": "{n:,} row(s) rejected: a time outside the plausible range {start} .. {end} (e.g. {column} {example})",
        "zh": "{n:,} 行被拒绝：时间超出合理范围 {start} .. {end}（例如 {column} {example}）",
    },
    "ingest.issue.unknown_event_type": {
        "en": "{n:,} row(s) rejected: unknown event type ({values}); map them or fix the file",
        "zh": "{n:,} 行被拒绝：未知的行为类型（{values}）；请映射或修正文件",
    },
    "ingest.issue.unknown_kind": {
        "en": "{n:,} row(s) rejected: unknown item kind (e.g. {example}); use video, course, ebook, live or consult",
        "zh": "{n:,} 行被拒绝：未知的内容类型（例如 {example}）；可用 video、course、ebook、live、consult",
    },
    "ingest.issue.bad_number": {
        "en": "{n:,} row(s) rejected: a number cannot be read (e.g. {column} {example})",
        "zh": "{n:,} 行被拒绝：数字无法识别（例如 {column} {example}）",
    },
    "ingest.issue.non_finite": {
        "en": "{n:,} row(s) rejected: not a finite number (e.g. {column} {example})",
        "zh": "{n:,} 行被拒绝：不是有限数值（例如 {column} {example}）",
    },
    "ingest.issue.negative_duration": {
        "en": "{n:,} row(s) rejected: negative duration (e.g. {column} {example})",
        "zh": "{n:,} 行被拒绝：时长为负（例如 {column} {example}）",
    },
    "ingest.issue.unpaid_order": {
        "en": "{n:,} order(s) not stored: never paid (e.g. {column} {example})",
        "zh": "{n:,} 笔订单未导入：未支付（例如 {column} {example}）",
    },
    "ingest.issue.nul_byte": {
        "en": "{n:,} row(s) rejected: a NUL byte inside a cell ({column})",
        "zh": "{n:,} 行被拒绝：单元格中含有 NUL 字节（{column}）",
    },
    "ingest.issue.cell_too_long": {
        "en": "{n:,} row(s) rejected: a cell longer than {limit:,} bytes ({column})",
        "zh": "{n:,} 行被拒绝：单元格超过 {limit:,} 字节（{column}）",
    },
    "ingest.issue.line_too_long": {
        "en": "{n:,} row(s) rejected: a line longer than {limit:,} bytes",
        "zh": "{n:,} 行被拒绝：行长度超过 {limit:,} 字节",
    },
    "ingest.issue.ragged_row": {"en": "{n:,} row(s) rejected: wrong number of fields", "zh": "{n:,} 行被拒绝：字段数不对"},
    "ingest.issue.bad_encoding": {
        "en": "{n:,} row(s) rejected: invalid text for the encoding; choose the right encoding",
        "zh": "{n:,} 行被拒绝：文本与编码不符；请选择正确的编码",
    },
    "ingest.issue.bad_quotes": {"en": "{n:,} row(s) rejected: unbalanced quotes", "zh": "{n:,} 行被拒绝：引号不配对"},
    "ingest.issue.unreadable_row": {"en": "{n:,} row(s) rejected: unreadable ({error})", "zh": "{n:,} 行被拒绝：无法读取（{error}）"},
    "ingest.issue.formula_like": {
        "en": "{n:,} row(s) hold text starting with = + - @ tab or CR; stored as text, and exports neutralise it",
        "zh": "{n:,} 行含以 = + - @ 制表符或回车开头的文本；按文本存储，导出时会做防公式处理",
    },
    "ingest.issue.watch_far_above_video": {
        "en": "{n:,} view(s) watched more than {ratio:g} times the video length",
        "zh": "{n:,} 次观看的时长超过视频长度的 {ratio:g} 倍",
    },
    "ingest.issue.purchase_without_view": {
        "en": "{n:,} purchase(s) with no earlier view by the same user",
        "zh": "{n:,} 次购买之前该用户没有观看记录",
    },
    "ingest.issue.time_out_of_range": {
        "en": "{n:,} event time(s) outside the expected range {start} .. {end} ({timezone}); stored, please check",
        "zh": "{n:,} 个事件时间超出预期范围 {start} .. {end}（{timezone}）；已存储，请检查",
    },
    "ingest.issue.item_repeated": {
        "en": "{n:,} catalog row(s) repeat an item_id with other values; all are kept -- remove the outdated upload",
        "zh": "{n:,} 行目录数据的 item_id 重复且内容不同；均已保留，请删除过时的上传",
    },
    "ingest.issue.spend_repeated": {
        "en": "{n:,} spend row(s) repeat a day, channel and campaign; all are kept and add up -- remove the outdated upload if they are corrections",
        "zh": "{n:,} 行花费数据的日期、渠道和计划重复；均已保留并累加，如为更正请删除过时的上传",
    },
    "ingest.issue.duplicates_skipped": {
        "en": "{n:,} exact duplicate row(s) skipped (within the file or already stored)",
        "zh": "跳过 {n:,} 行完全重复的数据（文件内或已存储）",
    },
    "ingest.issue.date_order_assumed": {
        "en": "No value of {column} shows whether dates are day/month or month/day: read as {order}; check the first rows",
        "zh": "{column} 中没有能判断日/月还是月/日顺序的值：按 {order} 读取；请检查前几行",
    },
    "ingest.issue.date_order_conflict": {
        "en": "{column} has dates that are only day/month and others only month/day: read as {order}, the others are rejected",
        "zh": "{column} 中既有只能是日/月的日期，也有只能是月/日的日期：按 {order} 读取，其余的被拒绝",
    },
    "ingest.issue.already_uploaded": {
        "en": "This file was already uploaded as upload {upload_id}; nothing was added",
        "zh": "该文件已作为上传 {upload_id} 导入过；未新增数据",
    },
    "ingest.issue.units_converted": {"en": "Converted to seconds: {columns}", "zh": "已换算为秒：{columns}"},
    "ingest.issue.kept_in_props": {"en": "Kept as properties: {columns}", "zh": "保留为属性：{columns}"},
    "ingest.issue.personal_not_stored": {"en": "Personal columns not stored: {columns}", "zh": "未存储的个人信息列：{columns}"},
    "ingest.issue.also_looks_like": {
        "en": "{column} also looks like {target}; {used} was used and {column} kept in props",
        "zh": "{column} 看起来也像 {target}；已使用 {used}，{column} 保留为属性",
    },
    "ingest.issue.event_type_by_values": {
        "en": "No column is named as the event type; {column} holds event types, so it is read as one (map another column as event_type to change it)",
        "zh": "没有列名表明行为类型；{column} 列的值是行为类型，因此按行为类型读取（如需改用其他列，请将其映射为 event_type）",
    },
    "ingest.issue.columns_named_by_values": {
        "en": "The file has no header row; its columns were named by their values: {columns}",
        "zh": "文件没有表头行；已根据各列的值为其命名：{columns}",
    },
    "ingest.issue.title_lines_skipped": {
        "en": "{lines} line(s) above the header row were skipped (a title, or a row grouping the columns): {title}",
        "zh": "表头行上方的 {lines} 行已跳过（标题，或对列分组的行）：{title}",
    },
    "ingest.issue.user_id_or_visitor": {
        "en": "Rows without a user id take the visitor id in {column} as their user ({used} is the user id); {column} is also kept as a property",
        "zh": "没有用户ID的行以 {column} 中的访客ID作为用户（{used} 为用户ID）；{column} 也保留为属性",
    },
    "ingest.issue.course_id_as_item_id": {
        "en": "The catalog names no item id: {column}, a course id, is read as each row's item id",
        "zh": "目录中没有内容 ID 列：{column}（课程 ID）按每行的内容 ID 读取",
    },
    "ingest.issue.read_as_ms": {
        "en": "{column} has no unit in its name and a median of {median:,.0f}: read as milliseconds (map it as ...:s to keep seconds)",
        "zh": "{column} 列名未注明单位且中位数为 {median:,.0f}：按毫秒读取（如需按秒，请映射为 ...:s）",
    },
    "ingest.issue.read_as_ms_like": {
        "en": "{column} has no unit in its name: read as milliseconds like {like} (map it as ...:s to keep seconds)",
        "zh": "{column} 列名未注明单位：与 {like} 一样按毫秒读取（如需按秒，请映射为 ...:s）",
    },
    "ingest.issue.wide_form": {
        "en": "No event type column: each row is a view, plus one event per truthy flag ({flags})",
        "zh": "没有行为类型列：每行记为一次观看，每个为真的标记列再加一个事件（{flags}）",
    },
    "ingest.issue.rows_are_views": {
        "en": "No event type column: each row is read as a view (map a column as event type if the file has one)",
        "zh": "没有行为类型列：每行按一次观看读取（如文件中有行为类型列，请将其映射为行为类型）",
    },
    "ingest.issue.rows_are_purchases": {
        "en": "No event type column, but amounts: each row is read as a purchase (map a column as event type if the file has one)",
        "zh": "没有行为类型列，但有金额：每行按一次购买读取（如文件中有行为类型列，请将其映射为行为类型）",
    },
    "ingest.issue.order_status_read": {
        "en": "{column} is read as each order's status: a refunded order adds a refund of its amount, an unpaid one is not stored",
        "zh": "{column} 按订单状态读取：已退款的订单另记一笔等额退款，未支付的订单不导入",
    },
    "ingest.issue.rows_are_purchases_by_quantity": {
        "en": "No event type column, but order lines: each row is read as a purchase of its price times {quantity}, "
        "or as a refund where {quantity} is negative (map a column as event type if the file has one)",
        "zh": "没有行为类型列，但有订单明细：每行按一次购买读取，金额为单价乘以 {quantity}；{quantity} 为负数的行按退款读取"
        "（如文件中有行为类型列，请将其映射为行为类型）",
    },
    "ingest.issue.date_order_proven": {"en": "{column}: dates read as {order}", "zh": "{column}：日期按 {order} 读取"},
    "ingest.issue.epoch_unit": {"en": "{column}: numbers read as epoch {unit}", "zh": "{column}：数字按 Unix 时间戳（{unit}）读取"},
    "ingest.issue.not_checked_on_spark": {
        "en": "not checked on Spark: {checks} (they need the DuckDB store)",
        "zh": "在 Spark 上未检查：{checks}（需要 DuckDB 数据库）",
    },
    # Reasons of single rejected rows: one per code of analytics.ingest.quality.REASON_CODES.
    "ingest.reason.missing_value": {"en": "missing {column}", "zh": "缺少 {column}"},
    "ingest.reason.bad_time": {"en": "cannot read {column}", "zh": "无法识别 {column}"},
    "ingest.reason.implausible_time": {"en": "implausible {column}", "zh": "{column} 不合理"},
    "ingest.reason.unknown_event_type": {"en": "unknown event type", "zh": "未知的行为类型"},
    "ingest.reason.unknown_kind": {"en": "unknown item kind", "zh": "未知的内容类型"},
    "ingest.reason.bad_number": {"en": "cannot read {column} as a number", "zh": "{column} 不是数字"},
    "ingest.reason.non_finite": {"en": "{column} is not a finite number", "zh": "{column} 不是有限数值"},
    "ingest.reason.negative_duration": {"en": "negative {column}", "zh": "{column} 为负"},
    "ingest.reason.unpaid_order": {"en": "order not paid ({column})", "zh": "订单未支付（{column}）"},
    "ingest.reason.nul_byte": {"en": "NUL byte in {column}", "zh": "{column} 含 NUL 字节"},
    "ingest.reason.cell_too_long": {"en": "{column} too long", "zh": "{column} 过长"},
    "ingest.reason.line_too_long": {"en": "line too long", "zh": "行过长"},
    "ingest.reason.too_few_fields": {"en": "too few fields", "zh": "字段过少"},
    "ingest.reason.too_many_fields": {"en": "too many fields", "zh": "字段过多"},
    "ingest.reason.bad_encoding": {"en": "invalid text for the encoding", "zh": "文本与编码不符"},
    "ingest.reason.bad_quotes": {"en": "unbalanced quotes", "zh": "引号不配对"},
    "ingest.reason.unreadable_row": {"en": "unreadable row", "zh": "无法读取的行"},
    # Files that cannot be used at all (error codes of analytics.ingest); others show the library's message.
    "ingest.error.no_file": {"en": "There is no file {path}.", "zh": "没有文件 {path}。"},
    "ingest.error.empty_file": {"en": "The file is empty.", "zh": "文件为空。"},
    "ingest.error.no_rows": {"en": "The file has a header row but no data rows.", "zh": "文件只有表头，没有数据行。"},
    "ingest.error.binary_file": {
        "en": "The file looks like a binary file, not CSV, Excel or Parquet.",
        "zh": "该文件看起来是二进制文件，不是 CSV、Excel 或 Parquet。",
    },
    "ingest.error.xls_unsupported": {
        "en": "Old .xls workbooks are not read; save it as .xlsx or CSV and upload again.",
        "zh": "不支持旧版 .xls 工作簿；请另存为 .xlsx 或 CSV 后重新上传。",
    },
    "ingest.error.bad_encoding": {
        "en": "The text encoding cannot be read; choose the encoding under the reading options.",
        "zh": "无法识别文本编码；请在读取选项中选择编码。",
    },
    "ingest.error.no_header": {
        "en": "The file has no header row; give the column names in the reading options.",
        "zh": "文件没有表头行；请在读取选项中填写列名。",
    },
    "ingest.error.line_too_long": {
        "en": "The first line is longer than {limit:,} bytes (REELYTICS_MAX_LINE_BYTES); its columns cannot be read.",
        "zh": "第一行超过 {limit:,} 字节（REELYTICS_MAX_LINE_BYTES），无法识别列。",
    },
    "ingest.error.too_many_columns": {
        "en": "The file has {columns:,} columns; at most {limit:,} are read (REELYTICS_MAX_COLUMNS). Remove the columns you do not need.",
        "zh": "文件有 {columns:,} 列，最多读取 {limit:,} 列（REELYTICS_MAX_COLUMNS）。请删除不需要的列。",
    },
    "ingest.error.workbook_too_big": {
        "en": "The workbook unpacks to {unpacked_mib:,} MiB ({strings_mib:,} MiB of shared text); the limits are {limit_mib:,} MiB and {strings_limit_mib:,} MiB. Save it as CSV instead.",
        "zh": "该工作簿解压后为 {unpacked_mib:,} MiB（共享文本 {strings_mib:,} MiB），上限为 {limit_mib:,} MiB 和 {strings_limit_mib:,} MiB。请另存为 CSV。",
    },
    "ingest.error.bad_excel": {"en": "The file is not a readable .xlsx workbook.", "zh": "该文件不是可读取的 .xlsx 工作簿。"},
    "ingest.error.bad_parquet": {"en": "The file is not a readable Parquet file.", "zh": "该文件不是可读取的 Parquet 文件。"},
    "ingest.error.choose_sheet": {
        "en": "The workbook has {count} sheets with data; pick one.",
        "zh": "该工作簿有 {count} 个含数据的工作表；请选择一个。",
    },
    "ingest.error.all_sheets_need_header": {
        "en": "Importing every matching sheet needs a header row in each sheet; pick one sheet instead.",
        "zh": "导入所有匹配的工作表需要每个工作表都有表头行；请改为选择一个工作表。",
    },
    "ingest.error.no_sheet": {"en": "The workbook has no sheet {sheet} with data.", "zh": "该工作簿没有含数据的工作表 {sheet}。"},
    "ingest.error.conversion_too_slow": {
        "en": "Converting the file took longer than {limit_seconds:,} s (REELYTICS_MAX_CONVERT_SECONDS); save it as a UTF-8 CSV and upload that.",
        "zh": "文件转换超过 {limit_seconds:,} 秒（REELYTICS_MAX_CONVERT_SECONDS）；请另存为 UTF-8 CSV 后上传。",
    },
    "ingest.error.symlink_outside": {
        "en": "{path} is a symbolic link to a file outside the data folder; copy the file instead.",
        "zh": "{path} 是指向数据文件夹之外文件的符号链接；请改为复制该文件。",
    },
    "ingest.error.file_not_allowed": {
        "en": "The database may only read files inside the data folder.",
        "zh": "数据库只能读取数据文件夹内的文件。",
    },
    "ingest.error.out_of_memory": {
        "en": "The file needs more memory than an upload may use ({limit}); split it or remove columns.",
        "zh": "该文件所需内存超过上传可用内存（{limit}）；请拆分文件或删除列。",
    },
    "ingest.error.unreadable_file": {"en": "The file cannot be read as a table.", "zh": "无法将该文件读取为表格。"},
    "ingest.error.missing_columns": {
        "en": "Required column(s) missing: {missing}. Map them in the mapping table; if everything sits in one column, the file may use another delimiter.",
        "zh": "缺少必需列：{missing}。请在映射表中映射；如果所有内容都在一列中，文件可能使用了其他分隔符。",
    },
}
