"""The worker's scheduler: due monitors and due retrainings become jobs.

Every ``mlsteward worker`` ticks it (``MLSTEWARD_JOBS_SCHEDULE_SECONDS``,
default 30 s). A due monitor is claimed with a conditional update, then
queued as a ``monitor_run`` job keyed by the monitor and its due time, so
several workers ticking at once queue it once. Retraining policies with a
``schedule`` are queued by :func:`mlsteward.retraining.triggers.enqueue_due`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from mlsteward.context import Context
from mlsteward.store import utcnow

__all__ = ["tick"]

_log = logging.getLogger("mlsteward.jobs")


def tick(ctx: Context, *, now: dt.datetime | None = None) -> list[Any]:
    """Queue what is due now; return the jobs queued."""
    from mlsteward.jobs.service import JobService
    from mlsteward.monitoring.monitors import MonitorService
    from mlsteward.retraining.triggers import enqueue_due

    now = now or utcnow()
    jobs = JobService(ctx)
    queued = []
    for name, due in MonitorService(ctx).claim_due(now=now):
        queued.append(
            jobs.enqueue(
                "monitor_run",
                {"monitor": name},
                idempotency_key=f"monitor:{name}:{due.isoformat()}",
            )
        )
    try:
        queued += enqueue_due(ctx, now=now)
    except Exception:  # a broken policy must not stop monitors being scheduled
        _log.exception("could not queue scheduled retrainings")
    return queued
