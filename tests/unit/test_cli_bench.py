"""The benchmarks' RESULT line and the page bench/run_all.py writes from it (no benchmark runs here)."""

import importlib.util
import json
import sys

from tests.helpers import REPO


def _bench_module(name: str):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO / "bench"))


def test_a_result_line_holds_both_sides_the_ratio_and_whether_the_target_was_met(capsys):
    result = _bench_module("_result")
    line = result.emit("cli", "funnel", result.side(3.0, 1.2, 250), result.side(2.0, 1.0, 260), peer_name="chDB",
                       target=("ratio", 1.0))
    printed = capsys.readouterr().out
    assert printed.startswith("RESULT ") and json.loads(printed[len("RESULT "):]) == line
    assert (line["ratio"], line["ratio_of"], line["pass"]) == (1.2, "cpu", False)  # CPU where both sides have it
    wall_only = result.emit("overview", "q", result.side(0.2), result.side(0.1), target=("wall_s", 0.3))
    assert (wall_only["ratio"], wall_only["ratio_of"], wall_only["pass"]) == (2.0, "wall", True)
    assert result.emit("cli", "kpis", result.side(1.0, 0.5))["pass"] is None  # no target: neither met nor missed


def test_results_md_lists_every_measurement_with_its_target(capsys):
    result, run_all = _bench_module("_result"), _bench_module("run_all")
    met = result.emit("cli", "reelytics --help", result.side(0.3, 0.08, 19), target=("cpu_s", 0.5))
    missed = result.emit("cli", "funnel", result.side(3.0, 1.7, 244), result.side(2.0, 0.4, 258), peer_name="chDB",
                         target=("ratio", 1.0), note="one-shot processes")
    capsys.readouterr()
    runs = [{"name": "cli", "argv": ["bench/cli.py", "--users", "5500"], "status": 0, "seconds": 80.0,
             "load_before": (1.0, 1.0, 1.0), "load_after": (2.0, 1.0, 1.0), "results": [met, missed], "last_line": ""},
            {"name": "load", "argv": ["bench/load.py"], "status": 1, "seconds": 2.0, "load_before": (2.0, 1.0, 1.0),
             "load_after": (2.0, 1.0, 1.0), "results": [], "last_line": "Traceback: boom"}]
    import datetime as dt

    page = run_all.markdown("1m", runs, dt.datetime.now(dt.UTC), (1.0, 0.5, 0.2), (2.0, 1.0, 0.5), ["sample: 9 events"])
    assert "Targets met: 1 of 2." in page
    assert "| reelytics --help | 0.300 | 0.080 | 19 | – | – | – | – | – | ≤ 0.5 s CPU | yes |" in page
    assert "| funnel | 3.000 | 1.700 | 244 | chDB | 2.000 | 0.400 | 258 | 4.25× (cpu) | ≤ 1× | **no** |" in page
    assert "load average (1, 5, 15 min): 1.00, 0.50, 0.20 before, 2.00, 1.00, 0.50 after" in page
    assert "Failed: `Traceback: boom`" in page and "No RESULT lines." in page
    assert "- sample: 9 events" in page


def test_the_cli_bench_measures_as_sampled_without_what_other_benchmarks_persisted(sample_db_copy, capsys):
    from analytics.query import engine
    from analytics.query.accel import funnel_order
    from analytics.store.storage import Store

    store = Store(sample_db_copy)
    engine.keep_in_memory(True)
    try:
        funnel_order.event_index(store)  # as bench/funnel.py leaves the shared sample
    finally:
        engine.keep_in_memory(False)
        funnel_order.clear()
    cli = _bench_module("cli")
    assert cli._state(store) and funnel_order.is_current(store)
    store.close()
    cli._forget_child(str(sample_db_copy))
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"state": []}
    store = Store(sample_db_copy)
    assert not funnel_order.is_current(store) and cli._state(store) == []
    store.close()
