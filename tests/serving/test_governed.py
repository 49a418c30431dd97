"""What serves is what was approved: the attacks of a developer on a governed
model, refused in the service, whichever adapter calls it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.conftest import as_user, make_user

from mlsteward.api import create_app
from mlsteward.errors import Forbidden, PolicyViolation
from mlsteward.registry.service import ModelRegistry
from mlsteward.registry.specs import SetAlias, Transition
from mlsteward.serving.deployments import DeploymentService
from mlsteward.serving.specs import CreateDeployment, SetCanary


@pytest.fixture
def bank(sqlite_client, credit, trained):  # type: ignore[no-untyped-def]
    """credit-risk/1 champion and deployed, /2 and /3 registered; governed
    with a 10 % canary cap; root, dana (developer), alex (approver)."""
    model, features = trained
    for _ in range(3):
        sqlite_client.register_model("credit-risk", model, credit[features])
    sqlite_client.set_alias("credit-risk", "champion", 1)
    sqlite_client.create_deployment("credit-risk", "credit-risk@champion")
    make_user(sqlite_client.ctx, "root", "admin")
    dana_token = make_user(sqlite_client.ctx, "dana", "developer")
    make_user(sqlite_client.ctx, "alex", "approver")
    ModelRegistry(as_user(sqlite_client.ctx, "root")).govern(
        "credit-risk", canary_share=0.1
    )
    return sqlite_client, dana_token


def test_a_developer_cannot_decide_what_serves(bank) -> None:
    client, _ = bank
    dana = as_user(client.ctx, "dana")
    reg, svc = ModelRegistry(dana), DeploymentService(dana)
    with pytest.raises(PolicyViolation, match="governed"):
        reg.set_alias("credit-risk", SetAlias(alias="champion", version=2))
    with pytest.raises(PolicyViolation, match="governed"):
        reg.transition("credit-risk/2", Transition(state="approved"))
    with pytest.raises(PolicyViolation, match="gates"):  # never judged
        svc.set_canary("credit-risk", SetCanary(model="credit-risk/2", share=1.0))
    with pytest.raises(Forbidden):  # approvers only, and only to the champion
        svc.promote("credit-risk", "credit-risk/3")
    with pytest.raises(PolicyViolation, match="champion"):
        svc.create(CreateDeployment(name="other", model="credit-risk/2"))
    assert client.get_model_version("credit-risk@champion").version == 1
    assert client.get_model_version("credit-risk/2").state == "registered"
    assert svc.get("credit-risk").champion_version == 1


def test_even_an_approver_promotes_only_through_a_request(bank) -> None:
    client, _ = bank
    alex = as_user(client.ctx, "alex")
    with pytest.raises(PolicyViolation, match="approval request"):
        DeploymentService(alex).promote("credit-risk", "credit-risk/3")


def test_a_canary_above_the_cap_needs_an_approver(bank) -> None:
    client, _ = bank
    root = as_user(client.ctx, "root")
    ModelRegistry(root).record_gates("credit-risk/2", True)
    dana = DeploymentService(as_user(client.ctx, "dana"))
    d = dana.set_canary("credit-risk", SetCanary(model="credit-risk/2", share=0.1))
    assert d.canary_version == 2 and d.canary_share == 0.1
    with pytest.raises(Forbidden, match="approver"):
        dana.set_canary("credit-risk", SetCanary(model="credit-risk/2", share=1.0))
    alex = DeploymentService(as_user(client.ctx, "alex"))
    assert (
        alex.set_canary("credit-risk", SetCanary(model="credit-risk/2", share=0.5))
    ).canary_share == 0.5


def test_an_approved_request_moves_alias_state_and_traffic_together(bank) -> None:
    from mlsteward.retraining.approvals import ApprovalService
    from mlsteward.retraining.specs import Decide, RequestApproval

    client, _ = bank
    root = as_user(client.ctx, "root")
    ModelRegistry(root).record_gates("credit-risk/2", True)
    DeploymentService(as_user(client.ctx, "alex")).set_canary(
        "credit-risk", SetCanary(model="credit-risk/2", share=1.0)
    )
    req = ApprovalService(as_user(client.ctx, "dana")).request(
        RequestApproval(ref="credit-risk/3")
    )
    ApprovalService(as_user(client.ctx, "alex")).approve(req.id, Decide(comment="ok"))
    assert client.get_model_version("credit-risk@champion").version == 3
    assert client.get_model_version("credit-risk/3").state == "approved"
    d = DeploymentService(client.ctx).get("credit-risk")
    # The 100 % canary of another version ended: the approved champion serves.
    assert d.champion_version == 3 and d.canary_version is None


def test_the_same_refusals_over_rest(bank) -> None:
    client, dana_token = bank
    api = TestClient(
        create_app(ctx=client.ctx), headers={"Authorization": f"Bearer {dana_token}"}
    )
    r = api.put("/api/v1/models/credit-risk/aliases/champion", json={"version": 2})
    assert r.status_code == 409 and "governed" in r.json()["detail"]
    r = api.put(
        "/api/v1/deployments/credit-risk/canary",
        json={"model": "credit-risk/2", "share": 1.0},
    )
    assert r.status_code == 409, r.text
    r = api.post(
        "/api/v1/model-versions/credit-risk/2/transition", json={"state": "approved"}
    )
    assert r.status_code == 409, r.text
    r = api.post(
        "/api/v1/deployments/credit-risk/promote", json={"model": "credit-risk/3"}
    )
    assert r.status_code == 403, r.text


def test_the_same_refusals_through_the_remote_client(bank) -> None:
    import mlsteward
    from mlsteward.sdk import Client as Embedded

    client, dana_token = bank
    http = TestClient(create_app(ctx=client.ctx))
    for dana in (
        Embedded(client.ctx.settings, token=dana_token),
        mlsteward.Client("http://testserver", token=dana_token, http=http),
    ):
        with pytest.raises(PolicyViolation, match="governed"):
            dana.models.set_alias("credit-risk", alias="champion", version=2)
        with pytest.raises(PolicyViolation, match="governed"):
            dana.models.transition("credit-risk/2", state="approved")
        with pytest.raises(PolicyViolation, match="gates"):
            dana.deployments.set_canary("credit-risk", model="credit-risk/2", share=1.0)
        with pytest.raises(Forbidden, match="approver"):
            dana.deployments.promote("credit-risk", "credit-risk/3")
        with pytest.raises(PolicyViolation, match="champion"):
            dana.deployments.create(name="other", model="credit-risk/2")
    assert client.get_model_version("credit-risk@champion").version == 1
