"""The whole loop through real processes and the HTTP API.

serve -> log -> post outcomes -> drift injected -> alert -> retraining job
(run by a real worker process) -> challenger -> gates -> shadow -> approval by
a second user -> promotion -> traffic moves -> rollback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.serving.servers import HTTP, Server, wait_for

from mlsteward.config import Settings
from mlsteward.datasets.bundled import (
    GERMAN_CREDIT_PROTECTED,
    german_credit_roles,
    load_german_credit,
)
from mlsteward.datasets.simulate import make_periods
from mlsteward.retraining.trainers import logistic_scorecard
from mlsteward.sdk import Client

pytestmark = pytest.mark.slow


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_closed_loop_with_real_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    history = make_periods(load_german_credit(), n_periods=3, seed=7)
    roles = german_credit_roles()
    features = [c for c, r in roles.items() if r == "feature"]
    train = history.train.drop(columns="applied_at")

    # The data scientist's part, through the SDK.
    client = Client(Settings(home=home, actor="dana"))
    root = client.create_user("root", "admin")  # the bootstrap admin
    assert root.role == "admin"
    root_token = client.create_token("root")  # its first token, made without one
    client.login(root_token)  # from now on every change needs a token
    client.create_user("dana", "developer")
    client.create_user("alex", "approver")
    dana_token = client.create_token("dana")
    dana = _bearer(dana_token)
    alex = _bearer(client.create_token("alex"))
    admin = _bearer(root_token)
    client.login(dana_token)  # the data scientist's part is dana's
    dv = client.register_dataset("german-credit-train", train, roles=roles)
    run = client.start_run("champion", inputs=[dv.ref])
    v1 = client.register_model(
        "credit-risk",
        logistic_scorecard(train, features=features, target="bad"),
        train[features],
        run_id=run.id,
    )
    client.end_run(run.id)
    client.set_alias("credit-risk", "champion", v1.version)
    client.close()

    server = Server(home, ["server"], MLSTEWARD_AUTH_REQUIRED="true").start()
    api = f"{server.url}/api/v1"
    try:
        # Deploy, monitor and set the policy over REST.
        r = HTTP.post(
            f"{api}/deployments",
            headers=dana,
            json={
                "name": "credit-risk",
                "model": "credit-risk@champion",
                "log_columns": [*GERMAN_CREDIT_PROTECTED, "application_id"],
            },
        )
        assert r.status_code == 201, r.text
        r = HTTP.post(
            f"{api}/monitors",
            headers=dana,
            json={
                "name": "credit-risk",
                "deployment": "credit-risk",
                "model": "credit-risk",
                "window": "last:2000",
                "alerting": {"sinks": [{"type": "retrain", "min_severity": "warning"}]},
            },
        )
        assert r.status_code == 201, r.text
        policy = {
            "triggers": {
                "monitors": ["credit-risk"],
                "checks": ["drift"],
                "cooldown": "1d",
            },
            "data": {"reference": "german-credit-train", "window": "30d"},
            "gates": {
                "auc_max_drop": 1.0,
                "four_fifths_min": None,
                "score_psi_max": None,
            },
            "promotion": {"mode": "shadow"},
        }
        assert (
            HTTP.put(
                f"{api}/policies/credit-risk", headers=dana, json=policy
            ).status_code
            == 403
        )
        r = HTTP.put(f"{api}/policies/credit-risk", headers=admin, json=policy)
        assert r.status_code == 200, r.text
        server.wait_served("credit-risk")

        # Serve the shifted months and log every answer.
        ids: list[str] = []
        labels: list[int] = []
        for period in history.periods:
            frame = period.frame
            body = frame[
                [*features, *GERMAN_CREDIT_PROTECTED, "application_id"]
            ].to_dict(orient="records")
            r = HTTP.post(f"{server.url}/predict/credit-risk", headers=dana, json=body)
            assert r.status_code == 200, r.text
            answers = r.json()["predictions"]
            assert {a["version"] for a in answers} == {1}
            ids += [a["request_id"] for a in answers]
            labels += frame["bad"].astype(int).tolist()

        def logged() -> bool:
            r = HTTP.get(
                f"{api}/predictions",
                headers=dana,
                params={"deployment": "credit-risk", "limit": 5000},
            )
            return r.status_code == 200 and len(r.json()) >= len(ids)

        wait_for(logged, what="answers to reach the prediction log")

        # Outcomes arrive; the monitor runs; drift alerts queue a retraining.
        r = HTTP.post(
            f"{api}/outcomes",
            headers=dana,
            json=[
                {"request_id": i, "label": y} for i, y in zip(ids, labels, strict=True)
            ],
        )
        assert r.status_code == 200, r.text
        r = HTTP.post(f"{api}/monitors/credit-risk/run", headers=dana, json={})
        assert r.status_code == 200, r.text
        alerts = HTTP.get(
            f"{api}/alerts", headers=dana, params={"monitor": "credit-risk"}
        ).json()
        assert any(a["check"].startswith("drift") for a in alerts)

        # A real worker process delivers the alerts (the REST run queued
        # that, never waiting on a sink), whose retrain sink queues the
        # retraining; a second pass claims and runs it.
        env = {**os.environ, "MLSTEWARD_HOME": str(home)}
        for _ in range(2):
            worker = subprocess.run(
                [sys.executable, "-m", "mlsteward", "worker", "--once", "--json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert worker.returncode == 0, worker.stderr
        retrainings = HTTP.get(f"{api}/retrainings", headers=dana).json()
        assert len(retrainings) == 1
        rt = retrainings[0]
        assert rt["decision"] == "awaiting_approval", rt
        assert all(g["passed"] for g in rt["gates"])
        challenger = int(rt["challenger"].split("/")[1])

        # Shadow: the challenger is mirrored, its outputs logged, never returned.
        dep = HTTP.get(f"{api}/deployments/credit-risk", headers=dana).json()
        assert challenger in dep["shadow_versions"]
        server.wait_served("credit-risk", dep["revision"])
        one = history.periods[-1].frame[features].iloc[0].to_dict()
        r = HTTP.post(f"{server.url}/predict/credit-risk", headers=dana, json=one)
        assert r.status_code == 200 and r.json()["version"] == 1

        # A second person approves; the developer may not.
        pending = HTTP.get(
            f"{api}/approvals", headers=alex, params={"status": "pending"}
        ).json()
        [request] = pending
        assert request["evidence"]["gates"] == rt["gates"]
        assert (
            HTTP.post(
                f"{api}/approvals/{request['id']}/approve", headers=dana, json={}
            ).status_code
            == 403
        )
        r = HTTP.post(
            f"{api}/approvals/{request['id']}/approve",
            headers=alex,
            json={"comment": "shadow looked fine"},
        )
        assert r.status_code == 200, r.text

        # Traffic moves to the new champion on the running server.
        def answered_by(version: int) -> bool:
            r = HTTP.post(f"{server.url}/predict/credit-risk", headers=dana, json=one)
            return r.status_code == 200 and r.json()["version"] == version

        wait_for(lambda: answered_by(challenger), what="the promotion to reach serving")

        # Rollback restores the previous champion in one step: an approver's
        # act, and on a governed model the champion alias moves back with it.
        r = HTTP.post(f"{api}/deployments/credit-risk/rollback", headers=dana, json={})
        assert r.status_code == 403, r.text
        r = HTTP.post(f"{api}/deployments/credit-risk/rollback", headers=alex, json={})
        assert r.status_code == 200, r.text
        wait_for(lambda: answered_by(1), what="the rollback to reach serving")
        champion = HTTP.get(
            f"{api}/model-versions/credit-risk@champion", headers=alex
        ).json()
        assert champion["version"] == 1

        audit = HTTP.get(f"{api}/audit/verify", headers=alex).json()
        assert audit["ok"] is True
        actions = [
            e["action"]
            for e in HTTP.get(
                f"{api}/audit", headers=alex, params={"limit": 5000}
            ).json()
        ]
        for expected in (
            "deployment.created",
            "monitor.created",
            "policy.changed",
            "retraining.finished",
            "approval.requested",
            "approval.approved",
            "alias.set",
        ):
            assert expected in actions, expected
    finally:
        server.stop()
