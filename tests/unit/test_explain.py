"""Explaining a KPI change: the rate/mix split on hand-computed fixtures, its laws, and the planted incidents."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.cli.main import main
from analytics.metrics.explain import NONE, OTHER, OVERLAP, decompose, explain
from analytics.metrics.kpis import KPI_BY_NAME
from analytics.query.filters import Filters
from analytics.sample import planted_incidents
from analytics.store.storage import Store
from tests.helpers import INCIDENTS_SAMPLE as SAMPLE

CTR = KPI_BY_NAME["ctr"]
VIEWS = KPI_BY_NAME["views"]


def _segments(rows):
    return pd.DataFrame(rows, columns=["value", "num0", "den0", "num1", "den1"])


def _totals(seg):
    return (seg.num0.sum(), seg.den0.sum()), (seg.num1.sum(), seg.den1.sum())


def _by_value(table):
    return table.set_index("value")


# -- hand-computed fixtures ------------------------------------------------------------------------
def test_rate_and_mix_effects_match_the_hand_computed_split():
    # previous: A 10/100, B 30/100 (CTR 20 %); current: A 12/100, B 60/300 (CTR 18 %)
    seg = _segments([("A", 10, 100, 12, 100), ("B", 30, 100, 60, 300)])
    table = _by_value(decompose(CTR, seg, *_totals(seg)))
    # shares A .5 -> .25, B .5 -> .75; rates A .10 -> .12, B .30 -> .20; R-bar = .19
    assert table.loc["A", "rate_effect"] == pytest.approx(0.375 * 0.02)
    assert table.loc["B", "rate_effect"] == pytest.approx(0.625 * -0.10)
    assert table.loc["A", "mix_effect"] == pytest.approx((0.11 - 0.19) * -0.25)
    assert table.loc["B", "mix_effect"] == pytest.approx((0.25 - 0.19) * 0.25)
    assert table["contribution"].sum() == pytest.approx(0.18 - 0.20, abs=1e-15)


def test_a_pure_shift_of_the_mix_has_no_rate_effect():
    # both rates stay (10 % and 30 %); views move from B to A: CTR 20 % -> 14 %
    seg = _segments([("A", 10, 100, 16, 160), ("B", 30, 100, 12, 40)])
    table = _by_value(decompose(CTR, seg, *_totals(seg)))
    assert table["rate_effect"].tolist() == pytest.approx([0.0, 0.0])
    assert table.loc["A", "mix_effect"] == pytest.approx((0.10 - 0.17) * 0.3)
    assert table.loc["B", "mix_effect"] == pytest.approx((0.30 - 0.17) * -0.3)
    assert table["contribution"].sum() == pytest.approx(-0.06)


def test_simpsons_paradox_every_rate_rises_while_the_total_falls():
    seg = _segments([("A", 10, 100, 44, 400), ("B", 30, 100, 31, 100)])  # A .10->.11, B .30->.31
    table = _by_value(decompose(CTR, seg, *_totals(seg)))
    assert (table["rate_effect"] > 0).all()  # each segment's own rate is credited as a rise
    assert (table["mix_effect"] < 0).all()  # the fall is the shift toward the weaker segment
    assert table["contribution"].sum() == pytest.approx(75 / 500 - 40 / 200)


def test_a_segment_new_in_the_current_period_is_all_mix():
    seg = _segments([("A", 10, 100, 10, 100), ("B", 0, 0, 5, 100)])
    table = _by_value(decompose(CTR, seg, *_totals(seg)))
    assert table.loc["B", "rate_effect"] == 0
    assert table.loc["B", "mix_effect"] == pytest.approx((0.05 - (0.10 + 0.075) / 2) * 0.5)
    assert table["contribution"].sum() == pytest.approx(0.075 - 0.10)


def test_users_counted_in_several_segments_leave_an_overlap_row():
    seg = _segments([("A", 5, 50, 5, 50), ("B", 5, 50, 10, 50)])
    # the whole has fewer distinct viewers than the segments' sum (users in both)
    table = _by_value(decompose(CTR, seg, (8, 80), (13, 80)))
    assert table["contribution"].sum() == pytest.approx(13 / 80 - 8 / 80)
    assert table.loc[OVERLAP, "contribution"] == pytest.approx((13 / 80 - 8 / 80) - (15 / 100 - 10 / 100))


def test_small_segments_are_pooled_and_never_named():
    rows = [("big", 100, 1000, 50, 1000)] + [(f"tiny{i}", 0, 2, 2, 2) for i in range(5)]
    seg = _segments(rows)
    table = decompose(CTR, seg, *_totals(seg))
    assert set(table["value"]) == {"big", OTHER}
    other = _by_value(table).loc[OTHER]
    assert (other["num0"], other["den0"], other["num1"], other["den1"]) == (0, 10, 10, 10)
    assert bool(other["small"])


def test_additive_kpis_split_into_each_segments_own_change():
    seg = _segments([("A", 100, None, 150, None), ("B", 200, None, 180, None)])
    table = _by_value(decompose(VIEWS, seg, (300, None), (330, None)))
    assert table["contribution"].to_dict() == {"A": 50, "B": -20}
    assert table["contribution"].sum() == 30


segment = st.tuples(
    st.integers(0, 500), st.integers(0, 2000), st.integers(0, 500), st.integers(0, 2000)
).map(lambda t: (min(t[0], t[1]), t[1], min(t[2], t[3]), t[3]))


@given(st.lists(segment, min_size=1, max_size=8))
def test_contributions_sum_exactly_to_the_change(rows):
    seg = _segments([(f"s{i}", *r) for i, r in enumerate(rows)])
    before, after = _totals(seg)
    if before[1] == 0 or after[1] == 0:
        return
    table = decompose(CTR, seg, before, after)
    assert table["contribution"].sum() == pytest.approx(after[0] / after[1] - before[0] / before[1], abs=1e-12)
    assert (table["rate_effect"] + table["mix_effect"] - table["contribution"]).abs().max() < 1e-12


# -- the planted incidents ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def incidents_store(tmp_path_factory, incidents_db):
    import shutil

    path = tmp_path_factory.mktemp("explain") / "incidents.duckdb"
    shutil.copy(incidents_db, path)
    s = Store(path)
    yield s
    s.close()


CASES = [(i["name"], kpi) for i in planted_incidents(**SAMPLE) for kpi in i["kpis"]]


@pytest.mark.parametrize(("name", "kpi"), CASES)
def test_the_explanation_names_the_planted_cause_first(incidents_store, name, kpi):
    incident = next(i for i in planted_incidents(**SAMPLE) if i["name"] == name)
    first, last = (dt.date.fromisoformat(d) for d in (incident["days"][0], incident["days"][-1]))
    result = explain(incidents_store, kpi, Filters(first, last))
    assert result.status == "ok"
    top = result.contributors[0]
    assert (top.dimension, top.value) == (incident["dimension"], incident["value"])
    if KPI_BY_NAME[kpi].denominator:
        assert top.effect == incident["effect"]
    assert top.share > 0.4
    assert top.contribution * result.change > 0  # it moved the KPI the way it moved


def test_every_dimension_sums_to_the_change_on_the_sample(incidents_store):
    result = explain(incidents_store, "conversion", Filters(dt.date(2026, 10, 20), dt.date(2026, 10, 22)))
    for d in result.dimensions:
        assert d.segments["contribution"].sum() == pytest.approx(result.change, abs=1e-12), d.dimension
    assert NONE in set(result.dimension("campaign").segments["value"])  # organic users have no campaign


def test_spend_kpis_split_only_along_channel_and_campaign(incidents_store):
    result = explain(incidents_store, "spend", Filters(dt.date(2026, 10, 20), dt.date(2026, 10, 22)),
                     by=["campaign", "creator"])
    assert result.dimension("creator").note == "spend_not_split"
    assert result.contributors[0].value == "douyin_douplus_A"


def test_cli_json_has_the_stable_keys(incidents_store, capsys):
    db = str(incidents_store.path)
    incidents_store.close()
    try:
        code = main(["--db", db, "--json", "explain", "--kpi", "ctr", "--from", "2026-10-13", "--to", "2026-10-15",
                     "--vs-from", "2026-10-06", "--vs-to", "2026-10-08", "--by", "channel", "--by", "campaign"])
        assert code == 0
        doc = json.loads(capsys.readouterr().out)
        assert {"kpi", "current", "previous", "change", "contributors", "status"} <= set(doc)
        assert doc["change"] == pytest.approx(doc["current"] - doc["previous"])
        first = doc["contributors"][0]
        assert set(first) == {"dimension", "value", "contribution", "share", "effect"}
        assert (first["dimension"], first["value"], first["effect"]) == ("channel", "kuaishou", "rate")
        assert first["share"] == pytest.approx(first["contribution"] / doc["change"])
        assert doc["periods"]["previous"]["from"] == "2026-10-06"
    finally:
        from analytics.store.storage import _STORES

        _STORES.clear()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kpi", "nope"], "cannot explain KPI 'nope'"),
        (["--kpi", "ctr", "--vs-from", "2026-01-01"], "--vs-from and --vs-to go together"),
        (["--kpi", "ctr", "--by", "planet"], "cannot break down by 'planet'"),
        (["--kpi", "ctr", "--from", "2026-13-01"], "--from expects a date"),
    ],
)
def test_cli_rejects_bad_input_with_one_line(tmp_path, capsys, argv, message):
    assert main(["--db", str(tmp_path / "d" / "x.duckdb"), "explain", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def _cli(store: Store, capsys, *argv: str) -> tuple[int, str]:
    db = str(store.path)
    store.close()
    from analytics.store.storage import _STORES

    try:
        code = main(["--db", db, *argv])
    finally:
        _STORES.clear()
    return code, capsys.readouterr().out


def test_cli_explains_the_period_kpis_shows_and_never_a_change_from_before_the_data(store, capsys):
    """Without dates, `explain` compares the latest complete days with the days before, as `kpis`
    and the Overview do; a compared period the data does not reach gives a note, not a change."""
    from tests.helpers import insert_events

    insert_events(store, {f"u{i}": [("view", d * 86400 + i * 60) for d in range(20)] for i in range(6)})
    code, kpis_out = _cli(store, capsys, "--json", "kpis")
    kpis = json.loads(kpis_out)
    store = Store(store.path)
    code, out = _cli(store, capsys, "--json", "explain", "--kpi", "views")
    doc = json.loads(out)
    assert code == 0 and doc["default_period"] and doc["comparison"] == "full"
    assert (doc["periods"]["current"]["from"], doc["periods"]["current"]["to"]) == (
        kpis["filters"]["from"], kpis["filters"]["to"])
    store = Store(store.path)
    code, text = _cli(store, capsys, "explain", "--kpi", "views", "--all")
    assert code == 0 and "no earlier data to compare with" in text
    assert "rose" not in text and "fell" not in text  # the period before the data is not a zero to compare with


def test_cli_explain_on_an_empty_database_says_how_to_load_data(store, capsys):
    code, text = _cli(store, capsys, "explain", "--kpi", "views")
    assert code == 0 and text.startswith("no events yet")
