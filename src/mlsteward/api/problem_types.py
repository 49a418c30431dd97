"""One vocabulary of problem types for the control plane and the inference
server (RFC 9457 ``type``), in a module without FastAPI so the inference
server can share it without loading the control plane.

A domain error's type is its ``code`` (``not_found``, ``invalid_input``,
``unauthenticated``, ``forbidden``, ``conflict``, ...); the rest are named here
by HTTP status. Both servers answer malformed JSON with 400
``malformed_request`` and an over-large body with 413 ``request_too_large``.
"""

from __future__ import annotations

__all__ = ["BASE", "HTTP_CODES", "MALFORMED", "TOO_LARGE", "problem_type"]

BASE = "https://mlsteward.dev/problems/"
MALFORMED = "malformed_request"
TOO_LARGE = "request_too_large"

#: Problems that are not a domain error, by HTTP status.
HTTP_CODES: dict[int, str] = {
    400: MALFORMED,
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: TOO_LARGE,
    500: "internal",
    501: "not_implemented",
}


def problem_type(code: str) -> str:
    """The ``type`` URI of a problem code.

    Example:
        >>> problem_type("not_found")
        'https://mlsteward.dev/problems/not_found'
    """
    return BASE + code
