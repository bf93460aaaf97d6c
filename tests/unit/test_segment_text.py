"""The words of a segmentation: names from traits and descriptions from numbers, in English and Chinese."""

from __future__ import annotations

import pandas as pd

from analytics.recsys.segments import (
    CLUSTER_FEATURES,
    DESCRIBED_FEATURES,
    Segment,
    Segmentation,
    Trait,
)
from dashboard.i18n import TEXT
from dashboard.segment_text import named_users, segment_description, segment_names

OVERALL = {"active_days": 6.0, "watch_minutes": 57.9, "views": 18.0, "like_rate": 0.01, "interaction_rate": 0.0133,
           "purchases": 1.0, "revenue": 99.0, "active_hours": 4.6667}
LIGHT = {"active_days": 1.0, "watch_minutes": 2.0, "views": 3.0, "like_rate": 0.0, "interaction_rate": 0.0,
         "purchases": 0.0, "revenue": 0.0, "active_hours": 1.0}


def _segmentation(*traits: tuple[Trait, ...]) -> Segmentation:
    segments = tuple(
        Segment(n, 20, 20 / (20 * len(traits)), LIGHT, tr, "code" if n > 1 else None, 20 if n == 1 else None)
        for n, tr in enumerate(traits, start=1)
    )
    users = pd.DataFrame({"user_id": [f"u{n}" for n in range(1, len(traits) + 1)],
                          "segment": range(1, len(traits) + 1), "views": 3})
    return Segmentation("ok", 20 * len(traits), len(traits), "given", 0.5, (), segments, OVERALL, users)


def test_names_from_the_two_strongest_traits_and_repeated_names_numbered():
    result = _segmentation(
        (Trait("active_days", -1.2), Trait("active_hours", -1.0), Trait("like_rate", 0.6)),
        (Trait("purchases", 1.4),),
        (Trait("purchases", 2.1),),
        (),
        (Trait("watch_minutes", 0.9), Trait("purchases", -0.7)),
    )
    assert segment_names(result, "en") == {
        1: "Occasional visitors who are active at few hours", 2: "Buyers", 3: "Buyers (2)", 4: "Typical users",
        5: "Heavy watchers who rarely buy",
    }
    assert segment_names(result, "zh") == {
        1: "只在少数时段活跃的偶尔来访者", 2: "购买者", 3: "购买者（2）", 4: "普通用户", 5: "很少购买的重度观看者",
    }


def test_description_in_both_languages():
    result = _segmentation((Trait("active_days", -1.2),), (Trait("purchases", 1.4),), (Trait("purchases", 1.1),))
    first, second = result.segments[:2]
    assert segment_description(first, result.overall, "en") == (
        "20 users (33%); active days 1.00 (all users 6.00); watch minutes 2.00 (all users 58); views 3.00 "
        "(all users 18); likes per view 0.00 (all users 0.01); interaction rate 0.00 (all users 0.01); purchases 0.00 "
        "(all users 1.00); revenue 0.00 (all users 99); active hours of the day 1.00 (all users 4.67); most active at 20:00"
    )
    assert segment_description(first, result.overall, "zh") == (
        "20 人（33%）；活跃天数 1.00（全体 6.00）；观看分钟 2.00（全体 58）；播放次数 3.00（全体 18）；每次播放点赞数 0.00（全体 0.01）；"
        "互动率 0.00（全体 0.01）；购买次数 0.00（全体 1.00）；收入 0.00（全体 99）；活跃时段数 1.00（全体 4.67）；最活跃时段 20:00"
    )
    assert segment_description(second, result.overall, "en").endswith("(all users 4.67); favourite category code")
    assert segment_description(second, result.overall, "zh").endswith("（全体 4.67）；最常看的品类 code")


def test_every_trait_and_feature_has_its_words():
    keys = [f"seg.{part}.{f}.{d}" for f in CLUSTER_FEATURES for part in ("noun", "clause") for d in ("high", "low")]
    keys += [f"seg.feature.{f}" for f in DESCRIBED_FEATURES]
    assert [k for k in keys if k not in TEXT] == []


def test_named_users_put_the_name_after_the_number():
    result = _segmentation((Trait("purchases", 1.4),), ())
    assert named_users(result, "en").to_dict("list") == {
        "user_id": ["u1", "u2"], "segment": [1, 2], "segment_name": ["Buyers", "Typical users"], "views": [3, 3],
    }
    assert named_users(result, "zh")["segment_name"].tolist() == ["购买者", "普通用户"]
    assert "segment_name" not in result.users  # the library's table holds no words
