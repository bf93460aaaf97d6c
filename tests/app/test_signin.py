"""Sign-in through the whole app: the open local dashboard, password sign-in, single sign-on (with
AppTest's ``st.user`` simulation), what each role sees, and the refusal to serve an open dashboard
beyond this machine."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from streamlit import config

from analytics import access
from analytics.access import Principal, hash_password
from tests.helpers import open_page

SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-long-enough-cookie-secret-for-tests",
        "client_id": "reelytics",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
    }
}


@pytest.fixture(scope="module")
def password_hash():
    return hash_password("alice-password")


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in (access.OPEN_ROLE_ENV, access.OIDC_ROLE_ENV, access.ALLOW_OPEN_ENV, access.USERS_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    access.THROTTLE.clear()


def _write_users(db, users: dict[str, tuple[str, str | None]]) -> None:
    doc = {"version": 1, "users": {n: {"role": r, "password_hash": h, "created": ""} for n, (r, h) in users.items()}}
    (db.parent / "users.json").write_text(json.dumps(doc))


@pytest.fixture
def db(sample_db_copy, password_hash):
    """The sample data with alice (analyst), vera (viewer) and adam (admin), all with passwords."""
    _write_users(sample_db_copy, {"alice": ("analyst", password_hash), "vera": ("viewer", password_hash),
                                  "adam": ("admin", password_hash), "sso@example.com": ("analyst", None)})
    return sample_db_copy


@contextmanager
def _listening_on(address: str):
    """``server.address`` as ``streamlit run --server.address`` would set it."""
    before = config.get_option("server.address")
    config.set_option("server.address", address)
    try:
        yield
    finally:
        config.set_option("server.address", before)


def _captions(at) -> list[str]:
    return [c.value for c in at.sidebar.caption]


def _as(monkeypatch, db, page, name, role):
    return open_page(monkeypatch, db, page, state={"auth_principal": Principal(name, role, "password")})


def test_no_sign_in_configured_means_local_admin_and_says_so(monkeypatch, sample_db_copy):
    at = open_page(monkeypatch, sample_db_copy, "data.py")
    at.run()
    assert not at.exception
    assert "No sign-in configured: local use, everyone here is admin" in _captions(at)
    assert at.get("file_uploader") and at.button(key="data_rm_1")


def test_password_sign_in_then_sign_out(monkeypatch, db):
    at = open_page(monkeypatch, db, "overview.py")
    at.run()
    assert not at.exception
    assert [x.value for x in at.title] == ["Sign in to Reelytics"]  # nothing of the app before sign-in
    assert not at.get("download_button")
    at.text_input(key="signin_name").input("alice")
    at.text_input[1].input("wrong-password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong user name or password."]
    assert [x.value for x in at.title] == ["Sign in to Reelytics"]
    at.text_input(key="signin_name").input("Alice")
    at.text_input[1].input("alice-password")
    at.button[0].click().run()
    assert not at.exception
    assert "Signed in as alice · analyst" in _captions(at)
    assert at.title[0].value == "Overview"
    assert at.get("download_button")  # an analyst may export
    at.button(key="signout").click().run()
    assert [x.value for x in at.title] == ["Sign in to Reelytics"]


def test_a_viewer_reads_pages_but_sees_no_export_upload_or_removal(monkeypatch, db):
    at = _as(monkeypatch, db, "overview.py", "vera", "viewer")
    at.run()
    assert not at.exception
    assert "Signed in as vera · viewer" in _captions(at)
    assert at.title[0].value == "Overview" and at.metric
    assert not at.get("download_button")
    at.switch_page("views/data.py").run()
    assert not at.exception
    assert not at.get("file_uploader")
    assert [i.value for i in at.info] == ["Uploading, importing and removing data needs the admin role; you are viewer."]
    assert any(x.value.startswith("#") for x in at.text)  # the uploads list is readable (plain text)
    assert not [b for b in at.button if b.key and b.key.startswith("data_rm_")]


def test_a_viewer_cannot_train_a_model(monkeypatch, db):
    at = _as(monkeypatch, db, "recommendations.py", "vera", "viewer")
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "No model is trained for these settings yet, and training one needs the analyst or admin role."]
    assert not any(b.key == "rec_eval_run" for b in at.button)
    assert not list((db.parent / "models").glob("*.json"))


def test_an_admin_sees_upload_and_removal_in_chinese(monkeypatch, db):
    at = open_page(monkeypatch, db, "data.py", lang="zh", state={"auth_principal": Principal("adam", "admin", "password")})
    at.run()
    assert not at.exception
    assert "当前用户：adam · 管理员" in _captions(at)
    assert at.get("file_uploader")[0].proto.label == "上传文件"
    assert at.button(key="data_rm_1")


def test_role_changes_and_removal_apply_at_the_next_run(monkeypatch, db, password_hash):
    at = _as(monkeypatch, db, "overview.py", "alice", "analyst")
    at.run()
    assert at.get("download_button")
    _write_users(db, {"alice": ("viewer", password_hash)})
    at.run()
    assert "Signed in as alice · viewer" in _captions(at) and not at.get("download_button")
    _write_users(db, {"vera": ("viewer", password_hash)})
    at.run()
    assert [x.value for x in at.title] == ["Sign in to Reelytics"]


def test_a_broken_users_file_lets_nobody_in(monkeypatch, db):
    (db.parent / "users.json").write_text("{not json")
    at = open_page(monkeypatch, db, "overview.py")
    at.run()
    assert not at.exception
    assert at.error[0].value.startswith("The users file ") and "cannot be read, so nobody can sign in" in at.error[0].value
    assert not at.metric and not at.text_input


def test_single_sign_on(monkeypatch, db):
    at = open_page(monkeypatch, db, "overview.py")
    at.secrets = SECRETS
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert at.button(key="signin_sso_default").label == "Sign in with single sign-on"
    assert at.text_input(key="signin_name")  # local users have passwords too: both ways are offered
    at.user = {"is_logged_in": True, "email": "SSO@example.com", "email_verified": True, "name": "S. S. O."}
    at.run()
    assert not at.exception
    assert "Signed in as sso@example.com · analyst" in _captions(at)
    assert at.title[0].value == "Overview"


def test_single_sign_on_identity_without_access(monkeypatch, db):
    at = open_page(monkeypatch, db, "overview.py")
    at.secrets = SECRETS
    at.user = {"is_logged_in": True, "email": "stranger@example.com"}
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "stranger@example.com has no access to this dashboard. Ask an admin to add it (reelytics users add)."]
    assert at.button(key="signout_denied")
    assert not at.metric
    monkeypatch.setenv(access.OIDC_ROLE_ENV, "viewer")
    at.run()
    assert "Signed in as stranger@example.com · viewer" in _captions(at)


def test_an_open_dashboard_is_not_served_beyond_this_machine(monkeypatch, sample_db_copy, password_hash):
    at = open_page(monkeypatch, sample_db_copy, "overview.py")
    with _listening_on("0.0.0.0"):
        at.run()
    assert not at.exception
    assert at.error[0].value.startswith("This dashboard listens on 0.0.0.0 but no sign-in is configured")
    assert not at.metric
    monkeypatch.setenv(access.ALLOW_OPEN_ENV, "1")
    with _listening_on("0.0.0.0"):
        at.run()
    assert not at.error and at.metric
    monkeypatch.delenv(access.ALLOW_OPEN_ENV)
    _write_users(sample_db_copy, {"alice": ("analyst", password_hash)})
    with _listening_on("0.0.0.0"):
        at.run()
    assert [x.value for x in at.title] == ["Sign in to Reelytics"]
