"""Control-plane routes of governance: the audit trail, comments, lineage."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from mlsteward.api.deps import Ctx, Op, Version
from mlsteward.context import Context
from mlsteward.governance.records import AuditService, Lineage, LineageService
from mlsteward.governance.specs import Comment
from mlsteward.store.audit import AuditEvent, ChainHead, ChainReport

__all__ = ["router"]

router = APIRouter(tags=["governance"])


@router.get("/models/{name}/versions/{version}/lineage")
def lineage(name: str, version: Version, ctx: Ctx) -> Lineage:
    """The run, datasets, parent and evaluations behind a version (the flat
    ``client.lineage``; the service checks use case ``models.lineage``)."""
    return LineageService(ctx).lineage(f"{name}/{version}")


@router.get("/audit")
def audit_log(
    ctx: Annotated[Context, Op("audit.log")],
    object_id: str | None = None,
    object_type: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> list[AuditEvent]:
    return AuditService(ctx).log(
        object_id=object_id,
        object_type=object_type,
        actor=actor,
        action=action,
        since=since,
        until=until,
        limit=limit,
    )


@router.get("/audit/head")
def audit_head(ctx: Annotated[Context, Op("audit.head")]) -> ChainHead:
    """The newest audit event's number and hash, to keep outside the database."""
    return AuditService(ctx).head()


@router.get("/audit/verify")
def audit_verify(
    ctx: Annotated[Context, Op("audit.verify")], expect_head: str | None = None
) -> ChainReport:
    """Recompute the chain; ``expect_head=SEQ:HASH`` (a head kept elsewhere)
    also catches a cut tail and a rewritten history."""
    return AuditService(ctx).verify(expect_head=expect_head)


@router.post("/comments", status_code=201)
def add_comment(
    spec: Comment, ctx: Annotated[Context, Op("audit.comment")]
) -> AuditEvent:
    """Comment on a model version, approval, alert, deployment or dataset
    version; a comment is an audit event."""
    return AuditService(ctx).comment(spec)


@router.get("/comments")
def list_comments(
    object_id: str, ctx: Annotated[Context, Op("audit.comments")]
) -> list[AuditEvent]:
    """Comments on one object, oldest first."""
    return AuditService(ctx).comments(object_id)
