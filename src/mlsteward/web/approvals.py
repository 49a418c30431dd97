"""The approvals inbox: pending requests with their evidence; decide them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from mlsteward.errors import InvalidInput
from mlsteward.governance.records import AuditService
from mlsteward.retraining.approvals import ApprovalService
from mlsteward.retraining.specs import Decide
from mlsteward.web.render import render
from mlsteward.web.session import PREFIX, Page, check_csrf, current_page

router = APIRouter()

RequestId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/approvals")
def inbox(
    page: Annotated[Page, Depends(current_page)],
    status: Annotated[str, Query(max_length=20)] = "pending",
) -> Response:
    svc = ApprovalService(page.ctx)
    wanted = None if status == "all" else status
    requests = list(reversed(svc.list(status=wanted)))
    return render(page, "approvals.html", requests=requests, status=status)


def _evidence(page: Page, request_id: str) -> dict[str, Any]:
    req = ApprovalService(page.ctx).get(request_id)
    ev = dict(req.evidence)
    comparison = ev.get("comparison") or {}
    metrics = sorted(
        set(comparison.get("champion") or {}) | set(comparison.get("challenger") or {})
    )
    comments = AuditService(page.ctx).comments(req.ref)
    return {
        "req": req,
        "gates": ev.get("gates") or [],
        "comparison": comparison,
        "metrics": [
            m
            for m in metrics
            if isinstance((comparison.get("challenger") or {}).get(m), int | float)
        ],
        "lineage": ev.get("lineage") or {},
        "request_comment": ev.get("comment"),
        "comments": comments,
        "own": page.user == req.requested_by,
    }


@router.get("/approvals/{request_id}")
def approval(
    page: Annotated[Page, Depends(current_page)], request_id: RequestId
) -> Response:
    return render(page, "approval.html", **_evidence(page, request_id))


@router.post("/approvals/{request_id}")
async def decide(
    request: Request,
    page: Annotated[Page, Depends(current_page)],
    request_id: RequestId,
) -> Response:
    form = await check_csrf(request, page.csrf)
    decision = form.get("decision")
    svc = ApprovalService(page.ctx)
    spec = Decide.parse(comment=form.get("comment", ""))
    if decision == "approve":
        svc.approve(request_id, spec)
    elif decision == "reject":
        svc.reject(request_id, spec)
    else:
        raise InvalidInput(
            f"decision {decision!r} is not one of approve, reject", field="decision"
        )
    return RedirectResponse(f"{PREFIX}/approvals/{request_id}", status_code=303)
