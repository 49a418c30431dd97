"""Client methods of monitoring (monitors, results, alerts).

Outcomes are loaded with :meth:`mlsteward.Client.load_outcomes`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from mlsteward.context import Context
from mlsteward.monitoring.alerts import AlertService
from mlsteward.monitoring.models import Alert, Monitor, MonitorRun
from mlsteward.monitoring.monitors import MonitorService


class MonitoringMixin:
    """Monitors, their results and alerts, for :class:`mlsteward.Client`.

    Example:
        >>> client.create_monitor("cr", deployment="credit-risk")  # doctest: +SKIP
        >>> run = client.run_monitor("cr")  # doctest: +SKIP
        >>> client.monitor_results("cr", check="drift")  # doctest: +SKIP
    """

    ctx: Context

    def create_monitor(
        self,
        name: str,
        *,
        deployment: str,
        model: str | None = None,
        schedule: str | int = "1d",
        window: Any = None,
        reference: str = "champion",
        checks: Any = None,
        methods: Mapping[str, str | Sequence[str]] | None = None,
        alerting: Any = None,
        routes: Sequence[str] = ("champion",),
        description: str = "",
    ) -> Monitor:
        """Create a monitor (see :meth:`MonitorService.create`)."""
        return MonitorService(self.ctx).create(
            name,
            deployment=deployment,
            model=model,
            schedule=schedule,
            window=window,
            reference=reference,
            checks=checks,
            methods=methods,
            alerting=alerting,
            routes=routes,
            description=description,
        )

    def get_monitor(self, name: str) -> Monitor:
        return MonitorService(self.ctx).get(name)

    def list_monitors(self, *, deployment: str | None = None) -> list[Monitor]:
        return MonitorService(self.ctx).list(deployment=deployment)

    def delete_monitor(self, name: str) -> None:
        MonitorService(self.ctx).delete(name)

    def run_monitor(
        self,
        name: str,
        *,
        window: tuple[Any, Any] | None = None,
        at: dt.datetime | None = None,
    ) -> MonitorRun:
        """Run a monitor now; ``window=(start, end)`` computes that span."""
        return MonitorService(self.ctx).run(name, window=window, at=at)

    def run_due_monitors(self, *, now: dt.datetime | None = None) -> list[MonitorRun]:
        return MonitorService(self.ctx).run_due(now=now)

    def monitor_results(
        self,
        name: str,
        *,
        check: str | None = None,
        column: str | None = None,
        since: Any = None,
        until: Any = None,
        window: str | None = None,
        latest: bool = True,
    ) -> pd.DataFrame:
        """A monitor's results as a DataFrame, one row per figure and window."""
        return MonitorService(self.ctx).results(
            name,
            check=check,
            column=column,
            since=since,
            until=until,
            window=window,
            latest=latest,
        )

    def list_alerts(
        self,
        *,
        status: str | None = None,
        monitor: str | None = None,
        severity: str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        return AlertService(self.ctx).list(
            status=status, monitor=monitor, severity=severity, limit=limit
        )

    def deliver_alerts(self, *, retry_failed: bool = False) -> list[Alert]:
        """Retry every pending alert's undelivered sinks."""
        return AlertService(self.ctx).deliver_pending(retry_failed=retry_failed)
