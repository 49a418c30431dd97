"""Runs, the audit trail and jobs: lists with filters, details on demand."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from mlsteward.governance.records import AuditService
from mlsteward.jobs.service import JobService
from mlsteward.registry.runs import RunService
from mlsteward.web.render import render
from mlsteward.web.session import Page, current_page

router = APIRouter()

Text = Annotated[str | None, Query(max_length=200)]
_COLORS = ("#1f5fbf", "#c62828", "#2e7d32", "#e69500", "#6a1b9a", "#00838f")


def _matches(run: Any, q: str | None, status: str | None) -> bool:
    if status and run.status != status:
        return False
    if not q:
        return True
    needle = q.lower()
    hay = [run.name, run.id, run.created_by, *map(str, run.params.values())]
    return any(needle in str(h).lower() for h in hay) or any(
        needle == k.lower() for k in run.params
    )


def _history_charts(svc: RunService, runs: list[Any]) -> dict[str, dict[str, Any]]:
    """One chart per metric: its value by step, a line per compared run."""
    per_metric: dict[str, list[dict[str, Any]]] = {}
    for i, run in enumerate(runs):
        for key, points in svc.history(run.id).items():
            per_metric.setdefault(key, []).append(
                {
                    "label": run.name,
                    "data": [{"x": s, "y": v} for s, v in points],
                    "color": _COLORS[i % len(_COLORS)],
                }
            )
    return {
        key: {"series": series, "labels": [0], "x": {"type": "linear", "title": "step"}}
        for key, series in sorted(per_metric.items())
    }


@router.get("/runs")
def runs(
    page: Annotated[Page, Depends(current_page)],
    q: Text = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    compare: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> Response:
    svc = RunService(page.ctx)
    listed = [r for r in svc.list(limit=500) if _matches(r, q, status)]
    chosen = [svc.get(run_id) for run_id in (compare or [])[:6]]
    params = sorted({k for r in chosen for k in r.params})
    metrics = sorted({k for r in chosen for k in r.metrics})
    return render(
        page,
        "runs.html",
        runs=listed,
        q=q or "",
        status=status or "",
        chosen=chosen,
        chosen_ids=[r.id for r in chosen],
        params=params,
        metrics=metrics,
        charts=_history_charts(svc, chosen) if chosen else {},
    )


def _since(days: int | None) -> dt.datetime | None:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days) if days else None


@router.get("/audit")
def audit(
    page: Annotated[Page, Depends(current_page)],
    actor: Text = None,
    action: Text = None,
    object_id: Text = None,
    days: Annotated[int | None, Query(ge=1, le=3660)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    verify: bool = False,
) -> Response:
    svc = AuditService(page.ctx)
    events = svc.log(
        actor=actor or None,
        action=action or None,
        object_id=object_id or None,
        since=_since(days),
        limit=limit,
    )
    return render(
        page,
        "audit.html",
        events=list(reversed(events)),
        head=svc.head(),
        report=svc.verify() if verify else None,
        filters={
            "actor": actor or "",
            "action": action or "",
            "object_id": object_id or "",
        },
        days=days,
        limit=limit,
    )


@router.get("/jobs")
def jobs(
    page: Annotated[Page, Depends(current_page)],
    state: Annotated[str | None, Query(max_length=20)] = None,
    kind: Text = None,
) -> Response:
    listed = JobService(page.ctx).list(
        state=state or None, kind=kind or None, limit=200
    )
    return render(page, "jobs.html", jobs=listed, state=state or "", kind=kind or "")


@router.get("/jobs/{job_id}")
def job(
    page: Annotated[Page, Depends(current_page)],
    job_id: Annotated[str, Path(max_length=64)],
) -> Response:
    svc = JobService(page.ctx)
    found = svc.get(job_id)
    by_attempt: dict[int, list[Any]] = {}
    for line in svc.logs(job_id, limit=2000):
        by_attempt.setdefault(line.attempt, []).append(line)
    return render(page, "job.html", job=found, attempts=by_attempt)
