"""Every control-plane route times every role, plus no token and a wrong one.

A route names the use case it runs (``api.deps.Op``); the role it needs is
that use case's in the services' table (``identity.access.USE_CASES``), which
the service itself checks. Routes not yet converted still carry a role in
their dependency. The test fails for any route (but health and metrics) that
names neither, so a new route cannot ship without authentication.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.conftest import make_user_token

from mlsteward.api import create_app
from mlsteward.api.deps import use_case_of
from mlsteward.identity.access import USE_CASES
from mlsteward.identity.service import ROLES

OPEN = {"/api/v1/health", "/metrics"}


def _needed_role(route: APIRoute) -> str | None:  # or an effective route
    name = use_case_of(route)
    if name is not None:
        return USE_CASES[name].role
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        role = getattr(dep.call, "mlsteward_role", None)
        if role is not None:
            return role
        stack.extend(dep.dependencies)
    return None


def _path(route: APIRoute) -> str:
    return re.sub(r"\{[^}]+\}", "x", route.path)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):  # type: ignore[no-untyped-def]
    from mlsteward.config import Settings
    from mlsteward.sdk import Client

    client = Client(Settings(home=tmp_path_factory.mktemp("auth"), actor="t"))
    headers = {}
    for role in ("admin", *[r for r in ROLES if r != "admin"]):
        headers[role] = make_user_token(client.ctx, f"user-{role}", role)
    app = create_app(ctx=client.ctx)
    yield app, TestClient(app), headers
    client.close()


def _routes(app):  # type: ignore[no-untyped-def]
    """API routes, including those of included routers (which recent FastAPI
    keeps as lazy groups that expose their effective routes)."""
    stack = list(app.routes)
    while stack:
        route = stack.pop(0)
        if hasattr(route, "effective_candidates"):
            stack.extend(route.effective_candidates())
            continue
        path = getattr(route, "path", "")
        if getattr(route, "dependant", None) is not None and path.startswith("/api/v1"):
            for method in sorted(set(route.methods) - {"HEAD", "OPTIONS"}):
                yield route, method


def test_every_route_declares_a_role(setup) -> None:
    app, _, _ = setup
    missing = [
        f"{m} {r.path}"
        for r, m in _routes(app)
        if r.path not in OPEN and _needed_role(r) is None
    ]
    assert missing == []


def test_matrix(setup) -> None:
    app, api, headers = setup
    checked = 0
    for route, method in _routes(app):
        if route.path in OPEN:
            continue
        needed = _needed_role(route)
        assert needed is not None
        path = _path(route)
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        r = api.request(method, path, **kwargs)
        assert r.status_code == 401, f"{method} {path} without a token"
        r = api.request(
            method, path, headers={"Authorization": "Bearer mls_a_b"}, **kwargs
        )
        assert r.status_code == 401, f"{method} {path} with a wrong token"
        for role in ROLES:
            r = api.request(method, path, headers=headers[role], **kwargs)
            allowed = ROLES.index(role) >= ROLES.index(needed)
            if allowed:
                assert r.status_code not in (401, 403), (method, path, role, r.text)
                assert r.status_code < 500, (method, path, role, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.text)
            checked += 1
    assert checked >= 4 * 10
