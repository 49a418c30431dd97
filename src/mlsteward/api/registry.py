"""Control-plane routes of the registry and datasets (read, alias, lifecycle).

Write bodies are the services' specs (:mod:`mlsteward.registry.specs`): a
transition's body is :class:`Transition`; an alias's name is in its URL, so
the body of ``PUT .../aliases/{alias}`` is the rest of :class:`SetAlias`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import HTMLResponse

from mlsteward.api.deps import Actor, Ctx, Version
from mlsteward.datasets.models import DatasetVersion, DatasetVersionDetail
from mlsteward.datasets.service import DatasetService
from mlsteward.governance.records import Lineage
from mlsteward.names import MAX_VERSION
from mlsteward.registry.evaluation import EvaluationService
from mlsteward.registry.models import (
    ModelVersion,
    ModelVersionDetail,
    RegisteredModel,
    RegisteredModelDetail,
    Run,
)
from mlsteward.registry.runs import RunService
from mlsteward.registry.service import ModelRegistry
from mlsteward.registry.specs import SetAlias, Transition
from mlsteward.store.audit import AuditEvent, ChainHead, ChainReport

router = APIRouter(tags=["registry"])


@router.get("/models")
def list_models(ctx: Ctx) -> list[RegisteredModel]:
    return ModelRegistry(ctx).list_models()


@router.get("/models/{name}")
def get_model(name: str, ctx: Ctx) -> RegisteredModelDetail:
    reg = ModelRegistry(ctx)
    model = reg.get_model(name)
    return RegisteredModelDetail(**dict(model), versions=reg.list_versions(name))


@router.get("/models/{name}/versions/{version}")
def get_version(name: str, version: str, ctx: Ctx) -> ModelVersionDetail:
    """``version`` is a number or ``@alias``-free alias name (``champion``)."""
    ref = f"{name}/{version}" if version.isdigit() else f"{name}@{version}"
    mv = ModelRegistry(ctx).get(ref)
    return ModelVersionDetail(**dict(mv), evaluations=EvaluationService(ctx).list(ref))


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
def lineage(name: str, version: Version, ctx: Ctx) -> Lineage:
    from mlsteward.governance.records import LineageService

    return LineageService(ctx).lineage(f"{name}/{version}")


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
) -> list[AuditEvent]:
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
    return events


@router.get("/audit/head")
def audit_head(ctx: Ctx) -> ChainHead:
    """The newest audit event's number and hash, to keep outside the database."""
    from mlsteward.governance.records import AuditService

    return AuditService(ctx).head()


@router.get("/audit/verify")
def audit_verify(ctx: Ctx, expect_head: str | None = None) -> ChainReport:
    """Recompute the chain; ``expect_head=SEQ:HASH`` (a head kept elsewhere)
    also catches a cut tail and a rewritten history."""
    from mlsteward.governance.records import AuditService

    return AuditService(ctx).verify(expect_head=expect_head)


@router.put("/models/{name}/aliases/{alias}")
def set_alias(
    name: str,
    alias: str,
    version: Annotated[
        int,
        Body(
            embed=True,
            ge=1,
            le=MAX_VERSION,
            description=SetAlias.model_fields["version"].description,
        ),
    ],
    ctx: Actor,
) -> ModelVersion:
    """Point ``name@alias`` at ``version``: the :class:`SetAlias` spec, its
    alias from the URL."""
    return ModelRegistry(ctx).set_alias(
        name, SetAlias.parse(alias=alias, version=version)
    )


@router.post("/models/{name}/versions/{version}/transition")
def transition(
    name: str, version: Version, body: Transition, ctx: Actor
) -> ModelVersion:
    return ModelRegistry(ctx).transition(f"{name}/{version}", body)


@router.get("/datasets")
def list_datasets(ctx: Ctx) -> list[DatasetVersion]:
    return DatasetService(ctx).list()


@router.get("/datasets/{name}/versions/{version}")
def get_dataset(name: str, version: Version, ctx: Ctx) -> DatasetVersionDetail:
    return DatasetService(ctx).get(f"{name}/{version}").with_profile()


@router.get("/runs")
def list_runs(ctx: Ctx, limit: int = 100) -> list[Run]:
    return RunService(ctx).list(limit=min(max(limit, 1), 1000))


@router.get("/runs/{run_id}")
def get_run(run_id: str, ctx: Ctx) -> Run:
    return RunService(ctx).get(run_id)
