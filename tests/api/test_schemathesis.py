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
