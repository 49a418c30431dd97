"""What runs a job: handlers found by kind in a literal table.

A handler is a function ``fn(ctx, payload, log) -> dict``: ``ctx`` is the
:class:`~mlsteward.context.Context` acting as the job's creator, ``payload``
the job's JSON payload, and ``log`` a :class:`JobLogger` that writes the
job's log (``log("scored 10000 rows")``) and lets the handler stop at a safe
point when the job was cancelled (``log.check()``). The dict it returns is
stored as the job's result.

Built-in kinds are listed in :data:`HANDLERS` as ``"module:function"`` and
imported on first use, so a worker that never runs a retraining never imports
the retraining code; other packages add kinds through the ``mlsteward.jobs``
entry-point group (the table is :data:`HANDLER_TABLE`, a
:class:`~mlsteward.plugins.PluginTable`), and tests and notebooks register
functions under new kinds with :func:`register_handler`. Nothing replaces a
built-in kind.

Example:
    >>> from mlsteward.jobs.handlers import get_handler
    >>> get_handler("noop")  # doctest: +SKIP
    <function noop at ...>
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable
from typing import Any, Protocol

from mlsteward.context import Context
from mlsteward.errors import InvalidInput, MlstewardError
from mlsteward.plugins import PluginTable

logger = logging.getLogger(__name__)

__all__ = [
    "ENTRY_POINT_GROUP",
    "HANDLERS",
    "HANDLER_TABLE",
    "Handler",
    "HandlerUnavailable",
    "JobLogger",
    "available_kinds",
    "check_kind",
    "get_handler",
    "register_handler",
    "unregister_handler",
]


class JobLogger(Protocol):
    """The ``log`` a handler receives."""

    def __call__(self, message: str, level: str = "info") -> None:
        """Write one line to the job's log (level debug, info, warning, error)."""

    def check(self) -> None:
        """Raise :class:`~mlsteward.jobs.models.JobInterrupted` if the job was
        cancelled or its lease lost; call it between steps of long work."""


Handler = Callable[[Context, dict[str, Any], JobLogger], dict[str, Any]]

#: Built-in job kinds and the functions that run them. Monitor runs and
#: retraining live in capabilities above the jobs layer; they are named here
#: and imported only when such a job runs.
HANDLERS: dict[str, str] = {
    "batch_score": "mlsteward.jobs.batch:run_job",
    "noop": "mlsteward.jobs.builtin:noop",
    "sleep": "mlsteward.jobs.builtin:sleep",
    "monitor_run": "mlsteward.monitoring.jobs:run_job",
    "alert_deliver": "mlsteward.monitoring.jobs:deliver_job",
    "retrain": "mlsteward.retraining.service:run_job",
}

#: What removes the leftovers of a job whose last attempt died (killed, its
#: lease run out): ``fn(ctx, job_id, payload)``, best effort, run by the
#: worker that finds it dead. A kind without one leaves nothing behind.
CLEAN_UPS: dict[str, str] = {"batch_score": "mlsteward.jobs.batch:clean_up"}


def clean_up_dead(ctx: Context, kind: str, job_id: str, payload: Any) -> None:
    """Run ``kind``'s clean-up for a dead job; a failure is logged, never
    raised (the job is dead either way)."""
    target = CLEAN_UPS.get(kind)
    if target is None:
        return
    module, _, name = target.partition(":")
    try:
        getattr(importlib.import_module(module), name)(ctx, job_id, payload)
    except Exception:  # best effort: the worker goes on
        logger.exception("clean-up of dead job %s (%s) failed", job_id, kind)


#: Entry-point group through which other packages add job kinds
#: (value ``"module:function"``).
ENTRY_POINT_GROUP = "mlsteward.jobs"

_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")
_undo: dict[str, Callable[[], None]] = {}


def _callable(fn: object) -> Handler:
    if not callable(fn):
        raise TypeError("a handler must be callable as fn(ctx, payload, log)")
    return fn  # type: ignore[return-value]


#: The job-kind seam: built-in kinds, then plug-ins and registered kinds.
HANDLER_TABLE: PluginTable[Handler] = PluginTable(
    "job kind", ENTRY_POINT_GROUP, HANDLERS, validate=_callable, field="kind"
)


class HandlerUnavailable(MlstewardError):
    """The handler of a job kind cannot be imported in this worker.

    The job is failed (and retried with back-off) rather than the worker
    crashing: another worker, or this one after a reinstall, may have it.
    """

    code = "handler_unavailable"


def available_kinds() -> list[str]:
    """Every kind this process can run: built-in, plug-in and registered.

    Example:
        >>> "batch_score" in available_kinds()
        True
    """
    return HANDLER_TABLE.available()


def check_kind(kind: object) -> str:
    """Return ``kind`` if a handler is known for it, else raise InvalidInput.

    Example:
        >>> check_kind("noop")
        'noop'
    """
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise InvalidInput(
            f"job kind {kind!r} is not a valid kind: use lower-case letters, "
            "digits, '_', '.' or '-', starting with a letter",
            field="kind",
        )
    known = available_kinds()
    if kind not in known:
        raise InvalidInput(
            f"no handler for job kind {kind!r}; known kinds: {known}. "
            "Register one with mlsteward.jobs.register_handler or the "
            f"{ENTRY_POINT_GROUP!r} entry-point group.",
            field="kind",
            allowed=known,
        )
    return kind


def register_handler(kind: str, fn: Handler) -> None:
    """Run jobs of a new ``kind`` with ``fn`` in this process (tests, notebooks).

    Packages declare an entry point in the ``mlsteward.jobs`` group instead.
    A kind that is already known (built-in, plug-in or registered) is
    refused: nothing stands in for a built-in. :func:`unregister_handler`
    undoes it.

    Raises:
        InvalidInput: The kind is malformed or taken, or ``fn`` is not callable.

    Example:
        >>> def hello(ctx, payload, log):
        ...     log("hello")
        ...     return {"greeted": payload.get("name")}
        >>> register_handler("hello", hello)
        >>> unregister_handler("hello")
    """
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise InvalidInput(f"job kind {kind!r} is not a valid kind", field="kind")
    if not callable(fn):
        raise InvalidInput(
            f"handler for {kind!r} must be callable as fn(ctx, payload, log)",
            field="fn",
        )
    _undo[kind] = HANDLER_TABLE.register(kind, fn)


def unregister_handler(kind: str) -> None:
    """Forget a handler registered with :func:`register_handler`."""
    undo = _undo.pop(kind, None)
    if undo is not None:
        undo()


def get_handler(kind: str) -> Handler:
    """The function that runs jobs of ``kind``, importing it on first use.

    Raises:
        HandlerUnavailable: no handler is known for ``kind`` here, or it
            cannot be imported.

    Example:
        >>> get_handler("noop").__name__
        'noop'
    """
    if kind not in HANDLER_TABLE:
        # Queued by a process that knew the kind (a plug-in, a registered
        # function): another worker, or this one after an install, may run it.
        raise HandlerUnavailable(
            f"no handler for job kind {kind!r} in this worker; it knows "
            f"{available_kinds()}. Install the plug-in that provides it, or run "
            "this kind on a worker that has it (`mlsteward worker --kinds ...`).",
            field="kind",
        )
    try:
        return HANDLER_TABLE.get(kind)
    except InvalidInput as exc:
        target = HANDLER_TABLE.target(kind)
        raise HandlerUnavailable(
            f"the handler of job kind {kind!r} is {target!r}, which cannot be "
            f"imported in this worker: {exc.message} Install the package that "
            "provides it, or run this kind on a worker that has it "
            "(`mlsteward worker --kinds ...`).",
            field="kind",
            target=target,
        ) from exc
