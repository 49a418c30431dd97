"""Monitoring domain types: monitors, windows, runs, alerts."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from pydantic import Field, PlainSerializer, computed_field, field_serializer

from mlsteward.monitoring.spec import mask_url
from mlsteward.results import FiniteFloat, Result, Timestamp

__all__ = [
    "RESULT_COLUMNS",
    "Alert",
    "Incident",
    "IncidentItem",
    "Monitor",
    "MonitorRun",
    "ResultRow",
    "Window",
]

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


class Window(Result):
    """A span of predictions: ``start <= created_at < end``, labelled."""

    start: Timestamp
    end: Timestamp
    label: str


class ResultRow(Result):
    """One computed figure: a check on a column over a window."""

    monitor: str
    run_id: str
    check: str
    column: str
    window_start: Timestamp
    window_end: Timestamp
    window_label: str
    value: FiniteFloat
    status: str
    details: dict[str, Any] | None = None
    computed_at: Timestamp


class Monitor(Result):
    """A scheduled computation over windows of one deployment's predictions.

    ``checks`` holds every check's options as stored, including the drift
    method of each column, fixed when the monitor was created. Its JSON masks
    the sinks' URLs (they may carry tokens) and leaves ``state`` out but for
    ``reference_at_creation``.
    """

    id: str
    name: str
    deployment: str
    model: str
    schedule: str
    window: dict[str, Any]
    reference: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reference_at_creation(self) -> Any:
        return self.state.get("reference_at_creation")

    checks: dict[str, dict[str, Any]]
    alerting: dict[str, Any]
    routes: list[str]
    description: str
    enabled: bool
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    last_run_at: Timestamp | None
    next_run_at: Timestamp | None
    state: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)

    @field_serializer("alerting")
    def _masked(self, alerting: dict[str, Any]) -> dict[str, Any]:
        sinks = []
        for sink in alerting.get("sinks", []):
            shown = dict(sink)
            if "url" in shown:
                shown["url"] = mask_url(shown["url"])
            sinks.append(shown)
        return {**alerting, "sinks": sinks}


class Alert(Result):
    """A check past its threshold, de-duplicated within a cool-down."""

    id: str
    monitor: str
    check: str
    column: str
    severity: str
    status: str
    dedupe_key: str
    message: str
    value: FiniteFloat
    window_label: str
    run_id: str
    first_seen: Timestamp
    last_seen: Timestamp
    count: int
    sinks: list[str]
    delivered: list[str]
    sink_attempts: list[dict[str, Any]]
    attempts: int
    created_at: Timestamp
    sent_at: Timestamp | None


class IncidentItem(Result):
    """One alert of an incident, with how long its check has been failing."""

    alert_id: str
    check: str
    column: str
    severity: str
    value: FiniteFloat
    text: str = Field(description="The figure and the levels it is judged by.")
    phrase: str = Field(description="A few words for the summary line.")
    excess: float = Field(
        description="How far past its alert level (1 = at it); orders items."
    )
    streak: int = Field(
        description="Windows in a row this check and column were past a "
        "threshold, this one included (1: new)."
    )


class Incident(Result):
    """The alerts of one monitor run on one window, worst first, as one digest.

    ``id`` is ``RUN_ID:WINDOW``; ``status`` is ``pending`` while any of its
    alerts waits for a sink, ``failed`` when one gave up, else ``sent``.
    """

    id: str
    monitor: str
    deployment: str | None
    run_id: str
    window_label: str
    seen_at: Timestamp
    critical: int
    warnings: int
    repeated: int = Field(description="Items past a threshold in the window before.")
    status: str
    summary: str
    message: str
    items: list[IncidentItem]


def _rows_json(rows: list[dict[str, Any]]) -> list[ResultRow]:
    return [ResultRow.model_validate(r) for r in rows]


#: Result rows stay plain dicts in Python (``run.get(...)["value"]``) and
#: dump, and are described, as :class:`ResultRow`.
ResultRows = Annotated[
    list[dict[str, Any]],
    PlainSerializer(_rows_json, return_type=list[ResultRow], when_used="json"),
]


class MonitorRun(Result):
    """What one run computed: its windows, every result row, its alerts.

    Example:
        >>> run = client.run_monitor("cr", window=(start, end))  # doctest: +SKIP
        >>> run.value("drift.psi", "credit_amount")  # doctest: +SKIP
        0.41
    """

    run_id: str
    monitor: str
    at: Timestamp
    windows: list[Window]
    results: ResultRows
    alerts: list[Alert] = Field(default_factory=list)

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
