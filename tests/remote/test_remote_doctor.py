"""``mlsteward doctor`` with MLSTEWARD_URL: the server's app, over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.conftest import make_user
from tests.serving.servers import free_port

from mlsteward.api.app import create_app
from mlsteward.config import Settings
from mlsteward.remote.doctor import remote_checks


def test_a_token_the_server_accepts_is_named_with_its_role(sqlite_client) -> None:  # type: ignore[no-untyped-def]
    ctx = sqlite_client.ctx
    make_user(ctx, "root", "admin")
    vera = make_user(ctx, "vera", "viewer")
    laptop = Settings(url="http://testserver", token=vera)
    with TestClient(create_app(ctx=ctx)) as http:
        found = {f.check: f for f in remote_checks(laptop, http=http)}
    assert found["server"].status == "ok"
    assert found["tokens"].status == "ok"
    assert found["tokens"].message == (
        "the server accepts MLSTEWARD_TOKEN as vera (role viewer)"
    )
    assert vera not in found["tokens"].message
    assert found["server-side"].status == "skip"
    assert "where the server runs" in found["server-side"].message


def test_a_token_the_server_refuses_fails(sqlite_client) -> None:  # type: ignore[no-untyped-def]
    ctx = sqlite_client.ctx
    make_user(ctx, "root", "admin")
    bad = "mls_0123456789abcdef_wrong-secret"
    with TestClient(create_app(ctx=ctx)) as http:
        found = {
            f.check: f
            for f in remote_checks(
                Settings(url="http://testserver", token=bad), http=http
            )
        }
    assert found["tokens"].status == "fail"
    assert "does not accept MLSTEWARD_TOKEN" in found["tokens"].message
    assert "wrong-secret" not in found["tokens"].message


def test_no_token_warns(sqlite_client) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(ctx=sqlite_client.ctx)) as http:
        found = {
            f.check: f
            for f in remote_checks(Settings(url="http://testserver"), http=http)
        }
    assert found["tokens"].status == "warn"
    assert "MLSTEWARD_TOKEN is not set" in found["tokens"].message


def test_a_server_that_does_not_answer_fails() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    found = {
        f.check: f for f in remote_checks(Settings(url=url, token="mls_x_y"), timeout=2)
    }
    assert found["server"].status == "fail"
    assert url in found["server"].message
    assert "MLSTEWARD_URL" in (found["server"].fix or "")
    assert found["tokens"].status == "skip"
