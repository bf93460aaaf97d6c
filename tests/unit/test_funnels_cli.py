"""``reelytics funnel``: the JSON contract, user lists as CSV, bad input exits 2 with one line."""

from __future__ import annotations

import json

import pytest

from analytics.cli import main
from analytics.store.storage import Store
from tests.helpers import insert_events

D = 86400


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "d" / "x.duckdb"
    s = Store(path)
    insert_events(
        s,
        {
            "a": [("view", 0, {"channel": "douyin"}), ("click", 60), ("purchase", 120, {"revenue": 99})],
            "b": [("view", 0, {"channel": "kuaishou"}), ("click", 60)],
            "c": [("view", 0, {"channel": "douyin"})],
            "z": [("like", 30 * D)],
        },
    )
    s.close()
    return str(path)


def test_json_has_the_contract_fields(db, capsys):
    assert main(["--db", db, "--json", "funnel", "--steps", "view,click,purchase", "--window", "7d"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [{k: s[k] for k in ("step", "count", "conversion_from_previous", "conversion_from_first")} for s in doc["steps"]] == [
        {"step": 1, "count": 3, "conversion_from_previous": 1.0, "conversion_from_first": 1.0},
        {"step": 2, "count": 2, "conversion_from_previous": 2 / 3, "conversion_from_first": 2 / 3},
        {"step": 3, "count": 1, "conversion_from_previous": 0.5, "conversion_from_first": 1 / 3},
    ]
    assert doc["funnel"]["mode"] == "sequential" and doc["funnel"]["window_seconds"] == 7 * D


def test_every_option_is_accepted_and_text_output_is_readable(db, capsys):
    argv = [
        "--db", db, "funnel", "--steps", "view,click[channel!=x],purchase[revenue>=10]", "--window", "2d",
        "--step-windows", "1h,-", "--mode", "strict", "--hold", "item_id", "--count", "totals", "--by", "channel",
        "--touch", "last", "--period", "week", "--min-segment", "1",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "funnel (strict, window 2d, entries):" in out
    assert "1. view" in out


def test_user_lists_print_csv_with_the_filters(db, capsys):
    assert main(["--db", db, "funnel", "--steps", "view,click", "--list", "dropped", "--at-step", "1", "--channel", "douyin"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# funnel dropped view > click")
    assert '# filter channel=["douyin"]' in out
    body = [line for line in out.splitlines() if not line.startswith("#")]
    assert body[0].startswith("user_id,level,step_reached,status")
    # the channel filter applies to every step: a's click carries no channel, so a stops at step 1
    assert [line.split(",")[0] for line in body[1:]] == ["a", "c"]


@pytest.mark.parametrize(
    "args, reason",
    [
        (["--steps", "view"], "a funnel needs 2 to 8 steps"),
        (["--steps", "view,teleport"], "unknown event type 'teleport'"),
        (["--steps", "view,click", "--window", "soon"], "--window expects a duration"),
        (["--steps", "view,click,purchase", "--step-windows", "1h"], "--step-windows needs 2 durations"),
        (["--steps", "view,click", "--mode", "any", "--step-windows", "1h"], "per-step windows need an ordered mode"),
        (["--steps", "view,click", "--mode", "random"], "invalid choice: 'random'"),
    ],
)
def test_bad_input_exits_2_with_one_line(db, capsys, args, reason):
    assert main(["--db", db, "funnel", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and reason in err[0]
