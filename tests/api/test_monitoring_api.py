"""The monitoring routes through a real ASGI app, on SQLite and PostgreSQL:
outcomes posted idempotently, monitors created, run and read back, alerts
listed, errors as problem+json naming the field."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.conftest import make_user

from mlsteward.api import create_app
from mlsteward.datasets.bundled import GERMAN_CREDIT_PROTECTED, german_credit_roles

ROLES = german_credit_roles()
FEATURES = [c for c, r in ROLES.items() if r == "feature"]
JULY = ("2025-07-01T00:00:00Z", "2025-08-01T00:00:00Z")


@pytest.fixture
def setup(client, credit, trained) -> tuple[TestClient, list[str], list[int]]:
    model, _ = trained
    train = credit.iloc[:700]
    dv = client.register_dataset("gc", train, roles=ROLES)
    run = client.start_run("fit", inputs=[dv.ref])
    client.register_model("credit-risk", model, train[FEATURES], run_id=run.id)
    client.end_run(run.id)
    client.set_alias("credit-risk", "champion", 1)
    month = credit.iloc[700:900].reset_index(drop=True)
    start = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    ids = [f"req-{i}" for i in range(len(month))]
    client.score(
        "credit-risk@champion",
        month,
        deployment="credit-risk",
        request_ids=ids,
        timestamps=[start + dt.timedelta(hours=3 * i) for i in range(len(month))],
        log_columns=list(GERMAN_CREDIT_PROTECTED),
    )
    token = make_user(client.ctx, "admin", "admin")
    client.login(token)  # the home has users: the test acts as its admin
    headers = {"Authorization": f"Bearer {token}"}
    api = TestClient(create_app(ctx=client.ctx), headers=headers)
    return api, ids, month["bad"].tolist()


def test_round_trip(setup) -> None:
    api, ids, labels = setup
    body = [{"request_id": i, "label": y} for i, y in zip(ids, labels, strict=True)]
    r = api.post("/api/v1/outcomes", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"loaded": len(ids), "unchanged": 0}
    r = api.post("/api/v1/outcomes", json=body[:5])  # idempotent
    assert r.json() == {"loaded": 0, "unchanged": 5}

    r = api.post(
        "/api/v1/monitors",
        json={
            "name": "cr",
            "deployment": "credit-risk",
            "checks": {"drift": {}, "performance": {}, "estimated": {}, "fairness": {}},
            "alerting": {"sinks": ["log"], "cooldown_seconds": "1d"},
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["checks"]["drift"]["methods"]["purpose"] == ["psi", "chi2"]
    assert [m["name"] for m in api.get("/api/v1/monitors").json()] == ["cr"]
    assert api.get("/api/v1/monitors/cr").json()["reference_at_creation"] == "gc/1"

    r = api.post("/api/v1/monitors/cr/run", json={"start": JULY[0], "end": JULY[1]})
    assert r.status_code == 200, r.text
    run = r.json()
    assert [w["label"] for w in run["windows"]] == ["2025-07"]
    auc = next(x for x in run["results"] if x["check"] == "performance.auc")
    y = pd.Series(labels)
    assert auc["value"] is not None and 0.5 < auc["value"] < 1.0
    assert y.mean() > 0

    rows = api.get(
        "/api/v1/monitors/cr/results", params={"check": "estimated.auc"}
    ).json()
    assert len(rows) == 1
    assert rows[0]["details"]["realised_auc"] == pytest.approx(auc["value"])
    assert "concept shift" in rows[0]["details"]["cannot_see"]
    fair = api.get(
        "/api/v1/monitors/cr/results",
        params={"check": "fairness", "column": "foreign_worker", "window": "2025-07"},
    ).json()
    assert {x["check"] for x in fair} == {
        "fairness.approval_ratio",
        "fairness.tpr_difference",
    }
    alerts = api.get("/api/v1/alerts", params={"monitor": "cr"}).json()
    assert all(a["status"] in ("sent", "pending") for a in alerts)
    r = api.post("/api/v1/alerts/deliver")  # queued for a worker
    assert r.status_code == 202 and r.json()["kind"] == "alert_deliver", r.text

    assert api.delete("/api/v1/monitors/cr").status_code == 204
    r = api.get("/api/v1/monitors/cr")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_errors_name_the_field_and_write_nothing(setup) -> None:
    api, ids, _ = setup
    r = api.post("/api/v1/outcomes", json=[{"request_id": "nope", "label": 1}])
    assert r.status_code == 422 and r.json()["field"] == "request_id"
    r = api.post(
        "/api/v1/outcomes",
        json=[{"request_id": ids[0], "label": 0}, {"request_id": ids[1], "label": 2}],
    )
    assert r.status_code == 422 and r.json()["field"] == "label"
    r = api.post("/api/v1/outcomes", json=[{"request_id": ids[0], "label": "x"}])
    assert r.status_code == 422 and r.json()["field"] == "0.label"
    api.post("/api/v1/outcomes", json=[{"request_id": ids[0], "label": 0}])
    r = api.post("/api/v1/outcomes", json=[{"request_id": ids[0], "label": 1}])
    assert r.status_code == 409
    r = api.post(
        "/api/v1/monitors",
        json={"name": "cr", "deployment": "credit-risk", "window": "last:0"},
    )
    assert r.status_code == 422 and r.json()["field"] == "window.n"
    r = api.post(
        "/api/v1/monitors",
        json={"name": "cr", "deployment": "credit-risk", "schedule": "sometimes"},
    )
    assert r.status_code == 422 and r.json()["field"] == "schedule"
    assert api.get("/api/v1/monitors").json() == []
    r = api.post("/api/v1/monitors/nope/run", json={})
    assert r.status_code == 404


def test_a_rest_run_never_waits_on_a_sink(setup, monkeypatch) -> None:
    """A webhook that accepts and never answers: the REST run returns without
    connecting to it; the queued alert_deliver job tries it with a bounded
    timeout; a viewer sees the attempt failed, not why."""
    from tests.conftest import make_user_token
    from tests.monitoring.test_webhook_safety import Listener

    from mlsteward.context import Context
    from mlsteward.identity.access import job_context
    from mlsteward.jobs.service import JobService
    from mlsteward.monitoring.jobs import deliver_job

    api, ids, labels = setup
    ctx = api.app.state.ctx
    silent = Listener()
    try:
        monkeypatch.setenv("MLSTEWARD_WEBHOOK_ALLOW", "127.0.0.1")
        body = [{"request_id": i, "label": y} for i, y in zip(ids, labels, strict=True)]
        assert api.post("/api/v1/outcomes", json=body).status_code == 200
        url = f"http://127.0.0.1:{silent.port}/hooks/s3cret"
        r = api.post(
            "/api/v1/monitors",
            json={
                "name": "cr",
                "deployment": "credit-risk",
                # An AUC far below a perfect baseline: an alert, surely.
                "checks": {"performance": {"baseline_auc": 1.0}},
                "alerting": {"sinks": [{"type": "webhook", "url": url}]},
            },
        )
        assert r.status_code == 201, r.text
        assert "s3cret" not in r.text
        r = api.post("/api/v1/monitors/cr/run", json={"start": JULY[0], "end": JULY[1]})
        assert r.status_code == 200, r.text
        alerts = r.json()["alerts"]
        assert alerts and {a["status"] for a in alerts} == {"pending"}
        assert silent.accepted == []  # the request never reached for the sink
        [job] = JobService(ctx).list(kind="alert_deliver")
        assert job.state == "queued"

        class Log:
            def __call__(self, message: str, level: str = "info") -> None:
                pass

            def check(self) -> None:
                pass

        settings = ctx.settings.model_copy(
            update={"webhook_allow": "127.0.0.1", "alert_webhook_timeout": 0.3}
        )
        worker_ctx = Context(ctx.store, ctx.artifacts, "worker", settings)
        # The worker runs the job as whoever queued it.
        out = deliver_job(job_context(worker_ctx, job.created_by), job.payload, Log())
        assert out["statuses"] == {"pending": len(alerts)}
        assert len(silent.accepted) >= 1

        viewer = make_user_token(ctx, "vic", "viewer")
        [seen] = api.get(
            "/api/v1/alerts", params={"monitor": "cr"}, headers=viewer
        ).json()[:1]
        assert seen["sink_attempts"] and all(
            set(a) == {"sink", "at", "ok"} for a in seen["sink_attempts"]
        )
        assert seen["sink_attempts"][0]["ok"] is False
        [full] = api.get("/api/v1/alerts", params={"monitor": "cr"}).json()[:1]
        assert "ReadTimeout" in full["sink_attempts"][0]["error"]
        assert "s3cret" not in str(full)
    finally:
        silent.close()
