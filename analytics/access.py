"""Who may do what: roles, the acting principal, the local users file and the binding rule.

Three roles, each allowed what the one before it may do and more:

* ``viewer``: read every page;
* ``analyst``: also export tables (CSV, Excel) and train recommender models (and evaluate them);
* ``admin``: also ingest files (upload, import by name, load the sample), remove uploads and
  manage the users file.

Every state-changing library entry point takes an ``actor`` (a :class:`Principal`) and calls
:func:`require` before it changes anything; hiding a button in the dashboard is only a courtesy.
An entry point called without an actor acts for the local operator (:func:`local_principal`: the
OS user, role ``$REELYTICS_ROLE``, default admin), which is how the CLI runs: whoever can run it
can read the database file anyway. The dashboard always passes the signed-in principal.

The local users file (JSON, ``$REELYTICS_USERS_FILE`` or ``users.json`` beside the database)
holds names, roles and salted scrypt password hashes; an entry without a password only maps a
single sign-on identity (its e-mail) to a role. See docs/security.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from analytics.errors import BadInput, NotFound, ReelyticsError

Role = Literal["viewer", "analyst", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "analyst", "admin")

#: The least role each guarded action needs.
ACTIONS: dict[str, Role] = {
    "export": "analyst",
    "train": "analyst",
    "ingest": "admin",
    "remove_upload": "admin",
    "manage_users": "admin",
}

USERS_FILE_ENV = "REELYTICS_USERS_FILE"
CLI_ROLE_ENV = "REELYTICS_ROLE"
OPEN_ROLE_ENV = "REELYTICS_OPEN_ROLE"
OIDC_ROLE_ENV = "REELYTICS_OIDC_DEFAULT_ROLE"
ALLOW_OPEN_ENV = "REELYTICS_ALLOW_OPEN"

# scrypt at N=2^15, r=8, p=3 (32 MiB, one of OWASP's equivalent settings); the parameters are
# stored with each hash, so raising them later leaves existing hashes valid.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 3
_SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
_NAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,127}$")

#: Failed password sign-ins allowed per name within the window before further tries are refused.
MAX_FAILURES, FAILURE_WINDOW_S = 5, 300.0


class AccessDenied(ReelyticsError):
    """The acting principal's role does not allow the action (``details``: action, role, needed)."""

    code = "forbidden"


class SignInFailed(ReelyticsError):
    """Wrong name or password (one message for both), or too many failed tries (``too_many_attempts``)."""

    code = "bad_credentials"


@dataclass(frozen=True)
class Principal:
    """Who is acting: a name, a role and how they were identified.

    ``source``: ``local`` (the OS user running the CLI or a script), ``open`` (a dashboard with no
    sign-in configured), ``password`` (the local users file) or ``oidc`` (single sign-on).
    """

    name: str
    role: Role
    source: str


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise BadInput(f"unknown role {role!r}; use one of {', '.join(ROLES)}", code="bad_role", value=role)
    return role  # type: ignore[return-value]


def _env_role(name: str, default: Role | None) -> Role | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if value not in ROLES:
        raise BadInput(f"${name} must be one of {', '.join(ROLES)}, not {value!r}", code="bad_role", value=value)
    return value  # type: ignore[return-value]


def local_principal() -> Principal:
    """The local operator: the OS user, with role ``$REELYTICS_ROLE`` (default admin)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        name = "local"
    return Principal(name, _env_role(CLI_ROLE_ENV, "admin"), "local")


def open_principal() -> Principal:
    """Everyone using a dashboard with no sign-in configured: role ``$REELYTICS_OPEN_ROLE`` (default admin)."""
    return Principal("local", _env_role(OPEN_ROLE_ENV, "admin"), "open")


def can(actor: Principal, action: str) -> bool:
    """Whether ``actor``'s role allows ``action`` (one of :data:`ACTIONS`)."""
    return ROLES.index(actor.role) >= ROLES.index(ACTIONS[action])


def require(actor: Principal | None, action: str) -> Principal:
    """Raise :class:`AccessDenied` unless ``actor`` (``None``: :func:`local_principal`) may do ``action``."""
    actor = actor or local_principal()
    if not can(actor, action):
        needed = ACTIONS[action]
        raise AccessDenied(
            f"{actor.name} ({actor.role}) may not {action.replace('_', ' ')}: that needs the {needed} role",
            action=action, role=actor.role, needed=needed, name=actor.name,
        )
    return actor


# --------------------------------------------------------------------------------------------
# password hashes


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadInput(
            f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters, got {len(password)}",
            code="bad_password", length=len(password),
        )
    return password


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64) of ``password`` with a fresh 16-byte salt."""
    check_password(password)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=_SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (a :func:`hash_password` string); compares in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt, validate=True),
                                n=int(n), r=int(r), p=int(p), maxmem=_SCRYPT_MAXMEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A hash of a random password: checked when the name is unknown, so that a wrong name takes as
# long as a wrong password and sign-in does not tell which names exist.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


# --------------------------------------------------------------------------------------------
# the users file


@dataclass(frozen=True)
class User:
    """One entry of the users file; ``password_hash`` is ``None`` for a single-sign-on-only entry."""

    name: str
    role: Role
    password_hash: str | None
    created: str

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def to_dict(self) -> dict[str, Any]:  # what listings show: never the hash
        return {"name": self.name, "role": self.role, "password": self.has_password, "created": self.created}


def users_path(data_dir: Path) -> Path:
    """The users file: ``$REELYTICS_USERS_FILE`` if set, else ``users.json`` in the data folder."""
    configured = os.environ.get(USERS_FILE_ENV, "").strip()
    return Path(configured) if configured else Path(data_dir) / "users.json"


def check_name(name: str) -> str:
    """A user name (or single sign-on e-mail), lower-cased: letters, digits and ``. _ @ + -``."""
    norm = name.strip().lower()
    if not _NAME.match(norm):
        raise BadInput(
            f"bad user name {name!r}: use up to 128 letters, digits and . _ @ + -, starting with a letter or digit",
            code="bad_user_name", value=name,
        )
    return norm


def load_users(path: Path) -> dict[str, User]:
    """The users in ``path`` by name; an absent file holds none."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BadInput(f"cannot read the users file {path}: {exc.strerror}", code="users_file", path=str(path)) from exc
    try:
        doc = json.loads(raw)
        return {
            name: User(name, check_role(u["role"]), u.get("password_hash"), u.get("created", ""))
            for name, u in doc["users"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError, BadInput) as exc:
        raise BadInput(f"the users file {path} is not valid: {exc}", code="users_file", path=str(path)) from exc


def _save_users(path: Path, users: Mapping[str, User]) -> None:
    """Write the file atomically, readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "version": 1,
        "users": {
            u.name: {"role": u.role, "password_hash": u.password_hash, "created": u.created}
            for u in sorted(users.values(), key=lambda u: u.name)
        },
    }
    fd, tmp = tempfile.mkstemp(prefix=".users-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp creates the file with mode 0600
            json.dump(doc, fh, ensure_ascii=False, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_user(path: Path, name: str, role: str, password: str | None, actor: Principal | None = None) -> User:
    """Add a user; ``password=None`` adds a single-sign-on-only entry (``name`` is the e-mail)."""
    require(actor, "manage_users")
    name, role = check_name(name), check_role(role)
    users = load_users(path)
    if name in users:
        raise BadInput(f"user {name!r} already exists", code="user_exists", name=name)
    created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    user = User(name, role, hash_password(password) if password is not None else None, created)
    _save_users(path, {**users, name: user})
    return user


def _existing(users: Mapping[str, User], name: str) -> User:
    user = users.get(check_name(name))
    if user is None:
        raise NotFound(f"there is no user {name!r}", code="no_user", name=name)
    return user


def set_password(path: Path, name: str, password: str, actor: Principal | None = None) -> User:
    require(actor, "manage_users")
    users = load_users(path)
    user = _existing(users, name)
    updated = User(user.name, user.role, hash_password(password), user.created)
    _save_users(path, {**users, user.name: updated})
    return updated


def set_role(path: Path, name: str, role: str, actor: Principal | None = None) -> User:
    require(actor, "manage_users")
    users = load_users(path)
    user = _existing(users, name)
    updated = User(user.name, check_role(role), user.password_hash, user.created)
    _save_users(path, {**users, user.name: updated})
    return updated


def remove_user(path: Path, name: str, actor: Principal | None = None) -> User:
    require(actor, "manage_users")
    users = load_users(path)
    user = _existing(users, name)
    _save_users(path, {n: u for n, u in users.items() if n != user.name})
    return user


# --------------------------------------------------------------------------------------------
# signing in


class _Throttle:
    """Failed password sign-ins per name, kept in this process; old failures expire."""

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def recent(self, name: str, now: float) -> int:
        with self._lock:
            kept = [t for t in self._failures.get(name, []) if now - t < FAILURE_WINDOW_S]
            self._failures[name] = kept
            return len(kept)

    def fail(self, name: str, now: float) -> None:
        with self._lock:
            self._failures.setdefault(name, []).append(now)

    def clear(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._failures.clear()
            else:
                self._failures.pop(name, None)


THROTTLE = _Throttle()


def sign_in(users: Mapping[str, User], name: str, password: str, now: float | None = None) -> Principal:
    """The principal for a correct name and password; :class:`SignInFailed` otherwise.

    A wrong name and a wrong password give the same error and take the same time. After
    :data:`MAX_FAILURES` failures for a name within :data:`FAILURE_WINDOW_S` seconds, further tries
    for it are refused (code ``too_many_attempts``) until the oldest failure expires.
    """
    now = time.monotonic() if now is None else now
    key = name.strip().lower()
    if THROTTLE.recent(key, now) >= MAX_FAILURES:
        raise SignInFailed(f"too many failed sign-ins for {key!r}; try again later", code="too_many_attempts",
                           name=key, seconds=int(FAILURE_WINDOW_S))
    user = users.get(key)
    stored = user.password_hash if user is not None and user.password_hash else None
    ok = verify_password(password, stored or _dummy_hash()) and stored is not None
    if not ok:
        THROTTLE.fail(key, now)
        raise SignInFailed("wrong user name or password", name=key)
    THROTTLE.clear(key)
    return Principal(user.name, user.role, "password")


def refreshed(principal: Principal, users: Mapping[str, User]) -> Principal | None:
    """A signed-in principal as the users file has it now: its current role, or ``None`` once removed."""
    if principal.source not in ("password", "oidc"):
        return principal
    user = users.get(principal.name)
    if user is None:
        return oidc_principal(users, {"email": principal.name}) if principal.source == "oidc" else None
    if principal.source == "password" and not user.has_password:
        return None
    return Principal(user.name, user.role, principal.source)


def oidc_principal(users: Mapping[str, User], claims: Mapping[str, Any]) -> Principal | None:
    """The principal for an identity the provider vouched for, or ``None`` if it has no access here.

    The e-mail claim is looked up in the users file; an identity not listed gets
    ``$REELYTICS_OIDC_DEFAULT_ROLE`` (unset by default: no access). An e-mail the provider marks
    unverified never gets access.
    """
    email = str(claims.get("email") or "").strip().lower()
    if not email or claims.get("email_verified") is False:
        return None
    user = users.get(email)
    if user is not None:
        return Principal(user.name, user.role, "oidc")
    role = _env_role(OIDC_ROLE_ENV, None)
    return Principal(email, role, "oidc") if role else None


# --------------------------------------------------------------------------------------------
# configured sign-in and where the server may listen


@dataclass(frozen=True)
class SignInSetup:
    """Which ways of signing in are configured."""

    oidc: bool
    password_users: int

    @property
    def configured(self) -> bool:
        return self.oidc or self.password_users > 0

    def to_dict(self) -> dict[str, Any]:
        return {"oidc": self.oidc, "password_users": self.password_users, "configured": self.configured}


def oidc_providers(secrets: Mapping[str, Any]) -> list[str | None]:
    """The providers ``st.login`` can use from Streamlit's secrets: ``None`` for the one written
    directly in ``[auth]``, else the names of the ``[auth.NAME]`` sections; empty when not configured."""
    auth = secrets.get("auth")
    if not isinstance(auth, Mapping) or not auth.get("redirect_uri") or not auth.get("cookie_secret"):
        return []

    def complete(p: Mapping[str, Any]) -> bool:
        return all(p.get(k) for k in ("client_id", "client_secret", "server_metadata_url"))

    named = [name for name, v in auth.items() if isinstance(v, Mapping) and complete(v)]
    return ([None] if complete(auth) else []) + named


def oidc_configured(secrets: Mapping[str, Any]) -> bool:
    """Whether Streamlit's secrets hold an ``[auth]`` section ``st.login`` can use."""
    return bool(oidc_providers(secrets))


def sign_in_setup(users: Mapping[str, User], secrets: Mapping[str, Any]) -> SignInSetup:
    return SignInSetup(oidc_configured(secrets), sum(u.has_password for u in users.values()))


def is_loopback(address: str | None) -> bool:
    """Whether ``address`` (Streamlit's ``server.address``; empty means every interface) is this machine only."""
    address = (address or "").strip().strip("[]")
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def open_serving_forced() -> bool:
    return os.environ.get(ALLOW_OPEN_ENV, "").strip().lower() in ("1", "true", "yes")


def check_binding(address: str | None, setup: SignInSetup) -> None:
    """Raise :class:`AccessDenied` (code ``open_binding``) for a non-loopback address without sign-in,
    unless ``$REELYTICS_ALLOW_OPEN`` forces it."""
    if setup.configured or is_loopback(address) or open_serving_forced():
        return
    shown = address or "every interface"
    raise AccessDenied(
        f"refusing to serve on {shown} without sign-in: add a user (reelytics users add NAME --role admin) "
        f"or configure [auth] in .streamlit/secrets.toml, or set {ALLOW_OPEN_ENV}=1 to serve anyway",
        code="open_binding", address=shown,
    )
