"""Shared dependencies: the app's context and the caller's identity.

Every control-plane route takes one of the role dependencies below, so a
route cannot forget authentication: ``Ctx`` (any valid user token: viewer and
up), ``Actor`` (developer and up), ``Approver``, ``Admin``. The context a
route receives acts as the token's user, so the audit trail names who did it.
Health and metrics take none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from mlsteward.context import Context
from mlsteward.identity.service import IdentityService, Principal

__all__ = ["Actor", "Admin", "Approver", "Ctx", "get_context", "get_principal"]


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def get_principal(request: Request) -> Principal:
    """Authenticate the bearer token (or the app's local actor if auth is off)."""
    ctx = get_context(request)
    if not request.app.state.auth_required:
        return Principal(ctx.actor, "admin")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    presented = token.strip() if scheme.lower() == "bearer" else None
    return IdentityService(ctx).authenticate(presented)


def _acting(needed: str, action: str) -> Callable[..., Context]:
    def dependency(request: Request) -> Context:
        principal = get_principal(request)
        principal.require(needed, action)
        return get_context(request).as_principal(principal)

    dependency.mlsteward_role = needed  # type: ignore[attr-defined]
    return dependency


Ctx = Annotated[Context, Depends(_acting("viewer", "read"))]
Actor = Annotated[Context, Depends(_acting("developer", "change this"))]
Approver = Annotated[Context, Depends(_acting("approver", "approve or reject"))]
Admin = Annotated[Context, Depends(_acting("admin", "administer"))]
