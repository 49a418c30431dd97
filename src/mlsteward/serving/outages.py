"""Outage episodes of a serving process: what it has lost, since when.

Serving depends on two things it does not own: the metadata database (token
checks, deployment changes, the prediction log table) and the disk under its
journal. When one fails, serving carries on where it safely can — tokens
checked within the grace period, the routes it has, answers journaled until
the database returns — and refuses with ``503`` and ``Retry-After`` where it
cannot. An *episode* runs from the first failure to the first success after
it: it logs one warning when it begins and one line when it ends (never a
traceback per request), counts in ``mlsteward_outages_total{cause}``, and
shows in ``mlsteward_degraded{cause}`` and ``/v2/health/ready``.

Example:
    >>> outages = Outages(ServingMetrics())  # doctest: +SKIP
    >>> outages.failed("database", OSError("connection refused"))  # doctest: +SKIP
    >>> outages.degraded  # doctest: +SKIP
    ['database']
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from mlsteward.errors import Unavailable

__all__ = ["CAUSES", "JOURNAL_OUT", "RETRY_AFTER", "Outages", "database_errors"]

_log = logging.getLogger("mlsteward.serving")

#: What a serving process can lose, and what it does meanwhile.
CAUSES = {
    "database": "the metadata database is unreachable; serving continues with "
    "the deployments it has, tokens checked within the grace period, and "
    "answers journaled until the database returns",
    "journal": "the prediction journal cannot be written (disk full or "
    "unwritable); requests are refused with 503 until it can, never answered "
    "unlogged",
}

#: What a request refused for want of a journal is told.
JOURNAL_OUT = (
    "the prediction journal cannot be written (disk full?); the request was "
    "not answered, since every answer must be logged: try again shortly"
)

#: Seconds a refused caller is asked to wait (``Retry-After``).
RETRY_AFTER = 5


def database_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean the database is out rather than a bug: the
    driver's errors as SQLAlchemy wraps them (connection refused, server
    gone, file unreadable), and a pool timeout."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    return (DBAPIError, PoolTimeout)


class Outages:
    """Open episodes by cause, thread-safe (the log writer reports from its
    own thread).

    Args:
        metrics: The serving metrics (``outages``, ``degraded`` and
            ``degraded_answers`` are counted there).
    """

    def __init__(self, metrics: Any) -> None:
        self.metrics = metrics
        #: Open episodes: cause -> when it began (monotonic). Empty, as it
        #: almost always is, it is falsy: the request path tests only that.
        self.open: dict[str, float] = {}
        self._since = self.open
        self._lock = threading.Lock()

    @property
    def degraded(self) -> list[str]:
        """The causes of the open episodes, sorted."""
        return sorted(self._since)

    def failed(self, cause: str, exc: BaseException | str) -> None:
        """Something that needs ``cause`` failed; begins an episode unless
        one is open."""
        if cause in self._since:
            return
        with self._lock:
            if cause in self._since:
                return
            self._since[cause] = time.monotonic()
        self.metrics.outages.labels(cause).inc()
        self.metrics.degraded.labels(cause).set(1)
        what = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        _log.warning("outage began: %s (%s)", CAUSES[cause], str(what)[:500])

    def recovered(self, cause: str) -> None:
        """Something that needs ``cause`` worked; ends its episode if open.
        Costs one dict lookup when nothing is out."""
        if cause not in self._since:
            return
        with self._lock:
            began = self._since.pop(cause, None)
        if began is None:
            return
        self.metrics.degraded.labels(cause).set(0)
        _log.warning(
            "outage ended: %s is back after %.1f s", cause, time.monotonic() - began
        )

    def unavailable(self, cause: str, message: str) -> Unavailable:
        """The error a request gets when ``cause`` stops it (503)."""
        return Unavailable(message, field=None, cause=cause, retry_after=RETRY_AFTER)
