"""``reelytics train / recommend / evaluate``: output shapes and exit codes."""

from __future__ import annotations

import csv
import io
import json

import pytest

import analytics.recommend as rec
from analytics.cli import main
from analytics.store.storage import Store
from tests.unit.test_recommend import checkerboard

FAST = ["--factors", "4", "--iterations", "10", "--regularization", "0.1", "--alpha", "5"]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "r.duckdb"
    s = Store(path)
    checkerboard(s)
    s.close()
    rec.clear_cache()
    yield str(path)
    rec.clear_cache()


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_reports_the_device_and_then_reuses_the_model(db, capsys):
    code, out, _ = run(capsys, "--db", db, "--json", "train", *FAST)
    assert code == 0
    doc = json.loads(out)
    assert doc["device"] == "cpu" and doc["users"] == 24 and doc["items"] == 12 and not doc["loaded_from_disk"]
    rec.clear_cache()
    code, out, _ = run(capsys, "--db", db, "train", *FAST)
    assert code == 0 and "on CPU" in out and "reused the saved model" in out


def test_recommend_one_user_json(db, capsys):
    code, out, _ = run(capsys, "--db", db, "--json", "recommend", "--user", "a2", "--k", "2", *FAST)
    assert code == 0
    doc = json.loads(out)
    assert doc["user"] == "a2" and doc["device"] == "cpu"
    assert [i["item"] for i in doc["items"]][0] == "x2"
    first = doc["items"][0]
    assert set(first) >= {"item", "score", "because"}
    assert first["because"][0]["item"].startswith("x")


def test_recommend_all_prints_csv(db, capsys):
    code, out, _ = run(capsys, "--db", db, "recommend", "--all", "--k", "3", *FAST)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["user", "rank", "item", "score"]
    assert len(rows) == 24 * 3
    assert {r["rank"] for r in rows} == {"1", "2", "3"}


def test_evaluate_json_has_metrics_per_model(db, capsys):
    code, out, _ = run(capsys, "--db", db, "--json", "evaluate", "--k", "3", "--split", "last_k", *FAST)
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "ok"
    assert {"als", "popularity", "item_knn", "content"} <= set(doc["models"])
    assert set(doc["models"]["als"]) >= {"precision_at_k", "recall_at_k", "map_at_k", "ndcg_at_k", "auc", "coverage", "novelty"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--gpu", "on"], "CUDA is not available"),
        (["train", "--weight", "watch=2"], "unknown event type"),
        (["train", "--weight", "like"], "TYPE=NUMBER"),
        (["train", "--factors", "0"], "expected a number >= 1"),
        (["recommend", "--user", "ghost"], "no events on items the model knows"),
        (["recommend", "--k", "3"], "one of the arguments --user --all is required"),
    ],
)
def test_bad_input_exits_2_with_one_line(db, capsys, monkeypatch, argv, message):
    import implicit.gpu

    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", False)
    code, _, err = run(capsys, "--db", db, *argv)
    lines = [line for line in err.splitlines() if line.startswith("reelytics: error")]
    assert code == 2 and len(lines) == 1 and message in lines[0]
