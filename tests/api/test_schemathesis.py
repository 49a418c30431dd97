"""schemathesis against the control plane's OpenAPI schema: no 500s, no
responses that break the schema, whatever the inputs."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from tests.conftest import make_user_token  # noqa: E402

from mlsteward.api import create_app  # noqa: E402
from mlsteward.config import Settings  # noqa: E402
from mlsteward.sdk import Client  # noqa: E402

pytestmark = pytest.mark.slow


def _app():  # type: ignore[no-untyped-def]
    import tempfile

    client = Client(Settings(home=tempfile.mkdtemp(prefix="ms-schema-"), actor="t"))
    headers = make_user_token(client.ctx, "root", "admin")
    app = create_app(ctx=client.ctx)
    app.state.test_headers = headers
    return app


APP = _app()
# Uploads are tar archives: fuzz them with arbitrary bytes (a refusal naming
# the body, never a 500).
schemathesis.serializer.alias("application/x-tar", "application/octet-stream")
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_control_plane_never_fails(case) -> None:  # type: ignore[no-untyped-def]
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    response = case.call(headers=APP.state.test_headers)
    case.validate_response(
        response,
        checks=(
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ),
    )


def test_response_conformance_fails_on_a_changed_shape() -> None:
    """The checks above would catch a drifted response: an app whose health
    answer carries a number where its schema says string is reported."""
    import json

    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import response_schema_conformance

    app = _app()

    async def drifted(scope, receive, send):  # type: ignore[no-untyped-def]
        # Rewrite the body on its way out, past FastAPI's own validation, as a
        # server whose code changed without its schema would answer.
        if scope["type"] != "http" or scope["path"] != "/api/v1/health":
            return await app(scope, receive, send)
        body = json.dumps({"status": 1, "version": "x"}).encode()

        async def replace(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message["headers"] if k != b"content-length"
                ]
                headers.append((b"content-length", str(len(body)).encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                message = {**message, "body": body}
            await send(message)

        return await app(scope, receive, replace)

    drifted_schema = schemathesis.openapi.from_asgi("/openapi.json", drifted)
    case = drifted_schema["/api/v1/health"]["GET"].Case()
    response = case.call()
    assert response.json() == {"status": 1, "version": "x"}
    with pytest.raises(FailureGroup) as failed:
        case.validate_response(response, checks=(response_schema_conformance,))
    assert "schema" in str(failed.value).lower()
    # The untouched app passes the same check.
    good = schema["/api/v1/health"]["GET"].Case()
    good.validate_response(good.call(), checks=(response_schema_conformance,))
