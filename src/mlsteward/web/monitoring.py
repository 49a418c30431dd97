"""Monitoring of one deployment: drift, performance and fairness over time,
with the alerts marked on the timelines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from mlsteward.errors import NotFound
from mlsteward.monitoring.alerts import AlertService
from mlsteward.monitoring.monitors import MonitorService
from mlsteward.monitoring.series import SeriesService
from mlsteward.web import charts
from mlsteward.web.distribution import feature_distribution
from mlsteward.web.render import render
from mlsteward.web.session import Page, current_page

router = APIRouter()

Name = Annotated[str | None, Query(max_length=200)]
#: The figures the page plots, read in one query without their details.
SERIES = (
    "drift.psi",
    "score_drift.psi",
    "performance.auc",
    "performance.labelled_share",
    "fairness.approval_ratio",
)


def _pick_monitor(page: Page, deployment: str | None, monitor: str | None) -> Any:
    monitors = MonitorService(page.ctx).list()
    if monitor:
        chosen = [m for m in monitors if m.name == monitor]
    else:
        chosen = [m for m in monitors if deployment in (None, m.deployment)]
    if not chosen:
        known = sorted({m.deployment for m in monitors})
        what = f"monitor {monitor!r}" if monitor else f"deployment {deployment!r}"
        raise NotFound(
            f"{what} has no monitor; monitored deployments: "
            + (", ".join(known) or "none"),
            field="monitor" if monitor else "deployment",
        )
    return chosen[0], monitors


def monitoring_data(
    page: Page,
    deployment: str | None,
    monitor: str | None,
    feature: str | None,
    window: str | None,
) -> dict[str, Any]:
    m, monitors = _pick_monitor(page, deployment, monitor)
    svc = MonitorService(page.ctx)
    figures = SeriesService(page.ctx).series(m.name, checks=SERIES)
    part = {c: figures[figures["check"] == c] for c in SERIES}
    psi, score = part["drift.psi"], part["score_drift.psi"]
    labels = charts.window_labels(figures)
    alerts = AlertService(page.ctx).list(monitor=m.name, limit=1000)
    features = sorted(psi["column"].unique()) if not psi.empty else []
    if window not in labels:
        window = labels[-1] if labels else None
    if feature not in features:
        feature = charts.most_drifted(psi, window) if features else None
    distribution = (
        feature_distribution(page, m, feature, window) if feature and window else None
    )
    return {
        "monitor": m,
        "monitors": [x for x in monitors if x.deployment == m.deployment],
        "deployments": sorted({x.deployment for x in monitors}),
        "features": features,
        "feature": feature,
        "windows": labels,
        "window": window,
        "psi_chart": charts.psi_chart(labels, score, psi, alerts),
        "feature_chart": charts.feature_psi_chart(labels, psi, feature, alerts),
        "distribution": distribution,
        "performance_chart": charts.performance_chart(
            labels,
            part["performance.auc"],
            part["performance.labelled_share"],
            svc.results(m.name, check="estimated.auc"),
            alerts,
        ),
        "fairness_chart": charts.fairness_chart(
            labels, part["fairness.approval_ratio"], alerts
        ),
        "alerts": alerts[:50],
    }


@router.get("/monitoring")
def monitoring(
    page: Annotated[Page, Depends(current_page)],
    deployment: Name = None,
    monitor: Name = None,
    feature: Name = None,
    window: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    data = monitoring_data(page, deployment, monitor, feature, window)
    return render(page, "monitoring.html", **data)
