"""Control-plane routes of serving: deployments and the prediction log."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from mlsteward.api.deps import Ctx, Op
from mlsteward.context import Context
from mlsteward.serving.deployments import DeploymentService
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.models import Deployment, PredictionRecord, ShadowRecord
from mlsteward.serving.specs import CreateDeployment, SetCanary, UpdateDeployment

router = APIRouter(tags=["serving"])


class ModelBody(BaseModel):
    model: str = Field(description="A version of the deployment's model.")


class PromoteBody(BaseModel):
    model: str | None = Field(None, description="Default: the canary.")


@router.get("/deployments")
def list_deployments(
    ctx: Annotated[Context, Op("deployments.list")],
) -> list[Deployment]:
    return DeploymentService(ctx).list()


@router.post("/deployments", status_code=201)
def create_deployment(
    spec: CreateDeployment, ctx: Annotated[Context, Op("deployments.create")]
) -> Deployment:
    return DeploymentService(ctx).create(spec)


@router.get("/deployments/{name}")
def get_deployment(
    name: str,
    ctx: Annotated[Context, Op("deployments.get")],
    with_history: bool = True,
) -> Deployment:
    return DeploymentService(ctx).get(name, with_history=with_history)


@router.patch("/deployments/{name}")
def update_deployment(
    name: str,
    spec: UpdateDeployment,
    ctx: Annotated[Context, Op("deployments.update")],
) -> Deployment:
    return DeploymentService(ctx).update(name, spec)


@router.put("/deployments/{name}/canary")
def set_canary(
    name: str, spec: SetCanary, ctx: Annotated[Context, Op("deployments.set_canary")]
) -> Deployment:
    return DeploymentService(ctx).set_canary(name, spec)


@router.delete("/deployments/{name}/canary")
def clear_canary(
    name: str, ctx: Annotated[Context, Op("deployments.clear_canary")]
) -> Deployment:
    return DeploymentService(ctx).clear_canary(name)


@router.post("/deployments/{name}/shadows")
def add_shadow(
    name: str, body: ModelBody, ctx: Annotated[Context, Op("deployments.add_shadow")]
) -> Deployment:
    return DeploymentService(ctx).add_shadow(name, body.model)


@router.delete("/deployments/{name}/shadows/{model}")
def remove_shadow(
    name: str, model: str, ctx: Annotated[Context, Op("deployments.remove_shadow")]
) -> Deployment:
    """``model`` is the shadow's version number."""
    return DeploymentService(ctx).remove_shadow(name, model)


@router.post("/deployments/{name}/promote")
def promote(
    name: str,
    ctx: Annotated[Context, Op("deployments.promote")],
    body: PromoteBody | None = None,
) -> Deployment:
    """Make the canary (or the given version) champion directly. This is the
    approver's act; developers ask through a retraining's approval request."""
    model = body.model if body is not None else None
    return DeploymentService(ctx).promote(name, model)


@router.post("/deployments/{name}/rollback")
def rollback(
    name: str, ctx: Annotated[Context, Op("deployments.rollback")]
) -> Deployment:
    return DeploymentService(ctx).rollback(name)


@router.get("/shadow-predictions")
def shadow_predictions(
    ctx: Annotated[Context, Op("deployments.shadow_predictions")],
    deployment: str | None = None,
    since: dt.datetime | None = Query(None, description="ISO 8601, with a zone"),
    until: dt.datetime | None = Query(None, description="ISO 8601, with a zone"),
    limit: int | None = Query(None, ge=1, le=1_000_000),
) -> list[ShadowRecord]:
    """Shadow versions' outputs, one row per request and shadow version."""
    frame = PredictionLog(ctx).read_shadows(
        deployment=deployment, since=_utc(since), until=_utc(until), limit=limit
    )
    return [
        ShadowRecord.model_validate(
            {str(k): v if k == "created_at" else _plain(v) for k, v in rec.items()}
        )
        for rec in frame.to_dict("records")
    ]


@router.get("/predictions")
def list_predictions(
    ctx: Ctx,  # the flat client.predictions, no namespace: a role, not an Op
    deployment: str | None = None,
    since: dt.datetime | None = Query(None, description="ISO 8601, with a zone"),
    until: dt.datetime | None = Query(None, description="ISO 8601, with a zone"),
    limit: int = Query(1000, ge=1, le=100_000),
) -> list[PredictionRecord]:
    """Logged predictions: the newest ``limit``, oldest first."""
    frame = PredictionLog(ctx).read(
        deployment=deployment,
        since=_utc(since),
        until=_utc(until),
        limit=limit,
        newest=True,
    )
    return [
        PredictionRecord.model_validate({str(k): _plain(v) for k, v in rec.items()})
        for rec in frame.to_dict("records")
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
