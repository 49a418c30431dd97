"""The inference ASGI app in process: tokens, reason codes, routes."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from tests.conftest import admin_context

from mlsteward.api.inference import InferenceApp
from mlsteward.config import Settings
from mlsteward.context import Context
from mlsteward.identity.specs import CreateToken


async def call(
    app: InferenceApp,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": [
            (k.lower().encode(), v.encode()) for k, v in (headers or {}).items()
        ],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"]
    raw = sent[1]["body"]
    return status, orjson.loads(raw) if raw.startswith((b"{", b"[")) else raw


@pytest.fixture
def secured(sqlite_client: Any, credit: Any, trained: Any) -> Any:
    from tests.conftest import make_user_token

    model, features = trained
    sqlite_client.register_model("credit-risk", model, credit[features].head(50))
    sqlite_client.create_deployment("credit-risk", "credit-risk/1")
    sqlite_client.create_deployment("other", "credit-risk/1")
    admin = make_user_token(sqlite_client.ctx, "root", "admin")
    viewer = make_user_token(sqlite_client.ctx, "vera", "viewer")
    settings = Settings(
        home=sqlite_client.ctx.settings.home, actor="tester", auth_required=True
    )
    return Context.from_settings(settings), admin, viewer, features


def test_tokens_guard_inference_but_not_health(secured: Any, credit: Any) -> None:
    ctx, admin, viewer, features = secured
    from mlsteward.identity.service import IdentityService

    scoped = (
        IdentityService(admin_context(ctx))
        .create_token(CreateToken(user="vera", scope="deployment:other"))
        .secret
    )
    scoped_headers = {"Authorization": f"Bearer {scoped}"}
    body = orjson.dumps(credit[features].iloc[0].to_dict())

    async def scenario() -> None:
        app = InferenceApp(ctx, ["credit-risk", "other"])
        await app.startup()
        try:
            assert (await call(app, "GET", "/v2/health/ready"))[0] == 200
            assert (await call(app, "GET", "/metrics"))[0] == 200
            status, problem = await call(app, "POST", "/predict/credit-risk", body)
            assert status == 401 and problem["field"] == "token"
            # The control plane's vocabulary (api/problem_types.py).
            assert problem["type"].endswith("/unauthenticated")
            status, _ = await call(
                app, "POST", "/predict/credit-risk", body, {"Authorization": "Bearer x"}
            )
            assert status == 401
            status, answer = await call(
                app, "POST", "/predict/credit-risk", body, viewer
            )
            assert status == 200 and answer["version"] == 1
            status, problem = await call(
                app, "POST", "/predict/credit-risk", body, scoped_headers
            )
            assert status == 403 and problem["type"].endswith("/forbidden")
            status, _ = await call(app, "POST", "/predict/other", body, scoped_headers)
            assert status == 200
            status, err = await call(app, "GET", "/v2/models/credit-risk")
            assert status == 401 and "token" in err["error"]
            status, meta = await call(
                app, "GET", "/v2/models/credit-risk", headers=admin
            )
            assert status == 200 and meta["name"] == "credit-risk"
            # This version records no training data, so there is no reference
            # population to explain against: refused, naming why.
            status, problem = await call(
                app, "POST", "/predict/credit-risk?explain=true", body, admin
            )
            assert status == 422 and problem["field"] == "reference"
            assert (await call(app, "GET", "/predict/credit-risk"))[0] == 405
            assert (await call(app, "GET", "/nowhere"))[0] == 404
            # Readiness of one model is open to probes, and tells nothing of
            # the other deployments or versions served.
            status, ok = await call(app, "GET", "/v2/models/other/ready")
            assert (status, ok) == (200, {"name": "other", "ready": True})
            for path in (
                "/v2/models/nope/ready",
                "/v2/models/other/versions/7/ready",
                "/v2/models/other/versions/99999999999999999999999/ready",
                "/v2/models/other/versions/²/ready",
            ):
                status, err = await call(app, "GET", path)
                assert status == 404, (path, err)
                assert "credit-risk" not in err["error"], err
                assert "champion" not in err["error"], err
            # Without a token, unknown and known models look alike: 401.
            for name in ("nope", "other"):
                status, err = await call(app, "GET", f"/v2/models/{name}")
                assert status == 401 and "credit-risk" not in err["error"]
                status, err = await call(app, "POST", f"/v2/models/{name}/infer")
                assert status == 401
            assert (await call(app, "POST", "/predict/nope", body, admin))[0] == 404
        finally:
            await app.shutdown()

    asyncio.run(scenario())


def test_explain_returns_and_logs_reason_codes(
    sqlite_client: Any, credit: Any, trained: Any
) -> None:
    from mlsteward.datasets.bundled import german_credit_roles
    from mlsteward.explain.service import explainer_for

    model, features = trained
    dv = sqlite_client.register_dataset(
        "gc", credit.iloc[:700], roles=german_credit_roles()
    )
    run = sqlite_client.start_run("train", inputs=[dv.ref])
    sqlite_client.register_model("credit-risk", model, credit[features], run_id=run.id)
    sqlite_client.create_deployment("credit-risk", "credit-risk/1")
    ctx = Context.from_settings(
        Settings(home=sqlite_client.ctx.settings.home, actor="t", auth_required=False)
    )
    rows = credit[features].iloc[700:703]
    body = orjson.dumps(rows.to_dict(orient="records"))
    expected = explainer_for(ctx, sqlite_client.load_model("credit-risk/1")).explain(
        rows
    )

    async def scenario() -> list[dict[str, Any]]:
        app = InferenceApp(ctx, ["credit-risk"])
        await app.startup()
        try:
            status, answer = await call(
                app, "POST", "/predict/credit-risk?explain=true", body
            )
            assert status == 200
            return answer["predictions"]
        finally:
            await app.shutdown()

    answers = asyncio.run(scenario())
    for got, want in zip(answers, expected, strict=True):
        assert [r["code"] for r in got["reasons"]] == [r.code for r in want]
        assert got["reasons"][0]["contribution"] == pytest.approx(
            want[0].contribution, abs=1e-9
        )
    logged = sqlite_client.predictions(deployment="credit-risk")
    by_id = dict(zip(logged["request_id"], logged["reasons"], strict=True))
    for got in answers:
        assert by_id[got["request_id"]] == got["reasons"]
