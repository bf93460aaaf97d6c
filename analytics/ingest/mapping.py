"""Header auto-mapping, event-type aliases and units.

A source column is mapped to a canonical column by its *normalised* header: lower case, spaces,
dots and hyphens turned into ``_``, and a unit suffix (``_ms``, ``(ms)``, ``(秒)``, ``毫秒`` ...)
split off. The result is looked up in the alias lists below (English and Chinese). Scores:

* 1.0 -- the header is the canonical name itself (``user_id``);
* 0.9 -- a known alias (``视频ID`` -> ``item_id``); ``time_ms`` style epoch names score 0.95 for
  ``event_time`` so they win over a text ``timestamp`` column (0.85);
* 0.8 -- a 0/1 flag column in the "wide" form (``is_follow`` -> one extra ``follow`` event);
* 0.7 -- an event's ``price`` as its ``revenue`` (counted on purchases only), so a paid amount wins.

Events may also name a ``quantity`` (``Quantity``, ``qty``, ``数量``): it is not stored, but multiplies
the row's revenue (a unit price times the units bought), and a negative quantity makes an order line
without an event type a refund. An ``order_status`` (``订单状态``, ``payment_status``) of such a line
is not stored either: a refunded order adds a refund of its amount, an unpaid one is rejected.

When two columns claim the same target, the higher score wins and the other is kept in ``props``.
Personal columns (phone, nickname, e-mail ...) are dropped unless mapped on purpose.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Literal

from analytics.errors import BadInput
from analytics.ingest.quality import Issue
from analytics.store.schema import EVENT_TYPES, ITEM_KINDS, REQUIRED, TABLE_COLUMNS

Unit = Literal["s", "ms", "min"]

#: Canonical columns that hold durations (a unit converts them to seconds).
DURATION_COLUMNS = frozenset({"watch_seconds", "video_seconds", "duration_seconds"})
#: Canonical columns parsed as points in time.
TIME_COLUMNS = frozenset({"event_time", "published_at"})

#: An event's price: its revenue when it is a purchase (e-commerce logs such as REES46 carry the price
#: on every event), scored below the amount aliases so that a paid amount wins when a file has both.
PRICE_ALIASES = ("price", "unit_price", "价格", "售价", "单价")

#: A web page as an event's item (an analytics export that names no product or video): scored below
#: every item id alias, so that a file naming both keeps its item id.
PAGE_ALIASES = ("url", "page_url", "page_location", "page_path", "current_url", "pathname")

#: Containers an analytics export writes before a property's name (``properties.revenue``,
#: ``items.item_id``, PostHog's ``$current_url``): a header is looked up again without them.
_CONTAINER_PREFIX = re.compile(r"^(?:(?:properties|property|props|event_properties|user_properties|event_params|params|context|traits|ecommerce|items|traffic_source)_+|\$+)")

#: Events: the id of an anonymous visitor (a web or app analytics export's ``anonymous_id``,
#: ``distinct_id``, ``user_pseudo_id`` ...) in a file that also names a user id: each row's user is its
#: user id, or this id where the user id is empty; it is also kept in ``props``.
ANONYMOUS_ID = "anonymous_id"
#: Headers that name an anonymous visitor (GA4, Mixpanel and PostHog, Segment, devices): the user of
#: a file without a user id, else :data:`ANONYMOUS_ID`.
VISITOR_ALIASES = ("user_pseudo_id", "distinct_id", "anonymous_id", "device_id", "client_id", "cookie_id", "设备id")
#: Events: the units a row bought. Not stored: it multiplies the row's revenue (see the module docstring).
QUANTITY = "quantity"
#: Events: an order line's status. Not stored: it says whether the order was paid, and refunded.
ORDER_STATUS = "order_status"
#: Events: the targets a column may have besides the table's columns, read to make them.
EXTRA_TARGETS = (ANONYMOUS_ID, QUANTITY, ORDER_STATUS)
#: Order statuses (lower-cased, trimmed) that are not a purchase: a full refund (the order is stored as
#: its purchase and a refund of its amount) or an order never paid (rejected, ``unpaid_order``). Any
#: other status (paid, completed, shipped, 已支付, 已完成 ...) is a purchase.
ORDER_STATUS_ALIASES: dict[str, str] = {
    **dict.fromkeys([
        "refunded", "refund", "returned", "fully_refunded", "已退款", "退款成功", "全额退款", "已退货", "退货成功",
    ], "refund"),
    **dict.fromkeys([
        "unpaid", "pending", "pending_payment", "awaiting_payment", "cancelled", "canceled", "closed", "voided",
        "failed", "expired", "待支付", "待付款", "未支付", "未付款", "已关闭", "已取消", "交易关闭", "订单关闭",
        "超时关闭", "支付失败", "已失效",
    ], "unpaid"),
}

_COMMON_TEXT = {
    "channel": [
        "channel", "platform", "source", "traffic_source", "渠道", "平台", "来源", "流量来源", "媒体", "投放平台", "投放渠道",
        "媒体渠道",
    ],
    "campaign": [
        "campaign", "campaign_id", "campaign_name", "ad_campaign", "plan", "投放计划", "计划", "推广计划", "活动",
        "计划名称", "广告计划", "计划id", "推广计划名称", "广告计划名称", "广告系列", "广告系列名称",
    ],
}

ALIASES: dict[str, dict[str, list[str]]] = {
    "events": {
        "event_time": [
            "time", "timestamp", "ts", "datetime", "date_time", "event_timestamp", "created_at", "occurred_at",
            "ctime", "action_time", "behavior_time", "behaviour_time", "log_time", "server_time", "client_time",
            "order_time", "order_date", "invoice_date", "invoice_time", "purchase_time", "purchase_date",
            "transaction_time", "transaction_date", "pay_time", "paid_at",
            "时间", "事件时间", "行为时间", "发生时间", "时间戳", "日期时间", "操作时间", "上报时间",
            "下单时间", "订单时间", "支付时间", "付款时间", "成交时间",
        ],
        "user_id": [
            "userid", "user", "uid", "visitor_id", "viewer_id", "customer_id", "member_id", "buyer_id", "openid",
            "unionid", "mid",  # Bilibili's user id
            *VISITOR_ALIASES,
            "用户id", "用户", "用户编号", "观众id", "买家id", "会员id",
        ],
        "event_type": [
            "event", "event_name", "event_action", "behavior_type", "behaviour_type", "behavior", "behaviour",
            "action", "action_type", "action_name", "interaction", "interaction_type",
            "行为类型", "行为", "事件类型", "事件", "事件名称", "动作", "操作", "互动类型",
        ],
        "item_id": [
            "itemid", "item", "video_id", "videoid", "product_id", "content_id", "sku_id", "goods_id", "photo_id",
            "aweme_id", "bvid", "note_id", "movie_id", "stock_code", "sku", "product_code",
            "视频id", "作品id", "内容id", "商品id", "视频", "作品", "商品编码", "货号",
            *PAGE_ALIASES,
        ],
        "course_id": ["course", "courseid", "课程id", "课程", "关联课程"],
        "watch_seconds": [
            "watch_time", "play_time", "play_duration", "watch_duration", "view_duration", "watched",
            "观看时长", "播放时长", "观看秒数", "观看时间",
        ],
        "video_seconds": ["video_duration", "duration", "video_length", "length", "视频时长", "时长", "视频长度", "作品时长"],
        **_COMMON_TEXT,
        "variant": [
            "group", "ab_group", "experiment_group", "test_group", "treatment_group", "variation", "bucket", "arm", "实验组", "分组", "版本", "实验分组",
        ],
        "revenue": [
            "amount", "pay_amount", "order_amount", "paid_amount", "payment_amount", "total_amount", "gmv", "income",
            "金额", "支付金额", "实付金额", "收入", "订单金额", "成交金额", "应付金额", "订单应付金额", "实收金额",
            "实付款", "付款金额", "实际支付金额", "订单实付金额", "purchase_revenue",
            *PRICE_ALIASES,
        ],
        "lesson": ["lesson_index", "lesson_no", "lesson_number", "chapter", "课时", "第几课", "课时序号", "章节"],
        QUANTITY: [QUANTITY, "qty", "units", "数量", "购买数量", "商品数量", "件数"],
        ORDER_STATUS: [
            ORDER_STATUS, "payment_status", "financial_status", "订单状态", "交易状态", "支付状态", "付款状态",
        ],
    },
    "items": {
        "item_id": ["id", "itemid", "item", "video_id", "product_id", "content_id", "视频id", "作品id", "商品id", "内容id"],
        "kind": ["type", "item_type", "content_type", "类型", "内容类型"],
        "title": [
            "name", "video_title", "caption", "course_name", "course_title",
            "标题", "名称", "视频标题", "作品标题", "作品名称", "视频名称", "课程名称", "笔记标题",
        ],
        "creator": ["author", "author_id", "uploader", "teacher", "instructor", "作者", "创作者", "博主", "达人", "讲师", "老师"],
        "category": ["category_id", "category_name", "分类", "品类", "类目"],
        "tags": ["tag", "labels", "keywords", "标签", "关键词"],
        "duration_seconds": ["duration", "video_duration", "length", "时长", "视频时长", "作品时长"],
        "price": ["售价", "价格", "定价"],
        "lessons": ["lesson_count", "num_lessons", "课时数"],
        "course_id": ["promoted_course", "课程id", "关联课程"],
        "published_at": [
            "publish_time", "published", "upload_dt", "upload_time", "upload_date", "created_at", "release_time",
            "发布时间", "上传时间", "发布日期", "上架时间", "上线时间",
        ],
    },
    "spend": {
        "date": ["day", "stat_date", "reporting_starts", "日期", "时间"],  # Meta's ads report: Reporting starts
        **_COMMON_TEXT,
        "spend": ["cost", "amount", "amount_spent", "total_cost", "花费", "消耗", "投放金额", "费用", "消费", "总消耗", "总花费"],
    },
}

#: Header aliases of 0/1 flag columns (wide form) and the event each truthy flag adds.
FLAG_ALIASES: dict[str, list[str]] = {
    "like": ["is_like", "like", "liked", "点赞", "是否点赞"],
    "follow": ["is_follow", "follow", "followed", "关注", "是否关注"],
    "comment": ["is_comment", "comment", "commented", "评论", "是否评论"],
    "share": ["is_forward", "is_share", "share", "shared", "forward", "分享", "转发", "是否分享", "是否转发"],
    "favorite": ["is_favorite", "is_collect", "favorite", "collect", "收藏", "是否收藏"],
}

#: Personal columns: never stored unless mapped on purpose.
PERSONAL = frozenset(
    """phone mobile tel telephone phone_number cellphone nickname nick nick_name user_name username real_name
    email e_mail wechat weixin address id_card idcard qq 手机 手机号 手机号码 电话 联系电话 昵称 用户名 用户昵称
    姓名 真实姓名 邮箱 微信 微信号 地址 收货地址 身份证 身份证号""".split()
)

#: Event-type values (lower-cased, trimmed) -> canonical type (SPEC "Data model").
EVENT_ALIASES: dict[str, str] = {
    **{e: e for e in EVENT_TYPES},
    **dict.fromkeys(["impressions", "exposure", "show", "expose", "imp", "曝光", "展现", "展示"], "impression"),
    **dict.fromkeys([
        "views", "play", "plays", "pv", "watch", "video_play", "play_video", "video_view", "view_video", "watch_video",
        "video_start", "video played", "video_played", "video playback started", "播放", "观看", "浏览", "查看", "视频播放",
        # web and app analytics exports (GA4, Segment, Mixpanel, PostHog): a page or product seen
        "page_view", "pageview", "$pageview", "page viewed", "screen_view", "$screen", "view_item", "item_view",
        "product_view", "product viewed", "viewed product",
    ], "view"),
    **dict.fromkeys(["likes", "thumbs_up", "upvote", "digg", "点赞", "赞"], "like"),
    **dict.fromkeys(["comments", "reply", "danmaku", "评论", "回复", "弹幕"], "comment"),
    **dict.fromkeys(["shares", "forward", "repost", "分享", "转发"], "share"),
    **dict.fromkeys(["subscribe", "关注"], "follow"),
    **dict.fromkeys([
        "favourite", "fav", "collect", "bookmark", "收藏", "add_to_wishlist", "product added to wishlist", "wishlist",
    ], "favorite"),
    **dict.fromkeys(["clicks", "点击", "select_item", "select_content", "product clicked"], "click"),
    **dict.fromkeys([
        "cart", "addtocart", "add-to-cart", "add to cart", "加购", "加入购物车", "product added", "added to cart",
        "add_to_basket", "add to basket",
    ], "add_to_cart"),
    **dict.fromkeys([
        "buy", "order", "pay", "paid", "transaction", "购买", "下单", "支付", "order completed", "order_completed",
        "completed order", "checkout completed", "purchase_completed", "ecommerce_purchase",
    ], "purchase"),
    **dict.fromkeys(["退款", "order refunded", "refunded"], "refund"),
    **dict.fromkeys(["start_lesson", "开始学习"], "lesson_start"),
    **dict.fromkeys(["complete_lesson", "lesson_completed", "完成课时"], "lesson_complete"),
}

#: Item-kind values -> canonical kind.
KIND_ALIASES: dict[str, str] = {
    **{k: k for k in ITEM_KINDS},
    **dict.fromkeys(["视频", "短视频", "videos"], "video"),
    **dict.fromkeys(["课程", "courses", "class"], "course"),
    **dict.fromkeys(["电子书", "e-book", "book", "书"], "ebook"),
    **dict.fromkeys(["直播", "livestream", "live_stream"], "live"),
    **dict.fromkeys(["咨询", "consultation", "consulting"], "consult"),
}

#: The platforms' channel codes (the dashboard words them in both languages), and the names exports
#: write for them (lower-cased, trimmed). Any other channel value is kept as written.
CHANNELS: tuple[str, ...] = ("douyin", "kuaishou", "bilibili", "wechat_channels", "xiaohongshu", "wechat", "weibo", "organic")
CHANNEL_ALIASES: dict[str, str] = {
    **dict.fromkeys(["抖音", "抖音app", "抖音短视频"], "douyin"),
    **dict.fromkeys(["快手", "快手app"], "kuaishou"),
    **dict.fromkeys(["哔哩哔哩", "b站", "bili", "bilibili视频"], "bilibili"),
    **dict.fromkeys(["微信视频号", "视频号", "wechat channels", "wechat_video"], "wechat_channels"),
    **dict.fromkeys(["小红书", "xhs", "rednote"], "xiaohongshu"),
    **dict.fromkeys(["微信", "weixin"], "wechat"),
    **dict.fromkeys(["微博", "新浪微博"], "weibo"),
    **dict.fromkeys(["自然流量", "自然", "natural"], "organic"),
    **{c: c for c in CHANNELS},
}

_UNIT_SUFFIXES: list[tuple[re.Pattern[str], Unit]] = [
    (re.compile(r"(?:_|\s)*[\(（]\s*(?:ms|毫秒)\s*[\)）]$"), "ms"),
    (re.compile(r"(?:_|\s)*[\(（]\s*(?:s|sec|秒)\s*[\)）]$"), "s"),
    (re.compile(r"(?:_|\s)*[\(（]\s*(?:min|分钟)\s*[\)）]$"), "min"),
    (re.compile(r"_ms$"), "ms"),
    (re.compile(r"毫秒$"), "ms"),
    (re.compile(r"_(?:seconds|secs|sec)$"), "s"),
    (re.compile(r"秒数?$"), "s"),
    (re.compile(r"_(?:minutes|mins|min)$"), "min"),
]


#: A currency written after an amount's header (``消耗(元)``, ``spend (USD)``): not part of its name.
_CURRENCY_SUFFIX = re.compile(r"(?:_|\s)*[\(（]\s*(?:元|¥|￥|rmb|cny|usd|\$|yuan|人民币)\s*[\)）]$")


def normalise_header(name: str) -> str:
    """Lower case, BOM and outer space removed, runs of space/./- turned into ``_``."""
    text = name.replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s.\-/]+", "_", text)


def split_unit(normalised: str) -> tuple[str, Unit | None]:
    """``play_time_ms`` -> (``play_time``, ``ms``); ``观看时长(秒)`` -> (``观看时长``, ``s``)."""
    for pattern, unit in _UNIT_SUFFIXES:
        stripped = pattern.sub("", normalised)
        if stripped != normalised and stripped:
            return stripped, unit
    return normalised, None


@dataclass(frozen=True)
class ColumnMap:
    """Where one source column goes: a canonical column, an event ``flag``, ``props`` or ``ignore``."""

    source: str
    target: str  # canonical column | "flag" | "props" | "ignore"
    unit: Unit | None = None
    event: str | None = None  # for target == "flag": the event each truthy value adds
    confidence: float = 0.0
    manual: bool = False

    @property
    def label(self) -> str:
        if self.target == "flag":
            return f"flag:{self.event}"
        return f"{self.target}:{self.unit}" if self.unit and self.unit != "s" else self.target


@dataclass(frozen=True)
class Plan:
    """The mapping of every source column for one upload."""

    kind: str
    columns: tuple[ColumnMap, ...]
    wide: bool = False  # no event_type column: every row is one event (:attr:`row_event`), plus its flags
    notes: tuple[Issue, ...] = field(default_factory=tuple)  # info issues about the mapping

    @property
    def row_event(self) -> str | None:
        """The event each row of a file without an event type column is: an order line (an amount, a
        price, a quantity or an order status, and no flag or watch time) is a ``purchase`` (a
        ``refund`` where its quantity is negative); any other row (KuaiRand's flags and watch time,
        MovieLens' ratings) a ``view``. ``None`` when the file has an event type column."""
        if not self.wide:
            return None
        targets = {c.target for c in self.columns}
        order_line = (bool(targets & {"revenue", QUANTITY, ORDER_STATUS}) and not self.flags
                      and "watch_seconds" not in targets)
        return "purchase" if order_line else "view"

    def source_for(self, target: str) -> ColumnMap | None:
        for c in self.columns:
            if c.target == target:
                return c
        return None

    @property
    def flags(self) -> tuple[ColumnMap, ...]:
        return tuple(c for c in self.columns if c.target == "flag")

    @property
    def props(self) -> tuple[ColumnMap, ...]:
        return tuple(c for c in self.columns if c.target == "props")

    @property
    def kept_in_props(self) -> tuple[ColumnMap, ...]:
        """The columns whose values go into ``props``: those mapped there, and an anonymous visitor's id."""
        return tuple(c for c in self.columns if c.target in ("props", ANONYMOUS_ID))

    @property
    def ignored(self) -> tuple[ColumnMap, ...]:
        return tuple(c for c in self.columns if c.target == "ignore")

    def as_dict(self) -> dict[str, str]:
        """``{source column: target label}`` (the form ``--map`` accepts)."""
        return {c.source: c.label for c in self.columns}


def _compact(normalised: str) -> str:
    """A normalised header without its underscores: ``visitorid`` and ``visitor_id``, ``userId`` and
    ``user_id`` are one name."""
    return normalised.replace("_", "")


#: :data:`VISITOR_ALIASES` without their underscores (``anonymousId``, ``deviceId``).
_VISITOR_FORMS = frozenset(_compact(a) for a in VISITOR_ALIASES)


@functools.cache
def _alias_index(kind: str) -> dict[str, tuple[str, float]]:
    """Normalised header -> (target, score): the canonical names, their aliases, and the compact form
    (:func:`_compact`) of each, unless two targets share a compact form. Built once per kind (every
    header of every upload, and every column of an A/B table, is looked up in it); read only."""
    index: dict[str, tuple[str, float]] = {}
    for target, aliases in ALIASES[kind].items():
        for alias in aliases:
            index.setdefault(normalise_header(alias), (target, 0.9))
    for target in TABLE_COLUMNS[kind]:
        index[target] = (target, 1.0)
    compact: dict[str, set[str]] = {}
    for name, (target, _score) in index.items():
        compact.setdefault(_compact(name), set()).add(target)
    for name, targets in compact.items():
        if len(targets) == 1 and name not in index:
            index[name] = (next(iter(targets)), 0.9)
    return index


_FLAG_INDEX = {
    form: ev for ev, aliases in FLAG_ALIASES.items() for a in aliases
    for form in (normalise_header(a), _compact(normalise_header(a)))
}
_PERSONAL_FORMS = PERSONAL | {_compact(p) for p in PERSONAL}


def _uncontained(norm: str) -> list[tuple[str, Unit | None]]:
    """``norm`` without the containers an analytics export writes before a property's name, each
    prefix in turn (``properties_$current_url`` -> ``$current_url`` -> ``current_url``), with its unit."""
    out: list[tuple[str, Unit | None]] = []
    while (stripped := _CONTAINER_PREFIX.sub("", norm, count=1)) != norm and stripped:
        norm = stripped
        out += [(norm, None), split_unit(norm)]
    return out


def _names_a_visitor(name: str) -> bool:
    """Whether the header ``name`` names an anonymous visitor (:data:`VISITOR_ALIASES`)."""
    norm = normalise_header(name)
    return any(_compact(f) in _VISITOR_FORMS for f in (norm, *(f for f, _unit in _uncontained(norm))))


def guess_column(name: str, kind: str) -> ColumnMap:
    """The automatic mapping of one header (see the module docstring for the scores)."""
    norm = normalise_header(name)
    base, unit = split_unit(norm)
    index = _alias_index(kind)
    for candidate, cand_unit in ((norm, None), (base, unit), (_CURRENCY_SUFFIX.sub("", norm), None), *_uncontained(norm)):
        hit = index.get(candidate) or index.get(_compact(candidate))
        if hit is None:
            continue
        target, score = hit
        if target == "event_time":
            if cand_unit in ("ms", "s"):
                score = 0.95
            elif candidate in ("timestamp", "ts", "时间戳"):
                score = 0.85
        elif target == "revenue" and candidate in PRICE_ALIASES:
            score = 0.7
        elif target == "item_id" and candidate in PAGE_ALIASES:
            score = 0.6
        elif target == "user_id" and _compact(candidate) in _VISITOR_FORMS:
            score = 0.85  # a user id, when the file names one too, wins
        if target in DURATION_COLUMNS:
            return ColumnMap(name, target, cand_unit or "s", confidence=score)
        return ColumnMap(name, target, None, confidence=score)
    forms = (norm, base, _compact(norm), _compact(base))
    flag = next((_FLAG_INDEX[f] for f in forms if f in _FLAG_INDEX), None)
    if kind == "events" and flag is not None:
        return ColumnMap(name, "flag", event=flag, confidence=0.8)
    if any(f in _PERSONAL_FORMS for f in forms):
        return ColumnMap(name, "ignore", confidence=0.9)
    return ColumnMap(name, "props", confidence=0.0)


def parse_target(text: str, kind: str) -> tuple[str, Unit | None, str | None]:
    """Parse a manual target: ``watch_seconds``, ``watch_seconds:ms``, ``like`` (a flag), ``props``, ``ignore``."""
    raw = text.strip()
    target, _, unit = raw.partition(":")
    target = target.strip()
    unit = unit.strip().lower() or None
    if unit not in (None, "s", "ms", "min"):
        raise BadInput(f"unknown unit {unit!r} in --map target {raw!r}; use :s, :ms or :min", code="bad_map", value=raw)
    if target in ("props", "ignore", "-"):
        return ("ignore" if target == "-" else target), None, None
    if target in TABLE_COLUMNS[kind] or (kind == "events" and target in EXTRA_TARGETS):
        if unit and target not in DURATION_COLUMNS:
            raise BadInput(f"{target} takes no unit (only durations do)", code="bad_map", value=raw)
        return target, (unit or ("s" if target in DURATION_COLUMNS else None)), None
    if kind == "events" and (target in EVENT_TYPES or target.startswith("flag:")):
        event = target.removeprefix("flag:")
        if event not in EVENT_TYPES:
            raise BadInput(f"unknown event type {event!r} in --map {raw!r}", code="bad_map", value=raw)
        return "flag", None, event
    allowed = ", ".join([*TABLE_COLUMNS[kind], *(EXTRA_TARGETS if kind == "events" else [])])
    extra = "; or an event type (a 0/1 flag column)" if kind == "events" else ""
    raise BadInput(
        f"unknown target column {target!r} for {kind}; use one of {allowed}, props, ignore{extra}",
        code="bad_map",
        value=raw,
    )


def parse_map_args(items: list[str] | None) -> dict[str, str]:
    """``["视频ID=item_id", "dur=video_seconds:ms"]`` -> ``{source: target}`` (CLI ``--map``)."""
    out: dict[str, str] = {}
    for item in items or []:
        src, sep, dst = item.rpartition("=")
        if not sep or not src.strip() or not dst.strip():
            raise BadInput(f"--map expects SRC=DST, got {item!r}", code="bad_map", value=item)
        out[src.strip()] = dst.strip()
    return out


#: An events file whose headers name no event type: the column whose sampled values are event types
#: (this share of its non-empty values at least, of two types or more) is taken as the event type.
EVENT_VALUES_SHARE = 0.5


def _event_types_in(values: list[str]) -> tuple[float, int]:
    """The share of ``values`` (non-empty text) that are event types, and how many types they are."""
    types = [EVENT_ALIASES[v] for v in (str(x).strip().lower() for x in values) if v in EVENT_ALIASES]
    return (len(types) / len(values) if values else 0.0), len(set(types))


def _event_column_by_values(headers: list[str], guesses: dict[str, ColumnMap], sample) -> str | None:
    """The header of the column left to ``props`` whose sampled values are most often event types
    (:data:`EVENT_VALUES_SHARE`, two distinct types or more); ``None`` when no column is."""
    best, best_share = None, 0.0
    for i, h in enumerate(headers):
        if guesses[h].target != "props":
            continue
        share, kinds = _event_types_in([row[i] for row in sample if i < len(row) and row[i] not in (None, "")])
        if share >= EVENT_VALUES_SHARE and kinds >= 2 and share > best_share:
            best, best_share = h, share
    return best


#: A column of a file without a header row is named by its values when this share of its sampled
#: non-empty values reads as one kind (event types, times, identifiers).
HEADLESS_SHARE = 0.9
_ID_VALUE = re.compile(r"[A-Za-z0-9_\-:]{1,64}")
_TIME_TEXT = re.compile(r"\d{4}[-/年]\d{1,2}[-/月]\d{1,2}")


#: Epochs a log's times are read as when a file has no header: seconds or milliseconds of 1995 .. 2100.
_EPOCH_SPANS = ((7.8e8, 4.2e9), (7.8e11, 4.2e12))


def _time_spread(values: list[str]) -> float | None:
    """How a column reads as the times of a log: 0 for dates written as text, else the spread of its
    epochs relative to their size (a log spans days or months: a small fraction; identifiers spread
    over their whole range); ``None`` when the values are neither."""
    if sum(_TIME_TEXT.match(v) is not None for v in values) >= HEADLESS_SHARE * len(values):
        return 0.0
    numbers = [float(v) for v in values if v.isdigit()]
    if len(numbers) < HEADLESS_SHARE * len(values):
        return None
    low, high = min(numbers), max(numbers)
    if not any(a <= low and high < b for a, b in _EPOCH_SPANS):
        return None
    return (high - low) / low


def name_headless_columns(rows: list[list[str]]) -> list[str] | None:
    """Names for the columns of an events file without a header row, from the values of its first
    ``rows``: the column of event types (most of its values are, :data:`EVENT_VALUES_SHARE`), the
    column of times (dates as text, or epochs of one narrow span: :func:`_time_spread`), and, of the
    columns of identifiers, the first as ``user_id`` and the second as ``item_id`` (UserBehavior's
    ``user, item, category, behaviour, time``; YooChoose's ``session, time, item, category``;
    MovieLens' ``user, item, rating, time``). The others are ``column_N``. ``None`` when no time and
    two identifier columns are found."""
    width = max((len(r) for r in rows), default=0)
    columns = [[r[i].strip() for r in rows if i < len(r) and r[i] and r[i].strip()] for i in range(width)]
    names: list[str | None] = [None] * width
    events = [(_event_types_in(vs)[0], i) for i, vs in enumerate(columns) if vs]
    share, at = max(events, default=(0.0, -1))
    if share >= EVENT_VALUES_SHARE:
        names[at] = "event_type"
    spreads = [(spread, i) for i, vs in enumerate(columns)
               if vs and names[i] is None and (spread := _time_spread(vs)) is not None and spread < 0.1]
    if spreads:
        names[min(spreads)[1]] = "event_time"
    ids = iter(("user_id", "item_id"))
    for i, vs in enumerate(columns):
        if names[i] is None and vs and sum(bool(_ID_VALUE.fullmatch(v)) for v in vs) >= HEADLESS_SHARE * len(vs):
            names[i] = next(ids, None)
    if not {"event_time", "user_id", "item_id"} <= set(names):
        return None
    return [n or f"column_{i + 1}" for i, n in enumerate(names)]


def _kind_the_headers_fit(headers: list[str], kind: str) -> str | None:
    """Another kind whose required columns the headers all name (a catalog or a spend file loaded as
    events), or ``None``. A file naming a user or an event type is a log: never offered as a catalog
    or spend."""
    has_user = any(guess_column(h, "events").target in ("user_id", "event_type") for h in headers)
    for other in ALIASES:
        targets = {guess_column(h, other).target for h in headers}
        if other != kind and all(c in targets for c in REQUIRED[other]) and (other == "events" or not has_user):
            return other
    return None


def plan_mapping(
    headers: list[str], kind: str, manual: dict[str, str] | None = None, *, reveal: bool = True, sample=()
) -> Plan:
    """Map every header for ``kind``; ``manual`` ({source: target}) overrides the automatic guess.
    ``sample`` (the first rows, as text) lets an events file without an event-type header find that
    column by its values (:func:`_event_column_by_values`, noted as ``event_type_by_values``).

    Raises :class:`BadInput` when a manual source is not in the file or a required column is missing;
    the message lists the file's columns only when ``reveal`` (a file inside the data folder).
    """
    manual = dict(manual or {})
    lookup = {h: h for h in headers}
    lookup.update({normalise_header(h): h for h in headers if normalise_header(h) not in lookup})
    resolved: dict[str, ColumnMap] = {}
    for src, dst in manual.items():
        header = lookup.get(src) or lookup.get(normalise_header(src))
        if header is None:
            raise BadInput(
                f"--map names the column {src!r}, which is not in the file"
                + (f"; columns: {', '.join(headers)}" if reveal else f" ({len(headers)} columns)"),
                code="bad_map",
                column=src,
            )
        target, unit, event = parse_target(dst, kind)
        if target in DURATION_COLUMNS and unit == "s" and ":" not in dst:
            unit = split_unit(normalise_header(header))[1] or "s"
        resolved[header] = ColumnMap(header, target, unit, event, confidence=1.0, manual=True)

    guesses = {h: resolved.get(h) or guess_column(h, kind) for h in headers}
    notes: list[Issue] = []
    if kind == "events" and all(g.target != "event_type" for g in guesses.values()):
        found = _event_column_by_values(headers, guesses, sample)
        if found is not None:
            guesses[found] = ColumnMap(found, "event_type", confidence=0.6)
            notes.append(Issue("event_type_by_values", "info", params={"column": found}))
    # One source per canonical target: manual first, then the best score, then the leftmost.
    best: dict[str, str] = {}
    for h in headers:
        g = guesses[h]
        if g.target in ("flag", "props", "ignore"):
            continue
        cur = best.get(g.target)
        if cur is None:
            best[g.target] = h
            continue
        c = guesses[cur]
        if (g.manual, g.confidence) > (c.manual, c.confidence):
            best[g.target] = h
    final: list[ColumnMap] = []
    for h in headers:
        g = guesses[h]
        if g.target not in ("flag", "props", "ignore") and best[g.target] != h:
            if g.manual:
                raise BadInput(
                    f"two columns are mapped to {g.target}: {best[g.target]!r} and {h!r}", code="bad_map", column=h
                )
            if g.target == "user_id" and _names_a_visitor(h) and ANONYMOUS_ID not in best:
                # an analytics export's visitor id, beside its user id: the user of the rows without one
                best[ANONYMOUS_ID] = h
                notes.append(Issue("user_id_or_visitor", "info", params={"column": h, "used": best["user_id"]}))
                g = ColumnMap(h, ANONYMOUS_ID, confidence=g.confidence)
            else:
                notes.append(Issue("also_looks_like", "info", params={"column": h, "target": g.target, "used": best[g.target]}))
                g = ColumnMap(h, "props")
        final.append(g)

    if kind == "events" and ORDER_STATUS in {c.target for c in final} and (
        any(c.target in ("event_type", "flag", "watch_seconds") for c in final)
    ):  # an order status is read on order lines only; elsewhere it is one more property
        if any(c.target == ORDER_STATUS and c.manual for c in final):
            raise BadInput(
                f"{ORDER_STATUS} is read on order lines only: a file without an event type, flags or a watch time",
                code="bad_map",
            )
        final = [ColumnMap(c.source, "props") if c.target == ORDER_STATUS else c for c in final]
    mapped = {c.target for c in final}
    if kind == "items" and "item_id" not in mapped and "course_id" in mapped:
        # a course catalog names its id as a course id (课程ID): that is the item id of each row
        final = [ColumnMap(c.source, "item_id", confidence=c.confidence, manual=c.manual) if c.target == "course_id" else c
                 for c in final]
        notes.append(Issue("course_id_as_item_id", "info", params={"column": best["course_id"]}))
        mapped = {c.target for c in final}
    has_flags = any(c.target == "flag" for c in final)
    wide = kind == "events" and "event_type" not in mapped
    if kind == "events" and "event_type" in mapped and has_flags:
        final = [ColumnMap(c.source, "props") if c.target == "flag" and not c.manual else c for c in final]
        if any(c.target == "flag" for c in final):
            raise BadInput(
                "flag columns (--map COL=<event type>) are only used when the file has no event type column",
                code="bad_map",
            )
    missing = [c for c in REQUIRED[kind] if c not in mapped and not (wide and c == "event_type")]
    if missing:
        other = _kind_the_headers_fit(headers, kind)
        raise BadInput(
            f"required column(s) missing for {kind}: {', '.join(missing)}. "
            + (
                f"Found columns: {', '.join(headers)}. "
                if reveal
                else f"Found {len(headers)} column(s) (not listed: the file is outside the data folder; `preview` shows them). "
            )
            + (f"The columns look like a file of {other}: load it with --kind {other}. " if other else "")
            + "Map them with --map SRC=DST (or in the mapping table); if everything sits in one column, "
            "the file may use a delimiter other than , ; tab or |.",
            code="missing_columns",
            missing=missing,
            **({"looks_like": other} if other else {}),
            **({"columns": headers} if reveal else {"found": len(headers)}),
        )
    return Plan(kind, tuple(final), wide, tuple(notes))
