"""The sample-data generator: determinism, canonical schema, planted relations, loading and the CLI.

Rates are checked against the ranges the generator promises (docs/sample-data.md) on seeded
samples, so every assertion is deterministic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import sample as S
from analytics.cli.main import main
from analytics.errors import BadInput
from analytics.store.schema import (
    EVENT_COLUMNS,
    EVENT_TYPES,
    ITEM_COLUMNS,
    SPEND_COLUMNS,
)
from tests.helpers import REPO

SHIPPED = {"users": 400, "days": 30, "seed": 7}  # sample_data/README.md names the same parameters


@pytest.fixture(scope="module")
def small() -> S.SampleData:
    return S.generate(users=300, days=28, seed=7)


@pytest.fixture(scope="module")
def large() -> S.SampleData:
    """One full block of users over two months: enough for rates and the experiment."""
    return S.generate(users=S.CHUNK_USERS, days=60, seed=11)


@pytest.fixture(scope="module")
def large_df(large) -> pd.DataFrame:
    e = large.events.to_pandas()
    e["local"] = e["event_time"] + pd.Timedelta(hours=8)
    e["day"] = (e["local"].dt.normalize() - pd.Timestamp(S.DEFAULT_START)).dt.days
    return e


def _counts(e: pd.DataFrame) -> pd.Series:
    return e["event_type"].value_counts()


# -- determinism and schema ---------------------------------------------------------------------------


def test_same_seed_gives_identical_tables(small):
    again = S.generate(users=300, days=28, seed=7)
    assert again.events.equals(small.events)
    assert again.items.equals(small.items)
    assert again.spend.equals(small.spend)
    assert again.truth["experiment"] == small.truth["experiment"]


def test_another_seed_gives_other_data(small):
    other = S.generate(users=300, days=28, seed=8)
    assert not other.events.equals(small.events)
    assert not other.items.equals(small.items)


def test_columns_are_the_canonical_ones_in_order(small):
    assert small.events.column_names == list(EVENT_COLUMNS)
    assert small.items.column_names == list(ITEM_COLUMNS)
    assert small.spend.column_names == list(SPEND_COLUMNS)
    assert small.events.schema.field("event_time").type == pa.timestamp("us")  # naive: UTC
    assert small.items.schema.field("published_at").type == pa.timestamp("us")
    assert small.events.schema.field("revenue").type == pa.decimal128(18, 2)
    assert small.spend.schema.field("date").type == pa.date32()


def test_vocabularies_and_references_are_closed(small):
    e, items = small.events.to_pandas(), small.items.to_pandas()
    assert set(e["event_type"]) <= set(EVENT_TYPES)
    assert set(e["channel"]) <= set(S.CHANNELS)
    assert set(e["campaign"].dropna()) <= set(S.campaigns_by_name())
    assert set(e["variant"]) == set(S.VARIANTS)
    assert set(e["item_id"]) <= set(items["item_id"])
    kinds = items.set_index("item_id")["kind"]
    assert set(kinds[e["course_id"].dropna().unique()]) <= {"course", "ebook"}
    assert e[["event_time", "user_id", "event_type", "item_id"]].notna().all().all()


def test_every_user_keeps_one_channel_campaign_and_variant(small):
    e = small.events.to_pandas()
    per_user = e.groupby("user_id")[["channel", "campaign", "variant"]].nunique(dropna=False)
    assert (per_user <= 1).all().all()


def test_catalog_has_creators_courses_ebooks_and_videos(small):
    items = small.items.to_pandas()
    kinds = items["kind"].value_counts()
    assert set(kinds.index) == {"video", "course", "ebook"}
    assert items["creator"].nunique() == 8  # max(8, users // 100)
    videos = items[items["kind"] == "video"]
    assert videos["item_id"].str.fullmatch(r"v\d{6}").all()
    assert videos["duration_seconds"].between(15, 180).all()
    assert videos["course_id"].isin(items.loc[items["kind"] != "video", "item_id"]).all()
    courses = items[items["kind"] == "course"]
    assert courses["item_id"].str.fullmatch(r"c\d{4}").all()
    assert courses["lessons"].between(5, 24).all()
    assert courses["price"].astype(float).between(9.9, 999).all()
    assert items.loc[items["kind"] == "ebook", "item_id"].str.fullmatch(r"e\d{3}").all()
    assert set(items["category"]) <= set(S.CATEGORY_NAMES)
    assert items["tags"].str.count(",").eq(2).all()
    # each creator sells only in its own 1-2 categories
    assert items.groupby("creator")["category"].nunique().le(2).all()


def test_no_event_on_a_video_before_it_was_published(small):
    e, items = small.events.to_pandas(), small.items.to_pandas()
    published = items.set_index("item_id")["published_at"]
    on_videos = e[e["item_id"].str.startswith("v")]
    assert (on_videos["event_time"] >= on_videos["item_id"].map(published)).all()


def test_spend_has_one_row_per_day_and_campaign(small):
    spend = small.spend.to_pandas()
    assert not spend.duplicated(["date", "campaign"]).any()
    assert spend.groupby("campaign").size().eq(28).all()
    per_channel = spend.groupby("channel")["campaign"].nunique()
    assert set(per_channel.index) == set(S.CHANNELS) and per_channel.between(2, 3).all()
    assert (spend["spend"].astype(float) > 0).all()


def test_events_fall_inside_the_period_in_local_days(small, large_df):
    e = small.events.to_pandas()
    local = e["event_time"] + pd.Timedelta(hours=8)
    assert local.min() >= pd.Timestamp("2026-09-01")
    assert local.max() < pd.Timestamp("2026-09-29")
    assert large_df["day"].between(0, 59).all()  # late sessions do not spill past the last midnight


def test_a_start_date_moves_the_period():
    moved = S.generate(users=50, days=7, seed=7, start=dt.date(2025, 3, 3))
    local = moved.events.to_pandas()["event_time"] + pd.Timedelta(hours=8)
    assert local.min() >= pd.Timestamp("2025-03-03") and local.max() < pd.Timestamp("2025-03-10")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [({"users": 0}, "bad_sample_users"), ({"days": 0}, "bad_sample_days"), ({"seed": -1}, "bad_sample_seed")],
)
def test_bad_sizes_are_rejected(kwargs, code):
    with pytest.raises(BadInput) as err:
        S.generate(**kwargs)
    assert err.value.code == code


# -- planted relations ------------------------------------------------------------------------------------


def test_size_is_about_three_events_per_user_and_day(large):
    per_user_day = large.events.num_rows / (large.truth["parameters"]["users"] * 60)
    assert 2.6 <= per_user_day <= 3.5


def test_funnel_rates_are_in_the_promised_ranges(large_df):
    c = _counts(large_df)
    assert 0.35 <= c["view"] / c["impression"] <= 0.60
    assert 0.02 <= c["click"] / c["view"] <= 0.06
    assert 0.05 <= c["purchase"] / c["click"] <= 0.15
    assert 0.03 <= c["refund"] / c["purchase"] <= 0.08
    for kind in ("like", "comment", "share", "follow", "favorite", "add_to_cart", "lesson_start", "lesson_complete"):
        assert c[kind] > 0, kind


def test_watch_time_drops_off_like_a_real_feed(large_df):
    views = large_df[large_df["event_type"] == "view"]
    ratio = views["watch_seconds"] / views["video_seconds"]
    left_early = (views["watch_seconds"] < 3).mean()
    assert 0.15 <= left_early <= 0.40  # the big early drop
    assert 0.25 <= (ratio >= 0.9).mean() <= 0.40  # complete views
    assert 0.0 < (ratio > 1).mean() < 0.1  # occasional replays
    # a decaying hazard: fewer viewers remain at each later quarter
    remaining = [(ratio >= q).mean() for q in (0.25, 0.5, 0.75, 0.9)]
    assert remaining == sorted(remaining, reverse=True)


def test_treatment_raises_ctr_by_about_the_planted_lift(large, large_df):
    truth = large.truth["experiment"]
    assert truth["relative_lift"] == pytest.approx(0.20)
    assert truth["treatment_ctr"] == pytest.approx(truth["control_ctr"] * 1.2)
    ctr = {}
    for variant, rows in large_df.groupby("variant"):
        c = _counts(rows)
        ctr[variant] = c["click"] / c["view"]
    observed_lift = ctr["treatment"] / ctr["control"] - 1
    assert 0.10 <= observed_lift <= 0.30
    assert ctr["control"] == pytest.approx(truth["control_ctr"], rel=0.08)
    users = large_df.drop_duplicates("user_id")["variant"].value_counts(normalize=True)
    assert users["treatment"] == pytest.approx(0.5, abs=0.03)


def test_variant_is_a_hash_of_the_user_not_of_the_seed():
    ids = [f"u{i:06d}" for i in range(1, 10_001)]
    assert np.array_equal(S.variant_of(ids), S.variant_of(list(reversed(ids)))[::-1])
    assert S.variant_of(ids).mean() == pytest.approx(0.5, abs=0.02)
    # the documented rule: lowest bit of SHA-256("cover_test:" + user id)
    assert S.variant_of(["u000001"])[0] == hashlib.sha256(b"cover_test:u000001").digest()[0] & 1
    a = S.generate(users=60, days=3, seed=1).events.to_pandas()
    b = S.generate(users=60, days=3, seed=2).events.to_pandas()
    va = a.drop_duplicates("user_id").set_index("user_id")["variant"]
    vb = b.drop_duplicates("user_id").set_index("user_id")["variant"]
    common = va.index.intersection(vb.index)
    assert len(common) > 0 and (va[common] == vb[common]).all()


def test_a_purchase_follows_a_click_on_the_same_course(large_df):
    e = large_df
    buys = e[e["event_type"] == "purchase"]
    clicks = e[e["event_type"] == "click"].groupby(["user_id", "course_id"])["event_time"].min()
    first_click = pd.Series(list(zip(buys["user_id"], buys["course_id"]))).map(clicks)
    assert first_click.notna().all()
    assert (first_click.to_numpy() < buys["event_time"].to_numpy()).all()
    assert not buys.duplicated(["user_id", "course_id"]).any()  # bought once
    assert (buys["item_id"] == buys["course_id"]).all()


def test_revenue_is_the_price_on_purchases_and_refunds(large, large_df):
    price = large.items.to_pandas().set_index("item_id")["price"]
    money = large_df[large_df["event_type"].isin(["purchase", "refund"])]
    assert (money["revenue"] == money["item_id"].map(price)).all()
    assert (money["revenue"].astype(float) > 0).all()
    assert large_df.loc[~large_df["event_type"].isin(["purchase", "refund"]), "revenue"].isna().all()


def test_lessons_and_refunds_come_after_the_purchase(large_df):
    e = large_df
    bought = e[e["event_type"] == "purchase"].set_index(["user_id", "course_id"])["event_time"]
    refunded = e[e["event_type"] == "refund"].set_index(["user_id", "course_id"])["event_time"]
    assert refunded.index.is_unique
    delay = refunded - bought.reindex(refunded.index)
    assert (delay > pd.Timedelta(0)).all() and (delay <= pd.Timedelta(days=7)).all()
    lessons = e[e["event_type"].isin(["lesson_start", "lesson_complete"])]
    keys = pd.MultiIndex.from_frame(lessons[["user_id", "course_id"]])
    assert (lessons["event_time"].to_numpy() > bought.reindex(keys).to_numpy()).all()
    refund_time = refunded.reindex(keys)
    assert not (lessons["event_time"].to_numpy() > refund_time.to_numpy()).any()  # NaT compares False


def test_lessons_run_in_order_with_dropout(large, large_df):
    lessons_of = large.items.to_pandas().set_index("item_id")["lessons"]
    starts = large_df[large_df["event_type"] == "lesson_start"]
    assert (starts["lesson"] >= 1).all() and (starts["lesson"] <= starts["item_id"].map(lessons_of)).all()
    per_lesson = starts["lesson"].value_counts().sort_index()
    assert per_lesson.is_monotonic_decreasing and per_lesson.iloc[0] > 2 * per_lesson.get(5, 0)
    done = large_df[large_df["event_type"] == "lesson_complete"]
    started = set(zip(starts["user_id"], starts["item_id"], starts["lesson"]))
    assert set(zip(done["user_id"], done["item_id"], done["lesson"])) <= started
    # a learner starts lesson k + 1 only after lesson k
    first = starts.groupby(["user_id", "item_id"])["lesson"].agg(["min", "max", "count"])
    assert (first["min"] == 1).all() and (first["max"] == first["count"]).all()


def test_activity_peaks_at_lunch_and_in_the_evening(large_df):
    hours = large_df.loc[large_df["event_type"] == "impression", "local"].dt.hour.value_counts()
    top5 = set(hours.nlargest(5).index)
    assert top5 <= {12, 13, 19, 20, 21, 22, 23}
    assert hours[21] > 5 * hours[4]


def test_weekends_are_busier_than_weekdays(large_df):
    active = large_df.drop_duplicates(["user_id", "day"])
    per_weekday = active.groupby(active["local"].dt.day_of_week)["user_id"].size()
    assert per_weekday[[5, 6]].mean() > per_weekday[[0, 1, 2, 3]].mean()


def test_retention_decays_in_the_promised_ranges(large_df):
    e = large_df
    first = e.groupby("user_id")["day"].min()
    active = e[["user_id", "day"]].drop_duplicates()
    since = active["day"] - active["user_id"].map(first)
    rates = {}
    for k in (1, 7, 30):
        eligible = first[first + k < 60].index
        rates[k] = active.loc[(since == k) & active["user_id"].isin(eligible), "user_id"].nunique() / len(eligible)
    assert 0.30 <= rates[1] <= 0.45
    assert 0.15 <= rates[7] <= 0.25
    assert 0.05 <= rates[30] <= 0.12


def test_most_impressions_come_from_favourite_categories(large, large_df):
    category = large.items.to_pandas().set_index("item_id")["category"]
    imps = large_df[large_df["event_type"] == "impression"]
    interests = large.truth["user_interests"]
    fav = [c in interests[u] for u, c in zip(imps["user_id"], imps["item_id"].map(category))]
    assert 0.70 <= np.mean(fav) <= 0.85


def test_users_prefer_a_personal_subset_of_creators(large, large_df):
    creator = large.items.to_pandas().set_index("item_id")["creator"]
    names = large.items.to_pandas().drop_duplicates("creator")["creator"]
    assert len(names) == S.CHUNK_USERS // 100
    imps = large_df[large_df["event_type"] == "impression"]
    per_pair = imps.assign(creator=imps["item_id"].map(creator)).groupby(["user_id", "creator"]).size()
    top3 = per_pair.sort_values(ascending=False).groupby(level="user_id").head(3).groupby(level="user_id").sum()
    share_top3 = top3 / per_pair.groupby(level="user_id").sum()
    # with 40 creators a user without taste would see its top 3 in well under a third of impressions
    assert share_top3[imps.groupby("user_id").size() >= 50].median() > 0.45
    favourites = large.truth["user_creators"]
    top1 = per_pair.sort_values(ascending=False).groupby(level="user_id").head(1).reset_index()
    hit = [c in favourites[u] for u, c in zip(top1["user_id"], top1["creator"])]
    assert np.mean(hit) > 0.8  # a user's most-seen creator is one of the planted favourites


def test_video_exposure_is_heavy_tailed(large_df):
    per_video = large_df.loc[large_df["event_type"] == "impression", "item_id"].value_counts()
    top10 = per_video.head(len(per_video) // 10).sum() / per_video.sum()
    assert top10 > 0.3


def test_paid_users_follow_the_channel_mix(large_df):
    users = large_df.drop_duplicates("user_id")
    share = users["channel"].value_counts(normalize=True)
    for channel, expected in zip(S.CHANNELS, S.CHANNEL_SHARE):
        assert share[channel] == pytest.approx(expected, abs=0.03)
    assert users["campaign"].isna().mean() == pytest.approx(S.ORGANIC_SHARE, abs=0.03)
    campaign_channel = users.dropna(subset=["campaign"]).groupby("campaign")["channel"].nunique()
    assert (campaign_channel == 1).all()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(users=st.integers(1, 40), days=st.integers(1, 10), seed=st.integers(0, 2**32))
def test_chain_laws_hold_for_any_small_sample(users, days, seed):
    data = S.generate(users=users, days=days, seed=seed)
    e = data.events.to_pandas()
    assert e["user_id"].nunique() == users  # every user is seen on their first day
    assert set(e["event_type"]) <= set(EVENT_TYPES)
    views = e[e["event_type"] == "view"]
    assert (views["watch_seconds"] > 0).all() and (views["video_seconds"] > 0).all()
    c = _counts(e)
    assert c.get("purchase", 0) <= c.get("click", 0) <= c.get("view", 0) <= c["impression"]
    assert c.get("refund", 0) <= c.get("purchase", 0)
    assert data.spend.num_rows == days * len(S.campaigns_by_name())


# -- loading, chunking, CSV, CLI ------------------------------------------------------------------------


def test_load_sample_loads_once_and_registers_three_uploads(store, small):
    counts = S.load_sample(store, users=300, days=28, seed=7)
    assert counts == small.counts
    assert S.load_sample(store, users=300, days=28, seed=7) == {"events": 0, "items": 0, "spend": 0}
    assert store.counts() == {**small.counts, "uploads": 3}
    uploads = store.query("SELECT kind, file_name, rows_accepted FROM uploads ORDER BY kind").rows
    name = "sample(users=300,days=28,seed=7)"
    assert uploads == tuple((kind, name, counts[kind]) for kind in ("events", "items", "spend"))
    shas = {r[0] for r in store.query("SELECT DISTINCT file_sha256 FROM uploads").rows}
    assert shas == {hashlib.sha256(name.encode()).hexdigest()} == {S.sample_sha256(300, 28, 7)}


def test_load_sample_if_empty_leaves_a_store_with_events_alone(store):
    S.load_sample(store, users=20, days=3, seed=1)
    before = store.counts()
    assert S.load_sample(store, users=30, days=3, seed=2, if_empty=True) == {"events": 0, "items": 0, "spend": 0}
    assert store.counts() == before
    assert sum(S.load_sample(store, users=30, days=3, seed=2).values()) > 0  # without the flag it loads


def test_chunked_loading_gives_the_same_rows_as_generate(store, monkeypatch):
    monkeypatch.setattr(S, "CHUNK_USERS", 25)
    data = S.generate(users=60, days=5, seed=3)
    reported = []
    S.load_sample(store, users=60, days=5, seed=3, progress=lambda f, step="", **values: reported.append(f))
    assert reported[-1] == 1.0 and reported == sorted(reported) and len(reported) == 3
    cols = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    stored = store.arrow(f"SELECT {cols} FROM events ORDER BY event_time, user_id, event_type, item_id").to_pandas()
    expected = data.events.to_pandas().sort_values(["event_time", "user_id", "event_type", "item_id"], kind="stable")
    expected["revenue"] = expected["revenue"].astype(object)
    pd.testing.assert_frame_equal(
        stored.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )


def test_csv_files_round_trip_with_local_offsets(tmp_path, small):
    paths = S.write_csv(small, tmp_path / "out")
    assert set(paths) == {"events", "items", "spend"}
    for kind, columns in (("events", EVENT_COLUMNS), ("items", ITEM_COLUMNS), ("spend", SPEND_COLUMNS)):
        text = paths[kind].read_text(encoding="utf-8")
        assert text.splitlines()[0].replace('"', "").split(",") == list(columns)
    raw = pcsv.read_csv(paths["events"], convert_options=pcsv.ConvertOptions(column_types={"event_time": pa.string()}))
    assert pd.Series(raw["event_time"].to_pylist()).str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00").all()
    back = pcsv.read_csv(paths["events"]).to_pandas()  # the offset is honoured: times come back in UTC
    utc = back["event_time"].dt.tz_convert("UTC").dt.tz_localize(None)
    assert (utc.to_numpy() == small.events.to_pandas()["event_time"].to_numpy()).all()


def test_the_shipped_sample_is_small_and_current(tmp_path):
    folder = REPO / "sample_data"
    files = {kind: folder / f"{kind}.csv" for kind in ("events", "items", "spend")}
    assert sum(p.stat().st_size for p in files.values()) < 5_000_000
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "--users {users} --days {days} --seed {seed}".format(**SHIPPED) in readme
    fresh = S.write_csv(S.generate(**SHIPPED), tmp_path)
    for kind, path in files.items():
        assert path.read_bytes() == fresh[kind].read_bytes(), f"sample_data/{kind}.csv is stale; regenerate it"


def test_cli_loads_then_skips_and_prints_counts(tmp_path, capsys):
    db = str(tmp_path / "data" / "cli.duckdb")
    args = ["--db", db, "--json", "sample", "--users", "40", "--days", "5", "--seed", "3"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["status"] == "loaded" and first["counts"]["events"] > 0
    assert first["counts"] == S.generate(users=40, days=5, seed=3).counts
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["counts"] == {"events": 0, "items": 0, "spend": 0}
    assert (again["status"], again["reason"]) == ("skipped", "already_loaded")
    assert main(["--db", db, "--json", "sample", "--if-empty"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "skipped" and out["sample"] == "sample(users=2000,days=60,seed=7)"
    assert out["reason"] == "not_empty" and out["existing_events"] == first["counts"]["events"]
    assert main(["--db", db, "--json", "status"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["uploads"] == 3


def test_cli_text_output_shows_a_progress_bar_on_stderr(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "d" / "x.duckdb"), "sample", "--users", "10", "--days", "2"]) == 0
    captured = capsys.readouterr()
    assert "sample(users=10,days=2,seed=7): loaded " in captured.out
    assert "100.0%" in captured.err


def test_cli_if_empty_says_it_skipped_a_database_with_events(tmp_path, capsys):
    db = tmp_path / "d" / "x.duckdb"
    assert main(["--db", str(db), "sample", "--users", "10", "--days", "2"]) == 0
    capsys.readouterr()
    assert main(["--db", str(db), "status", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)["counts"]["events"]
    assert main(["--db", str(db), "sample", "--if-empty"]) == 0
    out = capsys.readouterr().out
    assert out == (
        f"sample(users=2000,days=60,seed=7): skipped, nothing loaded: {db} already holds {events:,} events "
        "(--if-empty loads only into a database without events)\n"
    )
    assert "events 0" not in out.replace("  ", " ")


def test_cli_export_writes_csvs_without_touching_the_database(tmp_path, capsys):
    db = tmp_path / "data" / "never.duckdb"
    args = ["--db", str(db), "--json", "sample", "--users", "10", "--days", "2", "--export", str(tmp_path / "csv")]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["events"] > 0
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == ["events.csv", "items.csv", "spend.csv"]
    assert not db.exists()


def test_cli_rejects_bad_sizes_with_one_line(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "d.duckdb"), "sample", "--users", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "users must be a whole number" in err[0]


def test_sample_fixture_store_is_a_private_copy(sample_store, sample_db):
    assert sample_store.path != sample_db.resolve()
    counts = sample_store.counts()
    assert counts["events"] > 10_000 and counts["uploads"] == 3


def test_daily_rhythms_differ_by_chronotype(large, large_df):
    kinds = large_df["user_id"].map(large.truth["user_chronotypes"])
    hour = large_df["local"].dt.hour
    late = hour.isin([22, 23, 0, 1, 2]).groupby(kinds).mean()
    lunch = hour.isin([11, 12, 13]).groupby(kinds).mean()
    assert late["night_owl"] > 1.5 * late["lunch"]
    assert lunch["lunch"] > 1.5 * lunch["night_owl"]
    shares = pd.Series(large.truth["user_chronotypes"]).value_counts(normalize=True)
    for name, (share, _) in S.CHRONOTYPES.items():
        assert shares[name] == pytest.approx(share, abs=0.03)


def test_videos_posted_in_the_evening_reach_further(large, large_df):
    items = large.items.to_pandas()
    videos = items[items["kind"] == "video"].set_index("item_id")
    imps = large_df[large_df["event_type"] == "impression"]
    reach = imps["item_id"].value_counts().reindex(videos.index, fill_value=0)
    post_hour = (videos["published_at"] + pd.Timedelta(hours=8)).dt.hour
    evening = reach[post_hour.isin(large.truth["best_post_hours_local"])].median()
    other = reach[post_hour.between(9, 16)].median()
    assert evening > 1.2 * other


def test_the_shipped_csvs_load_through_the_normal_ingest(tmp_path, capsys):
    import shutil

    db = str(tmp_path / "data" / "ingested.duckdb")
    (tmp_path / "data").mkdir()
    for kind in ("items", "spend", "events"):
        # copied into the data folder: one process keeps one connection, opened for the first file only
        csv = shutil.copy(REPO / "sample_data" / f"{kind}.csv", tmp_path / "data")
        assert main(["--db", db, "--json", "ingest", "--kind", kind, str(csv)]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["rows_rejected"] == 0 and report["rows_duplicate"] == 0, report["issues"]
    expected = S.generate(**SHIPPED)
    assert main(["--db", db, "--json", "status"]) == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert {k: counts[k] for k in ("events", "items", "spend")} == expected.counts
    from analytics.store.storage import open_store

    stored = open_store(db).query("SELECT min(event_time), max(event_time), sum(revenue) FROM events").rows[0]
    e = expected.events.to_pandas()
    assert stored[0] == e["event_time"].min() and stored[1] == e["event_time"].max()
    assert float(stored[2]) == pytest.approx(float(e["revenue"].dropna().astype(float).sum()))


def test_iter_events_yields_the_generated_events_block_by_block(monkeypatch):
    monkeypatch.setattr(S, "CHUNK_USERS", 20)
    blocks = list(S.iter_events(users=50, days=4, seed=5))
    assert len(blocks) == 3
    assert pa.concat_tables(blocks).equals(S.generate(users=50, days=4, seed=5).events)


def test_a_removed_sample_table_is_loaded_again_on_its_own(store):
    from analytics.store.uploads import remove_upload

    first = S.load_sample(store, users=30, days=3, seed=4)
    spend_upload = store.query("SELECT upload_id FROM uploads WHERE kind = 'spend'").scalar()
    remove_upload(store, spend_upload)
    again = S.load_sample(store, users=30, days=3, seed=4)
    assert again == {"events": 0, "items": 0, "spend": first["spend"]}
    assert store.counts() == {**first, "uploads": 3}


def test_a_failed_load_leaves_the_store_unchanged(store, monkeypatch):
    S.load_sample(store, users=20, days=2, seed=1)
    before = store.counts()

    def broken(world, index):
        raise RuntimeError("disk full")

    monkeypatch.setattr(S, "_chunk", broken)
    with pytest.raises(RuntimeError):
        S.load_sample(store, users=25, days=2, seed=2)
    assert store.counts() == before


def test_cli_start_moves_the_period_and_names_the_sample(tmp_path, capsys):
    out_dir = tmp_path / "csv"
    args = ["--json", "sample", "--users", "10", "--days", "2", "--start", "2025-01-06", "--export", str(out_dir)]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["sample"] == "sample(users=10,days=2,seed=7,start=2025-01-06)"
    first = (out_dir / "events.csv").read_text(encoding="utf-8").splitlines()[1]
    assert first.startswith('"2025-01-06T')
    assert main(["sample", "--start", "06/01/2025", "--export", str(out_dir)]) == 2
    assert "--start expects a date" in capsys.readouterr().err


def test_feeds_mostly_show_videos_not_shown_before(large_df):
    imps = large_df[large_df["event_type"] == "impression"]
    repeats = 1 - len(imps.drop_duplicates(["user_id", "item_id"])) / len(imps)
    assert repeats < 0.5


def test_likes_favourites_and_follows_are_not_repeated(large, large_df):
    creator = large.items.to_pandas().set_index("item_id")["creator"]
    e = large_df
    for kind in ("like", "favorite"):
        assert not e[e["event_type"] == kind].duplicated(["user_id", "item_id"]).any(), kind
    follows = e[e["event_type"] == "follow"]
    assert not follows.assign(creator=follows["item_id"].map(creator)).duplicated(["user_id", "creator"]).any()


def test_spend_follows_acquisitions_at_the_planted_cost_per_user(large, large_df):
    from scipy.stats import spearmanr

    acquired = large_df.drop_duplicates("user_id")["campaign"].value_counts()
    spend = large.spend.to_pandas().groupby("campaign")["spend"].sum().astype(float)
    cac = spend / acquired
    planted = pd.Series(large.truth["campaign_cpa"])[cac.index]
    assert spearmanr(cac, planted).statistic > 0.8
    # the planted cost per user plus a small fixed daily minimum
    assert ((cac >= 0.9 * planted) & (cac <= 1.8 * planted)).all()


def test_incidents_are_planted_in_samples_of_six_weeks_or_more():
    assert S.planted_incidents(users=50, days=S.INCIDENT_MIN_DAYS - 1) == []
    assert S.planted_incidents(users=50, days=60, incidents=False) == []
    planted = S.planted_incidents(users=50, days=60)
    assert [(i["name"], i["dimension"], i["effect"]) for i in planted] == [
        ("ctr_collapse", "channel", "rate"), ("campaign_surge", "campaign", "mix"), ("completion_drop", "creator", "rate")
    ]
    assert planted[0]["days"] == ["2026-10-13", "2026-10-14", "2026-10-15"]  # end-18 .. end-16
    assert planted[0]["value"] == S.CTR_COLLAPSE_CHANNEL and planted[1]["value"] == S.SURGE_CAMPAIGN
    assert S.generate(users=50, days=42).truth["incidents"] == S.planted_incidents(users=50, days=42)


def test_cli_loads_a_sample_without_incidents_under_its_own_name(tmp_path, capsys):
    db = str(tmp_path / "data" / "cli.duckdb")
    assert main(["--db", db, "--json", "sample", "--users", "40", "--days", "42", "--no-incidents"]) == 0
    assert json.loads(capsys.readouterr().out)["sample"] == "sample(users=40,days=42,seed=7,incidents=off)"
