import duckdb
import pytest

from analytics.errors import StorageError
from analytics.store.schema import SCHEMA_VERSION
from analytics.store.storage import Store
from tests.helpers import insert_events


def test_new_store_has_current_schema_and_empty_tables(store):
    assert store.schema_version == SCHEMA_VERSION
    assert store.counts() == {"events": 0, "items": 0, "spend": 0, "uploads": 0}
    assert store.is_empty()


def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path):
    path = tmp_path / "d" / "x.duckdb"
    s = Store(path)
    insert_events(s, {"alice": [("view", 0)]})
    s.close()
    again = Store(path)
    assert again.counts()["events"] == 1
    assert again.schema_version == SCHEMA_VERSION


def test_files_outside_the_data_folder_cannot_be_read(store, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n")
    with pytest.raises(StorageError, match="Permission"):
        store.query(f"SELECT * FROM read_csv('{outside}')")
    with pytest.raises(StorageError):
        store.query("SET enable_external_access = true")


def test_a_file_handed_to_the_store_can_be_read(tmp_path):
    handed = tmp_path / "upload.csv"
    handed.write_text("a\n1\n")
    s = Store(tmp_path / "d" / "x.duckdb", read_paths=[handed])
    assert s.query("SELECT a FROM read_csv(?)", [str(handed)]).scalar() == 1


def test_failed_transaction_leaves_data_unchanged(store):
    insert_events(store, {"alice": [("view", 0)]})
    with pytest.raises(StorageError):
        with store.transaction() as cur:
            cur.execute("DELETE FROM events")
            cur.execute("SELECT * FROM no_such_table")
    assert store.counts()["events"] == 1


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "d" / "x.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(StorageError, match="newer"):
        Store(path)


def test_database_held_by_another_process_gives_a_clear_error(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "d" / "x.duckdb"
    Store(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StorageError, match="in use by another process") as info:
            Store(path)
        assert info.value.code == "db_locked"
    finally:
        holder.stdin.close()
        holder.wait()


def test_the_stores_compiled_data_version_is_the_portable_one(tmp_path):
    from analytics.ingest import ingest_file
    from analytics.store.storage import Source

    store = Store(tmp_path / "version.duckdb")
    try:
        assert store.data_version() == Source.data_version(store) == "0-0-0"
        csv = tmp_path / "one.csv"
        csv.write_text("user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05 20:00\n")
        ingest_file(store, csv)
        assert store.data_version() == Source.data_version(store) == "1-1-1"
        assert store.data_version(without_upload=1) == Source.data_version(store, without_upload=1) == "0-0-0"
    finally:
        store.close()


def test_numbers_and_dates_reach_a_query_as_the_values_and_types_binding_gives_without_pandas(store, tmp_path):
    import datetime as dt
    import math

    from tests.helpers import loads_pandas

    values = [1, -5, 2**40, 2**70, 0.1, -0.0, 1e300, float("nan"), float("inf"), True, False, None,
              dt.date(2026, 1, 2), dt.datetime(2026, 1, 2, 3, 4, 5, 123456), "it's text"]
    sql = "SELECT ? AS x, typeof(?) AS t"
    for value in values:
        with store.cursor() as cur:
            bound = cur.execute(sql, [value, value]).fetchall()[0]  # DuckDB's own binding
        got = store.query(sql, [value, value]).rows[0]
        assert got[1] == bound[1], value
        assert got[0] == bound[0] or (isinstance(value, float) and math.isnan(got[0]) and math.isnan(bound[0])), value
    assert store.query("SELECT $a + $b, $c", {"a": 2, "b": 3, "c": dt.date(2026, 5, 1)}).rows == ((5, dt.date(2026, 5, 1)),)
    assert store.arrow("SELECT ? + 1 AS n", [41]).column("n").to_pylist() == [42]
    db = tmp_path / "data" / "probe.duckdb"
    assert not loads_pandas(
        "from analytics.store.storage import Store\n"
        f"s = Store({str(db)!r})\n"
        "import datetime as dt\n"
        "s.query('SELECT ?, ?, ?', [1, 2.5, dt.date(2026, 1, 1)]); s.arrow('SELECT $n AS n', {'n': 3})"
    )
