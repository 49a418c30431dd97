"""Control-plane routes of serving: deployments and the prediction log."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from mlsteward.api.deps import Actor, Approver, Ctx
from mlsteward.serving.deployments import DeploymentService
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.specs import CreateDeployment, SetCanary, UpdateDeployment

router = APIRouter(tags=["serving"])


class ModelBody(BaseModel):
    model: str = Field(description="A version of the deployment's model.")


class PromoteBody(BaseModel):
    model: str | None = Field(None, description="Default: the canary.")


@router.get("/deployments")
def list_deployments(ctx: Ctx) -> list[dict[str, Any]]:
    return [d.to_dict() for d in DeploymentService(ctx).list()]


@router.post("/deployments", status_code=201)
def create_deployment(body: CreateDeployment, ctx: Actor) -> dict[str, Any]:
    return DeploymentService(ctx).create(body).to_dict()


@router.get("/deployments/{name}")
def get_deployment(name: str, ctx: Ctx) -> dict[str, Any]:
    return DeploymentService(ctx).get(name, with_history=True).to_dict()


@router.patch("/deployments/{name}")
def update_deployment(name: str, body: UpdateDeployment, ctx: Actor) -> dict[str, Any]:
    return DeploymentService(ctx).update(name, body).to_dict()


@router.put("/deployments/{name}/canary")
def set_canary(name: str, body: SetCanary, ctx: Actor) -> dict[str, Any]:
    return DeploymentService(ctx).set_canary(name, body).to_dict()


@router.delete("/deployments/{name}/canary")
def clear_canary(name: str, ctx: Actor) -> dict[str, Any]:
    return DeploymentService(ctx).clear_canary(name).to_dict()


@router.post("/deployments/{name}/shadows")
def add_shadow(name: str, body: ModelBody, ctx: Actor) -> dict[str, Any]:
    return DeploymentService(ctx).add_shadow(name, body.model).to_dict()


@router.delete("/deployments/{name}/shadows/{version}")
def remove_shadow(name: str, version: int, ctx: Actor) -> dict[str, Any]:
    return DeploymentService(ctx).remove_shadow(name, str(version)).to_dict()


@router.post("/deployments/{name}/promote")
def promote(
    name: str, ctx: Approver, body: PromoteBody | None = None
) -> dict[str, Any]:
    """Make the canary (or the given version) champion directly. This is the
    approver's act; developers ask through a retraining's approval request."""
    model = body.model if body is not None else None
    return DeploymentService(ctx).promote(name, model).to_dict()


@router.post("/deployments/{name}/rollback")
def rollback(name: str, ctx: Actor) -> dict[str, Any]:
    return DeploymentService(ctx).rollback(name).to_dict()


@router.get("/predictions")
def list_predictions(
    ctx: Ctx,
    deployment: str | None = None,
    since: dt.datetime | None = Query(None, description="ISO 8601, with a zone"),
    until: dt.datetime | None = Query(None, description="ISO 8601, with a zone"),
    limit: int = Query(1000, ge=1, le=100_000),
) -> list[dict[str, Any]]:
    """Logged predictions: the newest ``limit``, oldest first."""
    frame = PredictionLog(ctx).read(
        deployment=deployment,
        since=_utc(since),
        until=_utc(until),
        limit=limit,
        newest=True,
    )
    return [
        {str(k): _plain(v) for k, v in rec.items()} for rec in frame.to_dict("records")
    ]


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
