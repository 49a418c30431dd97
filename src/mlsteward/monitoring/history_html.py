"""A monitor's results over time as one self-contained HTML page.

Per feature, PSI per window against its watch and drift bands (0.1 and 0.25
unless the monitor set others); realised against estimated AUC per window;
the alerts raised, marked on the charts and listed. The page is built from
what :meth:`~mlsteward.monitoring.monitors.MonitorService.results` and
:meth:`~mlsteward.monitoring.alerts.AlertService.list` return, aggregated to
one figure per check, column and window, and drawn like the drift report
(:mod:`mlsteward.monitoring.drift.html`: inline CSS and Chart.js, no
network, user text escaped).

Pure: a results frame and alerts in, a page out; no database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from mlsteward.monitoring.drift.html import (
    chartjs_source,
    environment,
    script_json,
)
from mlsteward.monitoring.models import Alert

__all__ = ["PERFORMANCE_CHECKS", "PSI_CHECKS", "monitor_data", "render_monitor_html"]

#: Checks drawn as PSI over time, one chart per column.
PSI_CHECKS = ("drift.psi", "score_drift.psi")
#: Window-level checks drawn together as performance over time.
PERFORMANCE_CHECKS = {
    "performance.auc": "realised AUC",
    "estimated.auc": "estimated AUC",
}
DEFAULT_BANDS = (0.1, 0.25)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _series(
    rows: pd.DataFrame, labels: list[str], marked: set[str]
) -> dict[str, list[Any]]:
    """Values, statuses and alert marks of one check and column, per window."""
    by_label = {r.window_label: r for r in rows.itertuples(index=False)}
    values, statuses = [], []
    for label in labels:
        r = by_label.get(label)
        values.append(None if r is None else _number(r.value))
        statuses.append(None if r is None else str(r.status))
    return {
        "values": values,
        "statuses": statuses,
        "alerts": [label in marked for label in labels],
    }


def _bands(rows: pd.DataFrame) -> tuple[float, float]:
    """The newest row's (watch, drift) thresholds, else the credit bands."""
    for details in reversed(rows["details"].tolist()):
        if isinstance(details, dict) and "threshold" in details:
            watch = _number(details.get("watch_threshold"))
            drift = _number(details.get("threshold"))
            if watch is not None and drift is not None:
                return watch, drift
    return DEFAULT_BANDS


def monitor_data(results: pd.DataFrame, alerts: Iterable[Alert]) -> dict[str, Any]:
    """What the page draws: windows, PSI per column, performance, alerts.

    Args:
        results: A monitor's results (the newest figure per check, column
            and window), as ``MonitorService.results`` returns them.
        alerts: The monitor's alerts.

    Returns:
        ``{"windows", "psi": [{"column", "check", "bands", "latest",
        "latest_status", "values", "statuses", "alerts"}], "performance":
        {check: {"values", "statuses", "alerts"}}}`` with one entry per
        window in every series (None where the window has no figure).
    """
    frame = results.sort_values(["window_start", "check", "column"], kind="stable")
    labels = list(dict.fromkeys(frame["window_label"].astype(str)))
    marked: dict[tuple[str, str], set[str]] = {}
    for a in alerts:
        marked.setdefault((a.check, a.column), set()).add(a.window_label)
    psi = []
    for check in PSI_CHECKS:
        rows = frame[frame["check"] == check]
        for column, group in rows.groupby("column", sort=False):
            series = _series(group, labels, marked.get((check, str(column)), set()))
            watch, drift = _bands(group)
            latest = [
                (v, st)
                for v, st in zip(series["values"], series["statuses"], strict=True)
                if st is not None
            ]
            psi.append(
                {
                    "column": str(column),
                    "check": check,
                    "bands": [watch, drift],
                    "latest": latest[-1][0] if latest else None,
                    "latest_status": latest[-1][1] if latest else "-",
                    **series,
                }
            )
    performance = {
        check: _series(
            frame[(frame["check"] == check) & (frame["column"] == "*")],
            labels,
            marked.get((check, "*"), set()),
        )
        for check in PERFORMANCE_CHECKS
        if (frame["check"] == check).any()
    }
    return {"windows": labels, "psi": psi, "performance": performance}


def render_monitor_html(
    name: str, results: pd.DataFrame, alerts: Sequence[Alert]
) -> str:
    """The page of monitor ``name`` (see the module docstring)."""
    data = monitor_data(results, alerts)
    return (
        environment()
        .get_template("monitor_report.html.j2")
        .render(
            name=name,
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            windows=data["windows"],
            psi=data["psi"],
            performance=data["performance"],
            labels=PERFORMANCE_CHECKS,
            alerts=sorted(alerts, key=lambda a: (a.window_label, a.check, a.column)),
            n_results=len(results),
            data_json=script_json(data),
            chartjs=chartjs_source(),
        )
    )
