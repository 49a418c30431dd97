"""The OpenAPI document of the inference server (``GET /openapi.json``).

The inference path is a lean ASGI app, not FastAPI, so its schema is written
here by hand, from the same facts the app enforces: the deployments it serves
(as the enum of the path parameter) and, per answer, the shapes it returns.
schemathesis checks the running app against it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["inference_openapi"]

_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string"},
    },
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}
_PREDICTION = {
    "type": "object",
    "required": ["request_id", "score", "decision", "model", "version", "route"],
    "properties": {
        "request_id": {"type": "string"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "decision": {"type": "string", "enum": ["approve", "deny"]},
        "model": {"type": "string"},
        "version": {"type": "integer"},
        "route": {"type": "string"},
        "flags": {"type": "object"},
        "reasons": {"type": "array", "items": {"type": "object"}},
    },
}


def _problems(*codes: int) -> dict[str, Any]:
    return {
        str(c): {
            "description": "problem",
            "content": {"application/problem+json": {"schema": _PROBLEM}},
        }
        for c in codes
    }


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(c): {
            "description": "error",
            "content": {"application/json": {"schema": _ERROR}},
        }
        for c in codes
    }


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def inference_openapi(deployments: list[str]) -> dict[str, Any]:
    """The document for a server of ``deployments``."""
    name = {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": sorted(deployments) or ["none"]},
    }
    deployment = {**name, "name": "deployment"}
    record = {"type": "object", "additionalProperties": True}
    any_object = {"type": "object"}
    security: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "mlsteward inference", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        },
        "paths": {
            "/predict/{deployment}": {
                "post": {
                    "operationId": "predict",
                    "security": security,
                    "parameters": [
                        deployment,
                        {
                            "name": "explain",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "boolean"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "anyOf": [
                                        record,
                                        {"type": "array", "items": record},
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "anyOf": [
                                    _PREDICTION,
                                    {
                                        "type": "object",
                                        "required": ["predictions"],
                                        "properties": {
                                            "predictions": {
                                                "type": "array",
                                                "items": _PREDICTION,
                                            }
                                        },
                                    },
                                ]
                            }
                        ),
                        **_problems(400, 401, 403, 404, 413, 422),
                    },
                }
            },
            "/v2/health/live": {
                "get": {"operationId": "live", "responses": {"200": _json(any_object)}}
            },
            "/v2/health/ready": {
                "get": {
                    "operationId": "ready",
                    "responses": {"200": _json(any_object), "503": _json(any_object)},
                }
            },
            "/v2/models/{name}": {
                "get": {
                    "operationId": "model_metadata",
                    "security": security,
                    "parameters": [name],
                    "responses": {"200": _json(any_object), **_errors(401, 403, 404)},
                }
            },
            "/v2/models/{name}/ready": {
                "get": {
                    "operationId": "model_ready",
                    "security": security,
                    "parameters": [name],
                    "responses": {"200": _json(any_object), **_errors(401, 403, 404)},
                }
            },
            "/v2/models/{name}/infer": {
                "post": {
                    "operationId": "infer",
                    "security": security,
                    "parameters": [name],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["inputs"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "inputs": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "required": [
                                                    "name",
                                                    "shape",
                                                    "datatype",
                                                    "data",
                                                ],
                                                "properties": {
                                                    "name": {"type": "string"},
                                                    "shape": {
                                                        "type": "array",
                                                        "items": {"type": "integer"},
                                                    },
                                                    "datatype": {"type": "string"},
                                                    "data": {"type": "array"},
                                                },
                                            },
                                        },
                                        "outputs": {
                                            "type": "array",
                                            "items": {"type": "object"},
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(any_object),
                        **_errors(400, 401, 403, 404, 413),
                    },
                }
            },
        },
    }
