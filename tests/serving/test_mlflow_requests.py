"""MLflow's scoring request formats on ``/invocations`` and ``/predict``:
each gives the scores of the native request for the same rows, and a
malformed one is refused naming the field."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from tests.serving.test_inference_app import call

from mlsteward.api.inference import InferenceApp
from mlsteward.config import Settings
from mlsteward.context import Context


@pytest.fixture
def served(sqlite_client: Any, credit: Any, trained: Any) -> Any:
    model, features = trained
    sqlite_client.register_model("credit-risk", model, credit[features].head(50))
    sqlite_client.create_deployment("credit-risk", "credit-risk/1")
    sqlite_client.create_deployment("other", "credit-risk/1")
    ctx = Context.from_settings(
        Settings(home=sqlite_client.ctx.settings.home, actor="t", auth_required=False)
    )
    rows = credit[features].iloc[700:706]
    return ctx, rows


def _formats(rows: Any) -> dict[str, Any]:
    records = rows.to_dict(orient="records")
    return {
        "dataframe_split": {"dataframe_split": rows.to_dict(orient="split")},
        "dataframe_records": {"dataframe_records": records},
        "instances": {"instances": records},
        "inputs (columns)": {"inputs": rows.to_dict(orient="list")},
        "inputs (records)": {"inputs": records},
    }


def _run(ctx: Context, names: list[str], requests: list[tuple[str, Any]]) -> list:
    async def scenario() -> list[tuple[int, Any]]:
        app = InferenceApp(ctx, names)
        await app.startup()
        try:
            out = []
            for path, body in requests:
                raw = body if isinstance(body, bytes) else orjson.dumps(body)
                method = "GET" if body is None else "POST"
                out.append(await call(app, method, path, raw or b""))
            return out
        finally:
            await app.shutdown()

    return asyncio.run(scenario())


def _scores(answer: Any) -> list[float]:
    return [p["score"] for p in answer["predictions"]]


def test_every_mlflow_format_scores_like_the_native_request(served: Any) -> None:
    ctx, rows = served
    native = ("/predict/credit-risk", rows.to_dict(orient="records"))
    formats = _formats(rows)
    paths = ["/invocations", "/invocations/credit-risk", "/predict/credit-risk"]
    requests = [native] + [(p, b) for b in formats.values() for p in paths]
    answers = _run(ctx, ["credit-risk"], requests)
    status, first = answers[0]
    assert status == 200
    expected = _scores(first)
    assert len(expected) == len(rows)
    for (path, body), (status, answer) in zip(requests[1:], answers[1:], strict=True):
        assert status == 200, (path, list(body), answer)
        assert _scores(answer) == expected, (path, list(body))
        assert [p["version"] for p in answer["predictions"]] == [1] * len(rows)


BAD = [
    ({"dataframe_split": []}, 400, "dataframe_split"),
    (
        {"dataframe_split": {"columns": [1], "data": [[1]]}},
        400,
        "dataframe_split.columns",
    ),
    (
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}},
        400,
        "dataframe_split.data",
    ),
    ({"dataframe_split": {"columns": ["a"], "data": []}}, 400, "dataframe_split.data"),
    ({"dataframe_records": {}}, 400, "dataframe_records"),
    ({"instances": [[1, 2, 3]]}, 400, "instances"),
    ({"inputs": {"duration_in_month": 12}}, 400, "inputs.duration_in_month"),
    ({"inputs": {"purpose": ["car"], "job": ["a", "b"]}}, 400, "inputs.job"),
    ({"inputs": {}}, 400, "inputs"),
    ({"dataframe_records": [{}], "params": {"top_k": 1}}, 422, "params"),
    ({"dataframe_records": [{}], "extra": 1}, 400, "extra"),
    ([{"duration_in_month": 12}], 400, "body"),
    (b"{not json", 400, "body"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD)
def test_a_malformed_mlflow_request_names_the_field(
    served: Any, body: Any, status: int, field: str
) -> None:
    ctx, _ = served
    [(got, problem)] = _run(ctx, ["credit-risk"], [("/invocations", body)])
    assert (got, problem["field"]) == (status, field), problem
    assert field in problem["detail"] or field == "body"


def test_a_row_that_breaks_the_contract_names_the_column(served: Any) -> None:
    ctx, rows = served
    split = rows.to_dict(orient="split")
    split["data"][0][split["columns"].index("duration_in_month")] = "long"
    missing = rows.drop(columns=["purpose"]).to_dict(orient="records")
    answers = _run(
        ctx,
        ["credit-risk"],
        [
            ("/invocations", {"dataframe_split": split}),
            ("/predict/credit-risk", {"dataframe_records": missing}),
        ],
    )
    assert [(s, a["field"]) for s, a in answers] == [
        (422, "duration_in_month"),
        (422, "purpose"),
    ]
    # The native path's own error is unchanged for a native body.
    [(status, problem)] = _run(
        ctx, ["credit-risk"], [("/predict/credit-risk", missing[0])]
    )
    assert (status, problem["field"]) == (422, "purpose")
    assert "missing column" in problem["detail"]


def test_invocations_needs_a_name_when_several_deployments_serve(served: Any) -> None:
    ctx, rows = served
    body = _formats(rows)["dataframe_records"]
    answers = _run(
        ctx,
        ["credit-risk", "other"],
        [
            ("/invocations", body),
            ("/invocations/other", body),
            ("/ping", None),
            ("/health", None),
        ],
    )
    (status, problem), (ok, answer), (ping, _), (health, _) = answers
    assert status == 404 and problem["field"] == "deployment"
    assert "/invocations/{deployment}" in problem["detail"]
    assert ok == 200 and len(answer["predictions"]) == len(rows)
    assert (ping, health) == (200, 200)
