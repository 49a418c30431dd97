"""Reports, reason codes, lineage and the audit trail through the SDK and REST."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mlsteward.api import create_app
from mlsteward.datasets.bundled import german_credit_roles


def test_sdk_and_rest(sqlite_client, credit, trained, admin_headers, tmp_path) -> None:
    model, features = trained
    dv = sqlite_client.register_dataset(
        "gc", credit.iloc[:700], roles=german_credit_roles()
    )
    run = sqlite_client.start_run("train", inputs=[dv.ref])
    sqlite_client.register_model("credit-risk", model, credit[features], run_id=run.id)
    sqlite_client.end_run(run.id)
    sqlite_client.evaluate("credit-risk/1", credit.iloc[700:], target="bad")

    reasons = sqlite_client.explain("credit-risk/1", credit.iloc[700:705])
    assert len(reasons) == 5
    for row in reasons:
        assert all(r["feature"] in features for r in row)
        contributions = [r["contribution"] for r in row]
        assert contributions == sorted(contributions, reverse=True)
        assert all(c > 0 for c in contributions)

    out = sqlite_client.write_report("credit-risk/1", tmp_path / "r.html")
    assert out.html.exists() and "credit-risk" in out.html.read_text()
    assert sqlite_client.lineage("credit-risk/1").datasets[0].ref == "gc/1"

    api = TestClient(create_app(ctx=sqlite_client.ctx), headers=admin_headers)
    r = api.get("/api/v1/models/credit-risk/versions/1/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert dv.sha256 in r.text
    assert (
        api.get("/api/v1/models/credit-risk/versions/1/lineage").json()["run"]["id"]
        == run.id
    )
    assert api.get("/api/v1/audit/verify").json()["ok"] is True
    events = api.get("/api/v1/audit", params={"object_id": "credit-risk/1"}).json()
    assert events[0]["action"] == "model_version.registered"
    assert api.get("/api/v1/models/credit-risk/versions/9/report").status_code == 404
