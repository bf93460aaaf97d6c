"""``reelytics train / recommend / evaluate``: output shapes and exit codes."""

from __future__ import annotations

import csv
import io
import json

import pytest

import analytics.recsys.recommend as rec
from analytics.cli.main import main
from analytics.store.storage import Store
from tests.helpers import insert_events
from tests.unit.test_recommend import checkerboard

FAST = ["--factors", "4", "--iterations", "10", "--regularization", "0.1", "--alpha", "5", "--no-tune"]


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


def test_train_tunes_by_default_and_explicit_values_win(db, capsys):
    code, out, err = run(capsys, "--db", db, "--json", "train", "--factors", "4", "--iterations", "10")
    assert code == 0 and "train [" in err  # progress on stderr
    doc = json.loads(out)
    tuning = doc["tuning"]
    assert tuning["status"] == "ok" and tuning["fixed"] == ["factors"] and tuning["trials"]
    assert {t["factors"] for t in tuning["trials"]} == {4} and doc["params"]["factors"] == 4
    assert doc["params"]["regularization"] == tuning["chosen"]["regularization"]
    assert 0.01 <= doc["params"]["regularization"] <= 100
    rec.clear_cache()
    code, out, _ = run(capsys, "--db", db, "train", "--factors", "4", "--iterations", "10")
    assert code == 0 and "chosen by a search: validation NDCG@10" in out and "reused the saved model" in out
    # recommend with the same options finds the same model (the saved search is reused)
    code, out, _ = run(capsys, "--db", db, "--json", "recommend", "--user", "a2", "--k", "1", "--factors", "4", "--iterations", "10")
    assert code == 0 and json.loads(out)["model"] == doc["fingerprint"]
    code, out, _ = run(capsys, "--db", db, "train", *FAST)
    assert code == 0 and "parameters as given (no search)" in out


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
    assert {"als", "popularity", "item_knn", "content", "ease"} <= set(doc["models"])
    assert set(doc["models"]["als"]) >= {"precision_at_k", "recall_at_k", "map_at_k", "ndcg_at_k", "auc", "coverage", "novelty", "ci95"}
    assert doc["winner"]["model"] in doc["models"] and doc["interval"].startswith("95%")
    code, out, _ = run(capsys, "--db", db, "evaluate", "--k", "3", "--split", "random", *FAST)
    assert code == 0 and "protocol: random — random 25% of each user's items" in out and "NDCG 95% CI" in out
    assert "on NDCG@3" in out and "paired over users" in out
    # models and measures in words, as on the Recommendations page
    assert "Most popular" in out and "Precision@3" in out and "popularity " not in out and "precision_at_k" not in out


def test_evaluate_time_split_refuses_with_a_reason(db, capsys):
    store = Store(db)
    insert_events(store, {"a0": [("like", 10_000, {"item_id": "x0"})]})  # one late new item: one test user
    store.close()
    code, out, _ = run(capsys, "--db", db, "evaluate", "--split", "days", "--holdout-days", "0.01", *FAST)
    assert code == 0 and out.startswith("cannot evaluate: the time split leaves only")
    code, out, _ = run(capsys, "--db", db, "--json", "evaluate", "--split", "days", "--holdout-days", "0.01", *FAST)
    doc = json.loads(out)
    assert doc["status"] == "too_few_test_users" and doc["details"]["minimum"] == 200
    code, out, _ = run(capsys, "--db", db, "evaluate", *FAST)
    assert code == 0 and "auto chose the random split" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--gpu", "on"], "CUDA is not available"),
        (["train", "--weight", "watch=2"], "unknown event type"),
        (["train", "--weight", "like"], "TYPE=NUMBER"),
        (["train", "--factors", "0"], "expected a number >= 1"),
        (["recommend", "--user", "ghost"], "no events on items the model knows"),
        (["recommend", "--k", "3"], "one of the arguments --user --all is required"),
        (["train", "--tune-budget", "0"], "expected a number > 0"),
        (["evaluate", "--split", "weeks"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(db, capsys, monkeypatch, argv, message):
    import implicit.gpu

    monkeypatch.setattr(implicit.gpu, "HAS_CUDA", False)
    code, _, err = run(capsys, "--db", db, *argv)
    lines = [line for line in err.splitlines() if line.startswith("reelytics: error")]
    assert code == 2 and len(lines) == 1 and message in lines[0]
