"""Bad input against a real server: a 4xx naming the field, the server still
answers, and nothing is logged as a prediction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.serving.servers import FEATURE_EXTRA, HTTP, Server, wait_for

NAME = "cr-bad"


@pytest.fixture(scope="module")
def bad_server(server: Server, home_client: Any) -> Server:
    home_client.create_deployment(NAME, "credit-risk/1", log_columns=FEATURE_EXTRA)
    server.wait_served(NAME)
    return server


def _post(server: Server, body: bytes, **headers: str) -> Any:
    return HTTP.post(f"{server.url}/predict/{NAME}", content=body, headers=headers)


def _count(client: Any) -> int:
    return len(client.predictions(deployment=NAME))


def _case(records: list[dict[str, Any]], change: dict[str, Any]) -> bytes:
    record = dict(records[0])
    for k, v in change.items():
        if v is ...:
            record.pop(k)
        else:
            record[k] = v
    return json.dumps(record).encode()


def test_bad_input_matrix(
    bad_server: Server, home_client: Any, records: list[dict[str, Any]]
) -> None:
    s = bad_server
    # A missing credit_amount is no bad input: the scorecard imputes it, so
    # it is scored and flagged (tests/serving/test_missing_and_unseen.py).
    cases: list[tuple[bytes, int, str | None]] = [
        (b"", 400, "body"),
        (b"{not json", 400, "body"),
        (b'"a string"', 400, "body"),
        (b"[]", 422, "records"),
        (_case(records, {"purpose": ...}), 422, "purpose"),
        (_case(records, {"shoe_size": 44}), 422, "shoe_size"),
        (_case(records, {"credit_amount": "12"}), 422, "credit_amount"),
        (_case(records, {"credit_amount": 1.5}), 422, "credit_amount"),
        (_case(records, {"purpose": "spaceship"}), 422, "purpose"),
        (
            json.dumps(records[0])
            .replace(
                f'"credit_amount": {records[0]["credit_amount"]}',
                '"credit_amount": Infinity',
            )
            .encode(),
            422,
            "credit_amount",
        ),
        (json.dumps(records[:1] * 1001).encode(), 413, "records"),
        (b"[" + b" " * 1_100_000 + b"]", 413, "body"),
    ]
    for body, status, field in cases:
        r = _post(s, body)
        assert r.status_code == status, (body[:80], r.text)
        problem = r.json()
        assert problem["status"] == status and problem["detail"]
        assert problem.get("field") == field, problem
        assert r.headers["content-type"] == "application/problem+json"
    assert HTTP.get(f"{s.url}/predict/{NAME}").status_code == 405
    assert _post(s, b"{}").status_code == 422  # still up
    # Nothing was logged: one good request is the only record that arrives.
    good = _post(s, json.dumps(records[0]).encode())
    assert good.status_code == 200
    wait_for(lambda: _count(home_client) >= 1, what="the good request logged")
    assert _count(home_client) == 1


_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_generated_requests_never_fail_the_server(
    bad_server: Server, records: list[dict[str, Any]], data: st.DataObject
) -> None:
    record: dict[str, Any] = dict(data.draw(st.sampled_from(records[:20])))
    keys = [*record, "unexpected"]
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(keys))
        if data.draw(st.booleans()):
            record.pop(key, None)
        else:
            record[key] = data.draw(_value)
    shape = data.draw(st.sampled_from(["one", "list", "raw"]))
    if shape == "raw":
        body = data.draw(st.binary(max_size=64))
    else:
        body = json.dumps(record if shape == "one" else [records[1], record]).encode()
    r = _post(bad_server, body)
    assert r.status_code < 500, r.text
    if r.status_code != 200:
        assert r.json()["detail"]
    assert HTTP.get(f"{bad_server.url}/v2/health/live").status_code == 200
