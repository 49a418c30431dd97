"""Monitoring domain types: monitors, windows, runs, alerts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mlsteward.monitoring.spec import mask_url

__all__ = ["RESULT_COLUMNS", "Alert", "Monitor", "MonitorRun", "Window"]

#: Columns of a results frame, in order.
RESULT_COLUMNS = [
    "monitor",
    "run_id",
    "check",
    "column",
    "window_start",
    "window_end",
    "window_label",
    "value",
    "status",
    "details",
    "computed_at",
]


@dataclass(frozen=True)
class Window:
    """A span of predictions: ``start <= created_at < end``, labelled."""

    start: dt.datetime
    end: dt.datetime
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "label": self.label,
        }


@dataclass(frozen=True)
class Monitor:
    """A scheduled computation over windows of one deployment's predictions.

    ``checks`` holds every check's options as stored, including the drift
    method of each column, fixed when the monitor was created.
    """

    id: str
    name: str
    deployment: str
    model: str
    schedule: str
    window: dict[str, Any]
    reference: str
    checks: dict[str, dict[str, Any]]
    alerting: dict[str, Any]
    routes: list[str]
    description: str
    enabled: bool
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    last_run_at: dt.datetime | None
    next_run_at: dt.datetime | None
    state: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        sinks = []
        for s in self.alerting.get("sinks", []):
            shown = dict(s)
            if "url" in shown:
                shown["url"] = mask_url(shown["url"])
            sinks.append(shown)
        return {
            "id": self.id,
            "name": self.name,
            "deployment": self.deployment,
            "model": self.model,
            "schedule": self.schedule,
            "window": self.window,
            "reference": self.reference,
            "reference_at_creation": self.state.get("reference_at_creation"),
            "checks": self.checks,
            "alerting": {**self.alerting, "sinks": sinks},
            "routes": self.routes,
            "description": self.description,
            "enabled": self.enabled,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "next_run_at": self.next_run_at.isoformat() if self.next_run_at else None,
        }


@dataclass(frozen=True)
class Alert:
    """A check past its threshold, de-duplicated within a cool-down."""

    id: str
    monitor: str
    check: str
    column: str
    severity: str
    status: str
    dedupe_key: str
    message: str
    value: float | None
    window_label: str
    run_id: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    count: int
    sinks: list[str]
    delivered: list[str]
    sink_attempts: list[dict[str, Any]]
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "monitor": self.monitor,
            "check": self.check,
            "column": self.column,
            "severity": self.severity,
            "status": self.status,
            "message": self.message,
            "value": self.value,
            "window_label": self.window_label,
            "run_id": self.run_id,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "count": self.count,
            "sinks": self.sinks,
            "delivered": self.delivered,
            "attempts": self.attempts,
            "sink_attempts": self.sink_attempts,
            "dedupe_key": self.dedupe_key,
            "created_at": self.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }


@dataclass
class MonitorRun:
    """What one run computed: its windows, every result row, its alerts.

    Example:
        >>> run = client.run_monitor("cr", window=(start, end))  # doctest: +SKIP
        >>> run.value("drift.psi", "credit_amount")  # doctest: +SKIP
        0.41
    """

    run_id: str
    monitor: str
    at: dt.datetime
    windows: list[Window]
    results: list[dict[str, Any]]
    alerts: list[Alert] = field(default_factory=list)

    @property
    def frame(self) -> pd.DataFrame:
        """The results as a DataFrame (columns :data:`RESULT_COLUMNS`)."""
        return pd.DataFrame(self.results, columns=RESULT_COLUMNS)

    def get(
        self, check: str, column: str = "*", window: str | None = None
    ) -> dict[str, Any] | None:
        """The result row of ``check`` on ``column`` (the last window by
        default), or ``None``."""
        label = window if window is not None else self.windows[-1].label
        for row in self.results:
            if (
                row["check"] == check
                and row["column"] == column
                and row["window_label"] == label
            ):
                return row
        return None

    def value(
        self, check: str, column: str = "*", window: str | None = None
    ) -> float | None:
        """The value of ``check`` on ``column`` (last window by default)."""
        row = self.get(check, column, window)
        return None if row is None else row["value"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "monitor": self.monitor,
            "at": self.at.isoformat(),
            "windows": [w.to_dict() for w in self.windows],
            "results": [
                {
                    **r,
                    "window_start": r["window_start"].isoformat(),
                    "window_end": r["window_end"].isoformat(),
                    "computed_at": r["computed_at"].isoformat(),
                }
                for r in self.results
            ],
            "alerts": [a.to_dict() for a in self.alerts],
        }
