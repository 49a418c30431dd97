"""Control-plane routes of retraining: policies, retrainings, approvals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mlsteward.api.deps import Actor, Admin, Approver, Ctx
from mlsteward.retraining.approvals import ApprovalService
from mlsteward.retraining.models import ApprovalRequest, Retraining
from mlsteward.retraining.policy import Policy
from mlsteward.retraining.service import RetrainingService

router = APIRouter(tags=["retraining"])


class RetrainBody(BaseModel):
    deployment: str | None = Field(default=None, description="Defaults to the model")
    reason: str = ""


class DecisionBody(BaseModel):
    comment: str = ""


@router.put("/policies/{model}")
def set_policy(model: str, document: dict[str, Any], ctx: Admin) -> Policy:
    """Set the model's retraining policy (the document's ``model`` must match)."""
    from mlsteward.errors import InvalidInput

    if document.get("model", model) != model:
        raise InvalidInput(
            f"the policy names model {document.get('model')!r}, the path {model!r}",
            field="model",
        )
    return RetrainingService(ctx).set_policy({**document, "model": model})


@router.get("/policies/{model}")
def get_policy(model: str, ctx: Ctx) -> Policy:
    return RetrainingService(ctx).get_policy(model)


@router.post("/models/{model}/retrain")
def retrain(model: str, body: RetrainBody, ctx: Actor) -> Retraining:
    """Run a retraining now, by the model's policy (use jobs for background)."""
    return RetrainingService(ctx).retrain(
        model,
        trigger={"kind": "manual", "reason": body.reason},
        deployment=body.deployment,
    )


@router.get("/retrainings")
def list_retrainings(ctx: Ctx, model: str | None = None) -> list[Retraining]:
    return RetrainingService(ctx).list(model)


@router.get("/approvals")
def list_approvals(
    ctx: Ctx, status: str | None = None, model: str | None = None
) -> list[ApprovalRequest]:
    return ApprovalService(ctx).list(status=status, model=model)


@router.get("/approvals/{request_id}")
def get_approval(request_id: str, ctx: Ctx) -> ApprovalRequest:
    return ApprovalService(ctx).get(request_id)


@router.post("/approvals/{request_id}/approve")
def approve(request_id: str, body: DecisionBody, ctx: Approver) -> ApprovalRequest:
    return ApprovalService(ctx).approve(request_id, body.comment)


@router.post("/approvals/{request_id}/reject")
def reject(request_id: str, body: DecisionBody, ctx: Approver) -> ApprovalRequest:
    return ApprovalService(ctx).reject(request_id, body.comment)
