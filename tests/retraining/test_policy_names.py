"""A policy that names what does not exist is refused when it is set."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import as_user, make_user
from tests.retraining.conftest import champion_with_history

from mlsteward.errors import InvalidInput
from mlsteward.retraining.policy import Policy, as_policy
from mlsteward.retraining.service import RetrainingService

TRAIN = "german-credit-train"


@pytest.fixture
def admin(client):  # type: ignore[no-untyped-def]
    champion_with_history(client, n_periods=1)
    make_user(client.ctx, "root", "admin")
    return RetrainingService(as_user(client.ctx, "root"))


def _policy(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "model": "credit-risk",
        "data": {"reference": "german-credit-train"},
    }
    for key, value in over.items():
        section, _, name = key.partition("__")
        if name:
            doc.setdefault(section, {})[name] = value
        else:
            doc[section] = value
    return doc


@pytest.mark.parametrize(
    ("over", "field", "listed"),
    [
        ({"data__reference": "german-credit-trian"}, "data.reference", TRAIN),
        ({"data__reference": "german-credit-train/9"}, "data.reference", TRAIN),
        ({"triggers__monitors": ["credit-risk-monitor"]}, "triggers.monitors", None),
        ({"target": "default_flag"}, "target", "bad"),
    ],
)
def test_unknown_names_are_refused_listing_what_exists(
    admin: RetrainingService, over: dict[str, Any], field: str, listed: str | None
) -> None:
    with pytest.raises(InvalidInput) as info:
        admin.set_policy(as_policy(_policy(**over)))
    assert info.value.field == field
    assert field in info.value.message
    if listed is not None:
        assert listed in info.value.details["allowed"]
    # Nothing was written: the model has no policy and is not governed.
    with pytest.raises(Exception, match="no retraining policy"):
        admin.get_policy("credit-risk")


def test_a_trigger_may_name_a_monitor_the_policy_declares(
    admin: RetrainingService,
) -> None:
    doc = _policy(triggers__monitors=["credit-risk-monthly"])
    doc["monitors"] = [
        {
            "name": "credit-risk-monthly",
            "window": "period:month",
            "reference": "german-credit-train",
        }
    ]
    assert admin.set_policy(as_policy(doc)).triggers.monitors == ["credit-risk-monthly"]
    # Now the monitor exists, a second policy may name it without declaring it.
    again = admin.set_policy(
        as_policy(_policy(triggers__monitors=["credit-risk-monthly"]))
    )
    assert again.triggers.monitors == ["credit-risk-monthly"]


def test_the_server_checks_the_trainer_too(admin: RetrainingService) -> None:
    # Built past parse_policy (as a client with other plug-ins could send it).
    policy = Policy.model_validate(_policy(trainer={"name": "gbm_from_my_laptop"}))
    with pytest.raises(InvalidInput) as info:
        admin.set_policy(policy)
    assert info.value.field == "trainer.name"
    assert "logistic_scorecard" in info.value.details["allowed"]
