"""Hook and completion rates on the real KuaiRand log equal an independent pandas computation.

The log (../shared/datasets/kuairand27k_subset, TAB-separated) has ``play_time_ms`` and
``duration_ms``; 18.5% of its rows have ``duration_ms == 0``, which must be reported as views
without a usable duration and left out of ratio metrics (the hook needs seconds only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analytics.metrics.completion import retention_curve, video_completion
from analytics.store.storage import Store
from analytics.store.uploads import insert_canonical
from tests.helpers import DATASETS, REPO, open_page

LOG = DATASETS / "kuairand27k_subset" / "processed_standard_kcore_15.tsv"

pytestmark = pytest.mark.skipif(not LOG.exists(), reason=f"real dataset folder not found: {LOG.parent}")


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    df = pd.read_csv(LOG, sep="\t", usecols=["user_id", "video_id", "time_ms", "play_time_ms", "duration_ms"])
    df["watch_seconds"] = df.play_time_ms / 1000.0
    df["video_seconds"] = df.duration_ms / 1000.0
    return df


@pytest.fixture(scope="module")
def kuairand_store(log, tmp_path_factory):
    """The log as canonical ``view`` events (one per row), inserted directly (no ingest)."""
    s = Store(tmp_path_factory.mktemp("kuairand") / "k.duckdb")
    rows = pa.table(
        {
            "event_time": pa.array(pd.to_datetime(log.time_ms, unit="ms").to_numpy(), type=pa.timestamp("us")),
            "user_id": pa.array(log.user_id.astype(str).to_numpy(), type=pa.string()),
            "event_type": pa.array(["view"] * len(log), type=pa.string()),
            "item_id": pa.array(log.video_id.astype(str).to_numpy(), type=pa.string()),
            "watch_seconds": pa.array(log.watch_seconds.to_numpy(), type=pa.float64()),
            "video_seconds": pa.array(log.video_seconds.to_numpy(), type=pa.float64()),
        }
    )
    with s.transaction() as cur:
        insert_canonical(cur, "events", rows, upload_id=0)
    yield s
    s.close()


def _independent(df: pd.DataFrame) -> pd.DataFrame:
    """Per-row flags computed with pandas alone, from the definitions in docs/metrics.md."""
    out = pd.DataFrame({"item_id": df.video_id.astype(str)})
    length = df.video_seconds.where(df.video_seconds > 0)
    out["usable"] = length.notna()
    ratio = (df.watch_seconds.clip(lower=0) / length).clip(upper=1.0)
    out["ratio"] = ratio
    out["complete"] = out.usable & (ratio >= 0.9)
    out["hooked"] = df.watch_seconds >= np.minimum(3.0, length.fillna(3.0))
    return out


def test_zero_durations_are_reported_not_used(kuairand_store, log):
    s = video_completion(kuairand_store).summary
    zero = int((log.duration_ms == 0).sum())
    assert s.views == len(log) == 41_828
    assert s.views_without_duration == zero
    assert zero / len(log) == pytest.approx(0.185, abs=0.001)
    assert s.usable_views == len(log) - zero and s.views_without_watch_time == 0


def test_hook_and_completion_rates_equal_pandas(kuairand_store, log):
    ind = _independent(log)
    r = video_completion(kuairand_store, min_views=1)
    s = r.summary
    assert s.hooked_views == int(ind.hooked.sum())
    assert s.complete_views == int(ind.complete.sum())
    assert s.hook_rate == pytest.approx(ind.hooked.mean(), abs=1e-12)
    assert s.completion_rate == pytest.approx(ind.complete[ind.usable].mean(), abs=1e-12)
    assert s.avg_percent_watched == pytest.approx(ind.ratio[ind.usable].mean(), rel=1e-9)
    assert s.capped_views == int((ind.usable & (log.watch_seconds > log.video_seconds)).sum())

    per_video = ind.groupby("item_id").agg(
        views=("hooked", "size"), hooked=("hooked", "sum"), complete=("complete", "sum"), usable=("usable", "sum")
    )
    got = r.videos.set_index("item_id").loc[per_video.index]
    assert (got.views.to_numpy() == per_video.views.to_numpy()).all()
    assert (got.hooked_views.to_numpy() == per_video.hooked.to_numpy()).all()
    assert (got.complete_views.to_numpy() == per_video.complete.to_numpy()).all()
    assert (got.usable_views.to_numpy() == per_video.usable.to_numpy()).all()


def test_retention_curve_of_the_most_viewed_video_equals_pandas(kuairand_store, log):
    ind = _independent(log)
    usable = ind[ind.usable]
    top = usable.item_id.value_counts().index[0]
    ratios = usable.ratio[usable.item_id == top].to_numpy()
    curve = retention_curve(kuairand_store, top, step=5).curve
    expected = [(ratios >= p / 100).mean() for p in curve.percent]
    assert curve.share.to_numpy() == pytest.approx(expected, abs=1e-12)
    assert (np.diff(curve.share.to_numpy()) <= 0).all()


@pytest.fixture(scope="module")
def ingested_db(tmp_path_factory):
    """A database file holding the log uploaded with ``ingest_file`` (closed again, path returned)."""
    from analytics.ingest import ingest_file

    db = tmp_path_factory.mktemp("kuairand_ingest") / "data" / "k.duckdb"
    s = Store(db, read_paths=[LOG])
    try:
        assert ingest_file(s, LOG).status == "ok"
    finally:
        s.close()
    return db


def test_through_ingest_the_rates_equal_pandas_on_the_deduplicated_log(ingested_db):
    """The same log uploaded with ``ingest_file`` (wide rows -> views; exact duplicate rows skipped)."""
    s = Store(ingested_db)
    try:
        full = pd.read_csv(LOG, sep="\t").drop_duplicates()  # ingest skips rows identical in every column
        full["watch_seconds"] = full.play_time_ms / 1000.0
        full["video_seconds"] = full.duration_ms / 1000.0
        ind = _independent(full)
        summary = video_completion(s).summary
        assert summary.views == len(full)
        assert summary.views_without_duration == int((full.duration_ms == 0).sum())
        assert summary.hooked_views == int(ind.hooked.sum())
        assert summary.complete_views == int(ind.complete.sum())
        assert summary.completion_rate == pytest.approx(ind.complete[ind.usable].mean(), abs=1e-12)
    finally:
        s.close()


def test_pages_on_the_uploaded_kuairand_file(monkeypatch, ingested_db):
    """The Videos and Course completion pages on the real log uploaded through ingest."""
    db = ingested_db
    s = Store(db)
    try:
        expected = video_completion(s).summary
    finally:
        s.close()
    at = open_page(monkeypatch, db, "videos.py")
    at.run()
    assert not at.exception
    assert [m.value for m in at.metric] == [
        f"{expected.views:,}",
        f"{expected.hook_rate:.1%}",
        f"{expected.completion_rate:.1%}",
        f"{expected.avg_percent_watched:.1%}",
    ]
    assert at.main.caption[1].value.startswith(f"{expected.views_without_duration:,} views without a usable video length")
    assert "no creator in the catalog" in " ".join(c.value for c in at.main.caption)
    at.switch_page(str(REPO / "dashboard" / "views" / "courses.py"))
    at.run()
    assert not at.exception
    assert at.main.info[0].value == "No course found: add catalog items of kind 'course' or lesson events."
