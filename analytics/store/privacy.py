"""Pseudonymisation of user ids at ingest: HMAC-SHA256 with a key kept outside the database.

``pseudonym(user_id) = hex(HMAC-SHA256(key, utf8(user_id)))`` (RFC 2104), 64 hex characters. The
same key always gives the same pseudonym, so journeys stay joined across uploads; without the key
the original id cannot be recovered or tested. The key comes from ``REELYTICS_PSEUDONYM_KEY``
(text) or from the file named by ``REELYTICS_PSEUDONYM_KEY_FILE``; it is never stored. The database
keeps only a fingerprint of it (``meta.pseudonym_key_fingerprint``), so that an upload with another
key -- or a mix of plain and pseudonymised ids -- is refused instead of silently mixed.

In SQL the HMAC is computed as ``sha256(K^opad || unhex(sha256(K^ipad || m)))``, which is the RFC 2104
definition for a key of at most 64 bytes (longer keys are hashed first, as the RFC says).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from analytics.errors import BadInput

KEY_ENV = "REELYTICS_PSEUDONYM_KEY"
KEY_FILE_ENV = "REELYTICS_PSEUDONYM_KEY_FILE"
FINGERPRINT_META = "pseudonym_key_fingerprint"
MIN_KEY_BYTES = 16
_BLOCK = 64


def pseudonym(key: bytes, user_id: str) -> str:
    """The pseudonym of ``user_id`` under ``key`` (64 lower-case hex characters)."""
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def fingerprint(key: bytes) -> str:
    """A short public fingerprint of ``key`` (reveals nothing usable about it)."""
    return hmac.new(key, b"reelytics pseudonym key fingerprint", hashlib.sha256).hexdigest()[:16]


def check_key(key: bytes) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise BadInput(
            f"the pseudonymisation key is too short ({len(key)} bytes); use at least {MIN_KEY_BYTES} random bytes",
            code="weak_key",
        )
    return key


def key_from_env(environ: dict[str, str] | None = None) -> bytes:
    """The key from ``REELYTICS_PSEUDONYM_KEY`` or the file in ``REELYTICS_PSEUDONYM_KEY_FILE``."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        return check_key(env[KEY_ENV].encode("utf-8"))
    if env.get(KEY_FILE_ENV):
        path = Path(env[KEY_FILE_ENV])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read the key file named by {KEY_FILE_ENV}: {exc.strerror}", code="no_key") from exc
        return check_key(data.rstrip(b"\r\n"))
    raise BadInput(
        f"--pseudonymise needs a key: set {KEY_ENV} or point {KEY_FILE_ENV} at a key file", code="no_key"
    )


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """``(K ^ ipad, K ^ opad)`` for the SQL form of HMAC-SHA256."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def pseudonym_sql(value: str, ipad_param: str = "$ipad", opad_param: str = "$opad") -> str:
    """SQL computing :func:`pseudonym` of the VARCHAR expression ``value`` (pads bound as BLOB)."""
    return f"sha256(CAST({opad_param} AS BLOB) || unhex(sha256(CAST({ipad_param} AS BLOB) || encode({value}))))"


def check_key_matches(cur, key: bytes | None) -> str | None:
    """Refuse an upload whose pseudonymisation does not match the event data already stored.

    Returns the fingerprint to record (or None for plain ids). Runs inside the caller's transaction.
    """
    stored = cur.execute("SELECT value FROM meta WHERE key = ?", [FINGERPRINT_META]).fetchone()
    stored_fp = stored[0] if stored else None
    has_events = cur.execute("SELECT count(*) FROM uploads WHERE kind = 'events'").fetchone()[0] > 0
    fp = fingerprint(key) if key is not None else None
    if not has_events:
        if fp is not None:
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [FINGERPRINT_META, fp])
        elif stored_fp is not None:
            cur.execute("DELETE FROM meta WHERE key = ?", [FINGERPRINT_META])
        return fp
    if fp == stored_fp:
        return fp
    if stored_fp is None:
        raise BadInput(
            "the database already holds plain user ids; pseudonymised ids would not join with them. "
            "Upload without --pseudonymise, or remove the earlier event uploads first",
            code="pseudonym_mix",
        )
    if fp is None:
        raise BadInput(
            "the database holds pseudonymised user ids; upload with --pseudonymise and the same key",
            code="pseudonym_mix",
        )
    raise BadInput(
        "the pseudonymisation key differs from the one used for the events already stored "
        f"(fingerprint {fp} vs {stored_fp}); use the original key",
        code="pseudonym_key_changed",
        fingerprint=fp,
        stored=stored_fp,
    )
