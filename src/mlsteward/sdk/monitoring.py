"""Client methods of monitoring: ``client.monitors`` and ``client.alerts``.

Outcomes are loaded with :meth:`mlsteward.Client.load_outcomes`. The flat
methods (``create_monitor``, ``run_monitor``, ...) stay as delegations to
the namespaces.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

import pandas as pd

from mlsteward.context import Context
from mlsteward.monitoring.alerts import AlertService
from mlsteward.monitoring.models import Alert, Incident, Monitor, MonitorRun
from mlsteward.monitoring.monitors import MonitorService
from mlsteward.monitoring.specs import CreateMonitor, RunMonitor


class Monitors:
    """``client.monitors``: monitors of deployments, their runs and results.

    Example:
        >>> client.monitors.create(name="cr", deployment="credit-risk")
        ... # doctest: +SKIP
        >>> client.monitors.run("cr", start=t0, end=t1)  # doctest: +SKIP
        >>> client.monitors.results("cr", check="drift")  # doctest: +SKIP
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = MonitorService(ctx)

    def create(self, spec: CreateMonitor | None = None, **fields: Any) -> Monitor:
        """Create a monitor from a spec, or from its fields.

        Args:
            spec: A :class:`~mlsteward.monitoring.specs.CreateMonitor`.
            **fields: The spec's fields instead (``name``, ``deployment``,
                ``window``, ``checks``, ``alerting``, ...), validated by it.

        Raises:
            InvalidInput: A bad or unknown field, named.

        Example:
            >>> client.monitors.create(name="cr", deployment="credit-risk",
            ...                        window="last:500")  # doctest: +SKIP
        """
        if spec is None:
            spec = CreateMonitor.parse(fields)
        elif fields:
            spec = CreateMonitor.parse(spec.model_dump(exclude_unset=True), **fields)
        return self._svc.create(spec)

    def get(self, name: str) -> Monitor:
        """The monitor named ``name``.

        Example:
            >>> client.monitors.get("cr").window  # doctest: +SKIP
        """
        return self._svc.get(name)

    def list(self, *, deployment: str | None = None) -> list[Monitor]:
        """Every monitor, or those of one deployment.

        Example:
            >>> [m.name for m in client.monitors.list()]  # doctest: +SKIP
        """
        return self._svc.list(deployment=deployment)

    def delete(self, name: str) -> None:
        """Delete a monitor's definition; its results and alerts are kept.

        Example:
            >>> client.monitors.delete("cr")  # doctest: +SKIP
        """
        self._svc.delete(name)

    def run(
        self, name: str, spec: RunMonitor | None = None, **fields: Any
    ) -> MonitorRun:
        """Run a monitor now; ``start`` and ``end`` (both or neither) compute
        that span, ``at`` sets the run's time.

        Example:
            >>> client.monitors.run("cr", start="2025-01-01T00:00:00Z",
            ...                     end="2025-04-01T00:00:00Z")  # doctest: +SKIP
        """
        if spec is None or fields:
            base = spec.model_dump(exclude_unset=True) if spec else {}
            spec = RunMonitor.parse(base, **fields)
        return self._svc.run(name, spec)

    def run_due(self, *, now: dt.datetime | None = None) -> builtins.list[MonitorRun]:
        """Run every enabled monitor whose next run time has come, here.

        Example:
            >>> client.monitors.run_due()  # doctest: +SKIP
        """
        return self._svc.run_due(now=now)

    def results(
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
        """A monitor's results as a DataFrame, one row per figure and window.

        Example:
            >>> client.monitors.results("cr", check="drift.psi")  # doctest: +SKIP
        """
        return self._svc.results(
            name,
            check=check,
            column=column,
            since=since,
            until=until,
            window=window,
            latest=latest,
        )


class Alerts:
    """``client.alerts``: alerts raised by monitors, and their delivery.

    Example:
        >>> client.alerts.list(status="open")  # doctest: +SKIP
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = AlertService(ctx)

    def list(
        self,
        *,
        status: str | None = None,
        monitor: str | None = None,
        severity: str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts, newest first, filtered by status, monitor or severity.

        Example:
            >>> client.alerts.list(monitor="cr", severity="critical")
            ... # doctest: +SKIP
        """
        return self._svc.list(
            status=status, monitor=monitor, severity=severity, limit=limit
        )

    def incidents(
        self,
        *,
        monitor: str | None = None,
        deployment: str | None = None,
        limit: int = 20,
    ) -> builtins.list[Incident]:
        """Newest incidents first: the alerts of one monitor run on one window,
        worst first, with a summary line; repeats of the window before are
        counted (``streak``) and folded in the digest.

        Example:
            >>> for i in client.alerts.incidents(deployment="credit-risk"):
            ...     print(i.summary)  # doctest: +SKIP
        """
        return self._svc.incidents(monitor=monitor, deployment=deployment, limit=limit)

    def deliver_pending(self, *, retry_failed: bool = False) -> builtins.list[Alert]:
        """Retry every pending alert's undelivered sinks.

        Example:
            >>> client.alerts.deliver_pending()  # doctest: +SKIP
        """
        return self._svc.deliver_pending(retry_failed=retry_failed)


class MonitoringMixin:
    """``client.monitors`` and ``client.alerts`` on :class:`mlsteward.Client`,
    plus the flat methods of the first release, which delegate to them.

    Example:
        >>> client.monitors.create(name="cr", deployment="credit-risk")
        ... # doctest: +SKIP
        >>> run = client.monitors.run("cr")  # doctest: +SKIP
    """

    ctx: Context

    @property
    def monitors(self) -> Monitors:
        """Monitors: create, get, list, delete, run, run_due, results."""
        return Monitors(self.ctx)

    @property
    def alerts(self) -> Alerts:
        """Alerts: list, incidents, deliver_pending."""
        return Alerts(self.ctx)

    def create_monitor(self, name: str, **fields: Any) -> Monitor:
        """Use ``client.monitors.create(name=..., ...)``; this delegates to it."""
        return self.monitors.create(name=name, **fields)

    def get_monitor(self, name: str) -> Monitor:
        """Use ``client.monitors.get``; this delegates to it."""
        return self.monitors.get(name)

    def list_monitors(self, *, deployment: str | None = None) -> list[Monitor]:
        """Use ``client.monitors.list``; this delegates to it."""
        return self.monitors.list(deployment=deployment)

    def delete_monitor(self, name: str) -> None:
        """Use ``client.monitors.delete``; this delegates to it."""
        self.monitors.delete(name)

    def run_monitor(
        self,
        name: str,
        *,
        window: tuple[Any, Any] | None = None,
        at: dt.datetime | None = None,
    ) -> MonitorRun:
        """Use ``client.monitors.run(name, start=, end=, at=)``; this delegates."""
        start, end = window if window is not None else (None, None)
        return self.monitors.run(name, start=start, end=end, at=at)

    def run_due_monitors(self, *, now: dt.datetime | None = None) -> list[MonitorRun]:
        """Use ``client.monitors.run_due``; this delegates to it."""
        return self.monitors.run_due(now=now)

    def monitor_results(self, name: str, **filters: Any) -> pd.DataFrame:
        """Use ``client.monitors.results``; this delegates to it."""
        return self.monitors.results(name, **filters)

    def list_alerts(self, **filters: Any) -> list[Alert]:
        """Use ``client.alerts.list``; this delegates to it."""
        return self.alerts.list(**filters)

    def deliver_alerts(self, *, retry_failed: bool = False) -> list[Alert]:
        """Use ``client.alerts.deliver_pending``; this delegates to it."""
        return self.alerts.deliver_pending(retry_failed=retry_failed)
