"""Control-plane routes of users, tokens and jobs: each names its use case,
so the remote client offers ``client.users``, ``client.tokens`` and
``client.jobs`` with the embedded client's methods."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mlsteward.api.deps import Op
from mlsteward.context import Context
from mlsteward.identity.models import Token, User
from mlsteward.identity.service import CreatedToken, IdentityService
from mlsteward.identity.specs import CreateToken, CreateUser, SetRole
from mlsteward.jobs.models import Job, JobLogEntry
from mlsteward.jobs.service import JobService
from mlsteward.jobs.specs import CancelJob, EnqueueJob

router = APIRouter(tags=["people and jobs"])


@router.post("/users", status_code=201)
def create_user(spec: CreateUser, ctx: Annotated[Context, Op("users.create")]) -> User:
    """Create a user (admins; the first user of a store is made with the
    CLI's ``users create --bootstrap``)."""
    return IdentityService(ctx).create_user(spec)


@router.get("/users")
def list_users(ctx: Annotated[Context, Op("users.list")]) -> list[User]:
    return IdentityService(ctx).list_users()


@router.get("/users/{name}")
def get_user(name: str, ctx: Annotated[Context, Op("users.get")]) -> User:
    return IdentityService(ctx).get_user(name)


@router.put("/users/{name}/role")
def set_role(
    name: str, spec: SetRole, ctx: Annotated[Context, Op("users.set_role")]
) -> User:
    return IdentityService(ctx).set_role(name, spec)


@router.post("/users/{name}/disable")
def disable_user(name: str, ctx: Annotated[Context, Op("users.disable")]) -> User:
    return IdentityService(ctx).disable_user(name)


@router.post("/tokens", status_code=201)
def create_token(
    spec: CreateToken, ctx: Annotated[Context, Op("tokens.create")]
) -> CreatedToken:
    """A new token: the secret is in this answer, once, and never stored.
    Your own, or (admins) anyone's."""
    return IdentityService(ctx).create_token(spec)


@router.get("/tokens")
def list_tokens(
    ctx: Annotated[Context, Op("tokens.list")], user: str | None = None
) -> list[Token]:
    """Tokens, never their secrets: an admin's view of all, a user's own."""
    return IdentityService(ctx).list_tokens(user)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: str, ctx: Annotated[Context, Op("tokens.revoke")]) -> Token:
    return IdentityService(ctx).revoke_token(token_id)


@router.post("/jobs", status_code=201)
def enqueue_job(spec: EnqueueJob, ctx: Annotated[Context, Op("jobs.enqueue")]) -> Job:
    """Queue a job; a worker runs it as you."""
    return JobService(ctx).enqueue(spec)


@router.get("/jobs")
def list_jobs(
    ctx: Annotated[Context, Op("jobs.list")],
    state: str | None = None,
    kind: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
) -> list[Job]:
    return JobService(ctx).list(state=state, kind=kind, limit=limit)


@router.get("/jobs/{job_id}")
def get_job(job_id: str, ctx: Annotated[Context, Op("jobs.get")]) -> Job:
    return JobService(ctx).get(job_id)


@router.get("/jobs/{job_id}/logs")
def job_logs(
    job_id: str,
    ctx: Annotated[Context, Op("jobs.logs")],
    limit: int | None = Query(None, ge=1, le=100_000),
) -> list[JobLogEntry]:
    return JobService(ctx).logs(job_id, limit=limit)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(
    job_id: str, spec: CancelJob, ctx: Annotated[Context, Op("jobs.cancel")]
) -> Job:
    return JobService(ctx).cancel(job_id, spec)
