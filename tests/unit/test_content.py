"""Content-based similarity: tokens, TF-IDF cosine, profiles."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from analytics.errors import NotFound
from analytics.recsys.content import (
    build_content_index,
    content_index_from_rows,
    history_scores,
    item_tokens,
    similar_by_content,
)
from tests.helpers import insert_items


def test_tokens_cover_latin_words_chinese_bigrams_tags_and_category():
    tokens = item_tokens("Excel 数据透视表", "职场, Excel，效率、办公", "职场技能")
    assert tokens == ["excel", "数据", "据透", "透视", "视表", "tag:职场", "tag:excel", "tag:效率", "tag:办公", "category:职场技能"]
    assert item_tokens(None, None, None) == []
    assert item_tokens("学", "#tag", "") == ["学", "tag:tag"]


def _catalog():
    return content_index_from_rows(
        ["py1", "py2", "yoga", "bare"],
        ["Python 入门", "Python 数据分析", "瑜伽 入门", None],
        ["编程,python", "编程,数据", "健身", None],
        ["编程", "编程", "健身", None],
    )


def test_similar_items_rank_by_cosine():
    index = _catalog()
    similar = index.similar_items("py1", 3)
    assert [s.item for s in similar] == ["py2", "yoga"]  # the empty item scores 0 and is left out
    assert 0 < similar[1].score < similar[0].score <= 1.0
    sims = index.similarity(["py1", "py2", "bare"])
    np.testing.assert_allclose(np.diag(sims), [1.0, 1.0, 0.0], atol=1e-6)
    assert sims[0, 1] == pytest.approx(sims[1, 0])
    with pytest.raises(NotFound):
        index.similar_items("missing")


def test_cosine_matches_a_hand_computation():
    # two items sharing one of two tokens, equal idf weights -> cosine 1/2
    index = content_index_from_rows(["a", "b"], [None, None], ["p,q", "q,r"], [None, None])
    idf_shared, idf_own = 1.0, np.log(3 / 2) + 1.0  # sklearn smooth idf: ln((1+n)/(1+df)) + 1
    expected = idf_shared**2 / (idf_shared**2 + idf_own**2)
    assert index.similarity(["a", "b"])[0, 1] == pytest.approx(expected, rel=1e-6)


def test_profile_scores_follow_the_history():
    index = _catalog()
    scores = history_scores(index, {"py1": 1.0}, ["py2", "yoga", "unknown"])
    assert scores[0] > scores[1] and scores[2] == 0.0
    rows = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32))
    assert index.profile_scores(rows, ["py1", "yoga"])[1].tolist() == [0.0, 0.0]  # empty history: no signal


def test_index_from_the_store(store):
    assert build_content_index(store).status == "no_catalog"
    insert_items(store, [
        {"item_id": "c1", "title": "零基础学英语口语", "tags": "英语,口语", "category": "英语"},
        {"item_id": "c2", "title": "英语口语 30 天", "tags": "英语", "category": "英语"},
        {"item_id": "c3", "title": "跑步减脂", "tags": "健身", "category": "健身"},
    ])
    assert [s.item for s in similar_by_content(store, "c1", 1)] == ["c2"]
