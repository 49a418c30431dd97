"""Monitoring as background work: the ``monitor_run`` and ``alert_deliver``
job handlers.

The jobs layer names it in its ``HANDLERS`` table and imports it only when a
worker runs such a job.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from mlsteward.context import Context
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.alerts import AlertService
from mlsteward.monitoring.monitors import MonitorService
from mlsteward.monitoring.specs import RunMonitor
from mlsteward.monitoring.stored import AlreadyRan

__all__ = ["FAULT_ENV", "deliver_job", "run_job"]


def run_job(ctx: Context, payload: dict[str, Any], log: Any) -> dict[str, Any]:
    """Job handler ``monitor_run``: payload ``{"monitor": NAME}`` (optionally
    ``"start"``/``"end"`` as ISO times).

    The run is keyed by the job: its id is the job's, so a retry of a run
    that committed (its worker killed before the job was marked done) finds
    it stored and stores nothing again: no second set of results, no alert
    counted twice, one ``monitor.ran`` event.
    """
    name = payload.get("monitor")
    if not isinstance(name, str):
        raise InvalidInput("monitor_run jobs need {'monitor': NAME}", field="monitor")
    spec = RunMonitor.parse({k: payload[k] for k in ("start", "end") if payload.get(k)})
    job = getattr(log, "job", None)
    run_id = getattr(job, "id", None)
    log(f"running monitor {name}")
    try:
        run = MonitorService(ctx).run(name, spec, run_id=run_id)
    except AlreadyRan:
        log(f"run {run_id} was stored by an earlier attempt; nothing to redo")
        return {"run_id": run_id, "resumed": True}
    fault("ran")
    log(f"{len(run.results)} results, {len(run.alerts)} alerts")
    return {
        "run_id": run.run_id,
        "results": len(run.results),
        "alerts": [a.id for a in run.alerts],
    }


#: Test hook: ``MLSTEWARD_FAULT_MONITOR=ran`` kills the worker (SIGKILL) once
#: a ``monitor_run`` job's run has committed, before the job is marked done.
FAULT_ENV = "MLSTEWARD_FAULT_MONITOR"


def fault(point: str) -> None:
    """Kill this process here if the fault hook names ``point`` (tests only)."""
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def deliver_job(ctx: Context, payload: dict[str, Any], log: Any) -> dict[str, Any]:
    """Job handler ``alert_deliver``: deliver pending alerts to their sinks
    (payload ``{"retry_failed": true}`` retries failed ones too).

    Sinks make network calls that may take up to their timeout each, so they
    run here, in a worker, and never inside a request: a monitor run or a
    delivery asked for over REST queues this job.
    """
    retry = payload.get("retry_failed", False)
    if not isinstance(retry, bool):
        raise InvalidInput(
            "alert_deliver jobs take {'retry_failed': true|false}",
            field="retry_failed",
        )
    log.check()
    alerts = AlertService(ctx).deliver_pending(retry_failed=retry)
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.status] = counts.get(alert.status, 0) + 1
    log(f"{len(alerts)} alerts tried: {counts or 'none pending'}")
    return {"tried": [a.id for a in alerts], "statuses": counts}
