"""Taobao UserBehavior (Tianchi), first 84,475 rows: the pv -> cart -> buy funnel, computed twice.

Source: ../shared/datasets/taobao_userbehavior_head/UserBehavior_head.csv (no header: user_id,
item_id, category_id, behavior_type, unix timestamp). pv, cart and buy map to view, add_to_cart and
purchase; ``fav`` is kept as favorite. The independent computation below is ClickHouse's
windowFunnel state machine transcribed literally (events sorted by (time, step), one slot per step
holding the chain's first timestamp), run per user in plain Python; when chDB is installed its own
``windowFunnel`` must agree too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pandas as pd
import pyarrow as pa
import pytest

from analytics.metrics.funnels import FunnelSpec, compute_funnel, parse_steps
from analytics.query.filters import Filters
from analytics.store.storage import Store
from analytics.store.uploads import insert_canonical
from tests.helpers import DATASETS

FILE = DATASETS / "taobao_userbehavior_head" / "UserBehavior_head.csv"
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not FILE.is_file(), reason=f"real dataset {FILE} is absent"),
]
TYPES = {"pv": "view", "cart": "add_to_cart", "buy": "purchase", "fav": "favorite"}
STEPS = ("view", "add_to_cart", "purchase")


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    df = pd.read_csv(FILE, header=None, names=["user_id", "item_id", "category_id", "behavior", "ts"], dtype=str)
    df["event_type"] = df["behavior"].map(TYPES)
    df["event_time"] = pd.to_datetime(df["ts"].astype("int64"), unit="s")
    return df


@pytest.fixture(scope="module")
def taobao(raw, tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("taobao") / "taobao.duckdb")
    table = pa.table(
        {
            "event_time": pa.array(raw["event_time"].astype("datetime64[us]").to_numpy()),
            "user_id": raw["user_id"].to_numpy(),
            "event_type": raw["event_type"].to_numpy(),
            "item_id": raw["item_id"].to_numpy(),
        }
    )
    with s.transaction() as cur:
        insert_canonical(cur, "events", table, upload_id=1)
    yield s
    s.close()


def window_funnel(events: list[tuple[int, int]], k: int, window: int) -> int:
    """ClickHouse ``windowFunnel(window)`` for one user: ``events`` are (timestamp, step 1..k)."""
    slots: list[int | None] = [None] * k
    for ts, step in sorted(events):
        i = step - 1
        if i == 0:
            slots[0] = ts
        elif slots[i - 1] is not None and ts <= slots[i - 1] + window:
            slots[i] = slots[i - 1]
            if i + 1 == k:
                return k
    for i in range(k - 1, -1, -1):
        if slots[i] is not None:
            return i + 1
    return 0


def independent_counts(raw: pd.DataFrame, window: int) -> list[int]:
    per_user: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for user, etype, ts in zip(raw["user_id"], raw["event_type"], raw["ts"].astype("int64")):
        if etype in STEPS:
            per_user[user].append((int(ts), STEPS.index(etype) + 1))
    levels = [window_funnel(evs, len(STEPS), window) for evs in per_user.values()]
    return [sum(1 for lv in levels if lv >= i) for i in range(1, len(STEPS) + 1)]


@pytest.mark.parametrize("window", [3600, 86400, 7 * 86400])
def test_pv_cart_buy_equals_the_windowfunnel_state_machine(taobao, raw, window):
    spec = FunnelSpec(parse_steps(",".join(STEPS)), window_seconds=window)
    got = [s.count for s in compute_funnel(taobao, spec, Filters(timezone="Asia/Shanghai")).steps]
    want = independent_counts(raw, window)
    assert got == want
    assert got[0] == raw.loc[raw.event_type == "view", "user_id"].nunique()
    assert got[0] > got[1] > got[2] > 0


def test_pv_cart_buy_equals_chdb_windowfunnel(taobao, raw):
    import chdb  # installed with the dev extra

    df = raw[["user_id", "event_type"]].assign(t=raw["ts"].astype("uint64"))  # noqa: F841  (read by chDB)
    conds = ", ".join(f"event_type = '{s}'" for s in STEPS)
    out = chdb.query(
        f"SELECT level, count() AS n FROM (SELECT user_id, windowFunnel(86400)(t, {conds}) AS level "
        "FROM Python(df) GROUP BY user_id) GROUP BY level",
        "DataFrame",
    )
    by_level = dict(zip(out["level"].astype(int), out["n"].astype(int)))
    want = [sum(n for lv, n in by_level.items() if lv >= i) for i in range(1, 4)]
    spec = FunnelSpec(parse_steps(",".join(STEPS)), window_seconds=86400)
    assert [s.count for s in compute_funnel(taobao, spec).steps] == want


def test_a_date_range_keeps_entries_inside_it(taobao, raw):
    spec = FunnelSpec(parse_steps(",".join(STEPS)), window_seconds=86400)
    day = dt.date(2017, 11, 26)
    r = compute_funnel(taobao, spec, Filters(date_from=day, date_to=day, timezone="Asia/Shanghai"))
    local = raw["event_time"].dt.tz_localize("UTC").dt.tz_convert("Asia/Shanghai").dt.date
    viewers = raw.loc[(raw.event_type == "view") & (local == day), "user_id"].nunique()
    assert r.steps[0].count == viewers
    assert r.status == "ok" and r.steps[2].count <= r.steps[1].count
