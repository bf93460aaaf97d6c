"""Pseudonymisation: HMAC-SHA256 in SQL equals the RFC 2104 reference; a changed key is refused."""

from __future__ import annotations

import hashlib
import hmac

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.errors import BadInput
from analytics.ingest import ingest_file
from analytics.store import privacy

KEY = b"k" * 32
OTHER = b"o" * 32
_CON = duckdb.connect()
CSV = "user_id,item_id,event_type,event_time\n{u},v1,view,2026-01-05 20:00:00\n"


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=0, max_size=40), st.binary(min_size=16, max_size=100))
def test_sql_hmac_equals_pythons(user_id, key):
    ipad, opad = privacy.hmac_pads(key)
    got = _CON.execute(f"SELECT {privacy.pseudonym_sql('$u')}", {"u": user_id, "ipad": ipad, "opad": opad}).fetchone()[0]
    assert got == hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest() == privacy.pseudonym(key, user_id)


def test_rfc4231_test_case_2():
    # RFC 4231 4.3: key "Jefe", data "what do ya want for nothing?"
    assert privacy.pseudonym(b"Jefe", "what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_key_from_environment_or_file(tmp_path):
    assert privacy.key_from_env({privacy.KEY_ENV: "x" * 20}) == b"x" * 20
    f = tmp_path / "key"
    f.write_bytes(b"y" * 20 + b"\n")
    assert privacy.key_from_env({privacy.KEY_FILE_ENV: str(f)}) == b"y" * 20
    with pytest.raises(BadInput, match="needs a key"):
        privacy.key_from_env({})
    with pytest.raises(BadInput, match="too short"):
        privacy.key_from_env({privacy.KEY_ENV: "short"})
    with pytest.raises(BadInput, match="cannot read the key file"):
        privacy.key_from_env({privacy.KEY_FILE_ENV: str(tmp_path / "missing")})


def _file(store, name, user):
    path = store.data_dir / name
    path.write_text(CSV.format(u=user))
    return path


def test_ids_are_pseudonymised_and_the_key_is_not_stored(store):
    ingest_file(store, _file(store, "a.csv", "alice"), pseudonymise_key=KEY)
    assert store.query("SELECT user_id FROM events").scalar() == privacy.pseudonym(KEY, "alice")
    assert store.get_meta(privacy.FINGERPRINT_META) == privacy.fingerprint(KEY)
    dump = str(store.query("SELECT * FROM meta").rows) + str(store.query("SELECT * FROM uploads").rows)
    assert KEY.decode() not in dump and "alice" not in dump


def test_same_key_joins_journeys_across_uploads(store):
    ingest_file(store, _file(store, "a.csv", "alice"), pseudonymise_key=KEY)
    ingest_file(store, _file(store, "b.csv", "alice").with_name("b.csv"), pseudonymise_key=KEY)
    path = store.data_dir / "c.csv"
    path.write_text("user_id,item_id,event_type,event_time\nalice,v1,purchase,2026-01-06 20:00:00\n")
    report = ingest_file(store, path, pseudonymise_key=KEY)
    assert report.issue("purchase_without_view") is None  # the earlier view joined under the same pseudonym
    assert store.query("SELECT count(DISTINCT user_id) FROM events").scalar() == 1


def test_a_changed_key_is_refused(store):
    ingest_file(store, _file(store, "a.csv", "alice"), pseudonymise_key=KEY)
    before = store.query("SELECT * FROM events").rows
    with pytest.raises(BadInput) as err:
        ingest_file(store, _file(store, "b.csv", "bob"), pseudonymise_key=OTHER)
    assert err.value.code == "pseudonym_key_changed"
    assert store.query("SELECT * FROM events").rows == before


def test_plain_and_pseudonymised_ids_are_not_mixed(store):
    ingest_file(store, _file(store, "a.csv", "alice"), pseudonymise_key=KEY)
    with pytest.raises(BadInput, match="holds pseudonymised user ids"):
        ingest_file(store, _file(store, "b.csv", "bob"))
    plain = store.data_dir.parent / "plain"
    from analytics.store.storage import Store

    other = Store(plain / "p.duckdb")
    try:
        ingest_file(other, _file(other, "a.csv", "alice"))
        with pytest.raises(BadInput, match="already holds plain user ids"):
            ingest_file(other, _file(other, "b.csv", "bob"), pseudonymise_key=KEY)
    finally:
        other.close()


def test_removing_every_event_upload_allows_a_new_key(store):
    from analytics.store.uploads import remove_upload

    first = ingest_file(store, _file(store, "a.csv", "alice"), pseudonymise_key=KEY)
    remove_upload(store, first.upload_id)
    ingest_file(store, _file(store, "b.csv", "bob"), pseudonymise_key=OTHER)
    assert store.get_meta(privacy.FINGERPRINT_META) == privacy.fingerprint(OTHER)
