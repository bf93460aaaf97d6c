"""Laws of ingest, checked on generated files.

* every source row is accounted for: read == stored-or-duplicate + rejected (long form);
* what is stored is what the Python reference reads (aliases, times in the column's epoch unit and
  inside the plausible range, numbers), text unchanged;
* ingesting the same rows again stores nothing new.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.ingest import Limits, ingest_file
from analytics.ingest.mapping import EVENT_ALIASES
from analytics.ingest.timestamps import infer_reading, parse_time
from analytics.store.storage import Store

_counter = itertools.count()
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff\u2028\u2029\x85"),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and s.strip())
types = st.sampled_from(sorted(EVENT_ALIASES) + ["teleport", "VIEW", " pv "])
times = st.one_of(
    st.datetimes(min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2037, 1, 1)).map(
        lambda d: d.replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%S")
    ),
    st.integers(min_value=1_000_000_000, max_value=2_000_000_000).map(str),
    st.integers(min_value=1_000_000_000_000, max_value=2_000_000_000_000).map(str),
    st.sampled_from(["", "soon", "2026-02-30"]),
)
watch = st.one_of(st.none(), st.floats(min_value=-5, max_value=1e5, allow_nan=False).map(lambda x: f"{x:.3f}"), st.just("n/a"))
rows = st.lists(st.tuples(texts, types, times, watch), min_size=1, max_size=25)


def _expected(row, reading):
    """The stored (user, type, time, watch) of a source row, or None when it must be rejected."""
    user, etype, when, w = row
    canonical = EVENT_ALIASES.get(etype.strip().lower())
    t = parse_time(when, "Asia/Shanghai", reading)
    limits = Limits()
    if canonical is None or t is None or not limits.plausible_start <= t < limits.plausible_end:
        return None
    if w is None:
        return (user, canonical, t, None)
    try:
        value = float(w)
    except ValueError:
        return None
    return None if value < 0 else (user, canonical, t, value)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows)
def test_every_row_is_stored_rejected_or_a_duplicate(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("prop")
    store = Store(folder / "data" / "p.duckdb")
    try:
        item = f"v{next(_counter)}"
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["user_id", "item_id", "event_type", "event_time", "watch_seconds"])
        for user, etype, when, w in data:
            writer.writerow([user, item, etype, when, "" if w is None else w])
        path = store.data_dir / "gen.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")

        report = ingest_file(store, path)
        reading = infer_reading(r[2] for r in data)  # the whole column: it fits in the sniffed sample
        expected = [_expected(r, reading) for r in data]
        good = [e for e in expected if e is not None]
        assert report.rows_read == len(data)
        assert report.rows_rejected == len(data) - len(good)
        assert report.rows_accepted + report.rows_duplicate == len(good)
        stored = store.query("SELECT user_id, event_type, event_time, watch_seconds FROM events").rows
        assert sorted(map(repr, stored)) == sorted(map(repr, set(good)))

        again = store.data_dir / "again.csv"
        again.write_text(buf.getvalue() + "\n", encoding="utf-8")  # other bytes, same rows
        second = ingest_file(store, again)
        assert second.rows_accepted == 0 and second.rows_duplicate == len(good)
    finally:
        store.close()
