"""The real funnel against a slow but obviously correct reference, on generated event logs.

The reference enumerates every chain of events of a user (itertools.product over the events that
match each step) and checks the definitions of docs/metrics.md ("Funnels") literally. It lives here
only; the library never uses it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.metrics.funnels import (
    FunnelSpec,
    compute_funnel,
    parse_steps,
    portable_levels,
)
from analytics.query.filters import Filters
from analytics.store.storage import Store
from analytics.store.uploads import register_upload
from tests.helpers import T0, by_path, insert_events

M = 60  # the time grid is coarse so that ties happen often
TYPES = ("view", "click", "purchase", "like")


@dataclass(frozen=True)
class Ev:
    t: int  # seconds after T0
    type: str
    course: str | None


def matches(ev: Ev, step) -> bool:
    return ev.type == step.event_type  # generated specs use no conditions


def chains(events: list[Ev], spec: FunnelSpec, j: int):
    """Every assignment of events to steps 1..j (an event may fill several steps, as in ClickHouse)."""
    pools = [[e for e in events if matches(e, spec.steps[s])] for s in range(j)]
    return itertools.product(*pools)


def ordered_ok(chain, events, spec: FunnelSpec, entry_end: float) -> bool:
    ts = [e.t for e in chain]
    if ts[0] >= entry_end:
        return False
    if any(b < a for a, b in zip(ts, ts[1:])) or ts[-1] - ts[0] > spec.window_seconds:
        return False
    for i in range(1, len(ts)):
        w = spec.step_windows[i - 1]
        if w is not None and ts[i] - ts[i - 1] > w:
            return False
        if spec.mode == "strict" and any(ts[i - 1] < e.t < ts[i] for e in events):
            return False
    return True


def any_ok(chain, spec: FunnelSpec, entry_end: float) -> bool:
    ts = [e.t for e in chain]
    return min(ts) < entry_end and max(ts) - min(ts) <= spec.window_seconds


def ref_unit(events: list[Ev], all_events: list[Ev], spec: FunnelSpec, entry_end: float):
    """(level, completion time, start time of the best chain) of one unit, users mode."""
    best = (0, None, None)
    for j in range(1, len(spec.steps) + 1):
        ok = []
        for chain in chains(events, spec, j):
            if spec.mode == "any":
                if any_ok(chain, spec, entry_end):
                    ok.append((max(e.t for e in chain), min(e.t for e in chain)))
            elif ordered_ok(chain, all_events, spec, entry_end):
                ok.append((chain[-1].t, chain[0].t))
        if ok:
            done = min(c for c, _ in ok)
            start = max(s for c, s in ok if c == done)
            best = (j, done, start)
    return best


def ref_users(log: dict[str, list[Ev]], spec: FunnelSpec, entry_end=float("inf")):
    """Per user: level (max over held values) and the status of the reported unit: the held value
    that went furthest, then completed earliest, then started earliest; in progress when it has not
    completed and the window of its entry (the start of its best chain) is open at the data's end."""
    data_end = max(e.t for evs in log.values() for e in evs)
    out = {}
    for user, events in log.items():
        if spec.hold:
            units = {}
            for e in events:
                if e.course is not None:
                    units.setdefault(e.course, []).append(e)
        else:
            units = {None: events}
        reported = []
        for value, unit_events in units.items():
            level, done, start = ref_unit(unit_events, events, spec, entry_end)
            if level > 0:
                converted = level == len(spec.steps)
                reported.append((-level, done if converted else float("inf"), start, "" if value is None else str(value)))
        if reported:
            level, _, start, _ = min(reported)
            level = -level
            if level == len(spec.steps):
                status = "converted"
            else:
                status = "in_progress" if start + spec.window_seconds > data_end else "dropped"
            out[user] = (level, status)
    return out


def ref_totals(log: dict[str, list[Ev]], spec: FunnelSpec) -> list[tuple[str, int]]:
    """Entries (user, level) with re-entry after completion or window expiry (no hold)."""
    k = len(spec.steps)
    out = []
    for user, events in sorted(log.items()):
        if spec.mode == "any":
            anchors = sorted({e.t for e in events if any(matches(e, s) for s in spec.steps)})
        else:
            anchors = sorted({e.t for e in events if matches(e, spec.steps[0])})
        end = None
        for ta in anchors:
            if end is not None and ta <= end:
                continue
            inside = [e for e in events if ta <= e.t <= ta + spec.window_seconds]
            level, done = 0, None
            for j in range(1, k + 1):
                found = []
                for chain in chains(inside, spec, j):
                    if spec.mode == "any":
                        found.append(max(e.t for e in chain))
                    elif chain[0].t == ta and ordered_ok(chain, events, spec, float("inf")):
                        found.append(chain[-1].t)
                if not found:
                    break
                level, done = j, min(found)
            end = done if level == k else ta + spec.window_seconds
            if level:
                out.append((user, level))
    return out


# -- generated logs and specs ----------------------------------------------------------------------
event = st.builds(Ev, st.integers(0, 12).map(lambda x: x * M), st.sampled_from(TYPES), st.sampled_from(["c1", "c2", None]))
logs = st.dictionaries(st.sampled_from(["u1", "u2", "u3", "u4"]), st.lists(event, min_size=1, max_size=6), min_size=1)


@st.composite
def specs(draw, modes=("sequential", "strict", "any")):
    k = draw(st.integers(2, 3))
    steps = draw(st.lists(st.sampled_from(TYPES[:3]), min_size=k, max_size=k))
    mode = draw(st.sampled_from(modes))
    window = draw(st.sampled_from([M, 3 * M, 6 * M, 20 * M]))
    step_windows = ()
    if mode != "any" and draw(st.booleans()):
        step_windows = tuple(draw(st.sampled_from([None, 0 * M + 1, M, 2 * M])) for _ in range(k - 1))
    hold = draw(st.sampled_from([None, "course_id"]))
    return FunnelSpec(parse_steps(",".join(steps)), window_seconds=window, step_windows=step_windows, mode=mode, hold=hold)


def load(store: Store, log: dict[str, list[Ev]]) -> None:
    """Replace the events with ``log``. The product writes events only through uploads, whose registry
    keys every accelerator (a log of the same size and latest time as the one before would otherwise
    look unchanged); this rewrite registers itself the same way."""
    store.query("DELETE FROM events")
    insert_events(store, {u: [(e.type, e.t, {"course_id": e.course}) for e in evs] for u, evs in log.items()})
    with store.transaction() as cur:
        register_upload(cur, kind="events", file_name="log", sha256=secrets.token_hex(32), rows_accepted=0)


@pytest.fixture(scope="module")
def ref_store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("funnel_ref") / "ref.duckdb")
    yield s
    s.close()


def examples(n: int):
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@examples(50)
@given(log=logs, spec=specs())
def test_users_mode_equals_the_reference_in_every_mode(ref_store, log, spec):
    load(ref_store, log)
    r = compute_funnel(ref_store, spec)
    got = {u: (lv, st_) for u, lv, st_ in zip(r.entries.user_id, r.entries.level, r.entries.status)}
    assert got == ref_users(log, spec)


@examples(30)
@given(log=logs, spec=specs(modes=("sequential", "strict")))
def test_time_to_convert_is_from_the_latest_start_of_the_earliest_completion(ref_store, log, spec):
    spec = FunnelSpec(spec.steps, window_seconds=spec.window_seconds, step_windows=spec.step_windows, mode=spec.mode)
    load(ref_store, log)
    r = compute_funnel(ref_store, spec)
    got = {u: s for u, s in zip(r.entries.user_id, r.entries.seconds_to_convert) if s == s}
    want = {}
    for user, events in log.items():
        level, done, start = ref_unit(events, events, spec, float("inf"))
        if level == len(spec.steps):
            want[user] = float(done - start)
    assert got == want


@examples(35)
@given(log=logs, spec=specs())
def test_totals_equal_the_reference(ref_store, log, spec):
    spec = FunnelSpec(
        spec.steps, window_seconds=spec.window_seconds, step_windows=spec.step_windows, mode=spec.mode, count="totals"
    )
    load(ref_store, log)
    r = compute_funnel(ref_store, spec)
    assert list(zip(r.entries.user_id, r.entries.level)) == ref_totals(log, spec)


@examples(25)
@given(log=logs, spec=specs())
def test_portable_ibis_definition_equals_the_fast_path(ref_store, log, spec):
    load(ref_store, log)
    fast = compute_funnel(ref_store, spec).entries
    portable = portable_levels(ref_store, spec)
    assert dict(zip(portable.user_id, portable.level)) == dict(zip(fast.user_id, fast.level))


# -- laws ------------------------------------------------------------------------------------------
@examples(30)
@given(log=logs, spec=specs())
def test_laws_counts_never_increase_step_one_is_distinct_doers_rates_in_unit_interval(ref_store, log, spec):
    load(ref_store, log)
    r = compute_funnel(ref_store, spec)
    c = [s.count for s in r.steps]
    assert all(b <= a for a, b in zip(c, c[1:]))
    first = spec.steps[0].event_type
    if spec.mode != "any":
        doers = {u for u, evs in log.items() for e in evs if e.type == first and (not spec.hold or e.course)}
        assert c[0] == len(doers)
    for s in r.steps:
        for rate in (s.conversion_from_previous, s.conversion_from_first):
            assert rate is None or 0.0 <= rate <= 1.0
    for seg_rate in [r.conversion_rate] + list(r.over_time["conversion_rate"]):
        assert seg_rate is None or seg_rate != seg_rate or 0.0 <= seg_rate <= 1.0


@examples(20)
@given(log=logs, spec=specs(), longer=st.sampled_from([M, 5 * M, 30 * M]))
def test_law_a_longer_window_never_lowers_conversion(ref_store, log, spec, longer):
    load(ref_store, log)
    wider = FunnelSpec(
        spec.steps, window_seconds=spec.window_seconds + longer, step_windows=spec.step_windows, mode=spec.mode, hold=spec.hold
    )
    short = [s.count for s in compute_funnel(ref_store, spec).steps]
    long = [s.count for s in compute_funnel(ref_store, wider).steps]
    assert all(b >= a for a, b in zip(short, long))


def test_reference_sanity_on_a_tiny_log():
    log = {"a": [Ev(0, "view", None), Ev(60, "click", None), Ev(120, "purchase", None)]}
    s = FunnelSpec(parse_steps("view,click,purchase"), window_seconds=120)
    assert ref_users(log, s) == {"a": (3, "converted")}
    assert ref_unit(log["a"], log["a"], s, float("inf")) == (3, 120, 0)
    assert T0 + dt.timedelta(seconds=60) > T0


@examples(30)
@given(
    log=logs,
    spec=specs(),
    count=st.sampled_from(["users", "totals"]),
    days=st.sampled_from([(None, None), (0, 0), (0, 1), (1, 1), (None, 0), (1, None)]),
)
def test_the_in_memory_event_index_gives_the_same_funnel_as_the_query(ref_store, log, spec, count, days):
    # a 30-minute grid crosses local midnight (T0 is 20:00 in Asia/Shanghai), so date ranges cut
    scaled = {u: [Ev(e.t * 30, e.type, e.course) for e in evs] for u, evs in log.items()}
    load(ref_store, scaled)
    spec = FunnelSpec(
        spec.steps, window_seconds=spec.window_seconds * 30, step_windows=tuple(None if w is None else w * 30 for w in spec.step_windows),
        mode=spec.mode, count=count,
    )
    day0 = (T0 + dt.timedelta(hours=8)).date()
    pick = [None if d is None else day0 + dt.timedelta(days=d) for d in days]
    filters = Filters(date_from=pick[0], date_to=pick[1])
    fast = by_path("funnel_order", compute_funnel, ref_store, spec, filters)
    query = by_path("portable", compute_funnel, ref_store, spec, filters)
    assert fast.steps == query.steps
    assert fast.entries.equals(query.entries)
