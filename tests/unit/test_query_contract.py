"""The query layer's contract: every path that may answer a query gives the portable answer exactly.

The same generated logs, filters (drawn from the declared filter fields), time zones and periods run
through every path :func:`analytics.query.engine.paths_for` offers for each query: the portable ibis
path and each accelerator (hourly rollup, breakdown index, funnel event order). Spark runs the
portable path in ``tests/engine``. A filter field or an accelerator added without extending this
contract makes a test here fail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.metrics.funnels import FunnelSpec, compute_funnel, parse_steps
from analytics.query import engine
from analytics.query.components import DIMENSIONS, USER_COMPONENTS
from analytics.query.filters import FIELDS, Filters
from analytics.query.layer import Components, FunnelEvents, ItemLabels, Recorded
from analytics.store.storage import Store
from tests.helpers import T0, by_path, insert_events, insert_items

ZONES = ["Asia/Shanghai", "UTC", "America/New_York", "Asia/Kolkata", "America/Santiago"]
ITEMS = [
    {"item_id": "v1", "kind": "video", "category": "math", "creator": "ann", "duration_seconds": 60.0},
    {"item_id": "v2", "kind": "video", "category": "art", "creator": "bob", "duration_seconds": None},
    {"item_id": "v3", "kind": "video", "category": "math", "creator": "bob", "duration_seconds": 30.0},
    {"item_id": "c1", "kind": "course", "category": "math", "creator": "ann"},
]
EVENT = st.tuples(
    st.sampled_from(["u1", "u2", "u3", "u4", "u5"]),
    st.sampled_from(["impression", "view", "like", "click", "follow", "purchase", "refund", "lesson_complete"]),
    st.integers(min_value=0, max_value=6 * 48),  # half hours after T0: crosses local midnights
    st.sampled_from(["douyin", "kuaishou", None]),
    st.sampled_from(["spring", "autumn", None]),
    st.sampled_from(["A", "B", None]),
    st.sampled_from(["v1", "v2", "v3", "c1", None]),
    st.one_of(st.none(), st.floats(min_value=0, max_value=90, allow_nan=False)),
    st.sampled_from([None, "c1", "c2"]),
    st.integers(min_value=1, max_value=300),
)
#: Queries of every shape the pages ask, so that every accelerator meets the contract.
GROUPINGS = [(), *[(d,) for d in DIMENSIONS], ("day",), ("campaign", "channel")]
FUNNELS = [
    "view,click,purchase",
    "view[watch_ratio>=0.5],click,purchase[revenue>50]",
    "view[channel!=douyin],purchase",
    "impression,view[item_id=v1]",
]


def _log(store: Store, events) -> None:
    insert_items(store, ITEMS)
    journeys: dict[str, list] = {}
    for user, kind, half_hours, channel, campaign, variant, item, watched, course, money in events:
        extra = {"channel": channel, "campaign": campaign, "variant": variant, "item_id": item, "course_id": course}
        if kind == "view":
            extra["watch_seconds"] = watched
        if kind in ("purchase", "refund"):
            extra["revenue"] = float(money)
        if kind == "lesson_complete":
            extra["lesson"] = 1
        journeys.setdefault(user, []).append((kind, T0 + dt.timedelta(minutes=30 * half_hours), extra))
    insert_events(store, journeys)


def _values_of(field, events) -> list[str]:
    """The values a declared filter field can take in the generated data (catalog or event column)."""
    if field.item_column is not None:
        return sorted({str(i[field.item_column]) for i in ITEMS if i.get(field.item_column)}) + ["none-such"]
    column = {"channel": 3, "campaign": 4, "variant": 5, "item_id": 6, "course_id": 8}[field.column]
    return sorted({e[column] for e in events if e[column]}) + ["none-such"]


@st.composite
def queries(draw, events):
    """Filters over every declared field, a zone and a period, all drawn."""
    chosen = {}
    for field in FIELDS:
        if draw(st.booleans()):
            chosen[field.name] = tuple(draw(st.lists(st.sampled_from(_values_of(field, events)), min_size=1, max_size=2, unique=True)))
    start = draw(st.one_of(st.none(), st.integers(min_value=-1, max_value=6)))
    length = draw(st.integers(min_value=0, max_value=6))
    first = None if start is None else T0.date() + dt.timedelta(days=start)
    last = None if first is None else first + dt.timedelta(days=length)
    return Filters(first, last, timezone=draw(st.sampled_from(ZONES)), **chosen)


def _normal(df: pd.DataFrame | pa.Table, by: tuple[str, ...], sums_only: bool) -> pd.DataFrame:
    df = df.to_pandas() if isinstance(df, pa.Table) else df.copy()
    if sums_only:  # groups with nothing but zero sums may be absent from an accelerator's answer
        df = df[(df[list(USER_COMPONENTS)].fillna(0) != 0).any(axis=1)]
    for b in by:
        df[b] = df[b].astype(object).where(df[b].notna(), None).map(lambda v: None if v is None else str(v))
    df = df[sorted(df.columns)]
    return df.sort_values(list(by), key=lambda s: s.map(repr)).reset_index(drop=True) if by else df.reset_index(drop=True)


def _assert_same_components(a: pd.DataFrame, b: pd.DataFrame, by, sums_only, label) -> None:
    a, b = _normal(a, by, sums_only), _normal(b, by, sums_only)
    assert list(a.columns) == list(b.columns), label
    assert len(a) == len(b), (label, a, b)
    for col in a.columns:
        x, y = a[col].tolist(), b[col].tolist()
        if col in by:
            assert x == y, (label, col)
        else:
            assert np.allclose(pd.to_numeric(pd.Series(x), errors="coerce").astype(float),
                               pd.to_numeric(pd.Series(y), errors="coerce").astype(float),
                               equal_nan=True, rtol=1e-9, atol=1e-6), (label, col, x, y)


def _with_log(events, check) -> set[str]:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "contract.duckdb")
        try:
            _log(store, events)
            return check(store)
        finally:
            store.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.lists(EVENT, min_size=1, max_size=40), st.sampled_from(GROUPINGS), st.booleans())
def test_every_path_gives_the_portable_components(data, events, by, sums_only):
    filters = data.draw(queries(events))
    if "day" in by and not (filters.date_from and filters.date_to):
        filters = dataclasses.replace(filters, date_from=T0.date(), date_to=T0.date() + dt.timedelta(days=6))
    query = Components(filters, by, sums_only)

    def check(store):
        want = engine.answer_by(engine.PORTABLE, store, query)
        used = set()
        for path in engine.paths_for(store, query)[:-1]:
            got = engine.answer_by(path, store, query)
            if got is not None:
                used.add(path)
                _assert_same_components(want, got, by, sums_only, path)
        return used

    _with_log(events, check)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.lists(EVENT, min_size=1, max_size=40), st.sampled_from(FUNNELS),
       st.sampled_from(["sequential", "strict", "any"]), st.sampled_from(["users", "totals"]))
def test_every_path_gives_the_portable_funnel(data, events, steps, mode, count):
    filters = data.draw(queries(events))
    spec = FunnelSpec(parse_steps(steps), window_seconds=6 * 3600, mode=mode, count=count)

    def check(store):
        want = by_path(engine.PORTABLE, compute_funnel, store, spec, filters)
        for path in engine.paths_for(store, FunnelEvents(spec, filters))[:-1]:
            got = by_path(path, compute_funnel, store, spec, filters)
            assert got.steps == want.steps, path
            assert got.entries.equals(want.entries), path
        return set()

    _with_log(events, check)


def test_every_list_filter_of_filters_is_declared_once():
    lists = {f.name for f in dataclasses.fields(Filters) if f.name not in ("date_from", "date_to", "timezone")}
    assert lists == {f.name for f in FIELDS}
    assert len({f.key for f in FIELDS}) == len(FIELDS)


def test_accelerators_declare_only_known_filter_fields():
    for acc in engine.ACCELERATORS:
        assert acc.filter_fields <= set(FIELDS), acc.name


def test_every_accelerator_meets_the_contract_cases():
    """Each accelerator answers at least one query shape drawn above (else the contract skips it)."""
    events = [("u1", kind, h, "douyin", "spring", "A", "v1", 30.0, "c1", 99) for h, kind in
              enumerate(["impression", "view", "click", "purchase", "lesson_complete"])]

    def check(store):
        seen = set()
        for by in GROUPINGS:
            for sums_only in (False, True):
                seen |= set(engine.paths_for(store, Components(Filters(T0.date(), T0.date()), by, sums_only)))
        for steps in FUNNELS:
            seen |= set(engine.paths_for(store, FunnelEvents(FunnelSpec(parse_steps(steps)), Filters())))
        return seen | set(engine.paths_for(store, ItemLabels())) | set(engine.paths_for(store, Recorded()))

    assert _with_log(events, check) == {a.name for a in engine.ACCELERATORS} | {engine.PORTABLE}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(EVENT, min_size=0, max_size=12))
def test_every_path_gives_the_portable_record_kinds(events):
    def check(store):
        return _recorded_paths(store)

    assert _with_log(events, check) == {"recorded_sql"}


def test_every_path_gives_the_portable_item_labels():
    """The catalog labels (one row per item id, the largest title and creator over its uploads)."""
    def check(store):
        insert_items(store, [{**ITEMS[0], "title": "Later"}, {"item_id": "v9", "kind": "video", "title": None}])
        assert len(engine.answer_by(engine.PORTABLE, store, ItemLabels())) == len(ITEMS) + 1
        return _labels_paths(store)

    assert _with_log([("u1", "view", 1, None, None, None, "v1", 30.0, None, 1)], check) == {"catalog_sql"}


def _fixed_log(n: int = 400, seed: int = 7) -> list[tuple]:
    rng = np.random.default_rng(seed)

    def pick(values):
        return values[int(rng.integers(len(values)))]

    kinds = ["impression", "view", "view", "view", "like", "click", "follow", "purchase", "refund", "lesson_complete"]
    return [
        (pick(["u1", "u2", "u3", "u4", "u5", "u6", "u7"]), pick(kinds), int(rng.integers(0, 6 * 48)),
         pick(["douyin", "kuaishou", None]), pick(["spring", "autumn", None]), pick(["A", "B", None]),
         pick(["v1", "v2", "v3", "c1", None]), float(rng.uniform(0, 90)), pick([None, "c1", "c2"]), int(rng.integers(1, 300)))
        for _ in range(n)
    ]


def _sweep(store: Store, cases, groupings=GROUPINGS, funnels=FUNNELS) -> set[str]:
    """Every grouping (sums or not) and funnel under each filter set of ``cases``, through every path;
    the names of the accelerators that answered."""
    used = set()
    for filters in cases:
        for by in groupings:
            for sums_only in (False, True):
                query = Components(filters, by, sums_only)
                want = engine.answer_by(engine.PORTABLE, store, query)
                for path in engine.paths_for(store, query)[:-1]:
                    got = engine.answer_by(path, store, query)
                    if got is not None:
                        used.add(path)
                        _assert_same_components(want, got, by, sums_only, (path, filters, by))
        for steps in funnels:
            spec = FunnelSpec(parse_steps(steps), window_seconds=6 * 3600)
            want = by_path(engine.PORTABLE, compute_funnel, store, spec, filters)
            for path in engine.paths_for(store, FunnelEvents(spec, filters))[:-1]:
                used.add(path)
                got = by_path(path, compute_funnel, store, spec, filters)
                assert got.steps == want.steps and got.entries.equals(want.entries), (path, filters, steps)
    return used | _labels_paths(store) | _recorded_paths(store)


def _recorded_paths(store: Store) -> set[str]:
    """Every path of what the data records, checked against the portable one; their names."""
    want = engine.answer_by(engine.PORTABLE, store, Recorded())
    paths = set(engine.paths_for(store, Recorded())[:-1])
    for path in paths:
        assert engine.answer_by(path, store, Recorded()) == want, path
    return paths


def _labels_paths(store: Store) -> set[str]:
    """Every path of the catalog labels, checked against the portable one; their names."""
    want = engine.answer_by(engine.PORTABLE, store, ItemLabels()).sort_by("item_id").to_pylist()
    paths = set(engine.paths_for(store, ItemLabels())[:-1])
    for path in paths:
        assert engine.answer_by(path, store, ItemLabels()).sort_by("item_id").to_pylist() == want, path
    return paths


PERIOD = {"date_from": T0.date() + dt.timedelta(days=1), "date_to": T0.date() + dt.timedelta(days=3)}


def test_every_path_on_one_log_for_every_field_grouping_and_zone():
    """A deterministic sweep: each declared filter field alone, every grouping, sums or not (and a
    second zone without filters)."""
    events = _fixed_log()
    filter_sets = [{}, *({f.name: (_values_of(f, events)[0],)} for f in FIELDS)]
    cases = [*(Filters(timezone="Asia/Shanghai", **PERIOD, **c) for c in filter_sets),
             Filters(timezone="America/New_York", **PERIOD)]
    assert _with_log(events, lambda store: _sweep(store, cases)) == {a.name for a in engine.ACCELERATORS}


def _upload(store: Store, events) -> int:
    """``events`` (rows of :func:`_fixed_log`) committed as one registered upload; its id."""
    from analytics.store.uploads import insert_canonical, register_upload

    columns = ("user_id", "event_type", "event_time", "channel", "campaign", "variant", "item_id", "watch_seconds",
               "course_id", "revenue")
    rows = [(u, k, T0 + dt.timedelta(minutes=30 * h), ch, ca, va, it, w if k == "view" else None, co,
             float(m) if k in ("purchase", "refund") else None) for u, k, h, ch, ca, va, it, w, co, m in events]
    table = pa.table({c: list(v) for c, v in zip(columns, zip(*rows))})
    with store.transaction() as cur:
        upload_id = register_upload(cur, kind="events", file_name="log.csv", sha256=str(len(rows)), rows_accepted=len(rows))
        insert_canonical(cur, "events", table, upload_id)
    return upload_id


def test_persisted_accelerators_follow_an_append_and_a_removal_without_a_rebuild(monkeypatch):
    """Every persisted structure, built once, is extended by an upload and cut by a removal (never
    rebuilt), stays current, is used by a process that holds nothing in memory, and every path
    still gives the portable answer (before, after the append, after the removal)."""
    from analytics.ingest import remove_upload
    from analytics.query.accel import breakdown, funnel_order, rollup

    log = _fixed_log(300)
    cases = [Filters(timezone="Asia/Shanghai", **PERIOD)]
    everything = {a.name for a in engine.ACCELERATORS}
    shapes = [(), ("channel",), ("day",), ("video",), ("course",)], FUNNELS[:3]

    def fresh_process():
        breakdown.clear()
        funnel_order.clear()

    def check(store):
        insert_items(store, ITEMS)
        first = _upload(store, log[:200])
        assert _sweep(store, cases, *shapes) == everything  # builds and persists every structure
        tables = {r[0] for r in store.query("SELECT table_name FROM duckdb_tables()").rows}
        assert {rollup.ROLLUP_TABLE, funnel_order.EVENTS_TABLE} <= tables
        assert any(t.startswith("accel_breakdown_seen_") for t in tables)

        def no_rebuild(*args, **kwargs):
            raise AssertionError("rebuilt instead of extended")

        refresh = rollup.refresh

        def refresh_without_rebuild(store, *, force=False):
            assert not refresh(store, force=force), "rebuilt instead of extended"
            return False

        with monkeypatch.context() as m:
            for module in (breakdown, funnel_order):
                m.setattr(module, "_persist", no_rebuild)
            m.setattr(rollup, "refresh", refresh_without_rebuild)
            second = _upload(store, log[200:])
            engine.after_upload(store, second, "events")
            assert store.query(f"SELECT count(*) FROM {rollup.ROLLUP_TABLE} WHERE upload_id = ?", [second]).scalar() > 0
            fresh_process()
            key = store.content_version()
            assert store.get_meta(rollup.ROLLUP_META_KEY) == key
            for by in ("video", "course"):
                assert breakdown.is_current(store, by, "Asia/Shanghai"), by
            assert funnel_order.is_current(store)
            engine.ask(store, Components(cases[0], ("video",)))  # a one-shot process queries a persisted part
            engine.ask(store, FunnelEvents(FunnelSpec(parse_steps(FUNNELS[0])), cases[0]))
            assert breakdown.nbytes() == 0 and not funnel_order._CACHE  # and loads nothing
            assert _sweep(store, cases, *shapes) == everything
            assert funnel_order.event_index(store).order is not None  # two sorted runs merged on load

            fresh_process()
            remove_upload(store, first)
            assert store.query(f"SELECT count(*) FROM {rollup.ROLLUP_TABLE} WHERE upload_id = ?", [first]).scalar() == 0
            assert funnel_order.is_current(store) and breakdown.is_current(store, "video", "Asia/Shanghai")
            assert _sweep(store, cases, *shapes) == everything
        return set()

    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "contract.duckdb")
        try:
            check(store)
        finally:
            store.close()
            fresh_process()


def test_a_catalog_upload_or_a_stale_structure_is_rebuilt_at_upkeep():
    """A change the structures cannot follow row by row (a new catalog moves ratios and groups), or a
    structure that was not current before the change, is rebuilt in the upkeep step."""
    from analytics.query.accel import rollup

    log = _fixed_log(120)
    cases = [Filters(timezone="Asia/Shanghai", **PERIOD)]

    def check(store):
        _upload(store, log[:60])
        _sweep(store, cases, [(), ("video",)], FUNNELS[:1])  # builds one structure of each
        with store.transaction() as cur:
            store.set_meta(cur, rollup.ROLLUP_META_KEY, "stale")
        second = _upload(store, log[60:])
        engine.after_upload(store, second, "events")
        assert store.get_meta(rollup.ROLLUP_META_KEY) == store.content_version()
        from analytics.store.uploads import insert_canonical, register_upload

        catalog = pa.table({"item_id": ["v1", "v2"], "kind": ["video", "video"], "duration_seconds": [20.0, 45.0],
                            "category": ["art", "math"], "creator": ["cy", "cy"]})
        with store.transaction() as cur:
            items = register_upload(cur, kind="items", file_name="items.csv", sha256="items", rows_accepted=2)
            insert_canonical(cur, "items", catalog, items)
        engine.after_upload(store, items, "items")
        key = store.content_version()
        assert store.get_meta(rollup.ROLLUP_META_KEY) == key
        from analytics.query.accel import breakdown

        assert all(v in (key, breakdown._stamp(key)) for v in store.meta_like("accel_").values())
        return _sweep(store, cases, [(), ("video",), ("day",)], FUNNELS[:2])

    assert _with_log([], check) == {a.name for a in engine.ACCELERATORS}
