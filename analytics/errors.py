"""Error types a person may see.

Every error the library raises on purpose is a :class:`ReelyticsError`: a message saying what is
wrong and what is allowed, a stable ``code`` and ``details`` naming the offending column, line or
value. Pages show the message; the CLI prints it on one line and exits with status 2.
"""

from __future__ import annotations

from typing import Any


class ReelyticsError(Exception):
    """Base class of all expected, user-facing errors."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class BadInput(ReelyticsError):
    """The input (file, option, parameter) cannot be used as given."""

    code = "bad_input"


class StorageError(ReelyticsError):
    """The database refused an operation; nothing was changed."""

    code = "storage"


class NotFound(ReelyticsError):
    """A named user, item, upload or model does not exist."""

    code = "not_found"
