"""One error tree for mlsteward.

Services raise these; only adapters (``api``, ``cli``) translate them into HTTP
statuses or exit codes. Every message names the user's object, what was
expected, and, where there is one, the fix.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Conflict",
    "Forbidden",
    "IntegrityError",
    "InvalidInput",
    "MlstewardError",
    "NotFound",
    "PolicyViolation",
    "Unauthenticated",
    "Unavailable",
    "UnsafeArtifact",
]


class MlstewardError(Exception):
    """Base of every error mlsteward raises on purpose.

    Args:
        message: What went wrong, for a person.
        field: The name of the offending field or column, if there is one.
        details: Extra machine-readable context (allowed values, ids, ...).
    """

    #: Short stable code, used in problem+json ``type`` and CLI ``--json``.
    code = "error"

    def __init__(
        self, message: str, *, field: str | None = None, **details: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.details:
            out["details"] = self.details
        return out


class NotFound(MlstewardError):
    """The named object does not exist."""

    code = "not_found"


class Conflict(MlstewardError):
    """The request clashes with the current state (duplicate, stale, ...)."""

    code = "conflict"


class InvalidInput(MlstewardError):
    """Input is malformed; ``field`` names what and the message says why."""

    code = "invalid_input"


class PolicyViolation(MlstewardError):
    """A policy gate or rule refuses the action."""

    code = "policy_violation"


class Forbidden(MlstewardError):
    """The actor may not do this."""

    code = "forbidden"


class Unauthenticated(Forbidden):
    """No token, or one that is not valid."""

    code = "unauthenticated"


class IntegrityError(MlstewardError):
    """Stored bytes do not match their recorded checksum."""

    code = "integrity_error"


class UnsafeArtifact(MlstewardError):
    """An artifact would run code or load types mlsteward does not trust."""

    code = "unsafe_artifact"


class Unavailable(MlstewardError):
    """A dependency (the metadata database, the journal's disk) is out for
    now; the same request may succeed later. ``retry_after`` (seconds) says
    when to try again."""

    code = "unavailable"
