"""Access control: password hashes, the users file, roles, sign-in, the binding rule, and the
library entry points that refuse an actor whose role does not allow the action."""

from __future__ import annotations

import ast
import hashlib
import json
import stat

import pandas as pd
import pytest

from analytics import access
from analytics.access import (
    AccessDenied,
    Principal,
    SignInFailed,
    SignInSetup,
    add_user,
    can,
    check_binding,
    hash_password,
    load_users,
    local_principal,
    oidc_configured,
    oidc_principal,
    refreshed,
    remove_user,
    require,
    set_password,
    set_role,
    sign_in,
    verify_password,
)
from analytics.errors import BadInput, NotFound
from tests.helpers import REPO, insert_events

VIEWER = Principal("vera", "viewer", "password")
ANALYST = Principal("ann", "analyst", "password")
ADMIN = Principal("adam", "admin", "password")


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in (access.CLI_ROLE_ENV, access.OPEN_ROLE_ENV, access.OIDC_ROLE_ENV, access.ALLOW_OPEN_ENV, access.USERS_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    access.THROTTLE.clear()
    yield
    access.THROTTLE.clear()


# ---------------------------------------------------------------------------------- hashes


def test_hash_is_salted_scrypt_and_verifies_only_the_right_password():
    h1, h2 = hash_password("correct horse"), hash_password("correct horse")
    assert h1 != h2  # a fresh salt each time
    scheme, n, r, p, salt, digest = h1.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**15, 8, 3)
    assert verify_password("correct horse", h1) and verify_password("correct horse", h2)
    assert not verify_password("correct horsE", h1)
    assert not verify_password("", h1)


def test_hash_matches_the_standard_scrypt_of_its_parameters():
    import base64

    _, n, r, p, salt, digest = hash_password("pässwörd-1").split("$")
    expected = hashlib.scrypt("pässwörd-1".encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                              maxmem=64 * 1024 * 1024, dklen=32)
    assert base64.b64decode(digest) == expected


@pytest.mark.parametrize("stored", ["", "plain", "md5$x$y$z$a$b", "scrypt$x$8$3$AAAA$AAAA", "scrypt$16$8$1$!!$AAAA"])
def test_malformed_hashes_never_verify(stored):
    assert verify_password("anything1", stored) is False


@pytest.mark.parametrize("password", ["", "short7!", "x" * 1025])
def test_password_length_is_bounded(password):
    with pytest.raises(BadInput) as e:
        hash_password(password)
    assert e.value.code == "bad_password"


# ---------------------------------------------------------------------------------- users file


def test_users_file_add_list_passwd_role_remove(tmp_path):
    path = tmp_path / "users.json"
    assert load_users(path) == {}
    user = add_user(path, " Alice ", "analyst", "first-password")
    assert (user.name, user.role, user.has_password) == ("alice", "analyst", True)
    add_user(path, "carol@example.com", "viewer", None)
    users = load_users(path)
    assert sorted(users) == ["alice", "carol@example.com"]
    assert users["carol@example.com"].password_hash is None
    assert "hash" not in json.dumps(users["alice"].to_dict())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_text()
    assert "first-password" not in raw

    set_password(path, "ALICE", "second-password")
    assert verify_password("second-password", load_users(path)["alice"].password_hash)
    assert set_role(path, "alice", "admin").role == "admin"
    assert remove_user(path, "alice").name == "alice"
    assert sorted(load_users(path)) == ["carol@example.com"]


def test_users_file_refuses_bad_input(tmp_path):
    path = tmp_path / "users.json"
    add_user(path, "alice", "viewer", "password-1")
    with pytest.raises(BadInput) as e:
        add_user(path, "alice", "admin", "password-2")
    assert e.value.code == "user_exists"
    with pytest.raises(BadInput) as e:
        add_user(path, "bad name", "viewer", "password-2")
    assert e.value.code == "bad_user_name"
    with pytest.raises(BadInput) as e:
        add_user(path, "bob", "owner", "password-2")
    assert e.value.code == "bad_role"
    with pytest.raises(NotFound):
        remove_user(path, "nobody")
    with pytest.raises(NotFound):
        set_password(path, "nobody", "password-3")
    path.write_text("{not json")
    with pytest.raises(BadInput) as e:
        load_users(path)
    assert e.value.code == "users_file"


def test_only_an_admin_manages_users(tmp_path):
    path = tmp_path / "users.json"
    with pytest.raises(AccessDenied) as e:
        add_user(path, "alice", "viewer", "password-1", actor=ANALYST)
    assert (e.value.code, e.value.details["action"], e.value.details["needed"]) == ("forbidden", "manage_users", "admin")
    assert not path.exists()
    add_user(path, "alice", "viewer", "password-1", actor=ADMIN)
    for change in (lambda: remove_user(path, "alice", actor=VIEWER), lambda: set_role(path, "alice", "admin", actor=VIEWER),
                   lambda: set_password(path, "alice", "password-2", actor=VIEWER)):
        with pytest.raises(AccessDenied):
            change()
    assert load_users(path)["alice"].role == "viewer"


def test_users_file_location(monkeypatch, tmp_path):
    assert access.users_path(tmp_path) == tmp_path / "users.json"
    monkeypatch.setenv(access.USERS_FILE_ENV, str(tmp_path / "elsewhere.json"))
    assert access.users_path(tmp_path) == tmp_path / "elsewhere.json"


# ---------------------------------------------------------------------------------- roles


@pytest.mark.parametrize(
    "role, allowed",
    [
        ("viewer", set()),
        ("analyst", {"export", "train"}),
        ("admin", {"export", "train", "ingest", "remove_upload", "manage_users"}),
    ],
)
def test_each_role_may_do_what_the_one_before_it_may_and_more(role, allowed):
    who = Principal("x", role, "password")
    assert {a for a in access.ACTIONS if can(who, a)} == allowed
    for action in access.ACTIONS:
        if action in allowed:
            assert require(who, action) is who
        else:
            with pytest.raises(AccessDenied) as e:
                require(who, action)
            assert e.value.details == {"action": action, "role": role, "needed": access.ACTIONS[action], "name": "x"}


def test_the_local_operator_is_admin_unless_the_environment_lowers_it(monkeypatch):
    assert local_principal().role == "admin" and local_principal().source == "local"
    assert require(None, "remove_upload").source == "local"
    monkeypatch.setenv(access.CLI_ROLE_ENV, "viewer")
    with pytest.raises(AccessDenied):
        require(None, "export")
    monkeypatch.setenv(access.CLI_ROLE_ENV, "root")
    with pytest.raises(BadInput) as e:
        local_principal()
    assert e.value.code == "bad_role"


def test_open_dashboard_role(monkeypatch):
    assert access.open_principal() == Principal("local", "admin", "open")
    monkeypatch.setenv(access.OPEN_ROLE_ENV, "viewer")
    assert access.open_principal().role == "viewer"


# ---------------------------------------------------------------------------------- sign-in


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    path = tmp_path_factory.mktemp("users") / "users.json"
    add_user(path, "alice", "analyst", "alice-password")
    add_user(path, "sso@example.com", "admin", None)
    return load_users(path)


def test_sign_in_with_the_right_password(users):
    assert sign_in(users, " Alice", "alice-password") == Principal("alice", "analyst", "password")


@pytest.mark.parametrize("name, password", [("alice", "wrong-password"), ("nobody", "alice-password"),
                                            ("sso@example.com", "")])
def test_wrong_name_or_password_get_the_same_error(users, name, password):
    with pytest.raises(SignInFailed) as e:
        sign_in(users, name, password)
    assert (e.value.code, e.value.message) == ("bad_credentials", "wrong user name or password")


def test_repeated_failures_lock_the_name_for_a_while(users):
    for i in range(access.MAX_FAILURES):
        with pytest.raises(SignInFailed):
            sign_in(users, "alice", f"guess-{i}", now=1000.0 + i)
    with pytest.raises(SignInFailed) as e:  # even the right password is refused now
        sign_in(users, "alice", "alice-password", now=1010.0)
    assert e.value.code == "too_many_attempts"
    later = 1000.0 + access.FAILURE_WINDOW_S + 1
    assert sign_in(users, "alice", "alice-password", now=later).name == "alice"
    # success forgets the failures
    with pytest.raises(SignInFailed) as e:
        sign_in(users, "alice", "wrong", now=later + 1)
    assert e.value.code == "bad_credentials"


def test_single_sign_on_identities(users, monkeypatch):
    assert oidc_principal(users, {"email": "SSO@example.com", "email_verified": True}) == Principal(
        "sso@example.com", "admin", "oidc")
    assert oidc_principal(users, {"email": "sso@example.com", "email_verified": False}) is None
    assert oidc_principal(users, {"email": "stranger@example.com"}) is None
    assert oidc_principal(users, {"name": "no e-mail"}) is None
    monkeypatch.setenv(access.OIDC_ROLE_ENV, "viewer")
    assert oidc_principal(users, {"email": "stranger@example.com"}) == Principal("stranger@example.com", "viewer", "oidc")


def test_signed_in_principals_follow_the_users_file(tmp_path):
    path = tmp_path / "users.json"
    add_user(path, "alice", "analyst", "alice-password")
    who = sign_in(load_users(path), "alice", "alice-password")
    set_role(path, "alice", "viewer")
    assert refreshed(who, load_users(path)).role == "viewer"
    remove_user(path, "alice")
    assert refreshed(who, load_users(path)) is None
    assert refreshed(access.open_principal(), {}) == access.open_principal()


# ---------------------------------------------------------------------------------- binding


def test_oidc_configured_needs_an_auth_section_with_a_provider():
    base = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32}
    provider = {"client_id": "id", "client_secret": "secret", "server_metadata_url": "https://idp/.well-known/openid-configuration"}
    assert oidc_configured({"auth": {**base, **provider}})
    assert oidc_configured({"auth": {**base, "google": provider}})
    assert access.oidc_providers({"auth": {**base, **provider, "okta": provider, "broken": {"client_id": "x"}}}) == [None, "okta"]
    assert not oidc_configured({"auth": base})
    assert not oidc_configured({"auth": {**provider, "cookie_secret": "x"}})
    assert not oidc_configured({})


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
def test_loopback_addresses_need_no_sign_in(address):
    check_binding(address, SignInSetup(oidc=False, password_users=0))


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.168.1.5", "example.com", "", None])
def test_other_addresses_are_refused_without_sign_in(monkeypatch, address):
    open_setup = SignInSetup(oidc=False, password_users=0)
    with pytest.raises(AccessDenied) as e:
        check_binding(address, open_setup)
    assert e.value.code == "open_binding"
    check_binding(address, SignInSetup(oidc=False, password_users=1))
    check_binding(address, SignInSetup(oidc=True, password_users=0))
    monkeypatch.setenv(access.ALLOW_OPEN_ENV, "1")
    check_binding(address, open_setup)


# ---------------------------------------------------------------------------------- call paths


def _csv(tmp_path):
    path = tmp_path / "data" / "new.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05 20:00\n")
    return path


def test_ingest_and_preview_need_admin(store, tmp_path):
    from analytics.ingest import ingest_file, preview_file

    path = _csv(tmp_path)
    for who in (VIEWER, ANALYST):
        with pytest.raises(AccessDenied):
            preview_file(path, actor=who)
        with pytest.raises(AccessDenied):
            ingest_file(store, path, actor=who)
    assert store.counts()["uploads"] == 0
    assert ingest_file(store, path, actor=ADMIN).rows_accepted == 1


def test_remove_upload_needs_admin(store, tmp_path):
    from analytics.ingest import ingest_file
    from analytics.store.uploads import remove_upload

    upload = ingest_file(store, _csv(tmp_path)).upload_id
    with pytest.raises(AccessDenied) as e:
        remove_upload(store, upload, actor=ANALYST)
    assert e.value.details["action"] == "remove_upload"
    assert store.counts()["events"] == 1
    assert remove_upload(store, upload, actor=ADMIN)["events"] == 1


def test_loading_the_sample_needs_admin(store):
    from analytics.sample import load_sample

    with pytest.raises(AccessDenied):
        load_sample(store, users=20, days=3, actor=ANALYST)
    assert store.counts()["events"] == 0


def test_exports_need_analyst():
    from analytics.export import to_csv_bytes, to_excel_bytes

    df = pd.DataFrame({"a": [1]})
    for export in (to_csv_bytes, to_excel_bytes):
        with pytest.raises(AccessDenied):
            export(df, actor=VIEWER)
        assert export(df, actor=ANALYST)


def test_training_needs_analyst_but_a_saved_model_serves_a_viewer(store):
    from analytics.recsys.models import get_model
    from analytics.recsys.recommend import AlsParams, clear_cache

    insert_events(store, {f"u{i}": [("view", i), ("like", i + 1, {"item_id": f"v{i % 3}"})] for i in range(12)})
    params = AlsParams(factors=4, iterations=2, gpu="off")
    clear_cache()
    with pytest.raises(AccessDenied) as e:
        get_model(store, params, actor=VIEWER)
    assert e.value.details["action"] == "train"
    assert not any((store.data_dir / "models").glob("*.json"))
    trained = get_model(store, params, actor=ANALYST)
    clear_cache()
    assert get_model(store, params, actor=VIEWER).fingerprint == trained.fingerprint  # loaded from disk
    with pytest.raises(AccessDenied):
        get_model(store, params, actor=VIEWER, force=True)


GUARDED = {"evaluate", "ingest_file", "preview_file", "remove_upload", "get_model", "to_csv_bytes", "to_excel_bytes", "load_sample"}


def test_the_dashboard_passes_the_session_actor_to_every_guarded_call():
    """Without ``actor=`` a call would act for the local operator (admin): every dashboard call names it."""
    missing = []
    for path in sorted((REPO / "dashboard").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in GUARDED and not any(k.arg == "actor" for k in node.keywords):
                    missing.append(f"{path.relative_to(REPO)}:{node.lineno} {name}")
    assert missing == []
