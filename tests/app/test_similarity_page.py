"""Similarity page: heatmaps (with the cap stated and applied), similar-items lists, cold items, Chinese."""

from __future__ import annotations

import pytest

import analytics.recsys.recommend as rec
from analytics.store.storage import Store
from tests.helpers import insert_events, insert_items, open_page, shown_table
from tests.unit.test_recommend import checkerboard

PAGE = "similarity.py"
# the model settings the Recommendations page keeps in the session (small: the board has two tastes)
SMALL = {"factors": 4, "iterations": 20, "regularization": 0.1, "alpha": 5.0, "gpu": "off"}


def _app(monkeypatch, db):
    return open_page(monkeypatch, db, PAGE, state={"rec_params": SMALL, "rec_tune": {"enabled": False, "budget_seconds": None}})


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "sim.duckdb"
    s = Store(path)
    checkerboard(s)
    insert_events(s, {"a0": [("view", 900, {"item_id": "y_new", "watch_seconds": 50.0, "video_seconds": 60.0})]})
    insert_items(s, [{"item_id": "y_new", "title": "Yoga class for beginners", "category": "fitness", "kind": "video"}])
    s.close()
    rec.clear_cache()
    yield path
    rec.clear_cache()


def _texts(at) -> str:
    return "\n".join([c.value for c in at.caption] + [i.value for i in at.info] + [w.value for w in at.warning])


def test_empty_store_shows_the_no_data_message(monkeypatch, tmp_path):
    at = _app(monkeypatch, tmp_path / "data" / "empty.duckdb")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Similarity"
    assert at.info[0].value.startswith("No events yet.")


def test_heatmaps_and_similar_items(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    texts = _texts(at)
    assert "24 users × 13 items" in texts
    assert "a heatmap draws at most 200 × 200 cells" in texts
    assert len(at.get("plotly_chart")) == 1
    assert at.subheader[0].value == "Similar items"
    assert at.selectbox(key="sim_item").value == "x0"  # most users first, ties by id
    assert "Neighbours by the cosine of the ALS item factors (10 users interacted with this item)." in texts
    table = at.dataframe[0].value
    assert list(shown_table(at.dataframe[0]).columns) == ["Rank", "Title", "Item", "Similarity", "Source"]
    assert table["title"].iloc[0].startswith("Excel lesson x")
    assert set(table["item"].iloc[:5]) == {"x1", "x2", "x3", "x4", "x5"} and set(table["source"]) == {"Co-engagement (ALS)"}
    for view in ("user_user", "user_item"):
        at.radio(key="sim_view").set_value(view).run()
        assert not at.exception and len(at.get("plotly_chart")) == 1
    at.checkbox(key="sim_export").check().run()
    assert not at.exception
    at.radio(key="sim_items_choice").set_value("category").run()
    at.selectbox(key="sim_category").set_value("office").run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    at.radio(key="sim_items_choice").set_value("selection").run()
    at.multiselect(key="sim_selection").set_value([]).run()
    assert not at.exception
    assert "Nothing to draw: choose at least one item or user." in _texts(at)


def test_cold_item_gets_marked_content_neighbours(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.selectbox(key="sim_item").set_value("y_new").run()
    assert not at.exception
    assert ("Cold item: only 1 user(s) interacted with it (fewer than 5), so its neighbours are content-based "
            "(TF-IDF over title, tags and category) and marked “Similar text”.") in _texts(at)
    table = at.dataframe[0].value
    assert set(table["source"]) == {"Similar text"} and table["item"].iloc[0].startswith("y")


def test_the_cap_is_applied_and_said(monkeypatch, sample_db_copy):
    path = sample_db_copy
    rec.clear_cache()
    at = _app(monkeypatch, path)
    at.run()
    at.radio(key="sim_view").set_value("user_user").run()
    at.number_input(key="sim_n_users").set_value(250).run()
    assert not at.exception
    assert "Showing 200 of 250 rows and 200 of 250 columns (the cap is 200)." in _texts(at)
    rec.clear_cache()


def test_page_speaks_chinese(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "相似度"
    assert "热力图最多绘制 200 × 200 个单元格" in _texts(at)
    assert at.subheader[0].value == "相似内容"


def test_heatmap_axes_show_every_title_with_ids_on_hover(monkeypatch, db):
    import json

    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    layout, trace = fig["layout"], fig["data"][0]
    assert trace["x"][0].startswith("Excel lesson x") and "x0" not in trace["x"]  # titles, not ids
    for axis in ("xaxis", "yaxis"):  # one tick per item: none skipped
        assert layout[axis]["tickmode"] == "array" and layout[axis]["tickvals"] == trace["x"]
    assert len(trace["x"]) == 13
    assert "Excel lesson x0 · x0" in json.dumps(trace["customdata"], ensure_ascii=False)
