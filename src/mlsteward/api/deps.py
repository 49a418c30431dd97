"""Shared dependencies: the app's context and the caller's identity.

A control-plane route names the use case it runs: ``ctx: Annotated[Context,
Op("models.set_alias")]``. The dependency authenticates the bearer token
and hands the route a context acting as the token's user; the service the
route calls checks the use case's permission (``identity.access``). The
dependency also refuses a caller whose role is below the use case's before
the body is validated, reading the same table, so an unauthorised caller
never gets its body parsed; the rule itself lives in the service.

``Ctx``, ``Actor``, ``Approver`` and ``Admin`` are the older role-only
dependencies, for routes that do not yet name their use case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from mlsteward.api.guard import PRINCIPAL_KEY
from mlsteward.context import Context
from mlsteward.identity.access import USE_CASES, Principal
from mlsteward.identity.service import IdentityService
from mlsteward.names import MAX_VERSION

__all__ = [
    "Actor",
    "Admin",
    "Approver",
    "Ctx",
    "Op",
    "Version",
    "get_context",
    "get_principal",
    "use_case_of",
]


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def get_principal(request: Request) -> Principal | None:
    """Authenticate the bearer token. With auth off (a single-user machine),
    nobody is authenticated: the app's declared actor acts, which the
    services accept only while the store has no users."""
    ctx = get_context(request)
    if not request.app.state.auth_required:
        return None
    checked = getattr(request.state, PRINCIPAL_KEY, None)
    if checked is not None:  # authenticated by the guard, before the body
        principal: Principal = checked
        return principal
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    presented = token.strip() if scheme.lower() == "bearer" else None
    return IdentityService(ctx).authenticate(presented)


async def _principal(request: Request) -> Principal | None:
    """The principal of a request the guard has authenticated, with no I/O
    on the event loop; a request it let through unauthenticated (auth off)
    has none. Only a route outside the guard's reach looks the token up."""
    if not request.app.state.auth_required:
        return None
    checked = getattr(request.state, PRINCIPAL_KEY, None)
    if checked is not None:
        principal: Principal = checked
        return principal
    return await run_in_threadpool(get_principal, request)


def _context_of(request: Request, principal: Principal | None) -> Context:
    ctx = get_context(request)
    return ctx if principal is None else ctx.as_principal(principal)


def Op(name: str) -> Any:
    """The dependency of a route that runs the use case ``name``."""

    async def dependency(request: Request) -> Context:
        principal = await _principal(request)
        case = USE_CASES.get(name)
        if case is None:  # a route naming no declared use case: a bug
            raise LookupError(f"route names unknown use case {name!r}")
        if principal is not None:
            principal.require(case.role, name)
        return _context_of(request, principal)

    dependency.mlsteward_use_case = name  # type: ignore[attr-defined]
    return Depends(dependency)


def use_case_of(route: Any) -> str | None:
    """The use case a route names through :func:`Op`, if any."""
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dep = stack.pop()
        name = getattr(dep.call, "mlsteward_use_case", None)
        if name is not None:
            return str(name)
        stack.extend(dep.dependencies)
    return None


def _acting(needed: str, action: str) -> Callable[..., Awaitable[Context]]:
    async def dependency(request: Request) -> Context:
        principal = await _principal(request)
        if principal is None:
            return get_context(request)
        principal.require(needed, action)
        return _context_of(request, principal)

    dependency.mlsteward_role = needed  # type: ignore[attr-defined]
    return dependency


Ctx = Annotated[Context, Depends(_acting("viewer", "read"))]
Actor = Annotated[Context, Depends(_acting("developer", "change this"))]
Approver = Annotated[Context, Depends(_acting("approver", "approve or reject"))]
Admin = Annotated[Context, Depends(_acting("admin", "administer"))]

#: A version number as a path parameter: positive and within the store's
#: 32-bit integers, so a huge one is a 422 naming it, never an overflow.
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]
