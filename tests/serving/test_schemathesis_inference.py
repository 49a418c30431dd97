"""schemathesis against the inference server's own OpenAPI document: no 500,
no undocumented status or content type, no response outside its schema."""

from __future__ import annotations

from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from mlsteward.api.inference import InferenceApp  # noqa: E402
from mlsteward.config import Settings  # noqa: E402
from mlsteward.context import Context  # noqa: E402

pytestmark = pytest.mark.slow


def _app() -> InferenceApp:
    import tempfile

    from mlsteward.datasets import load_german_credit
    from mlsteward.datasets.bundled import german_credit_roles
    from mlsteward.retraining.trainers import logistic_scorecard
    from mlsteward.sdk import Client

    home = tempfile.mkdtemp(prefix="ms-inference-schema-")
    df = load_german_credit()
    features = [c for c, r in german_credit_roles().items() if r == "feature"]
    client = Client(Settings(home=home, actor="t"))
    model = logistic_scorecard(df.iloc[:300], features=features, target="bad")
    client.register_model("credit-risk", model, df[features])
    client.create_deployment("credit-risk", "credit-risk/1")
    client.close()
    ctx = Context.from_settings(Settings(home=home, actor="t", auth_required=False))
    return InferenceApp(ctx, ["credit-risk"])


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_inference_never_fails(case: Any) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    response = case.call()
    case.validate_response(
        response,
        checks=(
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ),
    )


def test_the_schema_names_the_live_deployment() -> None:
    enum = schema.raw_schema["paths"]["/predict/{deployment}"]["post"]["parameters"][0][
        "schema"
    ]["enum"]
    assert enum == ["credit-risk"]
