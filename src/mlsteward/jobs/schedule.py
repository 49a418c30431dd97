"""The worker's scheduler: what is due becomes jobs.

Every ``mlsteward worker`` ticks it (``MLSTEWARD_JOBS_SCHEDULE_SECONDS``,
default 30 s). Due monitors (monitoring sits below jobs) are claimed with a
conditional update and queued as ``monitor_run`` jobs keyed by the monitor and
its due time, so several workers ticking at once queue each run once. What
capabilities above the jobs layer make due (scheduled retrainings) is listed
in the literal table :data:`SOURCES`: each source is a function
``fn(ctx, now=...) -> list[Job]``, named here and imported only when the
scheduler ticks, so the jobs layer never imports the capabilities above it;
other packages add sources through the entry-point group
``mlsteward.schedule_sources`` (:data:`SOURCE_TABLE`). A source that fails is
logged and does not stop the monitors or the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from mlsteward.context import Context
from mlsteward.plugins import PluginTable
from mlsteward.store import utcnow

__all__ = ["SOURCES", "SOURCE_TABLE", "tick"]

_log = logging.getLogger("mlsteward.jobs")

#: What can fall due, by name: ``"module:function"``.
SOURCES: dict[str, str] = {
    "monitors": "mlsteward.monitoring.jobs:enqueue_due",
    "retraining": "mlsteward.retraining.triggers:enqueue_due",
}

#: The schedule-source seam: built-ins, then plug-ins.
SOURCE_TABLE: PluginTable[Any] = PluginTable(
    "schedule source", "mlsteward.schedule_sources", SOURCES, field="source"
)


def tick(ctx: Context, *, now: dt.datetime | None = None) -> list[Any]:
    """Queue the due monitors and what every source makes due; return the jobs."""
    from mlsteward.jobs.service import JobService
    from mlsteward.jobs.specs import EnqueueJob
    from mlsteward.monitoring.monitors import MonitorService

    now = now or utcnow()
    jobs = JobService(ctx)
    queued: list[Any] = [
        jobs.enqueue(
            EnqueueJob.parse(
                kind="monitor_run",
                payload={"monitor": name},
                idempotency_key=f"monitor:{name}:{due.isoformat()}",
            )
        )
        for name, due in MonitorService(ctx).claim_due(now=now)
    ]
    for name in SOURCE_TABLE.available():
        try:
            queued += SOURCE_TABLE.get(name)(ctx, now=now)
        except Exception:  # one broken source must not stop the others
            _log.exception("could not queue what is due from %s", name)
    return queued
