"""Deployment use cases: routes, promotion, rollback, audit (SQLite and
PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from mlsteward.errors import Conflict, InvalidInput, NotFound


@pytest.fixture
def versions(client: Any, credit: Any, trained: Any) -> Any:
    """credit-risk versions 1-3 (the same scorecard: routes are what matters)."""
    model, features = trained
    for _ in range(3):
        client.register_model("credit-risk", model, credit[features].head(50))
    client.set_alias("credit-risk", "champion", 1)
    return client


def test_routes_promote_and_rollback(versions: Any) -> None:
    c = versions
    d = c.create_deployment("credit-risk", "credit-risk@champion", threshold=0.4)
    assert (d.champion_version, d.revision, d.threshold) == (1, 1, 0.4)
    d = c.set_canary("credit-risk", "credit-risk/2", 0.25, sticky_field="purpose")
    assert (d.canary_version, d.canary_share, d.sticky_field) == (2, 0.25, "purpose")
    d = c.add_shadow("credit-risk", "credit-risk/3")
    assert d.shadow_versions == [3] and d.versions() == [1, 2, 3]
    d = c.promote_deployment("credit-risk")  # the canary
    assert (d.champion_version, d.canary_version, d.previous_champions) == (
        2,
        None,
        [1],
    )
    d = c.promote_deployment("credit-risk", "3")  # a bare version number
    assert (d.champion_version, d.shadow_versions, d.previous_champions) == (
        3,
        [],
        [1, 2],
    )
    d = c.rollback_deployment("credit-risk")
    assert (d.champion_version, d.previous_champions) == (2, [1])
    d = c.rollback_deployment("credit-risk")
    assert (d.champion_version, d.previous_champions) == (1, [])
    with pytest.raises(Conflict, match="no previous champion"):
        c.rollback_deployment("credit-risk")
    shown = c.get_deployment("credit-risk", with_history=True)
    assert [h.action for h in shown.history] == [
        "created",
        "canary_set",
        "shadow_added",
        "promoted",
        "promoted",
        "rolled_back",
        "rolled_back",
    ]
    assert shown.revision == 7
    events = [
        e for e in c.audit_log(object_id="credit-risk") if e.object_type == "deployment"
    ]
    assert [e.action for e in events][-1] == "deployment.rolled_back"
    assert events[-1].details["routes"]["champion"] == 1
    assert c.verify_audit().problems == []


def test_bad_changes_are_refused_by_name(versions: Any) -> None:
    c = versions
    c.create_deployment("credit-risk", "credit-risk/1")
    with pytest.raises(Conflict, match="already exists"):
        c.create_deployment("credit-risk", "credit-risk/2")
    with pytest.raises(InvalidInput) as err:
        c.set_canary("credit-risk", "credit-risk/2", 1.5)
    assert err.value.field == "share"
    with pytest.raises(InvalidInput) as err:
        c.create_deployment("other", "credit-risk/1", threshold=1)
    assert err.value.field == "threshold"
    with pytest.raises(InvalidInput) as err:
        c.create_deployment("other", "credit-risk/1", unseen_policy="ignore")
    assert err.value.field == "unseen_policy"
    with pytest.raises(InvalidInput) as err:
        c.create_deployment("other", "credit-risk/1", pii_columns=["name"])
    assert err.value.field == "pii_columns"
    with pytest.raises(Conflict, match="already the champion"):
        c.set_canary("credit-risk", "credit-risk/1", 0.1)
    with pytest.raises(NotFound, match="deployments: \\['credit-risk'\\]"):
        c.get_deployment("nope")
    with pytest.raises(NotFound):
        c.remove_shadow("credit-risk", "credit-risk/2")
    with pytest.raises(Conflict, match="no canary to promote"):
        c.promote_deployment("credit-risk")
    c.transition("credit-risk/3", "rejected")
    with pytest.raises(Conflict, match="rejected"):
        c.add_shadow("credit-risk", "credit-risk/3")
    assert c.get_deployment("credit-risk").revision == 1  # nothing was written


def test_a_version_with_other_inputs_cannot_join(
    sqlite_client: Any, credit: Any, trained: Any
) -> None:
    from mlsteward.retraining.trainers import logistic_scorecard

    c = sqlite_client
    model, features = trained
    c.register_model("credit-risk", model, credit[features].head(50))
    wider = [*features, "age_in_years"]
    model = logistic_scorecard(credit, features=wider, target="bad")
    c.register_model("credit-risk", model, credit[wider].head(50))
    c.create_deployment("credit-risk", "credit-risk/1")
    with pytest.raises(Conflict) as err:
        c.set_canary("credit-risk", "credit-risk/2", 0.1)
    assert err.value.field == "age_in_years"


def test_retraining_hooks_move_every_deployment_of_the_model(versions: Any) -> None:
    from mlsteward.serving.deployments import DeploymentService

    c = versions
    c.create_deployment("a", "credit-risk/1")
    c.create_deployment("b", "credit-risk/1")
    svc = DeploymentService(c.ctx)
    svc.on_challenger("credit-risk", 2, mode="shadow")
    assert [d.shadow_versions for d in c.list_deployments()] == [[2], [2]]
    svc.on_withdrawn("credit-risk", 2)
    assert [d.shadow_versions for d in c.list_deployments()] == [[], []]
    svc.on_promoted("credit-risk", 3)
    assert [d.champion_version for d in c.list_deployments()] == [3, 3]
