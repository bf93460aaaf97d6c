"""Benchmark the ALS recommender against bare ``implicit`` on 5M interactions.

    OPENBLAS_NUM_THREADS=1 python bench/als.py [--users 100000 --items 20000 --events 5000000]

Synthesises ``--events`` view events (users uniform, items with Zipf popularity, exponent 1.1,
watch ratios uniform in (0, 1]) into the ``events`` table of a temporary store, then in this process:

1. **training** — ours: :func:`analytics.recsys.recommend.build_matrix` (events table -> weighted matrix,
   ids mapped) + :func:`analytics.recsys.recommend.train` (confidence, 15 iterations, 64 factors, then the
   exact least-squares pass over the users that makes every scoring path agree); peer:
   ``implicit.als.AlternatingLeastSquares.fit`` on the very same CSR confidence matrix with the same
   parameters, threads and seed. The exact pass is timed on its own too, so the ratio without it
   (target <= 1.15) can be read next to the ratio with it. Saving the model is timed separately.
   The parameters are fixed (``--factors``, no search): the benchmark times serving, not tuning.
2. **batch top-10 for all users** — ours: :meth:`TrainedModel.recommend_all` (ids mapped back to
   strings, one table); peer: bare ``model.recommend(userids, user_items[userids], N=10)`` on all
   users (target ratio <= 1.1).
Spark ML's ALS and training from events on Spark are measured by ``bench/als_scale.py``.

Prints times, ratios and the process RSS (psutil). Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import pyarrow as pa  # noqa: E402
from _result import emit, peak_rss_mb, side  # noqa: E402

from analytics.recsys.recommend import (  # noqa: E402
    AlsParams,
    build_matrix,
    save_model,
    threads_for,
    train,
)
from analytics.store.storage import Store  # noqa: E402
from analytics.store.uploads import insert_canonical  # noqa: E402


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def synthesise(store: Store, users: int, items: int, events: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1) ** 1.1
    popularity /= popularity.sum()
    item_of = rng.permutation(items)  # popular items are not simply the first ids
    u = rng.integers(0, users, events)
    i = item_of[rng.choice(items, size=events, p=popularity)]
    t0 = np.datetime64("2026-01-01T00:00:00", "us")
    seconds = rng.integers(0, 60 * 86400, events).astype("timedelta64[s]").astype("timedelta64[us]")
    video = rng.uniform(15, 180, events)
    watched = video * rng.uniform(0.01, 1.0, events)
    table = pa.table({
        "event_time": pa.array(t0 + seconds),
        "user_id": pa.array(np.char.add("u", u.astype(str)).astype(object), pa.string()),
        "event_type": pa.array(np.full(events, "view", dtype=object), pa.string()),
        "item_id": pa.array(np.char.add("i", i.astype(str)).astype(object), pa.string()),
        "watch_seconds": pa.array(watched),
        "video_seconds": pa.array(video),
    })
    with store.transaction() as cur:
        insert_canonical(cur, "events", table, upload_id=0)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bare_fit(user_items, params: AlsParams, num_threads: int):
    import implicit.als
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        model = implicit.als.AlternatingLeastSquares(
            factors=params.factors, regularization=params.regularization, alpha=1.0, iterations=params.iterations,
            random_state=params.seed, use_gpu=False, num_threads=num_threads, calculate_training_loss=False,
        )
        model.fit(user_items, show_progress=False)
    return model


def exact_pass_seconds(model, params: AlsParams) -> float:
    """Seconds of the exact least-squares pass over the users that :func:`analytics.recsys.recommend.fit_als` ends with."""
    from implicit.cpu._als import least_squares
    from threadpoolctl import threadpool_limits

    X = model.user_factors.copy()
    with threadpool_limits(1, "blas"):
        seconds, _ = timed(lambda: least_squares(model.user_items, X, model.item_factors, params.regularization,
                                                 num_threads=threads_for(params, model.user_items.nnz)))
    return seconds


def bare_recommend(model, user_items, k: int):
    from threadpoolctl import threadpool_limits

    userids = np.arange(user_items.shape[0])
    with threadpool_limits(1, "blas"):
        return model.recommend(userids, user_items[userids], N=k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0, help="implicit threads for both sides (0 = auto, as in training)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the top-k comparison (median)")
    ap.add_argument("--train-repeat", type=int, default=2, help="runs of the training comparison (median)")
    args = ap.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="als-bench-"))
    try:
        store = Store(folder / "bench.duckdb")
        seconds, _ = timed(lambda: synthesise(store, args.users, args.items, args.events, args.seed))
        print(f"synthesised {args.events:,} events ({args.users:,} users x {args.items:,} items, Zipf 1.1) "
              f"in {seconds:.1f} s; rss {rss_mb():,.0f} MB")
        params = AlsParams(factors=args.factors, iterations=args.iterations, gpu="off",
                           num_threads=args.threads or 0)

        store.table("events")  # load ibis and implicit once, outside the timings
        import implicit.als  # noqa: F401

        ours, bare_fits, model, bare = [], [], None, None
        for n in range(args.train_repeat):  # alternate the order: the machine may be shared
            def run_ours():
                t_matrix, matrix = timed(lambda: build_matrix(store, params))
                t_train, trained = timed(lambda: train(matrix, params, fingerprint="bench"))
                return t_matrix, t_train, matrix, trained

            def run_bare():
                return timed(lambda: bare_fit(model.user_items, params, threads_for(params, model.user_items.nnz)))

            if n % 2 == 0 or model is None:
                t_matrix, t_train, matrix, model = run_ours()
                t_bare, bare = run_bare()
            else:
                t_bare, bare = run_bare()
                t_matrix, t_train, matrix, model = run_ours()
            ours.append((t_matrix, t_train))
            bare_fits.append(t_bare)
            print(f"  run {n + 1}: ours {t_matrix + t_train:.2f} s (matrix {t_matrix:.2f} + fit {t_train:.2f}), bare {t_bare:.2f} s")
        t_matrix = statistics.median(m for m, _ in ours)
        t_train = statistics.median(f for _, f in ours)
        ours_train = statistics.median(m + f for m, f in ours)
        t_bare = statistics.median(bare_fits)
        print(f"matrix: {matrix.shape[0]:,} x {matrix.shape[1]:,}, {matrix.nnz:,} interactions; rss {rss_mb():,.0f} MB")
        t_save, _ = timed(lambda: save_model(model, folder / "models"))
        print(f"training  ours: {ours_train:8.2f} s  (median of {args.train_repeat}; matrix {t_matrix:.2f} s + fit {t_train:.2f} s; device {model.device})")
        print(f"training  bare implicit fit on the same CSR: {t_bare:8.2f} s  (median of {args.train_repeat})")
        t_exact = exact_pass_seconds(model, params)
        print(f"training  ratio ours / bare = {ours_train / t_bare:.3f}; of which the exact user pass {t_exact:.2f} s, "
              f"ratio without it {(ours_train - t_exact) / t_bare:.3f}  (target <= 1.15); saving the model {t_save:.2f} s")
        emit("als", f"training without the exact user pass ({args.events:,} interactions)",
             side(ours_train - t_exact, None, peak_rss_mb()), side(t_bare), peer_name="bare implicit fit on the same CSR",
             target=("ratio", 1.15), note="median wall, runs alternated; peak RSS of the one process")

        ours_times, bare_times = [], []
        for n in range(args.repeat):  # alternate the order so neither side always runs second
            pair = [("ours", lambda: model.recommend_all(args.k)), ("bare", lambda: bare_recommend(bare, model.user_items, args.k))]
            for name, fn in (pair if n % 2 == 0 else pair[::-1]):
                seconds, out = timed(fn)
                (ours_times if name == "ours" else bare_times).append(seconds)
                if name == "ours":
                    table = out
                else:
                    ids = out[0]
        t_ours_rec, t_bare_rec = statistics.median(ours_times), statistics.median(bare_times)
        print(f"top-{args.k}    ours recommend_all: {t_ours_rec:8.2f} s  (median of {args.repeat}; "
              f"{table.num_rows:,} rows with string ids)")
        print(f"top-{args.k}    bare model.recommend(all users): {t_bare_rec:8.2f} s  (median of {args.repeat}; {ids.size:,} ids)")
        print(f"top-{args.k}    ratio ours / bare = {t_ours_rec / t_bare_rec:.3f}  (target <= 1.1); rss {rss_mb():,.0f} MB")
        emit("als", f"top-{args.k} for every user", side(t_ours_rec, None, peak_rss_mb()), side(t_bare_rec),
             peer_name="bare implicit model.recommend(all users)", target=("ratio", 1.1),
             note="median wall, runs alternated; peak RSS of the one process")

        store.close()
        print(f"done {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; peak-ish rss {rss_mb():,.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
