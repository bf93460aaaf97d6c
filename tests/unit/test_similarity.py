"""Similarity heatmaps and similar-items lists: cosine against hand values and scikit-learn, caps, cold items."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics.pairwise import cosine_similarity

import analytics.recsys.recommend as rec
from analytics.cli.main import main
from analytics.errors import BadInput, NotFound
from analytics.recsys.content import build_content_index
from analytics.recsys.models import get_model
from analytics.recsys.recommend import AlsParams
from analytics.recsys.similarity import (
    choose_items,
    choose_users,
    cosine_matrix,
    item_choices,
    item_heatmap,
    item_users,
    similar_items,
    user_heatmap,
    user_item_heatmap,
)
from tests.helpers import insert_events, insert_items
from tests.unit.test_recommend import X_ITEMS, Y_ITEMS, checkerboard

PARAMS = AlsParams(factors=4, iterations=20, regularization=0.1, alpha=5.0, gpu="off")


@pytest.fixture(autouse=True)
def _fresh_cache():
    rec.clear_cache()
    yield
    rec.clear_cache()


@pytest.fixture
def board(store):
    checkerboard(store)
    # a cold video (one viewer) and a catalog-only course, both with catalog text
    insert_events(store, {"a0": [("view", 900, {"item_id": "y_new", "watch_seconds": 50.0, "video_seconds": 60.0})]})
    insert_items(store, [
        {"item_id": "y_new", "title": "Yoga class for beginners", "category": "fitness", "kind": "video"},
        {"item_id": "x_new", "title": "Excel lesson pivot tables", "category": "office", "kind": "course", "price": 49.0},
    ])
    return store


@pytest.fixture
def model(board):
    return get_model(board, PARAMS)


# -- cosine -------------------------------------------------------------------------------------
def test_cosine_of_a_hand_computed_fixture():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0], [-3.0, 0.0]])
    r = 1 / np.sqrt(2)
    expected = np.array([
        [1, r, 0, -1],
        [r, 1, r, -r],
        [0, r, 1, 0],
        [-1, -r, 0, 1],
    ])
    np.testing.assert_allclose(cosine_matrix(a), expected, atol=1e-12)


def test_cosine_matches_scikit_learn_including_a_zero_row():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(7, 5))
    a[4] = 0.0
    b = rng.normal(size=(3, 5))
    np.testing.assert_allclose(cosine_matrix(a), cosine_similarity(a), atol=1e-12)
    np.testing.assert_allclose(cosine_matrix(a, b), cosine_similarity(a, b), atol=1e-12)


rows_without_zeros = arrays(
    np.float64, st.tuples(st.integers(1, 12), st.integers(1, 6)),
    elements=st.floats(-100, 100, allow_nan=False, allow_infinity=False),
).filter(lambda m: (np.linalg.norm(m, axis=1) > 1e-3).all())


@given(rows_without_zeros)
def test_cosine_diagonal_is_one_symmetric_and_bounded(m):
    c = cosine_matrix(m)
    np.testing.assert_allclose(np.diag(c), 1.0, atol=1e-9)
    np.testing.assert_array_equal(c, c.T)
    assert (c >= -1.0).all() and (c <= 1.0).all()


# -- heatmaps -----------------------------------------------------------------------------------
def test_item_heatmap_is_the_cosine_of_the_item_factors(model):
    items = choose_items(model, "top", 50)
    h = item_heatmap(model, items)
    assert h.status == "ok" and h.kind == "item_item" and not h.capped
    rows = [model.item_index[i] for i in items]
    np.testing.assert_allclose(h.values, cosine_similarity(model.item_factors[rows].astype(np.float64)), atol=1e-9)
    assert h.row_labels[items.index("x1")] == "Excel lesson x1"  # titles for the hover
    # the two tastes: items of one block are closer to each other than to the other block
    x = [items.index(i) for i in X_ITEMS]
    y = [items.index(i) for i in Y_ITEMS]
    assert h.values[np.ix_(x, x)].mean() > h.values[np.ix_(x, y)].mean() + 0.5


def test_heatmaps_respect_the_cap(model):
    items = choose_items(model, "top", 50)
    h = item_heatmap(model, items, cap=5)
    assert h.values.shape == (5, 5) and h.capped and h.total_rows == len(items) == 13
    assert list(h.row_ids) == items[:5]
    u = user_heatmap(model, choose_users(model, 100), cap=7)
    assert u.values.shape == (7, 7) and u.capped and u.total_rows == 24
    ui = user_item_heatmap(model, choose_users(model, 100), items, cap=3)
    assert ui.values.shape == (3, 3) and ui.cells == 9 and ui.capped
    small = user_heatmap(model, ["a1", "b1"], cap=200)
    assert not small.capped and small.values.shape == (2, 2)
    with pytest.raises(BadInput):
        item_heatmap(model, items, cap=0)


def test_user_heatmap_and_user_item_scores(model):
    users = ["a1", "a2", "b1"]
    u = user_heatmap(model, users)
    np.testing.assert_allclose(u.values, cosine_similarity(model.user_factors[[model.user_index[x] for x in users]]), atol=1e-6)
    assert u.values[0, 1] > u.values[0, 2]  # same taste closer than the other taste
    ui = user_item_heatmap(model, users, ["x0", "x1", "y0"])
    np.testing.assert_allclose(ui.values, model.scores(users, ["x0", "x1", "y0"]))
    # a1 skips x1; a2 skips x2; b1 skips y1: seen = interacted
    assert ui.seen.tolist() == [[True, False, False], [True, True, False], [False, False, True]]
    frame = ui.to_frame()
    assert len(frame) == 9 and set(frame.columns) >= {"row", "col", "value", "seen", "col_label"}
    wide = ui.to_wide()
    assert list(wide.columns) == ["row", "row_label", "x0", "x1", "y0"] and wide["x1"].tolist() == ui.values[:, 1].tolist()


def test_choosing_items_and_users(model):
    top = choose_items(model, "top", 3)
    counts = dict(zip(model.item_ids, item_users(model)))
    assert [counts[i] for i in top] == [10, 10, 10]  # each block item: 12 users minus the 2 who skip it
    assert top == sorted(top)  # ties by id
    assert set(choose_items(model, "category", category="office")) == set(X_ITEMS)  # x_new has no events
    assert choose_items(model, "selection", selection=["y2", "x3", "y2"]) == ["y2", "x3"]
    with pytest.raises(NotFound):
        choose_items(model, "selection", selection=["x_new"])
    with pytest.raises(BadInput):
        choose_items(model, "category")
    assert choose_users(model, 1) == ["a0"]  # a0 has the extra cold video: 6 items
    with pytest.raises(NotFound):
        choose_users(model, selection=["ghost"])
    empty = item_heatmap(model, [])
    assert empty.status == "empty" and empty.values.shape == (0, 0)


# -- similar items ------------------------------------------------------------------------------
def test_warm_item_neighbours_come_from_the_factors(model, board):
    res = similar_items(model, build_content_index(board), "x1", k=5)
    assert res.source == "als" and not res.cold and res.interactions == 10 and res.status == "ok"
    assert {e.item for e in res.items} == {"x0", "x2", "x3", "x4", "x5"}
    assert all(e.source == "als" for e in res.items)
    assert [e.item for e in res.items] == [s.id for s in model.similar_items("x1", 5)]
    assert res.items[0].title.startswith("Excel lesson")


def test_cold_items_get_content_neighbours_marked_as_such(model, board):
    content = build_content_index(board)
    cold = similar_items(model, content, "y_new", k=3)  # one viewer
    assert cold.source == "content" and cold.cold and cold.interactions == 1
    assert all(e.source == "content" for e in cold.items)
    assert all(e.item.startswith("y") for e in cold.items)  # "yoga class" + fitness
    assert [e.item for e in cold.items] == [s.item for s in content.similar_items("y_new", 3)]
    unseen = similar_items(model, content, "x_new", k=3)  # catalog only: not in the model at all
    assert unseen.source == "content" and unseen.interactions == 0
    assert all(e.item.startswith("x") for e in unseen.items)
    assert unseen.to_dict()["cold"] is True and unseen.to_dict()["items"][0]["rank"] == 1
    # a higher threshold turns a warm item cold
    assert similar_items(model, content, "x1", k=3, min_interactions=11).source == "content"
    assert "x_new" in item_choices(model, content) and item_choices(model, content)[0] in model.item_index


def test_unknown_items_and_missing_catalog_text(store):
    insert_events(store, {u: [("view", 0, {"item_id": "v1", "watch_seconds": 10.0, "video_seconds": 20.0}),
                              ("view", 60, {"item_id": "v2" if u != "u3" else "v3", "watch_seconds": 10.0,
                                            "video_seconds": 20.0})] for u in ("u1", "u2", "u3")})
    m = get_model(store, PARAMS)
    content = build_content_index(store)  # no catalog rows at all
    res = similar_items(m, content, "v3", k=3)
    assert res.source == "content" and res.status == "no_catalog" and res.items == ()
    with pytest.raises(NotFound):
        similar_items(m, content, "nope")
    with pytest.raises(BadInput):
        similar_items(m, content, "v1", k=0)


# -- CLI ----------------------------------------------------------------------------------------
def test_similar_command_json_and_errors(board, capsys, tmp_path):
    path = board.path
    board.close()
    fast = ["--factors", "4", "--iterations", "20", "--regularization", "0.1", "--alpha", "5", "--gpu", "off", "--no-tune"]
    assert main(["--db", str(path), "--json", "similar", "--item", "x1", "--k", "3", *fast]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["item"] == "x1" and doc["source"] == "als" and len(doc["items"]) == 3
    assert [r["rank"] for r in doc["items"]] == [1, 2, 3] and all(r["item"].startswith("x") for r in doc["items"])
    assert main(["--db", str(path), "similar", "--item", "y_new", "--k", "2", *fast]) == 0
    out = capsys.readouterr().out
    assert "content (title, tags, category): only 1 user(s) interacted with it" in out and "[content]" in out
    assert main(["--db", str(path), "similar", "--item", "ghost", *fast]) == 2
    assert capsys.readouterr().err.strip() == "reelytics: error: item 'ghost' is neither in the model nor in the catalog"
    assert main(["--db", str(path), "similar", "--item", "x1", "--k", "0"]) == 2


class _Factors:
    """Just what the heatmap functions read from a trained model (no training needed)."""

    def __init__(self, n_users: int, n_items: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.user_ids = np.array([f"u{i}" for i in range(n_users)], dtype=object)
        self.item_ids = np.array([f"i{i}" for i in range(n_items)], dtype=object)
        self.user_index = {u: n for n, u in enumerate(self.user_ids)}
        self.item_index = {i: n for n, i in enumerate(self.item_ids)}
        self.user_factors = rng.normal(size=(n_users, 3)).astype(np.float32)
        self.item_factors = rng.normal(size=(n_items, 3)).astype(np.float32)

    def title(self, item):
        return None


@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 50), st.integers(0, 3))
def test_any_heatmap_is_cut_to_the_cap(n_users, n_items, cap, seed):
    m = _Factors(n_users, n_items, seed)
    items, users = list(m.item_ids), list(m.user_ids)
    h = item_heatmap(m, items, cap)
    assert h.values.shape == (min(n_items, cap),) * 2 and h.capped == (n_items > cap)
    np.testing.assert_allclose(np.diag(h.values), 1.0, atol=1e-6)
    u = user_heatmap(m, users, cap)
    assert u.values.shape == (min(n_users, cap),) * 2 and u.capped == (n_users > cap)
    assert (np.abs(u.values) <= 1.0).all() and np.array_equal(u.values, u.values.T)


def test_item_axis_labels_are_titles_and_stay_distinct():
    """Titles label the axes; a title two items share gets each id; an item without a title shows its id."""
    from types import SimpleNamespace

    titles = {"v1": "Excel basics", "v2": "Excel basics", "v3": "Yoga at home"}
    stub = SimpleNamespace(item_index={"v1": 0, "v2": 1, "v3": 2, "v4": 3}, item_factors=np.eye(4), title=titles.get)
    h = item_heatmap(stub, ["v1", "v2", "v3", "v4"])
    assert h.row_labels == h.col_labels == ("Excel basics (v1)", "Excel basics (v2)", "Yoga at home", "v4")
    assert h.row_ids == ("v1", "v2", "v3", "v4")
    assert len(set(h.row_labels)) == 4
