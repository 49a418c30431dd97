"""Control-plane routes of monitoring: monitors, runs, results, alerts, outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import orjson
import pandas as pd
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from mlsteward.api.deps import Actor, Op
from mlsteward.context import Context
from mlsteward.jobs.models import Job
from mlsteward.jobs.service import JobService
from mlsteward.jobs.specs import EnqueueJob
from mlsteward.monitoring.alerts import AlertService
from mlsteward.monitoring.models import (
    Alert,
    Incident,
    Monitor,
    MonitorRun,
    ResultRow,
)
from mlsteward.monitoring.monitors import MonitorService
from mlsteward.monitoring.outcomes import LoadResult, OutcomeService
from mlsteward.monitoring.specs import CreateMonitor, RunMonitor

router = APIRouter(tags=["monitoring"])


class OutcomeItem(BaseModel):
    request_id: str = Field(min_length=1, max_length=64)
    label: int = Field(description="0 = good, 1 = bad.")
    observed_at: dt.datetime | None = None


@router.post("/monitors", status_code=201)
def create_monitor(
    spec: CreateMonitor, ctx: Annotated[Context, Op("monitors.create")]
) -> Monitor:
    return MonitorService(ctx).create(spec)


@router.get("/monitors")
def list_monitors(
    ctx: Annotated[Context, Op("monitors.list")], deployment: str | None = None
) -> list[Monitor]:
    return MonitorService(ctx).list(deployment=deployment)


@router.get("/monitors/{name}")
def get_monitor(name: str, ctx: Annotated[Context, Op("monitors.get")]) -> Monitor:
    return MonitorService(ctx).get(name)


@router.delete("/monitors/{name}", status_code=204)
def delete_monitor(
    name: str, ctx: Annotated[Context, Op("monitors.delete")]
) -> Response:
    MonitorService(ctx).delete(name)
    return Response(status_code=204)


@router.post("/monitors/{name}/run")
def run_monitor(
    name: str,
    ctx: Annotated[Context, Op("monitors.run")],
    spec: RunMonitor | None = None,
) -> MonitorRun:
    """Run the monitor now. Its alerts are raised and returned here; their
    delivery to sinks (network calls) is queued as an ``alert_deliver`` job
    for a worker, so this request never waits on a sink."""
    run = MonitorService(ctx).run(name, spec, deliver=False)
    if any(a.status == "pending" for a in run.alerts):
        JobService(ctx).enqueue(EnqueueJob(kind="alert_deliver"))
    return run


@router.get("/monitors/{name}/results", response_model=list[ResultRow])
def monitor_results(
    name: str,
    ctx: Annotated[Context, Op("monitors.results")],
    check: str | None = None,
    column: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    window: str | None = None,
    latest: bool = True,
) -> Response:
    """The rows go out as JSON straight from the store (timestamps in ISO
    8601, a missing figure as ``null``), in the shape ``ResultRow`` declares."""
    rows = MonitorService(ctx).result_rows(
        name,
        check=check,
        column=column,
        since=since,
        until=until,
        window=window,
        latest=latest,
    )
    body = orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, media_type="application/json")


@router.get("/alerts")
def list_alerts(
    ctx: Annotated[Context, Op("alerts.list")],
    status: str | None = None,
    monitor: str | None = None,
    severity: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Alert]:
    return AlertService(ctx).list(
        status=status, monitor=monitor, severity=severity, limit=limit
    )


@router.get("/alert-incidents")
def alert_incidents(
    ctx: Annotated[Context, Op("alerts.incidents")],
    monitor: str | None = None,
    deployment: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> list[Incident]:
    """Newest incidents first: each the alerts of one monitor run on one
    window, worst first, with the summary line and the digest sinks get."""
    return AlertService(ctx).incidents(
        monitor=monitor, deployment=deployment, limit=limit
    )


@router.post("/alerts/deliver", status_code=202)
def deliver_alerts(ctx: Actor, retry_failed: bool = False) -> Job:
    """Queue the delivery of pending alerts (and failed ones, with
    ``retry_failed``) as an ``alert_deliver`` job; a worker runs it, since
    sinks may take their whole timeout to answer."""
    return JobService(ctx).enqueue(
        EnqueueJob(kind="alert_deliver", payload={"retry_failed": retry_failed})
    )


@router.post("/outcomes")
def load_outcomes(
    items: Annotated[list[OutcomeItem], Field(max_length=100_000)],
    ctx: Annotated[Context, Op("outcomes.load")],
) -> LoadResult:
    """Join outcomes to logged predictions by request id. Idempotent: posting
    the same outcomes again changes nothing; a different label for a request
    id that has one is a conflict; any bad item fails the whole batch."""
    now = dt.datetime.now(dt.UTC)
    frame = pd.DataFrame(
        {
            "request_id": [i.request_id for i in items],
            "label": [i.label for i in items],
            "observed_at": [i.observed_at or now for i in items],
        }
    )
    return OutcomeService(ctx).load(frame)
