"""Every control-plane operation describes its success response in
/openapi.json with a typed schema, so clients and schemathesis can hold the
server to it."""

from __future__ import annotations

from typing import Any

import pytest

from mlsteward.api import create_app

#: Operations allowed without a typed response model. Empty: keep it so.
PENDING: frozenset[str] = frozenset()


def _typed(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """True if ``schema`` names its fields: a model reference, an array of
    typed items, or an object with declared properties."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return _typed(schema.get("items", {}), components)
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf")
        return all(_typed(o, components) or o.get("type") == "null" for o in options)
    return bool(schema.get("properties"))


def _binary(content: dict[str, Any]) -> bool:
    """Bytes that are not JSON (an artifact, Parquet), described as such."""
    return all(
        not media.endswith("json")
        and body.get("schema") == {"type": "string", "format": "binary"}
        for media, body in content.items()
    )


def _untyped_operations(spec: dict[str, Any]) -> set[str]:
    components = spec.get("components", {}).get("schemas", {})
    out: set[str] = set()
    for path, item in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, op in item.items():
            key = f"{method.upper()} {path}"
            ok = [r for s, r in op["responses"].items() if s.startswith("2")]
            if not ok:
                out.add(key)
            for response in ok:
                if response.get("description") and "content" not in response:
                    continue  # 204 No Content: nothing to describe
                content = response.get("content", {})
                schema = next(iter(content.values()), {}).get("schema")
                if schema is None or not (
                    _typed(schema, components)
                    or "text/html" in content
                    or _binary(content)
                ):
                    out.add(key)
    return out


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from mlsteward.config import Settings

    home = tmp_path_factory.mktemp("openapi")
    return create_app(Settings(home=str(home))).openapi()


def test_every_operation_declares_a_typed_success_response(
    spec: dict[str, Any],
) -> None:
    untyped = _untyped_operations(spec)
    assert untyped <= PENDING, f"untyped responses: {sorted(untyped - PENDING)}"
    assert untyped >= PENDING, f"typed now, drop from PENDING: {PENDING - untyped}"


def test_the_walk_catches_a_free_form_dict() -> None:
    """A ``dict[str, Any]`` return gives an object with no properties: the
    walk must count it as untyped, or the test above proves nothing."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/api/v1/loose")
    def loose() -> dict[str, Any]:
        return {}

    assert _untyped_operations(app.openapi()) == {"GET /api/v1/loose"}


def test_results_keep_the_old_json_shape(spec: dict[str, Any]) -> None:
    """The JSON of a result is what the hand-written ``to_dict`` gave:
    ``isoformat()`` times and derived fields such as ``ref``."""
    schemas = spec["components"]["schemas"]
    assert "ref" in schemas["ModelVersion"]["properties"]
    from mlsteward.datasets.models import DatasetVersion

    listed = DatasetVersion.model_json_schema(mode="serialization")
    assert "profile" not in listed["properties"]
    assert "profile" in schemas["DatasetVersionDetail"]["properties"]
