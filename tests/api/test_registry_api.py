"""The control plane's registry routes, through a real ASGI app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mlsteward.api import create_app


@pytest.fixture
def api(sqlite_client, credit, trained, admin_headers) -> TestClient:
    model, features = trained
    sqlite_client.register_model("credit-risk", model, credit[features])
    return TestClient(create_app(ctx=sqlite_client.ctx), headers=admin_headers)


def test_read_and_alias(api: TestClient) -> None:
    assert api.get("/api/v1/health").json()["status"] == "ok"
    models = api.get("/api/v1/models").json()
    assert [m["name"] for m in models] == ["credit-risk"]
    r = api.put("/api/v1/models/credit-risk/aliases/champion", json={"version": 1})
    assert r.status_code == 200 and r.json()["aliases"] == ["champion"]
    assert api.get("/api/v1/model-versions/credit-risk@champion").json()["version"] == 1


def test_errors_are_problem_json_naming_the_field(api: TestClient) -> None:
    r = api.get("/api/v1/models/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert "not found" in r.json()["detail"]
    r = api.put("/api/v1/models/credit-risk/aliases/champion", json={"version": "x"})
    assert r.status_code == 422 and r.json()["field"] == "version"
    r = api.post(
        "/api/v1/model-versions/credit-risk/1/transition", json={"state": "live"}
    )
    assert r.status_code == 422 and r.json()["field"] == "state"
    r = api.put("/api/v1/models/credit-risk/aliases/champion", content=b"{not json")
    assert r.status_code == 400  # malformed, as the inference server says
    assert r.json()["type"].endswith("/malformed_request")
    assert "not valid JSON" in r.json()["detail"] and r.json()["field"] == "body"


def test_every_route_but_health_needs_a_valid_token(sqlite_client) -> None:
    anon = TestClient(create_app(ctx=sqlite_client.ctx))
    assert anon.get("/api/v1/health").status_code == 200
    r = anon.get("/api/v1/models")
    assert r.status_code == 401 and r.json()["field"] == "token"
    bad = anon.get("/api/v1/models", headers={"Authorization": "Bearer mls_x_y"})
    assert bad.status_code == 401


def test_roles_decide_writes(sqlite_client, credit, trained) -> None:
    from tests.conftest import make_user_token

    model, features = trained
    sqlite_client.register_model("credit-risk", model, credit[features])
    make_user_token(sqlite_client.ctx, "root", "admin")
    viewer = make_user_token(sqlite_client.ctx, "vera", "viewer")
    dev = make_user_token(sqlite_client.ctx, "dev", "developer")
    api = TestClient(create_app(ctx=sqlite_client.ctx))
    assert api.get("/api/v1/models", headers=viewer).status_code == 200
    body = {"version": 1}
    r = api.put("/api/v1/models/credit-risk/aliases/x", json=body, headers=viewer)
    assert r.status_code == 403 and "developer" in r.json()["detail"]
    r = api.put("/api/v1/models/credit-risk/aliases/x", json=body, headers=dev)
    assert r.status_code == 200
    moved = [e for e in sqlite_client.audit_log() if e.action == "alias.set"]
    assert moved[-1].actor == "dev"
