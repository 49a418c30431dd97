"""Checks of what a job is queued with: payloads and queue settings."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from mlsteward.errors import InvalidInput

__all__ = ["MAX_PAYLOAD_BYTES", "check_enqueue", "json_object"]

#: Largest payload a job may carry, as JSON; big data goes in files or
#: datasets and the payload names them.
MAX_PAYLOAD_BYTES = 1_000_000


def json_object(value: Any, field: str) -> dict[str, Any]:
    """A JSON round trip of ``value``, which must be an object of finite values."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"{field} must be a JSON object (a dict), got {type(value).__name__}",
            field=field,
        )
    try:
        text = json.dumps(dict(value), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"{field} must hold only JSON values (str, number, bool, null, list, "
            f"dict) and finite numbers: {exc}",
            field=field,
        ) from exc
    if len(text.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise InvalidInput(
            f"{field} is larger than {MAX_PAYLOAD_BYTES} bytes as JSON; put large "
            "data in a file or a dataset and name it in the payload",
            field=field,
        )
    out: dict[str, Any] = json.loads(text)
    return out


def check_enqueue(idempotency_key: Any, max_attempts: Any, run_after: Any) -> None:
    """Refuse queue settings out of range, naming the field."""
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= 200
    ):
        raise InvalidInput(
            "idempotency_key must be a string of 1-200 characters",
            field="idempotency_key",
        )
    if (
        isinstance(max_attempts, bool)
        or not isinstance(max_attempts, int)
        or not 1 <= max_attempts <= 100
    ):
        raise InvalidInput(
            f"max_attempts must be a whole number from 1 to 100, got {max_attempts!r}",
            field="max_attempts",
        )
    if run_after is not None and (
        not isinstance(run_after, dt.datetime) or run_after.tzinfo is None
    ):
        raise InvalidInput(
            "run_after must be a time-zone aware datetime (UTC is stored)",
            field="run_after",
        )
