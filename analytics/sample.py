"""A deterministic generator of realistic sample data for a short-video knowledge-product business.

``generate(users, days, seed)`` returns the canonical ``events``, ``items`` and ``spend`` tables
(see :mod:`analytics.store.schema`) plus ``truth``, the facts planted in them, so tests can check that an
analysis finds what was put there. ``load_sample`` loads a sample into a store as three uploads in
one transaction; ``write_csv`` writes the shipped CSV files. Everything is vectorised numpy and
pyarrow; the same parameters always give identical tables.

What the data contains (docs/sample-data.md says the same for people):

* **Creators**: ``max(8, users // 100)``, each with 1-2 of eight categories (职场技能, 编程, 理财,
  英语, 设计, 摄影, 健身, 育儿) and a lognormal "fame". Each sells 1-3 courses (``c0001``; price at
  realistic points 9.9..999, 5-24 lessons); every third creator also sells an e-book (``e001``).
* **Videos** (``v000001``; 15-180 s) promote one product of their creator (``course_id``). Creators
  post 1.5-5 videos a week, more on weekday evenings; each has a back catalogue from the 30 days
  before the period. Exposure is power-law (Zipf weights times creator fame) with a recency boost.
* **Users** (``u000001``): home channel (douyin 45%, kuaishou 20%, bilibili 15%, wechat_channels
  10%, xiaohongshu 10%); 40% organic, the others acquired by one of the channel's campaigns; a
  first-seen day spread over the period; lognormal activity; 1-2 favourite categories that get
  about 75% of their impressions, 3 favourite creators that supply 45% of them (item-level taste
  for recommenders) and a daily rhythm (lunch, evening or night owl).
  Return visits decay (D1 ~ 38%, D7 ~ 20%, D30 ~ 7%), weekends are busier, sessions peak at 12-13
  and 19-23 local time (Asia/Shanghai; stored as naive UTC).
* **Event chain** per impression: view (~45%) with a watch time that drops off (about a quarter of
  views leave within 3 s, then a decaying hazard; ~33% watch >= 90%; some replay past the end);
  like/comment/share/follow/favorite rising with watch ratio and interest; click on the course card
  (~3.7% of views); add_to_cart; purchase (~9% of clicks, concentrated on users with a high
  personal intent; revenue = price; once per user and product); lesson_start/lesson_complete on
  later days with dropout; refund (~5% of purchases, within 7 days, positive revenue = amount
  refunded; no lessons after it).
* **Experiment** ``cover_test``: every user is assigned by a hash of the user id
  (:func:`variant_of`) to ``control`` or ``treatment`` (50/50); the treatment cover raises the
  view -> click probability by exactly +20% relative (``truth["experiment"]``), and so conversion.
* **Spend**: one row per day and campaign (2-3 campaigns per channel), the expected acquisitions of
  that day times a campaign cost per acquisition, with noise.
* **Incidents** (samples of at least :data:`INCIDENT_MIN_DAYS` days, unless ``incidents=False``),
  each on three local days counted back from the period's end (``truth["incidents"]``): kuaishou's
  CTR collapses (clicks x 0.15 for kuaishou users, days end-18..end-16: a rate effect); the
  campaign ``douyin_douplus_A``, whose users always click and buy less (x 0.4), acquires 25 times
  its usual daily users (days end-11..end-9: a pure mix effect on CTR and conversion); the most
  famous creator with two or more courses loses completion (80% of views of their videos stop at
  20-80% of the length, days end-5..end-3: a rate effect).

Size: about ``3 * users * days`` events for periods up to ~180 days (2,000 users x 60 days ~ 360k
events; 55,500 users x 60 days ~ 10M). Evening posts (18-21) reach 1.8x as far.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.access import Principal, require
from analytics.errors import BadInput
from analytics.progress import Progress, no_progress

# -- the world's fixed vocabulary ----------------------------------------------------------------

#: (category as stored, English name, short Chinese word used in names and tags)
CATEGORIES: Final[tuple[tuple[str, str, str], ...]] = (
    ("职场技能", "career", "职场"),
    ("编程", "programming", "编程"),
    ("理财", "finance", "理财"),
    ("英语", "english", "英语"),
    ("设计", "design", "设计"),
    ("摄影", "photography", "摄影"),
    ("健身", "fitness", "健身"),
    ("育儿", "parenting", "育儿"),
)
CATEGORY_NAMES: Final[tuple[str, ...]] = tuple(c[0] for c in CATEGORIES)
_CATEGORY_POPULARITY = np.array([1.3, 1.2, 1.1, 1.0, 0.8, 0.8, 0.9, 0.9])

_TOPICS_ZH: Final[tuple[tuple[str, ...], ...]] = (
    ("Excel", "PPT汇报", "时间管理", "面试", "升职加薪", "高效沟通"),
    ("Python", "SQL", "JavaScript", "数据分析", "自动化办公", "算法"),
    ("基金定投", "记账", "指数基金", "保险配置", "存钱", "副业收入"),
    ("口语", "雅思", "背单词", "听力", "商务英语", "语法"),
    ("PS修图", "海报设计", "配色", "Figma", "字体设计", "LOGO设计"),
    ("手机摄影", "人像构图", "调色", "Vlog剪辑", "用光", "夜景拍摄"),
    ("减脂", "瑜伽", "跑步", "体态矫正", "增肌", "拉伸"),
    ("绘本阅读", "辅食", "睡眠训练", "情绪管理", "幼小衔接", "亲子游戏"),
)
_TOPICS_EN: Final[tuple[tuple[str, ...], ...]] = (
    ("Excel", "Slides", "Time Management", "Interviews", "Promotion", "Communication"),
    ("Python", "SQL", "JavaScript", "Data Analysis", "Automation", "Algorithms"),
    ("Index Funds", "Budgeting", "ETF", "Insurance", "Saving", "Side Hustle"),
    ("Speaking", "IELTS", "Vocabulary", "Listening", "Business English", "Grammar"),
    ("Photoshop", "Posters", "Color", "Figma", "Typography", "Logo Design"),
    ("Phone Photography", "Portraits", "Color Grading", "Vlog Editing", "Lighting", "Night Shots"),
    ("Fat Loss", "Yoga", "Running", "Posture", "Muscle Gain", "Stretching"),
    ("Picture Books", "Baby Food", "Sleep Training", "Emotions", "School Readiness", "Play"),
)
_VIDEO_TITLES_ZH: Final[tuple[str, ...]] = (
    "{n}个{topic}技巧，新手也能学会",
    "{topic}入门：{n}分钟讲透",
    "别再这样学{topic}了！",
    "{topic}｜我踩过的{n}个坑",
    "零基础学{topic}，第{k}天",
    "{topic}干货合集（建议收藏）",
    "为什么你的{topic}总是没效果？",
)
_VIDEO_TITLES_EN: Final[tuple[str, ...]] = (
    "{n} {topic} tips you wish you knew",
    "How I learned {topic} in {n} days",
    "{topic} for beginners | part {k}",
)
_GENERIC_TAGS: Final[tuple[str, ...]] = ("干货", "教程", "新手", "涨知识", "自学", "效率", "副业", "成长")
_CREATOR_PREFIX: Final[tuple[str, ...]] = (
    "小林", "阿杰", "老王", "Lily", "May", "大鹏", "晓雨", "Kevin", "小鹿", "阿秋", "Tony", "一帆",
    "木子", "Coco", "老陈", "安妮", "Leo", "小北", "橙子", "Ada",
)
_CREATOR_VERB: Final[tuple[str, ...]] = ("说", "聊", "教你学", "的", "讲", "带你玩")

CHANNELS: Final[tuple[str, ...]] = ("douyin", "kuaishou", "bilibili", "wechat_channels", "xiaohongshu")
CHANNEL_SHARE: Final[tuple[float, ...]] = (0.45, 0.20, 0.15, 0.10, 0.10)
#: Campaigns per channel with their cost per acquired user (CNY) and share of the channel's paid users.
CAMPAIGNS: Final[dict[str, tuple[tuple[str, float, float], ...]]] = {
    "douyin": (("douyin_douplus_A", 22.0, 0.45), ("douyin_douplus_B", 28.0, 0.35), ("douyin_feed_C", 35.0, 0.20)),
    "kuaishou": (("kuaishou_fans_A", 15.0, 0.6), ("kuaishou_feed_B", 19.0, 0.4)),
    "bilibili": (("bilibili_up_A", 30.0, 0.55), ("bilibili_feed_B", 38.0, 0.45)),
    "wechat_channels": (("wechat_ads_A", 42.0, 0.6), ("wechat_moments_B", 48.0, 0.4)),
    "xiaohongshu": (("xhs_juguang_A", 26.0, 0.5), ("xhs_notes_B", 31.0, 0.5)),
}
ORGANIC_SHARE: Final[float] = 0.40


def campaigns_by_name() -> dict[str, str]:
    """Every sample campaign with its channel."""
    return {camp: channel for channel, camps in CAMPAIGNS.items() for camp, _, _ in camps}

# Per channel: additive change of the view probability, factor on clicks and on lesson diligence.
_CHANNEL_VIEW = np.array([0.0, 0.02, 0.05, -0.03, 0.0])
_CHANNEL_CLICK = np.array([0.9, 1.0, 1.15, 1.25, 1.1])

EXPERIMENT: Final[str] = "cover_test"
VARIANTS: Final[tuple[str, str]] = ("control", "treatment")
PLANTED_CTR_LIFT: Final[float] = 0.20

#: Incidents are planted only in samples at least this long (three weeks of history before the first).
INCIDENT_MIN_DAYS: Final[int] = 42
INCIDENT_LENGTH: Final[int] = 3
CTR_COLLAPSE_CHANNEL: Final[str] = "kuaishou"
CTR_COLLAPSE_FACTOR: Final[float] = 0.15
SURGE_CAMPAIGN: Final[str] = "douyin_douplus_A"
SURGE_FACTOR: Final[float] = 25.0  # the campaign's acquisitions per day during the surge, relative
SURGE_PROPENSITY: Final[float] = 0.4  # the campaign's users' click and purchase propensity, always
COMPLETION_DROP_SHARE: Final[float] = 0.8  # views of the creator's videos cut short during the drop
#: First incident day, counted back from the period's end (the last day is end-1).
INCIDENT_STARTS: Final[dict[str, int]] = {"ctr_collapse": 18, "campaign_surge": 11, "completion_drop": 5}

DEFAULT_START: Final[dt.date] = dt.date(2026, 9, 1)
UTC_OFFSET_HOURS: Final[int] = 8  # Asia/Shanghai, no daylight saving time
CHUNK_USERS: Final[int] = 4000  # users generated together; fixed so chunked loads equal generate()
MAX_USERS: Final[int] = 5_000_000
MAX_DAYS: Final[int] = 730

#: Relative activity by local hour of day: peaks at lunch (12-13) and in the evening (19-23).
HOUR_WEIGHTS: Final[np.ndarray] = np.array(
    [0.8, 0.4, 0.2, 0.1, 0.1, 0.2, 0.6, 1.2, 1.6, 1.5, 1.6, 2.0,
     3.4, 3.2, 1.8, 1.6, 1.7, 2.0, 2.6, 3.6, 4.2, 4.4, 3.9, 2.4]
)
#: Relative activity by weekday, Monday first.
WEEKDAY_WEIGHTS: Final[np.ndarray] = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 1.15, 1.2])
#: Users' daily rhythms ("chronotypes"): share of users and the factor on HOUR_WEIGHTS per local hour.
CHRONOTYPES: Final[dict[str, tuple[float, np.ndarray]]] = {
    "lunch": (0.3, np.where(np.isin(np.arange(24), [11, 12, 13]), 2.5, np.where(np.arange(24) >= 22, 0.5, 1.0))),
    "evening": (0.5, np.ones(24)),
    "night_owl": (
        0.2, np.where(np.isin(np.arange(24), [22, 23, 0, 1, 2]), 2.5, np.where(np.arange(24) < 10, 0.4, 0.8))
    ),
}
#: Reach factor of a video by the local hour it was published: evening posts travel further.
POST_HOUR_BOOST: Final[np.ndarray] = np.where(
    np.isin(np.arange(24), [18, 19, 20, 21]), 1.8, np.where(np.arange(24) < 7, 0.6, 1.0)
)

# Return probability on day k after the first visit: A * k**-B * exp(-k / T), times the user's stickiness.
_RET_A, _RET_B, _RET_T = 0.38, 0.30, 42.0

# event type codes, in schema order
_ETYPES: Final[tuple[str, ...]] = (
    "impression", "view", "like", "comment", "share", "follow", "favorite", "click",
    "add_to_cart", "purchase", "refund", "lesson_start", "lesson_complete",
)
(IMP, VIEW, LIKE, COMMENT, SHARE, FOLLOW, FAVORITE, CLICK, CART, PURCHASE, REFUND, LSTART, LDONE) = range(13)

_DAY = 86_400
_REDRAWS = 4  # rounds of redrawing a video the user was already shown


@dataclass(frozen=True)
class SampleData:
    """A generated sample: canonical Arrow tables and the facts planted in them."""

    events: pa.Table
    items: pa.Table
    spend: pa.Table
    truth: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def counts(self) -> dict[str, int]:
        return {"events": self.events.num_rows, "items": self.items.num_rows, "spend": self.spend.num_rows}


def sample_name(users: int, days: int, seed: int, start: dt.date | None = None, incidents: bool = True) -> str:
    """The upload file name of a sample, e.g. ``sample(users=2000,days=60,seed=7)``."""
    extra = "" if start in (None, DEFAULT_START) else f",start={start.isoformat()}"
    if not incidents and days >= INCIDENT_MIN_DAYS:
        extra += ",incidents=off"
    return f"sample(users={users},days={days},seed={seed}{extra})"


def _check(users: int, days: int, seed: int) -> None:
    if not isinstance(users, (int, np.integer)) or not 1 <= users <= MAX_USERS:
        raise BadInput(f"users must be a whole number from 1 to {MAX_USERS:,}", code="bad_sample_users", value=users)
    if not isinstance(days, (int, np.integer)) or not 1 <= days <= MAX_DAYS:
        raise BadInput(f"days must be a whole number from 1 to {MAX_DAYS}", code="bad_sample_days", value=days)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BadInput("seed must be a whole number >= 0", code="bad_sample_seed", value=seed)


# -- the world: catalog, campaigns ----------------------------------------------------------------


@dataclass(frozen=True)
class _World:
    users: int
    days: int
    seed: int
    start: dt.date
    item_ids: np.ndarray  # object array of all item ids: videos, then products (courses, ebooks)
    n_videos: int
    n_creators: int
    creator_cats: np.ndarray  # (n_creators, 2), second -1 when none
    creator_fame: np.ndarray
    creator_names: tuple[str, ...]
    v_creator: np.ndarray
    v_cat: np.ndarray
    v_product: np.ndarray  # product index (0-based among products)
    v_seconds: np.ndarray
    v_quality: np.ndarray
    v_pop: np.ndarray
    v_pub: np.ndarray  # publish time, seconds after the first local midnight (negative: back catalogue)
    p_price_cents: np.ndarray
    p_lessons: np.ndarray  # 0 for ebooks
    p_is_course: np.ndarray
    campaigns: tuple[str, ...]
    campaign_channel: np.ndarray
    campaign_cpa: np.ndarray
    campaign_share: np.ndarray  # share of all users acquired by each campaign
    campaign_days: np.ndarray  # (n_campaigns, days) probability of acquisition day
    items: pa.Table
    impressions_per_day: float
    # pools for exposure: videos sorted by (category, published) and (creator, published)
    cat_order: np.ndarray
    cat_keys: np.ndarray
    cat_cw: np.ndarray
    cat_start: np.ndarray
    cre_order: np.ndarray
    cre_keys: np.ndarray
    cre_cw: np.ndarray
    cre_start: np.ndarray
    # planted incidents: first local day (0-based) of each, -1 when none; the creator losing completion
    incident_start: dict[str, int]
    slump_creator: int
    surge_campaign: int

    @property
    def epoch0(self) -> int:
        return _epoch0(self.start)

    def weekday(self, day: np.ndarray) -> np.ndarray:
        return (self.start.weekday() + day) % 7


def _epoch0(start: dt.date) -> int:
    """UTC epoch seconds of the first local midnight of the period."""
    midnight = dt.datetime.combine(start, dt.time()) - dt.timedelta(hours=UTC_OFFSET_HOURS)
    return int(midnight.replace(tzinfo=dt.timezone.utc).timestamp())


_KEY = np.int64(10**11)
_PUB_SHIFT = 400 * _DAY  # makes publish times non-negative inside pool keys


def _retention(k: np.ndarray) -> np.ndarray:
    k = np.maximum(k, 1)
    return _RET_A * k ** (-_RET_B) * np.exp(-k / _RET_T)


def _impressions_per_active_day(days: int) -> float:
    """Impressions per active day so that events average ~3 per user and day (capped at 60)."""
    k = np.arange(1, days)
    cum = np.concatenate([[0.0], np.cumsum(_retention(k))])
    active_days = 1.0 + cum[days - 1 - np.arange(days)].mean()  # first day uniform over the period
    events_per_impression = 1.62
    # 0.85: measured correction for stickiness and weekday factors the estimate leaves out
    return float(np.clip(0.85 * 3.0 * days / (active_days * events_per_impression), 6.0, 60.0))


def _pool(key: np.ndarray, pub: np.ndarray, pop: np.ndarray, n_keys: int):
    order = np.lexsort((pub, key))
    keys = key[order].astype(np.int64) * _KEY + (pub[order] + _PUB_SHIFT)
    cw = np.concatenate([[0.0], np.cumsum(pop[order])])
    start = np.searchsorted(key[order], np.arange(n_keys), side="left")
    return order, keys, cw, start


def _build_world(users: int, days: int, seed: int, start: dt.date, incidents: bool = True) -> _World:
    rng = np.random.default_rng([seed, 1, users, days])
    n_cat = len(CATEGORIES)
    n_creators = max(8, users // 100)

    # creators: first category covers every category, a second one for 40%
    cat1 = rng.permutation(np.arange(n_creators) % n_cat)
    cat2 = np.where(rng.random(n_creators) < 0.4, (cat1 + rng.integers(1, n_cat, n_creators)) % n_cat, -1)
    creator_cats = np.stack([cat1, cat2], axis=1)
    fame = rng.lognormal(0.0, 0.9, n_creators)
    names = []
    seen: set[str] = set()
    for i in range(n_creators):
        base = (
            _CREATOR_PREFIX[rng.integers(len(_CREATOR_PREFIX))]
            + _CREATOR_VERB[rng.integers(len(_CREATOR_VERB))]
            + CATEGORIES[cat1[i]][2]
        )
        name, n = base, 2
        while name in seen:
            name, n = f"{base}{n}", n + 1
        seen.add(name)
        names.append(name)

    # products: 1-3 courses per creator, an e-book for every third creator
    n_courses_by = 1 + rng.binomial(2, 0.4, n_creators)
    c_creator = np.repeat(np.arange(n_creators), n_courses_by)
    first = np.r_[True, c_creator[1:] != c_creator[:-1]]
    alt = np.where(creator_cats[c_creator, 1] >= 0, creator_cats[c_creator, 1], creator_cats[c_creator, 0])
    c_cat = np.where(first | (rng.random(c_creator.size) < 0.5), creator_cats[c_creator, 0], alt)
    price_points = np.array([9.9, 19.9, 49, 99, 129, 199, 299, 399, 499, 699, 999])
    price_p = np.array([0.04, 0.06, 0.10, 0.20, 0.08, 0.18, 0.14, 0.06, 0.08, 0.03, 0.03])
    c_price = rng.choice(price_points, c_creator.size, p=price_p / price_p.sum())
    dearer = 12 * (np.log(c_price) - np.log(9.9)) / np.log(100)  # 0 at 9.9 .. 12 at 990
    c_lessons = np.clip(np.round(5 + dearer + rng.normal(0, 3, c_creator.size)), 5, 24)
    e_creator = np.flatnonzero(np.arange(n_creators) % 3 == 0)
    e_creator = rng.permutation(e_creator)
    e_cat = creator_cats[e_creator, 0]
    e_price = rng.choice(np.array([9.9, 19.9, 29.9, 39.9, 49.0]), e_creator.size)
    p_creator = np.r_[c_creator, e_creator]
    p_cat = np.r_[c_cat, e_cat]
    p_price_cents = np.round(np.r_[c_price, e_price] * 100).astype(np.int64)
    p_lessons = np.r_[c_lessons, np.zeros(e_creator.size)].astype(np.int64)
    p_is_course = np.r_[np.ones(c_creator.size, bool), np.zeros(e_creator.size, bool)]
    n_products = p_creator.size

    # videos: back catalogue (30 days before) plus 1.5-5 posts a week during the period
    per_week = rng.uniform(1.5, 5.0, n_creators) * (0.7 + 0.3 * np.minimum(fame, 2.0))
    n_back = rng.integers(3, 8, n_creators)
    n_new = rng.poisson(per_week * days / 7.0)
    n_by = n_back + n_new
    v_creator = np.repeat(np.arange(n_creators), n_by)
    n_videos = v_creator.size
    is_back = np.concatenate([np.r_[np.ones(b, bool), np.zeros(n, bool)] for b, n in zip(n_back, n_new)])
    # publish day: weekdays weigh more; hour: evenings (18-22) and lunch
    day_w = np.array([1.15, 1.15, 1.15, 1.15, 1.05, 0.75, 0.7])[(start.weekday() + np.arange(-30, days)) % 7]
    back_days = rng.integers(-30, 0, n_videos)
    new_days = rng.choice(np.arange(-30, days)[30:], n_videos, p=day_w[30:] / day_w[30:].sum())
    v_day = np.where(is_back, back_days, new_days)
    post_hours = np.array([0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 0.8, 1.0, 1.0, 1.0, 1.4,
                           1.8, 1.4, 0.9, 0.9, 1.0, 1.6, 2.6, 3.0, 3.0, 2.6, 1.6, 0.6])
    v_hour = rng.choice(24, n_videos, p=post_hours / post_hours.sum())
    v_pub = v_day * _DAY + v_hour * 3600 + rng.integers(0, 3600, n_videos)
    # which product a video promotes: its creator's products, courses favoured
    prod_of_creator = [np.flatnonzero(p_creator == c) for c in range(n_creators)]
    v_product = np.empty(n_videos, np.int64)
    pos = 0
    for c in range(n_creators):
        prods = prod_of_creator[c]
        w = np.where(p_is_course[prods], 1.0, 0.25)
        k = n_by[c]
        v_product[pos : pos + k] = rng.choice(prods, k, p=w / w.sum())
        v_product[pos] = prods[0]  # the first back-catalogue video promotes the first course
        pos += k
    v_cat = p_cat[v_product]
    v_seconds = np.clip(np.round(rng.lognormal(np.log(48), 0.55, n_videos)), 15, 180)
    v_quality = rng.beta(2.5, 2.5, n_videos)
    zipf = (rng.permutation(n_videos) + 1.0) ** -1.15
    v_pop = zipf * fame[v_creator] * (0.5 + v_quality) * POST_HOUR_BOOST[v_hour]

    # ids, titles, tags
    width_v = max(6, len(str(n_videos)))
    width_c = max(4, len(str(c_creator.size)))
    width_e = max(3, len(str(e_creator.size)))
    video_ids = [f"v{i:0{width_v}d}" for i in range(1, n_videos + 1)]
    product_ids = [f"c{i:0{width_c}d}" for i in range(1, c_creator.size + 1)] + [
        f"e{i:0{width_e}d}" for i in range(1, e_creator.size + 1)
    ]
    item_ids = np.array(video_ids + product_ids, dtype=object)

    p_topic = rng.integers(0, 6, n_products)
    v_topic = np.where(rng.random(n_videos) < 0.7, p_topic[v_product], rng.integers(0, 6, n_videos))
    v_english = rng.random(n_videos) < 0.15
    v_tmpl = rng.integers(0, 1000, n_videos)
    v_n = rng.integers(3, 11, n_videos)
    v_k = rng.integers(1, 31, n_videos)
    v_tag = rng.integers(0, len(_GENERIC_TAGS), n_videos)
    titles, tags = [], []
    for i in range(n_videos):
        c = v_cat[i]
        if v_english[i]:
            tmpl = _VIDEO_TITLES_EN[v_tmpl[i] % len(_VIDEO_TITLES_EN)]
            titles.append(tmpl.format(n=v_n[i], k=v_k[i], topic=_TOPICS_EN[c][v_topic[i]]))
        else:
            tmpl = _VIDEO_TITLES_ZH[v_tmpl[i] % len(_VIDEO_TITLES_ZH)]
            titles.append(tmpl.format(n=v_n[i], k=v_k[i], topic=_TOPICS_ZH[c][v_topic[i]]))
        tags.append(f"{CATEGORIES[c][2]},{_TOPICS_ZH[c][v_topic[i]]},{_GENERIC_TAGS[v_tag[i]]}")
    for p in range(n_products):
        c, topic = p_cat[p], _TOPICS_ZH[p_cat[p]][p_topic[p]]
        if p_is_course[p]:
            style = p % 3
            if style == 0:
                titles.append(f"{topic}从入门到精通（{p_lessons[p]}节课）")
            elif style == 1:
                titles.append(f"{names[p_creator[p]]}的{topic}训练营")
            else:
                titles.append(f"{_TOPICS_EN[c][p_topic[p]]} Masterclass · {topic}实战课")
        else:
            titles.append(f"《{topic}实战手册》电子书")
        tags.append(f"{CATEGORIES[c][2]},{topic},{'课程' if p_is_course[p] else '电子书'}")
    epoch0 = _epoch0(start)
    p_pub = -rng.integers(31, 400, n_products) * _DAY + rng.integers(9 * 3600, 22 * 3600, n_products)
    creators_all = np.r_[v_creator, p_creator]
    cats_all = np.r_[v_cat, p_cat]
    pub_all = np.r_[v_pub, p_pub]
    items = pa.table(
        {
            "item_id": pa.array(item_ids.tolist(), pa.string()),
            "kind": pa.array(["video"] * n_videos + ["course"] * c_creator.size + ["ebook"] * e_creator.size),
            "title": pa.array(titles, pa.string()),
            "creator": pa.array([names[c] for c in creators_all], pa.string()),
            "category": pa.array([CATEGORY_NAMES[c] for c in cats_all], pa.string()),
            "tags": pa.array(tags, pa.string()),
            "duration_seconds": pa.array(np.r_[v_seconds, np.full(n_products, np.nan)], pa.float64(), from_pandas=True),
            "price": pa.array(
                np.r_[np.full(n_videos, np.nan), p_price_cents / 100.0], pa.float64(), from_pandas=True
            ).cast(pa.decimal128(18, 2)),
            "lessons": pa.array(
                np.r_[np.zeros(n_videos, np.int64), p_lessons],
                pa.int32(),
                mask=np.r_[np.ones(n_videos, bool), ~p_is_course],
            ),
            "course_id": pa.array(
                [product_ids[p] for p in v_product] + [None] * n_products, pa.string()
            ),
            "published_at": _timestamps(epoch0, pub_all),
        }
    )

    # campaigns: intensity over days follows a noisy random walk, weekends a little stronger
    campaigns, camp_channel, camp_cpa, camp_share = [], [], [], []
    for ch, (name, share) in enumerate(zip(CHANNELS, CHANNEL_SHARE)):
        for camp, cpa, within in CAMPAIGNS[name]:
            campaigns.append(camp)
            camp_channel.append(ch)
            camp_cpa.append(cpa)
            camp_share.append(share * (1 - ORGANIC_SHARE) * within)
    n_camp = len(campaigns)
    walk = np.cumsum(rng.normal(0, 0.15, (n_camp, days)), axis=1)
    weekday = WEEKDAY_WEIGHTS[(start.weekday() + np.arange(days)) % 7]
    intensity = np.exp(walk - walk.mean(axis=1, keepdims=True)) * weekday
    planted = incidents and days >= INCIDENT_MIN_DAYS
    incident_start = {name: (days - back if planted else -1) for name, back in INCIDENT_STARTS.items()}
    surge_campaign = campaigns.index(SURGE_CAMPAIGN)
    if planted:
        surge = incident_start["campaign_surge"]
        intensity[surge_campaign, surge : surge + INCIDENT_LENGTH] *= SURGE_FACTOR
    campaign_days = intensity / intensity.sum(axis=1, keepdims=True)
    # the creator losing completion: the most famous one whose videos promote two or more courses
    several = np.flatnonzero(n_courses_by >= 2)
    slump_creator = int(several[np.argmax(fame[several])]) if several.size else int(np.argmax(fame))

    pools_cat = _pool(v_cat, v_pub, v_pop, n_cat)
    pools_cre = _pool(v_creator, v_pub, v_pop, n_creators)
    return _World(
        users=users, days=days, seed=seed, start=start, item_ids=item_ids, n_videos=n_videos,
        n_creators=n_creators, creator_cats=creator_cats, creator_fame=fame, creator_names=tuple(names),
        v_creator=v_creator,
        v_cat=v_cat, v_product=v_product, v_seconds=v_seconds, v_quality=v_quality, v_pop=v_pop,
        v_pub=v_pub, p_price_cents=p_price_cents, p_lessons=p_lessons, p_is_course=p_is_course,
        campaigns=tuple(campaigns), campaign_channel=np.array(camp_channel), campaign_cpa=np.array(camp_cpa),
        campaign_share=np.array(camp_share), campaign_days=campaign_days, items=items,
        impressions_per_day=_impressions_per_active_day(days),
        cat_order=pools_cat[0], cat_keys=pools_cat[1], cat_cw=pools_cat[2], cat_start=pools_cat[3],
        cre_order=pools_cre[0], cre_keys=pools_cre[1], cre_cw=pools_cre[2], cre_start=pools_cre[3],
        incident_start=incident_start, slump_creator=slump_creator, surge_campaign=surge_campaign,
    )


def _on_incident(world: _World, name: str, day: np.ndarray) -> np.ndarray:
    """Whether each (0-based local) day falls inside the planted incident ``name``."""
    first = world.incident_start[name]
    return (first >= 0) & (day >= first) & (day < first + INCIDENT_LENGTH)


def _timestamps(epoch0: int, seconds: np.ndarray) -> pa.Array:
    """Naive UTC timestamps from seconds after the first local midnight."""
    us = (np.int64(epoch0) + np.asarray(seconds, np.int64)) * 1_000_000
    return pa.array(us, pa.int64()).cast(pa.timestamp("us"))


def _spend(world: _World) -> pa.Table:
    """One row per day and campaign: expected acquisitions x cost per acquisition x noise."""
    rng = np.random.default_rng([world.seed, 3, world.users, world.days])
    n_camp, days = world.campaign_days.shape
    expected = world.users * world.campaign_share[:, None] * world.campaign_days
    noise = rng.lognormal(-0.03, 0.25, (n_camp, days))
    cost = expected * world.campaign_cpa[:, None] * noise + rng.uniform(5, 30, (n_camp, days))
    dates = np.array([world.start + dt.timedelta(days=int(d)) for d in range(days)], dtype="datetime64[D]")
    return pa.table(
        {
            "date": pa.array(np.tile(dates, n_camp), pa.date32()),
            "channel": pa.array([CHANNELS[world.campaign_channel[c]] for c in range(n_camp) for _ in range(days)]),
            "campaign": pa.array([world.campaigns[c] for c in range(n_camp) for _ in range(days)]),
            "spend": pa.array(np.round(cost.ravel(), 2), pa.float64()).cast(pa.decimal128(18, 2)),
        }
    )


# -- users and their events -------------------------------------------------------------------------


def variant_of(user_ids) -> np.ndarray:
    """0 (control) or 1 (treatment) per user id: the lowest bit of SHA-256("cover_test:" + user id).

    A fixed hash of the id, as experiment platforms assign, so the split does not depend on the
    seed and anyone can recompute it.
    """
    return np.fromiter(
        (hashlib.sha256(f"{EXPERIMENT}:{u}".encode()).digest()[0] & 1 for u in user_ids), np.int8, len(user_ids)
    )


def _group_index(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of the given sizes: the group of each element and its position inside the group."""
    counts = np.asarray(counts, np.int64)
    group = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return group, np.arange(group.size) - starts[group]


@dataclass
class _Chunk:
    events: pa.Table
    truth_users: dict[str, Any]
    click_prob_sum: np.ndarray  # per variant: sum over views of the control click probability
    views: np.ndarray  # per variant


def _chunk(world: _World, index: int) -> _Chunk:
    lo = index * CHUNK_USERS
    hi = min(world.users, lo + CHUNK_USERS)
    n = hi - lo
    days = world.days
    n_cat = len(CATEGORIES)
    rng = np.random.default_rng([world.seed, 2, world.users, world.days, index])

    # -- users
    numbers = np.arange(lo + 1, hi + 1)
    channel = rng.choice(len(CHANNELS), n, p=CHANNEL_SHARE)
    campaign = np.full(n, -1)
    paid = rng.random(n) >= ORGANIC_SHARE
    for ch in range(len(CHANNELS)):
        camps = np.flatnonzero(world.campaign_channel == ch)
        sel = np.flatnonzero(paid & (channel == ch))
        w = world.campaign_share[camps]
        campaign[sel] = rng.choice(camps, sel.size, p=w / w.sum())
    first_day = rng.integers(0, days, n)
    for c in range(len(world.campaigns)):
        sel = np.flatnonzero(campaign == c)
        first_day[sel] = rng.choice(days, sel.size, p=world.campaign_days[c])
    z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
    activity = np.exp(0.7 * z1 - 0.245)
    stickiness = np.exp(0.55 * (0.6 * z1 + 0.8 * z2) - 0.151) * np.where(campaign >= 0, 0.92, 1.05)
    # purchase intent (mean 1, heavy-tailed): purchases concentrate on a minority of users
    intent = np.exp(1.1 * rng.standard_normal(n) - 0.605)
    planted = world.incident_start["campaign_surge"] >= 0
    propensity = np.where(planted & (campaign == world.surge_campaign), SURGE_PROPENSITY, 1.0)
    intent = intent * propensity
    width = max(6, len(str(world.users)))
    user_ids = [f"u{i:0{width}d}" for i in numbers]
    variant = variant_of(user_ids)
    type_share = np.array([share for share, _ in CHRONOTYPES.values()])
    chronotype = rng.choice(len(CHRONOTYPES), n, p=type_share / type_share.sum())

    # interests: 1-2 favourite categories share ~72% of category-driven impressions
    fav1 = rng.choice(n_cat, n, p=_CATEGORY_POPULARITY / _CATEGORY_POPULARITY.sum())
    fav2 = np.where(rng.random(n) < 0.45, (fav1 + rng.integers(1, n_cat, n)) % n_cat, -1)
    fav_share = rng.uniform(0.64, 0.78, n)
    two = fav2 >= 0
    cat_p = np.repeat(((1 - fav_share) / np.where(two, n_cat - 2, n_cat - 1))[:, None], n_cat, axis=1)
    rows = np.arange(n)
    cat_p[rows, fav1] = np.where(two, 0.62 * fav_share, fav_share)
    cat_p[rows[two], fav2[two]] = 0.38 * fav_share[two]
    cat_cum = np.cumsum(cat_p, axis=1)
    # three favourite creators drawn by fame among creators of the favourite categories
    fav_cre = np.empty((n, 3), np.int64)
    cc = world.creator_cats
    for c in range(n_cat):
        members = np.flatnonzero((cc[:, 0] == c) | (cc[:, 1] == c))
        cw = np.cumsum(world.creator_fame[members])
        for col, who in ((0, fav1 == c), (1, fav1 == c), (2, np.where(two, fav2, fav1) == c)):
            sel = np.flatnonzero(who)
            drawn = np.searchsorted(cw, rng.random(sel.size) * cw[-1], side="right")
            fav_cre[sel, col] = members[drawn.clip(0, members.size - 1)]

    # -- active days: first day always; later days by the retention curve x stickiness x weekday
    k = np.arange(days)[None, :] - first_day[:, None]
    weekday = WEEKDAY_WEIGHTS[world.weekday(np.arange(days))][None, :]
    p_active = np.where(k > 0, _retention(k) * stickiness[:, None] * weekday, 0.0)
    active = (rng.random((n, days)) < np.minimum(p_active, 0.97)) | (k == 0)
    a_user, a_day = np.nonzero(active)

    # -- sessions and impressions
    n_sess = 1 + rng.poisson(0.6, a_user.size)
    s_user, _ = _group_index(n_sess)
    s_day = a_day[s_user]
    s_user = a_user[s_user]
    hour = np.empty(s_user.size, np.int64)
    s_type = chronotype[s_user]
    for t, (_, factor) in enumerate(CHRONOTYPES.values()):
        sel = np.flatnonzero(s_type == t)
        w = HOUR_WEIGHTS * factor
        hour[sel] = rng.choice(24, sel.size, p=w / w.sum())
    s_start = s_day * _DAY + hour * 3600 + rng.integers(0, 3600, s_user.size)
    mean_imps = world.impressions_per_day / 1.6 * activity[s_user] * WEEKDAY_WEIGHTS[world.weekday(s_day)]
    n_imp = 1 + rng.poisson(np.maximum(mean_imps - 1, 0))
    i_sess, i_pos = _group_index(n_imp)
    m = i_sess.size
    user = s_user[i_sess]
    t_ref = s_start[i_sess]  # for choosing among published videos (refined below)

    # which video: a favourite creator's (45%) or one of a category drawn from the user's
    # interests, then by popularity among published videos or (45%) one of the newest
    from_creator = rng.random(m) < 0.45
    cat = (rng.random(m)[:, None] > cat_cum[user]).sum(axis=1).clip(0, n_cat - 1)
    creator = fav_cre[user, rng.integers(0, 3, m)]

    def pick(which: np.ndarray) -> np.ndarray:
        k = which.size
        fresh = rng.random(k) < 0.45
        chosen = np.empty(k, np.int64)
        for pool_sel, key, (order, keys, cw, start) in (
            (from_creator[which], creator[which], (world.cre_order, world.cre_keys, world.cre_cw, world.cre_start)),
            (~from_creator[which], cat[which], (world.cat_order, world.cat_keys, world.cat_cw, world.cat_start)),
        ):
            idx = np.flatnonzero(pool_sel)
            kk = key[idx].astype(np.int64)
            lo_pos = start[kk]
            hi_pos = np.searchsorted(keys, kk * _KEY + t_ref[which[idx]] + _PUB_SHIFT, side="right")
            hi_pos = np.maximum(hi_pos, lo_pos + 1)
            u = cw[lo_pos] + rng.random(idx.size) * (cw[hi_pos] - cw[lo_pos])
            by_pop = (np.searchsorted(cw, u, side="right") - 1).clip(lo_pos, hi_pos - 1)
            # among the newest, the feed favours the stronger of two candidates (reach, fame, quality)
            new_a = np.maximum(hi_pos - rng.geometric(0.15, idx.size), lo_pos)
            new_b = np.maximum(hi_pos - rng.geometric(0.15, idx.size), lo_pos)
            by_new = np.where(world.v_pop[order[new_b]] > world.v_pop[order[new_a]], new_b, new_a)
            chosen[idx] = order[np.where(fresh[idx], by_new, by_pop)]
        return chosen

    video = pick(np.arange(m))
    # feeds avoid showing a user the same video again: redraw repeats from the same pool a few
    # times; what is left are re-shows (heavy users exhaust their niche)
    for _ in range(_REDRAWS):
        key = user.astype(np.int64) * world.n_videos + video
        order = np.argsort(key, kind="stable")
        repeat = np.zeros(m, bool)
        repeat[order[1:]] = key[order[1:]] == key[order[:-1]]
        again = np.flatnonzero(repeat)
        if again.size == 0:
            break
        video[again] = pick(again)

    vcat = world.v_cat[video]
    in_fav_cat = (vcat == fav1[user]) | (vcat == fav2[user])
    in_fav_cre = (fav_cre[user] == world.v_creator[video][:, None]).any(axis=1)
    aff = 0.55 * in_fav_cat + 0.45 * in_fav_cre
    q = world.v_quality[video]
    length = world.v_seconds[video]
    ch = channel[user]

    # view and watch time
    p_view = np.clip(0.28 + 0.25 * aff + 0.2 * (q - 0.5) + _CHANNEL_VIEW[ch], 0.05, 0.95)
    viewed = rng.random(m) < p_view
    p_leave = np.clip(0.36 - 0.12 * aff - 0.2 * (q - 0.5), 0.05, 0.6)
    left_early = rng.random(m) < p_leave
    hazard = (1.6 - 0.6 * q - 0.35 * aff) * (length / 60.0) ** 0.35
    r = rng.exponential(1.0, m) / hazard
    watch = np.where(r >= 1.0, length, 3.0 + r * (length - 3.0))
    replay = (r >= 1.0) & (rng.random(m) < np.clip(5.0 / length, 0.03, 0.4))  # short videos loop more
    watch = np.where(replay, length * (1.0 + rng.uniform(0.05, 1.2, m)), watch)
    watch = np.where(left_early, np.minimum(rng.uniform(0.3, 3.0, m), length), watch)
    i_day = s_day[i_sess]
    slump = _on_incident(world, "completion_drop", i_day) & (world.v_creator[video] == world.slump_creator)
    if slump.any():  # a separate stream, so that samples without incidents stay as they were
        rng_slump = np.random.default_rng([world.seed, 4, world.users, world.days, index])
        cut = slump & (rng_slump.random(m) < COMPLETION_DROP_SHARE)
        watch = np.where(cut, np.minimum(watch, length * rng_slump.uniform(0.2, 0.8, m)), watch)
    watch = np.round(watch, 1)
    ratio = np.minimum(watch / length, 1.0)

    # interactions on viewed impressions
    base = ratio * (0.5 + aff)
    inter = {
        LIKE: 0.01 + 0.06 * base,
        COMMENT: 0.002 + 0.01 * base,
        SHARE: 0.002 + 0.008 * base * (0.5 + q),
        FOLLOW: 0.002 + 0.008 * base * ~in_fav_cre,
        FAVORITE: 0.004 + 0.02 * base,
    }
    collapse = _on_incident(world, "ctr_collapse", i_day) & (ch == CHANNELS.index(CTR_COLLAPSE_CHANNEL))
    planted_factor = np.where(collapse, CTR_COLLAPSE_FACTOR, 1.0) * propensity[user]
    p_click_control = np.clip(
        (0.008 + 0.042 * ratio * (0.4 + aff)) * _CHANNEL_CLICK[ch] * planted_factor, 0.0, 0.8
    )
    p_click = p_click_control * np.where(variant[user] == 1, 1.0 + PLANTED_CTR_LIFT, 1.0)
    clicked = viewed & (rng.random(m) < p_click)
    click_prob_sum = np.array([p_click_control[viewed & (variant[user] == v)].sum() for v in (0, 1)])
    views_by_variant = np.array([(viewed & (variant[user] == v)).sum() for v in (0, 1)])

    # impression times: a session scrolls on; each impression takes its watch time plus a gap
    spent = np.where(viewed, watch, rng.uniform(0.5, 2.0, m)) + rng.uniform(1.0, 4.0, m) + np.where(clicked, 25.0, 0.0)
    cum = np.cumsum(spent)
    first_of_session = np.cumsum(n_imp) - n_imp
    before = cum - spent
    t_imp = s_start[i_sess] + np.floor(before - before[first_of_session][i_sess]).astype(np.int64)

    pieces: list[dict[str, np.ndarray]] = []
    product = world.v_product[video]
    course_item = world.n_videos + product

    def add(sel, etype, t, item=None, **cols):
        idx = np.flatnonzero(sel)
        piece = {
            "t": t[idx] if np.ndim(t) else np.full(idx.size, t),
            "user": user[idx],
            "etype": np.full(idx.size, etype, np.int8),
            "item": (video if item is None else item)[idx],
            "course": course_item[idx],
        }
        for name, values in cols.items():
            piece[name] = values[idx]
        pieces.append(piece)

    add(np.ones(m, bool), IMP, t_imp)
    add(viewed, VIEW, t_imp + 1, watch=watch, vsec=length)
    # a like or favourite happens once per user and video, a follow once per user and creator
    once_per = {LIKE: video, FAVORITE: video, FOLLOW: world.v_creator[video]}
    for etype, p in inter.items():
        hit = viewed & (rng.random(m) < p)
        t_hit = t_imp + 1 + np.floor(watch * rng.uniform(0.3, 1.0, m)).astype(np.int64)
        if etype in once_per:
            hit = _first_only(hit, user, once_per[etype], t_hit)
        add(hit, etype, t_hit)
    t_click = t_imp + 2 + np.ceil(np.minimum(watch, length)).astype(np.int64)
    add(clicked, CLICK, t_click)
    cart = clicked & (rng.random(m) < 0.3)
    t_cart = t_click + rng.integers(5, 90, m)
    add(cart, CART, t_cart, item=course_item)
    price = world.p_price_cents[product] / 100.0
    price_mult = np.clip((99.0 / price) ** 0.25, 0.5, 2.0)
    p_buy = np.minimum(0.11 * price_mult * (0.55 + 0.6 * aff) * np.where(cart, 1.7, 0.75) * intent[user], 0.9)
    bought = clicked & (rng.random(m) < p_buy)
    later = rng.random(m) < 0.2
    t_buy = np.where(cart, t_cart, t_click) + np.where(
        later, rng.integers(3600, 3 * _DAY, m), rng.integers(30, 900, m)
    )
    # each user buys a product once: keep the earliest purchase per (user, product)
    purchase_sel = _first_only(bought & (t_buy < days * _DAY), user, course_item, t_buy)
    b_idx = np.flatnonzero(purchase_sel)
    add(purchase_sel, PURCHASE, t_buy, item=course_item, revenue=price)

    # refunds (more likely for e-books and cheap impulse buys), within 7 days, before the period ends
    nb = b_idx.size
    b_user, b_item, b_t = user[b_idx], course_item[b_idx], t_buy[b_idx]
    b_price = price[b_idx]
    b_lessons = world.p_lessons[product[b_idx]]
    diligence = rng.beta(7.0, 1.4, nb)
    starts_any = (b_lessons > 0) & (rng.random(nb) < 0.85)
    n_started = np.where(starts_any, np.minimum(rng.geometric(1.0 - diligence), b_lessons), 0)
    p_refund = np.where(b_lessons == 0, 0.05, np.where(n_started <= 1, 0.15, 0.035))
    refunded = rng.random(nb) < p_refund
    t_refund = b_t + rng.integers(1800, 7 * _DAY, nb)
    refunded &= t_refund < days * _DAY
    t_refund = np.where(refunded, t_refund, np.iinfo(np.int64).max)
    pieces.append(
        {
            "t": t_refund[refunded], "user": b_user[refunded], "etype": np.full(refunded.sum(), REFUND, np.int8),
            "item": b_item[refunded], "course": b_item[refunded], "revenue": b_price[refunded],
        }
    )
    # lessons: started on later days with dropout; the last started lesson is often left unfinished
    l_buy, l_pos = _group_index(n_started)
    gaps = np.where(
        l_pos == 0,
        rng.integers(600, 2 * _DAY, l_buy.size),
        rng.exponential(1.3 * _DAY, l_buy.size).astype(np.int64) + 300,
    )
    t_start = b_t[l_buy] + _group_cumsum(gaps, n_started)
    lesson_len = rng.integers(8 * 60, 25 * 60, l_buy.size)
    is_last = l_pos == n_started[l_buy] - 1
    completes = rng.random(l_buy.size) < np.where(is_last, 0.45, 0.92)
    t_done = t_start + lesson_len
    ok_start = (t_start < days * _DAY) & (t_start < t_refund[l_buy])
    ok_done = completes & (t_done < days * _DAY) & (t_done < t_refund[l_buy]) & ok_start
    lesson_no = (l_pos + 1).astype(np.int32)
    for etype, sel, tt in ((LSTART, ok_start, t_start), (LDONE, ok_done, t_done)):
        pieces.append(
            {
                "t": tt[sel], "user": b_user[l_buy][sel], "etype": np.full(sel.sum(), etype, np.int8),
                "item": b_item[l_buy][sel], "course": b_item[l_buy][sel], "lesson": lesson_no[sel],
            }
        )

    events = _assemble(world, pieces, user_ids, channel, campaign, variant)
    names = list(CHRONOTYPES)
    truth_users = {
        "user_interests": {
            user_ids[i]: [CATEGORY_NAMES[fav1[i]]] + ([CATEGORY_NAMES[fav2[i]]] if fav2[i] >= 0 else [])
            for i in range(n)
        },
        "user_creators": {user_ids[i]: sorted({world.creator_names[c] for c in fav_cre[i]}) for i in range(n)},
        "user_chronotypes": {user_ids[i]: names[chronotype[i]] for i in range(n)},
    }
    return _Chunk(events, truth_users, click_prob_sum, views_by_variant)


def _first_only(sel: np.ndarray, user: np.ndarray, key: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``sel`` keeping only the earliest selected row per (user, key)."""
    idx = np.flatnonzero(sel)
    idx = idx[np.lexsort((t[idx], key[idx], user[idx]))]
    out = np.zeros(sel.size, bool)
    if idx.size:
        first = np.r_[True, (user[idx][1:] != user[idx][:-1]) | (key[idx][1:] != key[idx][:-1])]
        out[idx[first]] = True
    return out


def _group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sum of ``values`` restarted at each group of the given sizes."""
    cum = np.cumsum(values)
    if cum.size == 0:
        return cum
    starts = np.cumsum(counts) - counts
    group = np.repeat(np.arange(counts.size), counts)
    offset = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0)
    return cum - offset[group]


def _dict_strings(indices: np.ndarray, dictionary: list[str] | np.ndarray) -> pa.Array:
    indices = np.asarray(indices)
    arr = pa.array(indices.astype(np.int32), mask=indices < 0)
    return pa.DictionaryArray.from_arrays(arr, pa.array(list(dictionary), pa.string())).cast(pa.string())


def _assemble(world, pieces, user_ids, channel, campaign, variant) -> pa.Table:
    def cat(name, fill, dtype):
        return np.concatenate([p.get(name, np.full(p["t"].size, fill, dtype)).astype(dtype) for p in pieces])

    t = cat("t", 0, np.int64)
    user = cat("user", 0, np.int64)
    etype = cat("etype", 0, np.int8)
    order = np.lexsort((etype, user, t))
    order = order[t[order] < world.days * _DAY]  # the export ends at the period's last local midnight
    t, user, etype = t[order], user[order], etype[order]
    item = cat("item", 0, np.int64)[order]
    course = cat("course", -1, np.int64)[order]
    watch = cat("watch", np.nan, np.float64)[order]
    vsec = cat("vsec", np.nan, np.float64)[order]
    revenue = cat("revenue", np.nan, np.float64)[order]
    lesson = cat("lesson", 0, np.int32)[order]
    return pa.table(
        {
            "event_time": _timestamps(world.epoch0, t),
            "user_id": _dict_strings(user, user_ids),
            "event_type": _dict_strings(etype, _ETYPES),
            "item_id": _dict_strings(item, world.item_ids),
            "course_id": _dict_strings(course, world.item_ids),
            "watch_seconds": pa.array(watch, pa.float64(), from_pandas=True),
            "video_seconds": pa.array(vsec, pa.float64(), from_pandas=True),
            "channel": _dict_strings(channel[user], CHANNELS),
            "campaign": _dict_strings(campaign[user], world.campaigns),
            "variant": _dict_strings(variant[user], VARIANTS),
            "revenue": pa.array(revenue, pa.float64(), from_pandas=True).cast(pa.decimal128(18, 2)),
            "lesson": pa.array(lesson, pa.int32(), mask=lesson == 0),
        }
    )


def _chunks(world: _World) -> Iterator[_Chunk]:
    for index in range(math.ceil(world.users / CHUNK_USERS)):
        yield _chunk(world, index)


def _truth(world: _World, click_sum: np.ndarray, views: np.ndarray) -> dict[str, Any]:
    control_ctr = float(click_sum.sum() / max(views.sum(), 1))
    return {
        "parameters": {"users": world.users, "days": world.days, "seed": world.seed, "start": world.start.isoformat()},
        "experiment": {
            "name": EXPERIMENT,
            "assignment": "per user: lowest bit of SHA-256('cover_test:' + user_id), 1 = treatment",
            "metric": "ctr = clicks / views",
            "control_ctr": control_ctr,
            "treatment_ctr": control_ctr * (1 + PLANTED_CTR_LIFT),
            "relative_lift": PLANTED_CTR_LIFT,
            "views": {v: int(n) for v, n in zip(VARIANTS, views)},
        },
        "categories": list(CATEGORY_NAMES),
        "channel_share": dict(zip(CHANNELS, CHANNEL_SHARE)),
        "organic_share": ORGANIC_SHARE,
        "campaigns": {c: CHANNELS[ch] for c, ch in zip(world.campaigns, world.campaign_channel)},
        "campaign_cpa": dict(zip(world.campaigns, world.campaign_cpa.tolist())),
        "hour_peaks_local": [12, 13, 19, 20, 21, 22, 23],
        "chronotypes": {name: share for name, (share, _) in CHRONOTYPES.items()},
        "best_post_hours_local": [18, 19, 20, 21],
        "post_hour_reach": {int(h): float(POST_HOUR_BOOST[h]) for h in range(24)},
        "timezone": f"UTC+{UTC_OFFSET_HOURS} (Asia/Shanghai)",
        "retention_target": {"d1": (0.30, 0.45), "d7": (0.15, 0.25), "d30": (0.05, 0.12)},
        "favourite_category_share": (0.70, 0.85),
        "incidents": _incidents(world),
    }


def _incidents(world: _World) -> list[dict[str, Any]]:
    """The planted incidents: KPIs they move, their cause (dimension, value, effect) and local days."""
    def days(name: str) -> list[str]:
        first = world.start + dt.timedelta(days=world.incident_start[name])
        return [(first + dt.timedelta(days=k)).isoformat() for k in range(INCIDENT_LENGTH)]

    if world.incident_start["ctr_collapse"] < 0:
        return []
    return [
        {"name": "ctr_collapse", "kpis": ["ctr"], "dimension": "channel", "value": CTR_COLLAPSE_CHANNEL,
         "effect": "rate", "days": days("ctr_collapse")},
        {"name": "campaign_surge", "kpis": ["ctr", "conversion"], "dimension": "campaign", "value": SURGE_CAMPAIGN,
         "effect": "mix", "days": days("campaign_surge")},
        {"name": "completion_drop", "kpis": ["completion_rate"], "dimension": "creator",
         "value": world.creator_names[world.slump_creator], "effect": "rate", "days": days("completion_drop")},
    ]


# -- public API -----------------------------------------------------------------------------------------


def generate(
    users: int = 2000, days: int = 60, seed: int = 7, start: dt.date | None = None, incidents: bool = True
) -> SampleData:
    """Generate a sample of ``users`` users over ``days`` days (local days from ``start``).

    Returns a :class:`SampleData` whose ``events``, ``items`` and ``spend`` tables have canonical
    column names (event times are naive UTC; rows are in time order within each block of
    4,000 users, the blocks one after another, since a global sort would double the time for
    10M events) and whose ``truth`` holds the planted facts: the experiment's true CTRs and lift,
    each user's favourite categories, creators and daily rhythm, channel and campaign structure, and
    the planted incidents (none with ``incidents=False`` or under :data:`INCIDENT_MIN_DAYS` days).
    Deterministic: the same arguments give identical tables.
    """
    _check(users, days, seed)
    world = _build_world(users, days, seed, start or DEFAULT_START, incidents)
    tables, truth_users = [], {"user_interests": {}, "user_creators": {}, "user_chronotypes": {}}
    click_sum, views = np.zeros(2), np.zeros(2, np.int64)
    for chunk in _chunks(world):
        tables.append(chunk.events)
        for k in truth_users:
            truth_users[k].update(chunk.truth_users[k])
        click_sum += chunk.click_prob_sum
        views += chunk.views
    events = pa.concat_tables(tables)
    truth = _truth(world, click_sum, views) | truth_users
    return SampleData(events=events, items=world.items, spend=_spend(world), truth=truth)


def planted_incidents(
    users: int = 2000, days: int = 60, seed: int = 7, start: dt.date | None = None, incidents: bool = True
) -> list[dict[str, Any]]:
    """``generate(...).truth["incidents"]`` without generating the events."""
    _check(users, days, seed)
    return _incidents(_build_world(users, days, seed, start or DEFAULT_START, incidents))


def iter_events(
    users: int = 2000, days: int = 60, seed: int = 7, start: dt.date | None = None, incidents: bool = True
) -> Iterator[pa.Table]:
    """The events of :func:`generate` as Arrow tables of 4,000 users each, for bounded memory.

    Concatenated, the tables equal ``generate(...).events``; each is in time order.
    """
    _check(users, days, seed)
    world = _build_world(users, days, seed, start or DEFAULT_START, incidents)
    for chunk in _chunks(world):
        yield chunk.events


def sample_sha256(users: int, days: int, seed: int, start: dt.date | None = None, incidents: bool = True) -> str:
    """The SHA-256 recorded for a sample's uploads (of its name), so loading it twice is a no-op."""
    return hashlib.sha256(sample_name(users, days, seed, start, incidents).encode()).hexdigest()


def load_sample(
    store,
    users: int = 2000,
    days: int = 60,
    seed: int = 7,
    progress: Progress | None = None,
    if_empty: bool = False,
    start: dt.date | None = None,
    incidents: bool = True,
    actor: Principal | None = None,
) -> dict[str, int]:
    """Generate a sample and load it into ``store`` in one transaction; return rows added per table.

    Loading is ingesting: ``actor`` needs the ``ingest`` permission (:mod:`analytics.access`).

    Three uploads are registered (kinds events, items, spend) named by :func:`sample_name`, with the
    SHA-256 of that name: loading the same sample again adds nothing and returns zeros (a table
    whose sample upload was removed is loaded again on its own). With ``if_empty`` nothing is
    loaded when the store already has events. Events are generated and inserted in blocks of
    4,000 users so memory stays bounded for any size; ``progress`` gets the fraction of blocks done.
    """
    from analytics.store.uploads import find_by_sha, insert_canonical, register_upload

    require(actor, "ingest")
    _check(users, days, seed)
    progress = progress or no_progress
    counts = {"events": 0, "items": 0, "spend": 0}
    if if_empty and store.counts()["events"] > 0:
        progress(1.0, "sample_present")
        return counts
    name = sample_name(users, days, seed, start, incidents)
    sha = sample_sha256(users, days, seed, start, incidents)
    report = {"generator": "analytics.sample", "users": users, "days": days, "seed": seed, "issues": []}
    world: _World | None = None
    with store.transaction() as cur:
        missing = [kind for kind in counts if find_by_sha(cur, kind, sha) is None]
        if not missing:
            progress(1.0, "already_uploaded")
            return counts
        world = _build_world(users, days, seed, start or DEFAULT_START, incidents)
        ids = {
            kind: register_upload(cur, kind=kind, file_name=name, sha256=sha, rows_accepted=0, report=report)
            for kind in missing
        }
        if "items" in ids:
            counts["items"] = insert_canonical(cur, "items", world.items, ids["items"])
        if "spend" in ids:
            counts["spend"] = insert_canonical(cur, "spend", _spend(world), ids["spend"])
        if "events" in ids:
            n_chunks = math.ceil(users / CHUNK_USERS)
            for index in range(n_chunks):
                events = _chunk(world, index).events
                counts["events"] += insert_canonical(cur, "events", events, ids["events"])
                del events  # free this block before the next one is generated
                progress((index + 1) / n_chunks, "sample_events", events=counts["events"])
        for kind, upload_id in ids.items():
            cur.execute("UPDATE uploads SET rows_accepted = ? WHERE upload_id = ?", [counts[kind], upload_id])
    if "events" not in ids:
        progress(1.0, "done")
    return counts


def _csv_table(table: pa.Table) -> pa.Table:
    """Times as ISO text with the local offset (+08:00), so any ingest reads them unambiguously."""
    columns = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            local = pc.add(col, pa.scalar(dt.timedelta(hours=UTC_OFFSET_HOURS), pa.duration("us")))
            text = pc.strftime(local.cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
            with_offset = pc.binary_join_element_wise(text, f"+{UTC_OFFSET_HOURS:02d}:00", "")
            col = pc.if_else(pc.is_null(col), pa.scalar(None, pa.string()), with_offset)
        columns[name] = col
    return pa.table(columns)


def write_csv(sample: SampleData, folder: str | Path) -> dict[str, Path]:
    """Write ``events.csv``, ``items.csv`` and ``spend.csv`` (UTF-8, canonical headers) into ``folder``.

    Timestamps are written as local Asia/Shanghai time with an explicit ``+08:00`` offset.
    Returns the paths written.
    """
    import pyarrow.csv as pcsv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind in ("events", "items", "spend"):
        path = folder / f"{kind}.csv"
        pcsv.write_csv(_csv_table(getattr(sample, kind)), path)
        paths[kind] = path
    return paths
