"""Jobs: a queue in the database, workers that claim and run jobs.

Example:
    >>> from mlsteward.jobs import JobService, Worker  # doctest: +SKIP
    >>> job = JobService(ctx).enqueue("noop", idempotency_key="once")  # doctest: +SKIP
    >>> Worker(ctx).run_pending()  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "HANDLERS",
    "BatchScoreResult",
    "BatchScoringService",
    "InProcessWorker",
    "Job",
    "JobInterrupted",
    "JobLogEntry",
    "JobService",
    "JobState",
    "Worker",
    "available_kinds",
    "register_handler",
    "unregister_handler",
]

# Importing the package stays cheap (``store`` imports ``jobs.tables`` for its
# metadata); each name is imported from its module on first use.
_WHERE = {
    "HANDLERS": "mlsteward.jobs.handlers",
    "available_kinds": "mlsteward.jobs.handlers",
    "register_handler": "mlsteward.jobs.handlers",
    "unregister_handler": "mlsteward.jobs.handlers",
    "Job": "mlsteward.jobs.models",
    "JobInterrupted": "mlsteward.jobs.models",
    "JobLogEntry": "mlsteward.jobs.models",
    "JobState": "mlsteward.jobs.models",
    "JobService": "mlsteward.jobs.service",
    "Worker": "mlsteward.jobs.worker",
    "InProcessWorker": "mlsteward.jobs.worker",
    "BatchScoreResult": "mlsteward.jobs.batch",
    "BatchScoringService": "mlsteward.jobs.batch",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mlsteward.jobs' has no attribute {name!r}")
    return getattr(import_module(module), name)
