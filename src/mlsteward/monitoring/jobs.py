"""Monitoring as background work: the ``monitor_run`` job handler.

The jobs layer names it in its ``HANDLERS`` table and imports it only when a
worker runs such a job.
"""

from __future__ import annotations

from typing import Any

from mlsteward.context import Context
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.monitors import MonitorService
from mlsteward.monitoring.specs import RunMonitor

__all__ = ["run_job"]


def run_job(ctx: Context, payload: dict[str, Any], log: Any) -> dict[str, Any]:
    """Job handler ``monitor_run``: payload ``{"monitor": NAME}`` (optionally
    ``"start"``/``"end"`` as ISO times)."""
    name = payload.get("monitor")
    if not isinstance(name, str):
        raise InvalidInput("monitor_run jobs need {'monitor': NAME}", field="monitor")
    spec = RunMonitor.parse({k: payload[k] for k in ("start", "end") if payload.get(k)})
    log(f"running monitor {name}")
    run = MonitorService(ctx).run(name, spec)
    log(f"{len(run.results)} results, {len(run.alerts)} alerts")
    return {
        "run_id": run.run_id,
        "results": len(run.results),
        "alerts": [a.id for a in run.alerts],
    }
