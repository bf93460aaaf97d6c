"""``reelytics users``: the users file from the command line, the binding check ``scripts/start.sh``
runs, and the CLI acting as the local operator (admin unless ``$REELYTICS_ROLE`` lowers it)."""

from __future__ import annotations

import io
import json

import pytest

from analytics import access
from analytics.access import load_users, verify_password
from analytics.cli.main import main


@pytest.fixture(autouse=True)
def _clean(monkeypatch, tmp_path):
    for name in (access.CLI_ROLE_ENV, access.OPEN_ROLE_ENV, access.ALLOW_OPEN_ENV, access.USERS_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no secrets.toml of the machine's user
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "data" / "r.duckdb")


def _run(monkeypatch, capsys, db, *argv, stdin: str | None = None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["--db", db, *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_add_list_passwd_role_remove(monkeypatch, capsys, db, tmp_path):
    code, out, _ = _run(monkeypatch, capsys, db, "users", "add", "Alice", "--role", "analyst", stdin="alice-password\n")
    assert code == 0 and out.startswith("added alice (analyst) in ")
    assert _run(monkeypatch, capsys, db, "users", "add", "sso@example.com", "--role", "viewer", "--no-password")[0] == 0
    code, out, _ = _run(monkeypatch, capsys, db, "--json", "users", "list")
    doc = json.loads(out)
    assert doc["users"] == [
        {"name": "alice", "role": "analyst", "password": True, "created": doc["users"][0]["created"]},
        {"name": "sso@example.com", "role": "viewer", "password": False, "created": doc["users"][1]["created"]},
    ]
    assert "hash" not in out
    path = tmp_path / "data" / "users.json"
    assert doc["file"] == str(path)
    assert _run(monkeypatch, capsys, db, "users", "passwd", "alice", stdin="better-password\n")[0] == 0
    assert verify_password("better-password", load_users(path)["alice"].password_hash)
    assert _run(monkeypatch, capsys, db, "users", "role", "alice", "admin", "--json")[0] == 0
    assert load_users(path)["alice"].role == "admin"
    code, out, _ = _run(monkeypatch, capsys, db, "users", "remove", "alice")
    assert code == 0 and out.startswith("removed alice (admin)")
    assert sorted(load_users(path)) == ["sso@example.com"]


@pytest.mark.parametrize(
    "argv, stdin, reason",
    [
        (["users", "add", "bob", "--role", "viewer"], "short\n", "a password needs 8 to 1024 characters, got 5"),
        (["users", "add", "bob", "--role", "viewer"], "", "a password needs 8 to 1024 characters, got 0"),
        (["users", "add", "bad name", "--role", "viewer"], "long-enough\n", "bad user name 'bad name'"),
        (["users", "add", "bob", "--role", "owner"], "long-enough\n", "invalid choice: 'owner'"),
        (["users", "remove", "nobody"], None, "there is no user 'nobody'"),
        (["users", "passwd", "nobody"], "long-enough\n", "there is no user 'nobody'"),
    ],
)
def test_bad_input_exits_2_with_one_line(monkeypatch, capsys, db, argv, stdin, reason):
    code, out, err = _run(monkeypatch, capsys, db, *argv, stdin=stdin)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and reason in err


def test_check_refuses_an_open_dashboard_off_this_machine(monkeypatch, capsys, db):
    code, out, _ = _run(monkeypatch, capsys, db, "users", "check")
    assert code == 0
    assert out.splitlines() == ["serving on 127.0.0.1: this machine only",
                                "no sign-in configured: everyone reaching the dashboard acts as admin"]
    code, out, err = _run(monkeypatch, capsys, db, "users", "check", "--address", "0.0.0.0")
    assert code == 2 and out == ""
    assert err.startswith("reelytics: error: refusing to serve on 0.0.0.0 without sign-in") and len(err.splitlines()) == 1
    monkeypatch.setenv(access.ALLOW_OPEN_ENV, "1")
    code, out, _ = _run(monkeypatch, capsys, db, "users", "check", "--address", "0.0.0.0")
    assert code == 0 and "(forced by $REELYTICS_ALLOW_OPEN)" in out


def test_check_counts_sign_in_from_the_users_file_and_secrets(monkeypatch, capsys, db, tmp_path):
    _run(monkeypatch, capsys, db, "users", "add", "alice", "--role", "admin", stdin="alice-password\n")
    code, out, _ = _run(monkeypatch, capsys, db, "--json", "users", "check", "--address", "0.0.0.0")
    assert code == 0
    assert json.loads(out) | {"users_file": ""} == {"address": "0.0.0.0", "loopback": False, "oidc": False,
                                                    "password_users": 1, "configured": True, "users_file": ""}
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[auth]\nredirect_uri = "https://r.example.com/oauth2callback"\ncookie_secret = "c"\n'
        'client_id = "i"\nclient_secret = "s"\nserver_metadata_url = "https://idp.example.com/.well-known/openid-configuration"\n'
    )
    code, out, _ = _run(monkeypatch, capsys, db, "users", "check", "--address", "0.0.0.0")
    assert code == 0 and "single sign-on ([auth] in .streamlit/secrets.toml) and 1 local user(s)" in out


def test_the_cli_acts_as_the_local_operator(monkeypatch, capsys, db, tmp_path):
    csv = tmp_path / "e.csv"
    csv.write_text("user_id,item_id,event_type,event_time\nu1,v1,view,2026-01-05 20:00\n")
    monkeypatch.setenv(access.CLI_ROLE_ENV, "analyst")
    code, out, err = _run(monkeypatch, capsys, db, "ingest", str(csv))
    assert code == 2 and "(analyst) may not ingest: that needs the admin role" in err
    code, out, err = _run(monkeypatch, capsys, db, "users", "add", "bob", "--role", "viewer", "--no-password")
    assert code == 2 and "may not manage users" in err
    monkeypatch.delenv(access.CLI_ROLE_ENV)
    assert _run(monkeypatch, capsys, db, "ingest", str(csv))[0] == 0
    monkeypatch.setenv(access.CLI_ROLE_ENV, "viewer")
    code, out, err = _run(monkeypatch, capsys, db, "remove-upload", "1")
    assert code == 2 and "may not remove upload" in err
    code, out, err = _run(monkeypatch, capsys, db, "rejects", "1")
    assert code == 2 and "may not export" in err
