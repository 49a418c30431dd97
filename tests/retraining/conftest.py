"""Shared set-up of the retraining tests: a champion on the simulated credit
history, with its later months scored, logged and labelled."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlsteward.datasets.bundled import (
    GERMAN_CREDIT_PROTECTED,
    german_credit_roles,
    load_german_credit,
)
from mlsteward.datasets.simulate import SimulatedHistory, make_periods
from mlsteward.retraining.trainers import logistic_scorecard


def champion_with_history(
    client: Any, n_periods: int, bands: dict[str, list[float]] | None = None
) -> SimulatedHistory:
    """Register ``german-credit-train`` and ``credit-risk/1`` (aliased
    champion), then score every simulated month under the deployment
    ``credit-risk`` with protected columns logged, and load its outcomes."""
    history = make_periods(load_german_credit(), n_periods=n_periods, seed=7)
    roles = german_credit_roles()
    features = [c for c, r in roles.items() if r == "feature"]
    train = history.train
    client.register_dataset(
        "german-credit-train",
        train.drop(columns="applied_at"),
        roles=roles,
        bands=bands,
    )
    model = logistic_scorecard(train, features=features, target="bad")
    v1 = client.register_model("credit-risk", model, train[features])
    client.set_alias("credit-risk", "champion", v1.version)
    for p in history.periods:
        frame = p.frame.reset_index(drop=True)
        ids = [f"{p.label}-{i}" for i in range(len(frame))]
        client.score(
            "credit-risk@champion",
            frame,
            deployment="credit-risk",
            request_ids=ids,
            timestamps=[t.to_pydatetime() for t in frame["applied_at"]],
            log_columns=[*GERMAN_CREDIT_PROTECTED, "application_id"],
        )
        client.load_outcomes(pd.DataFrame({"request_id": ids, "label": frame["bad"]}))
    return history
