"""The overview: what serves each deployment, its traffic, alerts and monitors."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from mlsteward.errors import NotFound
from mlsteward.monitoring.alerts import AlertService
from mlsteward.monitoring.models import Monitor
from mlsteward.monitoring.monitors import MonitorService
from mlsteward.monitoring.series import SeriesService
from mlsteward.registry.service import ModelRegistry
from mlsteward.serving.deployments import DeploymentService
from mlsteward.web.render import render
from mlsteward.web.session import Page, current_page

router = APIRouter()

#: Traffic-light colour of a monitor by the worst status of its latest window.
LIGHT = {"alert": "red", "error": "red", "warn": "amber", "ok": "green"}
_ORDER = ("alert", "error", "warn", "ok", "pending", "no_data")


def monitor_state(svc: SeriesService, monitor: Monitor) -> dict[str, Any]:
    """The monitor's latest window, its worst status and the counts by status,
    aggregated in the database (one window's rows, never the history)."""
    windows = svc.series(monitor.name, checks=["drift"], column="*")
    if windows.empty:
        windows = svc.series(monitor.name, checks=["quality.volume"])
    if windows.empty:
        return {"name": monitor.name, "window": None, "light": "grey", "counts": {}}
    label = str(windows["window_label"].iloc[-1])
    latest = svc.series(monitor.name, window=label)
    counts = latest["status"].value_counts().to_dict()
    worst = next((s for s in _ORDER if counts.get(s)), "no_data")
    return {
        "name": monitor.name,
        "window": label,
        "status": worst,
        "light": LIGHT.get(worst, "grey"),
        "counts": {k: int(v) for k, v in counts.items()},
    }


def live_traffic(page: Page, deployment: str) -> dict[str, Any] | None:
    """Requests, rate and latency of ``deployment`` from this process's
    serving metrics; ``None`` where inference runs in another process."""
    metrics = page.request.app.state.serving_metrics
    if metrics is None:
        return None
    requests = latency_sum = latency_count = 0.0
    buckets: dict[float, float] = {}
    for family in metrics.registry.collect():
        for s in family.samples:
            if s.labels.get("deployment") != deployment:
                continue
            if s.name == "mlsteward_requests_total":
                requests += s.value
            elif s.name == "mlsteward_request_latency_seconds_sum":
                latency_sum += s.value
            elif s.name == "mlsteward_request_latency_seconds_count":
                latency_count += s.value
            elif s.name == "mlsteward_request_latency_seconds_bucket":
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + s.value
    uptime = max(time.monotonic() - page.request.app.state.started, 1e-9)
    return {
        "requests": int(requests),
        "rate_per_min": 60 * requests / uptime,
        "mean_ms": 1000 * latency_sum / latency_count if latency_count else None,
        "p95_ms": _quantile(buckets, latency_count, 0.95),
        "uptime_min": uptime / 60,
    }


def _quantile(buckets: dict[float, float], count: float, q: float) -> float | None:
    """The upper bound (ms) of the histogram bucket holding quantile ``q``."""
    if not count:
        return None
    for le in sorted(buckets):
        if buckets[le] >= q * count:
            return None if le == float("inf") else 1000 * le
    return None


def _deployment_row(
    page: Page, d: Any, approved: dict[str, int | None]
) -> dict[str, Any]:
    champion = approved.get(d.model_name)
    return {
        "d": d,
        "approved_champion": champion,
        "matches": champion is None or champion == d.champion_version,
        "traffic": live_traffic(page, d.name),
    }


def overview_data(page: Page) -> dict[str, Any]:
    deployments = DeploymentService(page.ctx).list()
    registry = ModelRegistry(page.ctx)
    approved: dict[str, int | None] = {}
    for name in {d.model_name for d in deployments}:
        try:
            approved[name] = registry.get_model(name).aliases.get("champion")
        except NotFound:
            approved[name] = None
    monitors = MonitorService(page.ctx).list()
    series = SeriesService(page.ctx)
    states = {m.name: monitor_state(series, m) for m in monitors}
    alerts = AlertService(page.ctx)
    open_alerts: dict[str, list[Any]] = {}
    for m in monitors:
        window = states[m.name]["window"]
        recent = alerts.list(monitor=m.name, limit=200)
        open_alerts[m.name] = [a for a in recent if a.window_label == window]
    by_deployment: dict[str, list[Monitor]] = {}
    for m in monitors:
        by_deployment.setdefault(m.deployment, []).append(m)
    known = {d.name for d in deployments}
    return {
        "rows": [_deployment_row(page, d, approved) for d in deployments],
        "monitors": by_deployment,
        "states": states,
        "open_alerts": open_alerts,
        "unlisted": sorted(set(by_deployment) - known),
        "live": page.request.app.state.serving_metrics is not None,
    }


@router.get("/")
def overview(page: Annotated[Page, Depends(current_page)]) -> Response:
    return render(page, "overview.html", **overview_data(page))
