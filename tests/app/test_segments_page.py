"""Segments page: named segments on the sample, a chosen k, too few users, Chinese."""

from __future__ import annotations

import pytest

from analytics.store.storage import Store
from tests.helpers import shown_table, insert_events, open_page

PAGE = "segments.py"


def _app(monkeypatch, db):
    return open_page(monkeypatch, db, PAGE)


@pytest.fixture
def db(sample_db_copy):
    return sample_db_copy


def test_empty_store_shows_the_no_data_message(monkeypatch, tmp_path):
    at = _app(monkeypatch, tmp_path / "data" / "empty.duckdb")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Segments"
    assert at.main.info[0].value.startswith("No events yet.")


def test_sample_segments_named_and_described(monkeypatch, db):
    s = Store(db)  # before the app opens it: users with activity other than impressions
    users = s.query("SELECT count(DISTINCT user_id) FROM events WHERE event_type <> 'impression'").scalar()
    s.close()
    at = _app(monkeypatch, db)
    at.run()
    assert not at.exception
    captions = [c.value for c in at.main.caption]
    summary = next(c for c in captions if "segments of" in c)
    assert summary.startswith(tuple(f"{k} segments of {users} users, chosen by silhouette (" for k in range(2, 9)))
    k = int(summary.split()[0])
    heads = [s.value for s in at.main.subheader]
    assert [h.split(":")[0] for h in heads[:k]] == [f"Segment {n}" for n in range(1, k + 1)]
    assert heads[k:] == ["Segment averages", "Every user with its segment and features"]
    assert any("(all users" in m.value for m in at.main.markdown)
    table = at.dataframe[0].value
    assert table["users"].sum() == users and "name_zh" not in table.columns
    assert [f"Segment {n}: {name}" for n, name in zip(table["segment"], table["name"])] == heads[:k]
    assert len(at.get("plotly_chart")) == 1
    at.selectbox(key="seg_k").set_value(3).run()
    assert not at.exception
    assert f"3 segments of {users} users as asked (silhouette " in "\n".join(c.value for c in at.main.caption)
    assert len(at.dataframe[0].value) == 3


def test_too_few_users(monkeypatch, tmp_path):
    path = tmp_path / "data" / "few.duckdb"
    s = Store(path)
    insert_events(s, {u: [("view", 0, {"watch_seconds": 5.0, "video_seconds": 10.0})] for u in ("u1", "u2", "u3")})
    s.close()
    at = _app(monkeypatch, path)
    at.run()
    assert not at.exception
    assert at.main.info[0].value == "Only 3 user(s) with activity under the current filters; segments need at least 10."


def test_page_speaks_chinese(monkeypatch, db):
    at = _app(monkeypatch, db)
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "用户分群"
    assert at.main.subheader[0].value.startswith("分群 1：")
    assert any("全体" in m.value for m in at.main.markdown)
    table = shown_table(at.dataframe[0])
    assert "name" not in table.columns
    assert [f"分群 {n}：{name}" for n, name in zip(table["分群"], table["名称"])] == [s.value for s in at.main.subheader][:len(table)]
