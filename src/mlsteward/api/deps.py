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

from fastapi import Depends, Path, Request

from mlsteward.api.guard import PRINCIPAL_KEY
from mlsteward.context import Context
from mlsteward.identity.service import IdentityService, Principal
from mlsteward.names import MAX_VERSION

__all__ = [
    "Actor",
    "Admin",
    "Approver",
    "Ctx",
    "Version",
    "get_context",
    "get_principal",
]


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def get_principal(request: Request) -> Principal:
    """Authenticate the bearer token (or the app's local actor if auth is off)."""
    ctx = get_context(request)
    if not request.app.state.auth_required:
        return Principal(ctx.actor, "admin")
    checked = getattr(request.state, PRINCIPAL_KEY, None)
    if checked is not None:  # authenticated by the guard, before the body
        principal: Principal = checked
        return principal
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

#: A version number as a path parameter: positive and within the store's
#: 32-bit integers, so a huge one is a 422 naming it, never an overflow.
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]
