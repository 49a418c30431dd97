"""Fixtures of the serving tests: a home with three versions of a credit
model, and a real ``mlsteward server`` process on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.serving.servers import FEATURE_EXTRA, Server

from mlsteward.config import Settings


@pytest.fixture(scope="session")
def serving_home(
    tmp_path_factory: pytest.TempPathFactory, credit: Any, trained: Any
) -> Path:
    """A home with credit-risk versions 1-3 (all logistic scorecards)."""
    from mlsteward.retraining.trainers import logistic_scorecard
    from mlsteward.sdk import Client

    home = tmp_path_factory.mktemp("serving") / "home"
    c = Client(Settings(home=home, actor="tester", auth_required=False))
    model, features = trained
    c.register_model("credit-risk", model, credit[features])
    for C, rows in ((0.05, slice(300, None)), (0.01, slice(0, 500))):
        other = logistic_scorecard(
            credit.iloc[rows], features=features, target="bad", params={"C": C}
        )
        c.register_model("credit-risk", other, credit[features])
    c.set_alias("credit-risk", "champion", 1)
    c.close()
    return home


@pytest.fixture(scope="session")
def home_client(serving_home: Path) -> Iterator[Any]:
    from mlsteward.sdk import Client

    c = Client(Settings(home=serving_home, actor="tester", auth_required=False))
    yield c
    c.close()


@pytest.fixture(scope="session")
def server(serving_home: Path, home_client: Any) -> Iterator[Server]:
    """``mlsteward server``: control plane plus every deployment."""
    home_client.create_deployment(
        "credit-risk",
        "credit-risk@champion",
        log_columns=FEATURE_EXTRA,
        pii_columns=["application_id"],
    )
    srv = Server(serving_home, ["server"]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def records(credit: Any, trained: Any) -> list[dict[str, Any]]:
    """Request records: the model's inputs plus age and application id."""
    _, features = trained
    return credit[[*features, *FEATURE_EXTRA]].to_dict(orient="records")  # type: ignore[no-any-return]
