"""``client.deployments``: every use case under the service's own names, and
a spec built once and passed as it is."""

from __future__ import annotations

from typing import Any

import pytest

from mlsteward.errors import InvalidInput
from mlsteward.serving.specs import CreateDeployment


@pytest.fixture
def c(sqlite_client: Any, credit: Any, trained: Any) -> Any:
    model, features = trained
    for _ in range(3):
        sqlite_client.register_model("credit-risk", model, credit[features].head(50))
    sqlite_client.set_alias("credit-risk", "champion", 1)
    return sqlite_client


def test_every_method_of_the_namespace(c: Any) -> None:
    ns = c.deployments
    spec = CreateDeployment(name="cr", model="credit-risk@champion", threshold=0.4)
    d = ns.create(spec)
    assert (d.name, d.champion_version, d.threshold) == ("cr", 1, 0.4)
    # Fields on top of a spec make a new, validated spec.
    d2 = ns.create(spec, name="cr2", pii_columns=["purpose"])
    assert (d2.threshold, d2.pii_columns) == (0.4, ["purpose"])
    assert [x.name for x in ns.list()] == ["cr", "cr2"]
    assert ns.set_canary("cr", "credit-risk/2", 0.2).canary_share == 0.2
    assert ns.clear_canary("cr").canary_version is None
    assert ns.add_shadow("cr", "credit-risk/3").shadow_versions == [3]
    assert ns.remove_shadow("cr", "credit-risk/3").shadow_versions == []
    assert ns.promote("cr", "credit-risk/2").champion_version == 2
    assert ns.rollback("cr").champion_version == 1
    assert ns.update("cr", threshold=0.45, sticky_field="purpose").sticky_field == (
        "purpose"
    )
    shown = ns.get("cr", with_history=True)
    assert shown.threshold == 0.45
    assert [h.action for h in shown.history][:2] == ["created", "canary_set"]
    assert ns.shadow_predictions(deployment="cr").empty
    # The flat methods of the first release give the same objects.
    assert c.get_deployment("cr") == ns.get("cr")


def test_namespace_refuses_bad_fields_by_name(c: Any) -> None:
    with pytest.raises(InvalidInput) as err:
        c.deployments.create(name="cr", model="credit-risk/1", treshold=0.3)
    assert err.value.field == "treshold"
    assert "threshold" in err.value.details["allowed"]
    assert c.deployments.list() == []
