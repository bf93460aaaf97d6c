"""``reelytics funnel``: the JSON contract, user lists as CSV, bad input exits 2 with one line."""

from __future__ import annotations

import json

import pytest

from analytics.cli.main import main
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


def test_text_says_what_rates_divide_by_and_which_entry_days_are_open(tmp_path, capsys):
    path = tmp_path / "d" / "open.duckdb"
    s = Store(path)
    insert_events(s, {
        "a": [("view", 0), ("click", 60)],
        "b": [("view", 0)],
        "c": [("view", 10 * D)],  # still inside its 7-day window when the data ends
        "z": [("like", 12 * D)],
    })
    s.close()
    assert main(["--db", str(path), "funnel", "--steps", "view,click", "--window", "7d"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split()[:2] == ["2.", "click"] and "from first   50.0% (1 of 2)" in lines[2]
    assert lines[3] == "  converted 1 of 2 who could finish (50.0%); 1 still in progress, left out of the rates"
    assert lines[4] == ("  conversion over time: entry days from 2026-01-15 on are incomplete "
                        "(window still open at the end of the data) and get no rate")
    assert main(["--db", str(path), "--json", "funnel", "--steps", "view,click", "--window", "7d"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(r["complete"], r["conversion_rate"]) for r in doc["over_time"]] == [(True, 0.5), (False, None)]
    assert [(s["base_from_previous"], s["base_from_first"]) for s in doc["steps"]] == [(3, 3), (2, 2)]


def test_funnel_help_loads_no_data_library_and_the_funnel_path_no_pandas():
    """``funnel --help`` imports no data library; the modules that compute a funnel import no pandas
    (it is imported only when a result is read as a DataFrame)."""
    import subprocess
    import sys

    from tests.helpers import REPO

    code = (
        "import contextlib, io, json, sys\n"
        "from analytics.cli import main as cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        cli.main(['funnel', '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "helped = sorted({m.split('.')[0] for m in sys.modules})\n"
        "import analytics.cli.commands.funnel, analytics.metrics.funnels.compute, analytics.query.engine\n"
        "import analytics.query.funnel_events, analytics.query.accel.funnel_order\n"
        "print(json.dumps([helped, sorted({m.split('.')[0] for m in sys.modules})]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    helped, computing = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(helped) & {"pandas", "numpy", "ibis", "duckdb", "pyarrow", "scipy"} == set()
    assert "numpy" in computing and "pandas" not in computing


def test_a_one_shot_funnel_imports_neither_pandas_nor_ibis_and_writes_the_portable_answer(db):
    """The one-shot ``funnel --json`` imports neither pandas nor ibis, whether the funnel order was
    never built (its part read from ``events``) or is persisted and current (its part read from the
    order): the store, the accelerator's part, the kernel and the JSON writer need only DuckDB, numpy
    and Arrow. Both write, byte for byte, what the portable ibis path writes."""
    import subprocess
    import sys

    from analytics.query.accel import funnel_order
    from tests.helpers import REPO

    argv = ["--db", db, "--json", "funnel", "--steps", "view,click,purchase", "--window", "7d"]

    def one_shot(path: str | None = None) -> tuple[str, list[str]]:
        code = (
            "import atexit, contextlib, sys\n"
            "atexit.register(lambda: print(sorted(m for m in ('ibis', 'pandas') if m in sys.modules), file=sys.stderr))\n"
            "from analytics.cli.main import main\n"
            "from analytics.query import engine\n"
            f"with engine.using({path!r}) if {path!r} else contextlib.nullcontext():\n"
            f"    sys.exit(main({argv!r}))\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
        return done.stdout, eval(done.stderr.strip().splitlines()[-1])

    portable, loaded = one_shot("portable")
    assert loaded == ["ibis", "pandas"]
    scanned, loaded = one_shot()  # nothing persisted: a one-shot command never builds the order
    assert loaded == []
    assert scanned == portable
    store = Store(db)
    assert not funnel_order.is_current(store)
    funnel_order.event_index(store)  # as the dashboard's first funnel leaves it
    assert funnel_order.is_current(store)
    store.close()
    funnel_order.clear()
    persisted, loaded = one_shot()
    assert loaded == []
    assert persisted == portable
