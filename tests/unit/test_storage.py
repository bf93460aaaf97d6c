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
