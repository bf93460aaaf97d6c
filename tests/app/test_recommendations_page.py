"""Recommendations page: model badge, a user's top-N with explanations, history, evaluation, export."""

from __future__ import annotations

import pytest

import analytics.recsys.recommend as rec
from analytics.store.storage import Store
from tests.helpers import open_page, shown_table
from tests.unit.test_recommend import checkerboard

PAGE = "recommendations.py"


def _app(monkeypatch, db):
    return open_page(monkeypatch, db, PAGE)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "rec.duckdb"
    s = Store(path)
    checkerboard(s)
    s.close()
    rec.clear_cache()
    yield path
    rec.clear_cache()


def _texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])


def test_empty_store_shows_the_no_data_message(monkeypatch, tmp_path):
    at = _app(monkeypatch, tmp_path / "data" / "empty.duckdb")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Recommendations"
    assert at.info[0].value.startswith("No events yet.")


def test_user_top_n_with_explanations_and_history(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    texts = _texts(at)
    assert "Trained on CPU" in texts
    assert "24 users × 12 items" in texts
    at.text_input(key="rec_search").set_value("a0").run()
    assert not at.exception
    assert at.selectbox(key="rec_user").value == "a0"
    assert at.subheader[0].value == "Top 7 for a0"  # 12 items - 5 already seen
    top = at.dataframe[0].value
    assert top["item"].iloc[0] == "x0"
    why = top["why"].iloc[0]
    assert why.startswith("because this user engaged with Excel lesson")
    names = why.removeprefix("because this user engaged with ").split("; ")
    assert len(names) == len(set(names)) == 3  # distinct items, none cut off
    assert "Parameters chosen by a search:" in texts and "Validation NDCG@10" in texts
    history = at.dataframe[1].value
    assert len(history) == 5 and set(history["item"]) == {"x1", "x2", "x3", "x4", "x5"}
    at.checkbox(key="rec_only_purchasable").check().run()
    assert at.dataframe[0].value["item"].tolist() == ["x0"]


def test_unknown_user_is_explained(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.text_input(key="rec_search").set_value("ghost").run()
    assert not at.exception
    assert at.selectbox(key="rec_user").value == "ghost"
    assert "No usable events for this user on items the model knows" in _texts(at)


def test_evaluation_and_export(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.run()
    at.radio(key="rec_eval_split").set_value("last_k")
    at.button(key="rec_eval_run").click().run()
    assert not at.exception
    table = shown_table(at.dataframe[-1])  # the models and headers in words; the download keeps the codes
    assert set(table["Model"]) >= {"ALS", "Most popular", "Similar items (k-NN)", "EASE"}
    assert {"NDCG@K, 95 % low", "NDCG@K, 95 % high"} <= set(table.columns)
    texts = _texts(at)
    assert "Protocol: each user's last 1 item(s) held out; 4 test users." in texts
    assert "ALS minus popularity on NDCG@10" in texts and "95% interval" in texts
    assert "ranks best on NDCG@10" in texts or "is ahead on NDCG@10" in texts
    at.radio(key="rec_eval_split").set_value("days")
    at.button(key="rec_eval_run").click().run()
    assert "Not evaluated: no user has a held-out item to find." in _texts(at)  # the checkerboard has no later items
    at.radio(key="rec_eval_split").set_value("auto")
    at.button(key="rec_eval_run").click().run()
    assert "so items are held out at random per user" in _texts(at)
    at.button(key="rec_export_run").click().run()
    assert not at.exception
    assert "168 rows ready." in _texts(at)  # top 10 asked, 7 unseen items left for each of 24 users


def test_gpu_on_without_cuda_shows_the_error(monkeypatch, db):
    import implicit.gpu

    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", False)
    at = _app(monkeypatch, db)
    at.run()
    at.radio(key="rec_gpu").set_value("on")
    at.button[0].click().run()  # the form's Train button
    assert not at.exception
    assert "CUDA is not available" in at.error[0].value


def test_page_speaks_chinese(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "推荐"
    assert "训练设备：CPU" in _texts(at)
