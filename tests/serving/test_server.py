"""A real ``mlsteward server`` process: predict, v2, routing, control plane.

Every test talks HTTP to 127.0.0.1 only, with bounded request counts.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import numpy as np
import pytest
from tests.serving.servers import FEATURE_EXTRA, HTTP, Server, wait_for


def _logged(client: Any, deployment: str, n: int) -> Any:
    return wait_for(
        lambda: (
            frame
            if len(frame := client.predictions(deployment=deployment)) >= n
            else None
        ),
        what=f"{n} predictions of {deployment} in the log",
    )


def test_predict_matches_the_registered_model(
    server: Server,
    home_client: Any,
    records: list[dict[str, Any]],
    credit: Any,
    trained: Any,
) -> None:
    _, features = trained
    r = HTTP.post(f"{server.url}/predict/credit-risk", json=records[:200], timeout=30)
    assert r.status_code == 200, r.text
    answers = r.json()["predictions"]
    expected = home_client.load_model("credit-risk/1").predict_proba(
        credit[features][:200]
    )
    np.testing.assert_allclose(
        [a["score"] for a in answers], expected, rtol=0, atol=1e-12
    )
    assert {(a["version"], a["route"], a["model"]) for a in answers} == {
        (1, "champion", "credit-risk")
    }
    assert all(
        a["decision"] == ("deny" if a["score"] >= 0.5 else "approve") for a in answers
    )
    one = HTTP.post(f"{server.url}/predict/credit-risk", json=records[0]).json()
    assert one["score"] == pytest.approx(expected[0], abs=1e-12)
    ids = {a["request_id"] for a in answers} | {one["request_id"]}
    assert len(ids) == 201

    logged = _logged(home_client, "credit-risk", 201)
    mine = logged[logged["request_id"].isin(ids)]
    assert len(mine) == 201
    assert set(mine["input.application_id"]) == {"[redacted]"}
    assert set(mine["input.age_in_years"]) <= set(credit["age_in_years"])
    assert (mine["latency_ms"] > 0).all()


def test_open_inference_protocol_v2(
    server: Server,
    home_client: Any,
    records: list[dict[str, Any]],
    credit: Any,
    trained: Any,
) -> None:
    _, features = trained
    url = server.url
    assert HTTP.get(f"{url}/v2/health/live").json() == {"live": True}
    assert HTTP.get(f"{url}/v2/health/ready").status_code == 200
    assert HTTP.get(f"{url}/v2").json()["name"] == "mlsteward"
    meta = HTTP.get(f"{url}/v2/models/credit-risk").json()
    assert meta["name"] == "credit-risk" and meta["versions"] == ["1"]
    types = {i["name"]: i["datatype"] for i in meta["inputs"]}
    assert types["purpose"] == "BYTES" and types["credit_amount"] == "INT64"
    assert {o["name"]: o["datatype"] for o in meta["outputs"]}["score"] == "FP64"
    assert HTTP.get(f"{url}/v2/models/credit-risk/ready").json() == {
        "name": "credit-risk",
        "ready": True,
    }
    assert HTTP.get(f"{url}/v2/models/credit-risk/versions/1/ready").status_code == 200
    missing = HTTP.get(f"{url}/v2/models/nope/ready")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]

    n = 3
    inputs = [
        {
            "name": name,
            "shape": [n],
            "datatype": types.get(name, "FP64" if name == "age_in_years" else "BYTES"),
            "data": [rec[name] for rec in records[:n]],
        }
        for name in [*features, *FEATURE_EXTRA]
    ]
    body = {"id": "req-42", "inputs": inputs, "outputs": [{"name": "score"}]}
    for path in ("infer", "versions/1/infer"):
        r = HTTP.post(f"{url}/v2/models/credit-risk/{path}", json=body)
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["model_name"], out["model_version"], out["id"]) == (
            "credit-risk",
            "1",
            "req-42",
        )
        assert [o["name"] for o in out["outputs"]] == ["score"]
        assert (
            out["outputs"][0]["shape"] == [n]
            and out["outputs"][0]["datatype"] == "FP64"
        )
        expected = home_client.load_model("credit-risk/1").predict_proba(
            credit[features][:n]
        )
        np.testing.assert_allclose(out["outputs"][0]["data"], expected, atol=1e-12)

    bad = json.loads(json.dumps(body))
    bad["inputs"][3]["datatype"] = "FP64"  # purpose is a category
    r = HTTP.post(f"{url}/v2/models/credit-risk/infer", json=bad)
    assert r.status_code == 400 and "purpose" in r.json()["error"]
    r = HTTP.post(f"{url}/v2/models/credit-risk/versions/9/infer", json=body)
    assert r.status_code == 404 and "error" in r.json()
    r = HTTP.post(f"{url}/v2/models/credit-risk/infer", content=b"{")
    assert r.status_code == 400 and "JSON" in r.json()["error"]


def test_standard_v2_client(
    server: Server, records: list[dict[str, Any]], trained: Any
) -> None:
    http = pytest.importorskip("tritonclient.http")
    client = http.InferenceServerClient(url=server.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("credit-risk")
    meta = client.get_model_metadata("credit-risk")
    n = 4
    inputs = []
    for spec in meta["inputs"]:
        values = [rec[spec["name"]] for rec in records[:n]]
        arr = np.array(
            values, dtype=object if spec["datatype"] == "BYTES" else np.int64
        )
        tensor = http.InferInput(spec["name"], [n], spec["datatype"])
        tensor.set_data_from_numpy(arr)  # binary tensor data, the client's default
        inputs.append(tensor)
    result = client.infer("credit-risk", inputs, request_id="abc")
    scores = result.as_numpy("score")
    assert scores.shape == (n,) and ((scores >= 0) & (scores <= 1)).all()
    assert result.get_response()["id"] == "abc"
    assert len(set(result.as_numpy("request_id").tolist())) == n
    client.close()


def test_canary_share_and_stickiness(
    server: Server, home_client: Any, records: list[dict[str, Any]]
) -> None:
    from mlsteward.serving.runtime import route_share

    home_client.create_deployment(
        "cr-canary",
        "credit-risk/1",
        log_columns=FEATURE_EXTRA,
        sticky_field="application_id",
    )
    d = home_client.set_canary("cr-canary", "credit-risk/2", 0.3)
    server.wait_served("cr-canary", d.revision)
    url = f"{server.url}/predict/cr-canary"
    # Sticky by record field: each application's route follows from its key.
    answers = HTTP.post(url, json=records[:400], timeout=30).json()["predictions"]
    expected = [
        2 if route_share("cr-canary", rec["application_id"]) < 0.3 else 1
        for rec in records[:400]
    ]
    assert [a["version"] for a in answers] == expected
    share = sum(v == 2 for v in expected) / 400
    assert 0.2 < share < 0.4
    # Sticky by header: the same key, the same version, every time.
    record = {k: v for k, v in records[0].items() if k != "application_id"}
    for key in ("alice", "bob", "carol"):
        seen = {
            HTTP.post(url, json=record, headers={"X-Routing-Key": key}).json()[
                "version"
            ]
            for _ in range(5)
        }
        assert len(seen) == 1
    # Without a key, about the share goes to the canary.
    versions = [HTTP.post(url, json=record).json()["version"] for _ in range(200)]
    assert 0.15 < versions.count(2) / 200 < 0.45


def test_shadows_are_logged_never_returned(
    server: Server, home_client: Any, records: list[dict[str, Any]]
) -> None:
    home_client.create_deployment(
        "cr-shadow", "credit-risk/1", log_columns=FEATURE_EXTRA
    )
    d = home_client.add_shadow("cr-shadow", "credit-risk/3")
    server.wait_served("cr-shadow", d.revision)
    r = HTTP.post(f"{server.url}/predict/cr-shadow", json=records[:20])
    answers = r.json()["predictions"]
    assert {a["version"] for a in answers} == {1}
    assert all(
        set(a) == {"request_id", "score", "decision", "model", "version", "route"}
        for a in answers
    )
    ids = {a["request_id"] for a in answers}
    shadows = wait_for(
        lambda: (
            f
            if len(f := home_client.shadow_predictions(deployment="cr-shadow")) >= 20
            else None
        ),
        what="shadow outputs in the log",
    )
    assert set(shadows["request_id"]) == ids
    assert set(shadows["model_version"]) == {3}
    assert shadows["score"].between(0, 1).all()


def test_promotion_and_rollback_reach_a_running_server_without_a_failed_request(
    server: Server, home_client: Any, records: list[dict[str, Any]]
) -> None:
    home_client.create_deployment(
        "cr-rollout", "credit-risk/1", log_columns=FEATURE_EXTRA
    )
    server.wait_served("cr-rollout")
    seen: list[tuple[int, int]] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(timeout=10) as http:
            deadline = time.monotonic() + 30
            while not stop.is_set() and time.monotonic() < deadline:
                r = http.post(
                    f"{server.url}/predict/cr-rollout", json=records[len(seen) % 900]
                )
                seen.append((r.status_code, r.json().get("version", -1)))

    threads = [threading.Thread(target=traffic) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(seen) > 20, what="traffic")
        home_client.promote_deployment("cr-rollout", "credit-risk/2")
        wait_for(lambda: seen[-1][1] == 2, what="version 2 answering")
        r = HTTP.post(f"{server.url}/api/v1/deployments/cr-rollout/rollback")
        assert r.status_code == 200 and r.json()["champion_version"] == 1
        wait_for(lambda: seen[-1][1] == 1, what="rollback reaching the server")
    finally:
        stop.set()
        for t in threads:
            t.join()
    statuses = {s for s, _ in seen}
    assert statuses == {200}, f"failed requests during the change: {statuses}"
    versions = [v for _, v in seen]
    first_two = versions.index(2)
    assert 1 in versions[:first_two] and 1 in versions[first_two:]


def test_control_plane_and_metrics_share_the_port(
    server: Server, home_client: Any
) -> None:
    listed = HTTP.get(f"{server.url}/api/v1/deployments").json()
    assert "credit-risk" in {d["name"] for d in listed}
    shown = HTTP.get(f"{server.url}/api/v1/deployments/credit-risk").json()
    assert shown["history"][0]["action"] == "created"
    HTTP.post(f"{server.url}/predict/credit-risk", json={"nope": 1})
    logged = wait_for(
        lambda: (
            HTTP.get(
                f"{server.url}/api/v1/predictions",
                params={"deployment": "credit-risk", "limit": 5},
            ).json()
            or None
        ),
        what="predictions over REST",
    )
    assert {"request_id", "score", "decision", "model_version"} <= set(logged[0])
    metrics = HTTP.get(f"{server.url}/metrics").text
    assert (
        'mlsteward_requests_total{code="200",deployment="credit-risk",endpoint="predict"}'
        in metrics
    )
    assert (
        'mlsteward_request_errors_total{deployment="credit-risk",reason="invalid_input"}'
        in metrics
    )
    assert (
        'mlsteward_request_latency_seconds_bucket{deployment="credit-risk"' in metrics
    )
    assert "mlsteward_batch_rows_bucket" in metrics
