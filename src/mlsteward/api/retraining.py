"""Control-plane routes of retraining: policies, retrainings, approvals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from mlsteward.api.deps import Op
from mlsteward.context import Context
from mlsteward.retraining.approvals import ApprovalService
from mlsteward.retraining.models import ApprovalRequest, Retraining
from mlsteward.retraining.policy import Policy, parse_policy
from mlsteward.retraining.service import RetrainingService
from mlsteward.retraining.specs import Decide, RequestApproval, Retrain

router = APIRouter(tags=["retraining"])


@router.put("/policies/{model}")
def set_policy(
    model: str, document: dict[str, Any], ctx: Annotated[Context, Op("policies.set")]
) -> Policy:
    """Set the model's retraining policy (the document's ``model`` must match).

    The body is a :class:`~mlsteward.retraining.specs.SetPolicy` document
    whose ``model`` may be left out (the path names it)."""
    from mlsteward.errors import InvalidInput

    if document.get("model", model) != model:
        raise InvalidInput(
            f"the policy names model {document.get('model')!r}, the path {model!r}",
            field="model",
        )
    policy = parse_policy({**document, "model": model})
    return RetrainingService(ctx).set_policy(policy)


@router.get("/policies/{model}")
def get_policy(model: str, ctx: Annotated[Context, Op("policies.get")]) -> Policy:
    return RetrainingService(ctx).get_policy(model)


@router.post("/models/{model}/retrain")
def retrain(
    model: str, spec: Retrain, ctx: Annotated[Context, Op("retrainings.retrain")]
) -> Retraining:
    """Run a retraining now, by the model's policy (use jobs for background)."""
    return RetrainingService(ctx).retrain(model, spec)


@router.get("/retrainings")
def list_retrainings(
    ctx: Annotated[Context, Op("retrainings.list")], model: str | None = None
) -> list[Retraining]:
    return RetrainingService(ctx).list(model)


@router.get("/retrainings/{retraining_id}")
def get_retraining(
    retraining_id: str, ctx: Annotated[Context, Op("retrainings.get")]
) -> Retraining:
    """One retraining: its steps, challenger, gates and decision."""
    return RetrainingService(ctx).get(retraining_id)


@router.post("/approvals", status_code=201)
def request_approval(
    spec: RequestApproval, ctx: Annotated[Context, Op("approvals.request")]
) -> ApprovalRequest:
    """Ask for a registered version to become champion; an approver decides."""
    return ApprovalService(ctx).request(spec)


@router.get("/approvals")
def list_approvals(
    ctx: Annotated[Context, Op("approvals.list")],
    status: str | None = None,
    model: str | None = None,
) -> list[ApprovalRequest]:
    return ApprovalService(ctx).list(status=status, model=model)


@router.get("/approvals/{request_id}")
def get_approval(
    request_id: str, ctx: Annotated[Context, Op("approvals.get")]
) -> ApprovalRequest:
    return ApprovalService(ctx).get(request_id)


@router.post("/approvals/{request_id}/approve")
def approve(
    request_id: str, spec: Decide, ctx: Annotated[Context, Op("approvals.approve")]
) -> ApprovalRequest:
    """Approve a pending request: the version becomes champion."""
    return ApprovalService(ctx).approve(request_id, spec)


@router.post("/approvals/{request_id}/reject")
def reject(
    request_id: str, spec: Decide, ctx: Annotated[Context, Op("approvals.reject")]
) -> ApprovalRequest:
    """Reject a pending request; the comment says why."""
    return ApprovalService(ctx).reject(request_id, spec)
