"""Control-plane routes of the registry and datasets (read, alias, lifecycle)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from mlsteward.api.deps import Actor, Ctx
from mlsteward.datasets.service import DatasetService
from mlsteward.registry.evaluation import EvaluationService
from mlsteward.registry.runs import RunService
from mlsteward.registry.service import ModelRegistry

router = APIRouter(tags=["registry"])

#: A version number as a path parameter: positive and within a 32-bit integer.
Version = Annotated[int, Path(ge=1, le=2_147_483_647)]


class AliasBody(BaseModel):
    version: int = Field(
        ge=1, le=2_147_483_647, description="Version the alias points at."
    )


class TransitionBody(BaseModel):
    state: str = Field(description="registered, approved, rejected or archived")
    reason: str = ""


@router.get("/models")
def list_models(ctx: Ctx) -> list[dict[str, Any]]:
    return [m.to_dict() for m in ModelRegistry(ctx).list_models()]


@router.get("/models/{name}")
def get_model(name: str, ctx: Ctx) -> dict[str, Any]:
    reg = ModelRegistry(ctx)
    out = reg.get_model(name).to_dict()
    out["versions"] = [v.to_dict() for v in reg.list_versions(name)]
    return out


@router.get("/models/{name}/versions/{version}")
def get_version(name: str, version: str, ctx: Ctx) -> dict[str, Any]:
    """``version`` is a number or ``@alias``-free alias name (``champion``)."""
    ref = f"{name}/{version}" if version.isdigit() else f"{name}@{version}"
    out = ModelRegistry(ctx).get(ref).to_dict()
    out["evaluations"] = [e.to_dict() for e in EvaluationService(ctx).list(ref)]
    return out


@router.get(
    "/models/{name}/versions/{version}/report",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}},
)
def report(name: str, version: Version, ctx: Ctx) -> HTMLResponse:
    """The model documentation of a version, as one self-contained HTML page."""
    from mlsteward.governance.report.build import build_report

    return HTMLResponse(build_report(ctx, f"{name}/{version}"))


@router.get("/models/{name}/versions/{version}/lineage")
def lineage(name: str, version: Version, ctx: Ctx) -> dict[str, Any]:
    from mlsteward.governance.records import LineageService

    return LineageService(ctx).lineage(f"{name}/{version}").to_dict()


@router.get("/audit")
def audit_log(
    ctx: Ctx,
    object_id: str | None = None,
    object_type: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    from mlsteward.governance.records import AuditService

    events = AuditService(ctx).log(
        object_id=object_id,
        object_type=object_type,
        actor=actor,
        action=action,
        since=since,
        until=until,
        limit=min(max(limit, 1), 10000),
    )
    return [e.to_dict() for e in events]


@router.get("/audit/verify")
def audit_verify(ctx: Ctx) -> dict[str, Any]:
    from mlsteward.governance.records import AuditService

    n, problems = AuditService(ctx).verify()
    return {
        "events": n,
        "ok": not problems,
        "problems": [p.to_dict() for p in problems],
    }


@router.put("/models/{name}/aliases/{alias}")
def set_alias(name: str, alias: str, body: AliasBody, ctx: Actor) -> dict[str, Any]:
    return ModelRegistry(ctx).set_alias(name, alias, body.version).to_dict()


@router.post("/models/{name}/versions/{version}/transition")
def transition(
    name: str, version: Version, body: TransitionBody, ctx: Actor
) -> dict[str, Any]:
    return (
        ModelRegistry(ctx)
        .transition(f"{name}/{version}", body.state, reason=body.reason)
        .to_dict()
    )


@router.get("/datasets")
def list_datasets(ctx: Ctx) -> list[dict[str, Any]]:
    return [d.to_dict() for d in DatasetService(ctx).list()]


@router.get("/datasets/{name}/versions/{version}")
def get_dataset(name: str, version: Version, ctx: Ctx) -> dict[str, Any]:
    return DatasetService(ctx).get(f"{name}/{version}").to_dict(with_profile=True)


@router.get("/runs")
def list_runs(ctx: Ctx, limit: int = 100) -> list[dict[str, Any]]:
    return [r.to_dict() for r in RunService(ctx).list(limit=min(max(limit, 1), 1000))]


@router.get("/runs/{run_id}")
def get_run(run_id: str, ctx: Ctx) -> dict[str, Any]:
    return RunService(ctx).get(run_id).to_dict()
