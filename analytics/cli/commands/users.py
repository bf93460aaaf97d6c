"""``reelytics users add|list|remove|passwd|role|check``: the local users file and the sign-in setup.

Passwords are read without echo from a terminal (asked twice), else as the first line of stdin.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import tomllib
from pathlib import Path
from typing import Any

from analytics.cli.main import Output
from analytics.errors import BadInput, NotFound


def register(sub) -> None:
    p = sub.add_parser("users")
    users = p.add_subparsers(dest="users_command", metavar="ACTION", parser_class=type(p))

    a = users.add_parser("add", help="add a user; the password is read without echo, or from stdin")
    a.add_argument("name", metavar="NAME", help="user name, or the e-mail of a single sign-on identity")
    a.add_argument("--role", required=True, choices=("viewer", "analyst", "admin"), help="what the user may do")
    a.add_argument("--no-password", action="store_true", help="single sign-on only: map this e-mail to a role, no local password")
    a.set_defaults(func=run_add)

    a = users.add_parser("list", help="list the users (never their hashes)")
    a.set_defaults(func=run_list)

    a = users.add_parser("remove", help="remove a user; their dashboard sessions end at their next click")
    a.add_argument("name", metavar="NAME")
    a.set_defaults(func=run_remove)

    a = users.add_parser("passwd", help="set a user's password (read without echo, or from stdin)")
    a.add_argument("name", metavar="NAME")
    a.set_defaults(func=run_passwd)

    a = users.add_parser("role", help="change a user's role")
    a.add_argument("name", metavar="NAME")
    a.add_argument("role", choices=("viewer", "analyst", "admin"), metavar="ROLE", help="viewer, analyst or admin")
    a.set_defaults(func=run_role)

    a = users.add_parser("check", help="show the sign-in setup; exit 2 if ADDRESS may not be served without sign-in")
    a.add_argument("--address", default="127.0.0.1", help="address the dashboard will listen on (default 127.0.0.1)")
    a.set_defaults(func=run_check)

    for action in users.choices.values():
        action.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document")


def _path(ctx) -> Path:
    from analytics.access import users_path

    return users_path(ctx.settings.data_dir)


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("password again: ") != password:
            raise BadInput("the two passwords differ; nothing was changed", code="password_mismatch")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def _user_output(verb: str, user, path: Path) -> Output:
    return Output({"user": user, "file": str(path)}, f"{verb} {user.name} ({user.role}) in {path}")


def run_add(args, ctx) -> Output:
    from analytics.access import add_user, check_name, check_password

    path = _path(ctx)
    check_name(args.name)  # refuse a bad name before asking for a password
    password = None if args.no_password else check_password(_read_password())
    return _user_output("added", add_user(path, args.name, args.role, password), path)


def run_list(args, ctx) -> Output:
    from analytics.access import load_users

    path = _path(ctx)
    users = sorted(load_users(path).values(), key=lambda u: u.name)
    text = "\n".join(
        f"{u.name:<32} {u.role:<8} {'password' if u.has_password else 'single sign-on':<15} {u.created}" for u in users
    ) or f"no users in {path}"
    return Output({"file": str(path), "users": users}, text)


def run_remove(args, ctx) -> Output:
    from analytics.access import remove_user

    path = _path(ctx)
    return _user_output("removed", remove_user(path, args.name), path)


def run_passwd(args, ctx) -> Output:
    from analytics.access import check_password, load_users, set_password

    path = _path(ctx)
    if args.name.strip().lower() not in load_users(path):  # say so before asking for a password
        raise NotFound(f"there is no user {args.name!r}", code="no_user", name=args.name)
    return _user_output("new password for", set_password(path, args.name, check_password(_read_password())), path)


def run_role(args, ctx) -> Output:
    from analytics.access import set_role

    path = _path(ctx)
    return _user_output("role set for", set_role(path, args.name, args.role), path)


def streamlit_secrets(folder: Path | None = None) -> dict[str, Any]:
    """Streamlit's secrets as the dashboard will read them: ``~/.streamlit/secrets.toml``, then
    ``.streamlit/secrets.toml`` in ``folder`` (default: the current folder), the latter winning."""
    merged: dict[str, Any] = {}
    for path in (Path.home() / ".streamlit" / "secrets.toml", (folder or Path.cwd()) / ".streamlit" / "secrets.toml"):
        try:
            merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise BadInput(f"cannot read {path}: {exc}", code="bad_secrets", path=str(path)) from exc
    return merged


def run_check(args, ctx) -> Output:
    from analytics.access import (
        check_binding,
        is_loopback,
        load_users,
        open_principal,
        open_serving_forced,
        sign_in_setup,
    )

    path = _path(ctx)
    setup = sign_in_setup(load_users(path), streamlit_secrets())
    check_binding(args.address, setup)
    if setup.configured:
        ways = (["single sign-on ([auth] in .streamlit/secrets.toml)"] if setup.oidc else []) + (
            [f"{setup.password_users} local user(s) with a password in {path}"] if setup.password_users else []
        )
        summary = "sign-in: " + " and ".join(ways)
    else:
        summary = f"no sign-in configured: everyone reaching the dashboard acts as {open_principal().role}"
    where = "this machine only" if is_loopback(args.address) else ("every network it is reachable from" + (
        " (forced by $REELYTICS_ALLOW_OPEN)" if not setup.configured and open_serving_forced() else ""))
    payload = {"address": args.address, "loopback": is_loopback(args.address), **setup.to_dict(), "users_file": str(path)}
    return Output(payload, f"serving on {args.address}: {where}\n{summary}")
