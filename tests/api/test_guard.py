"""The control plane authenticates before it reads, and reads only so much.

Direct ASGI calls with a ``receive`` that counts what it hands out show the
body is never read without a valid token; a real ``mlsteward server`` on a
loopback socket shows the same over TCP (a 60 MB declared body answered 401
after none of it was sent) and the 413s of the body limit, declared or
streamed in chunks.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import make_user_token
from tests.serving.servers import Server

from mlsteward.api import create_app
from mlsteward.config import Settings
from mlsteward.context import Context

MB = 1_048_576


@pytest.fixture
def guarded(tmp_path: Path) -> Any:
    ctx = Context.from_settings(
        Settings(home=tmp_path / "h", actor="t", api_max_body_bytes=64 * 1024)
    )
    headers = make_user_token(ctx, "admin", "admin")
    viewer = make_user_token(ctx, "vic", "viewer")
    yield create_app(ctx=ctx), headers, viewer
    ctx.store.dispose()


def _call(app: Any, path: str, headers: dict[str, str], chunks: int) -> Any:
    """POST ``chunks`` MiB to ``path`` through the ASGI app; return the status
    and how many body messages the app asked for."""
    consumed = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal consumed
        if consumed >= chunks:
            return {"type": "http.disconnect"}
        consumed += 1
        return {
            "type": "http.request",
            "body": b"x" * MB,
            "more_body": consumed < chunks,
        }

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *raw],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(
        m.get("body", b"") for m in sent if m["type"] == "http.response.body"
    )
    return start["status"], consumed, body


def test_no_token_is_refused_before_a_byte_of_the_body_is_read(guarded) -> None:
    app, _, _ = guarded
    for headers in ({}, {"Authorization": "Bearer mls_nope_nope"}):
        status, consumed, body = _call(app, "/api/v1/outcomes", headers, chunks=60)
        assert (status, consumed) == (401, 0), body
        assert b'"field":"token"' in body


def test_a_role_below_the_use_case_is_refused_before_the_body_is_read(
    guarded,
) -> None:
    app, headers, viewer = guarded
    status, consumed, body = _call(app, "/api/v1/outcomes", viewer, chunks=60)
    assert (status, consumed) == (403, 0), body
    assert b"outcomes.load" in body and b"developer" in body
    # A role that may: the body is read (and refused for its size, here).
    status, consumed, _ = _call(app, "/api/v1/outcomes", headers, chunks=60)
    assert status == 413 and consumed >= 1


def test_malformed_json_without_a_token_is_401_not_400(guarded) -> None:
    app, headers, _ = guarded
    api = TestClient(app)
    r = api.post("/api/v1/outcomes", content=b"{not json")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    r = api.post("/api/v1/outcomes", content=b"{not json", headers=headers)
    assert r.status_code == 400  # with a token, the JSON is judged: malformed


def test_a_streamed_body_over_the_limit_is_413_and_read_no_further(guarded) -> None:
    app, headers, _ = guarded
    status, consumed, body = _call(app, "/api/v1/outcomes", headers, chunks=60)
    assert status == 413
    assert consumed == 1  # the first MiB passed the 64 KiB limit: no more read
    assert b"MLSTEWARD_API_MAX_BODY_BYTES" in body and b'"field":"body"' in body


def test_a_declared_length_over_the_limit_is_413_before_reading(guarded) -> None:
    app, headers, _ = guarded
    big = {**headers, "Content-Length": str(60 * MB)}
    status, consumed, body = _call(app, "/api/v1/outcomes", big, chunks=60)
    assert (status, consumed) == (413, 0)
    assert b"declares 62914560 bytes" in body


def test_open_paths_and_bodies_within_the_limit(guarded) -> None:
    app, headers, viewer = guarded
    api = TestClient(app)
    assert api.get("/api/v1/health").status_code == 200
    assert api.get("/openapi.json").status_code == 200
    assert api.get("/api/v1/monitors").status_code == 401
    assert api.get("/api/v1/monitors", headers=viewer).json() == []
    r = api.post("/api/v1/outcomes", json=[], headers=viewer)
    assert r.status_code == 403  # the role is still checked by the route
    r = api.post("/api/v1/outcomes", json=[], headers=headers)
    assert r.status_code == 200, r.text


def _raw(port: int, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head + body)
        s.shutdown(socket.SHUT_WR) if not body else None
        out = b""
        while b"\r\n\r\n" not in out or not out.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


@pytest.mark.slow
def test_real_server_answers_before_the_body_arrives(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ctx = Context.from_settings(Settings(home=home, actor="t"))
    token = make_user_token(ctx, "admin", "admin")["Authorization"]
    server = Server(
        home,
        ["server"],
        MLSTEWARD_AUTH_REQUIRED="true",
        MLSTEWARD_API_MAX_BODY_BYTES=str(64 * 1024),
    ).start()
    try:
        # 60 MB declared, none sent: the 401 comes without waiting for it.
        head = (
            b"POST /api/v1/outcomes HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 62914560\r\n\r\n"
        )
        out = _raw(server.port, head, b"[")
        assert out.startswith(b"HTTP/1.1 401"), out[:200]
        # With a token: a declared length over the limit, then a chunked body
        # that declares none and passes it as it streams.
        auth = f"Authorization: {token}\r\n".encode()
        out = _raw(
            server.port, head.replace(b"Host: x\r\n", b"Host: x\r\n" + auth), b"["
        )
        assert out.startswith(b"HTTP/1.1 413"), out[:200]
        chunked = (
            b"POST /api/v1/outcomes HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: "
            b"application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"8000\r\n" + b" " * 0x8000 + b"\r\n"
        out = _raw(server.port, chunked, piece * 3)
        assert out.startswith(b"HTTP/1.1 413"), out[:200]
        assert b"MLSTEWARD_API_MAX_BODY_BYTES" in out
    finally:
        server.stop()
        ctx.store.dispose()


def test_names_are_matched_whole_and_path_integers_bounded(guarded) -> None:
    from mlsteward.errors import InvalidInput
    from mlsteward.names import check_name, parse_ref

    for bad in ("champion\n", "a\nb", "x" * 129):
        with pytest.raises(InvalidInput, match="not a valid name"):
            check_name(bad, "alias")
    for ref in ("m/2147483648", "m/²", "m/" + "9" * 5000):
        with pytest.raises(InvalidInput, match="positive integer"):
            parse_ref(ref)
    app, headers, _ = guarded
    api = TestClient(app, headers=headers)
    r = api.put("/api/v1/models/m/aliases/champion%0A", json={"version": 1})
    assert r.status_code == 422 and r.json()["field"] == "alias", r.text
    for path in (
        "/api/v1/deployments/d/shadows/9223372036854775808",
        "/api/v1/deployments/d/shadows/2147483648",
    ):
        r = api.delete(path)  # was a 500 (OverflowError); refused by name now
        assert r.status_code in (404, 422), r.text
    r = api.get("/api/v1/model-versions/m/99999999999999999999")
    assert r.status_code == 422, r.text


def test_docs_load_their_assets_from_the_package(guarded) -> None:
    app, _, _ = guarded
    api = TestClient(app)
    page = api.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert '"validatorUrl": null' in page.text
    for path in (
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/assets/favicon-32x32.png",
    ):
        assert path in page.text
        r = api.get(path)
        assert r.status_code == 200 and len(r.content) > 500, path
    assert "SwaggerUIBundle" in api.get("/docs/assets/swagger-ui-bundle.js").text
    assert api.get("/docs/assets/..%2Fguard.py").status_code == 404
    assert api.get("/docs/assets/LICENSE").status_code == 404
    assert api.get("/redoc").status_code == 401  # no such page: not open either


def test_one_problem_vocabulary_and_tokens_told_why(guarded) -> None:
    """The control plane names problems as the inference server does, and a
    token that stopped working says why to the one who holds it."""
    from mlsteward.identity.service import IdentityService
    from mlsteward.identity.specs import CreateToken

    app, headers, _ = guarded
    api = TestClient(app)
    r = api.get("/api/v1/no-such-route", headers=headers)
    assert r.status_code == 404 and r.json()["type"].endswith("/not_found")
    r = api.get("/api/v1/models")
    assert r.json()["type"].endswith("/unauthenticated")

    from tests.conftest import admin_context

    ctx = app.state.ctx
    admin = IdentityService(admin_context(ctx))
    scoped = admin.create_token(CreateToken(user="vic", scope="deployment:x"))
    r = api.get("/api/v1/models", headers={"Authorization": f"Bearer {scoped.secret}"})
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")
    assert "scoped to deployment:x" in r.json()["detail"]
    assert "role or higher" not in r.json()["detail"]

    revoked = admin.create_token(CreateToken(user="vic"))
    admin.revoke_token(revoked.token.id)
    r = api.get("/api/v1/models", headers={"Authorization": f"Bearer {revoked.secret}"})
    assert r.status_code == 401 and "was revoked on" in r.json()["detail"]
