"""Small built-in job kinds: ``noop`` and ``sleep``, for smoke tests and drills."""

from __future__ import annotations

import time
from typing import Any

from mlsteward.context import Context
from mlsteward.errors import InvalidInput
from mlsteward.jobs.handlers import JobLogger

__all__ = ["noop", "sleep"]

#: Longest a ``sleep`` job may sleep.
MAX_SLEEP_SECONDS = 3600.0


def noop(ctx: Context, payload: dict[str, Any], log: JobLogger) -> dict[str, Any]:
    """Do nothing but write one log line; return the payload's ``echo`` and
    who it ran as (``actor``, ``role``: the principal that queued it).

    Example:
        >>> client.enqueue_job("noop", {"echo": "hi"})  # doctest: +SKIP
    """
    log("noop ran")
    principal = ctx.principal
    return {
        "echo": payload.get("echo"),
        "actor": ctx.actor,
        "role": principal.role if principal is not None else None,
    }


def sleep(ctx: Context, payload: dict[str, Any], log: JobLogger) -> dict[str, Any]:
    """Sleep ``payload["seconds"]`` (default 1, at most an hour), stopping
    early if the job is cancelled.

    Example:
        >>> client.enqueue_job("sleep", {"seconds": 5})  # doctest: +SKIP
    """
    seconds = payload.get("seconds", 1.0)
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds <= MAX_SLEEP_SECONDS
    ):
        raise InvalidInput(
            f"payload 'seconds' must be a number from 0 to {MAX_SLEEP_SECONDS:g}, "
            f"got {seconds!r}",
            field="seconds",
        )
    log(f"sleeping {seconds:g} s")
    deadline = time.monotonic() + float(seconds)
    while (left := deadline - time.monotonic()) > 0:
        log.check()
        time.sleep(min(left, 0.2))
    log("woke up")
    return {"slept": float(seconds)}
