"""Built-in trainers and trainer resolution by name (never by import string)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlsteward.datasets.bundled import GERMAN_CREDIT_FEATURES, load_german_credit
from mlsteward.errors import InvalidInput
from mlsteward.retraining.trainers import (
    TRAINER_TABLE,
    TRAINERS,
    gradient_boosting,
    logistic_scorecard,
    resolve_trainer,
)

FEATURES = list(GERMAN_CREDIT_FEATURES)
# Fewer boosting rounds than the default keep the tests fast.
QUICK = {"logistic_scorecard": None, "gradient_boosting": {"max_iter": 40}}


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return load_german_credit()


@pytest.mark.parametrize("name", ["logistic_scorecard", "gradient_boosting"])
def test_fit_and_predict_probabilities(credit: pd.DataFrame, name: str) -> None:
    train, test = credit.iloc[:700], credit.iloc[700:]
    trainer = resolve_trainer(name)
    model = trainer(train, features=FEATURES, target="bad", params=QUICK[name])
    proba = model.predict_proba(test[FEATURES])
    assert proba.shape == (300, 2)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(model.classes_) == [0, 1]
    assert roc_auc_score(test["bad"], proba[:, 1]) > 0.7
    # Deterministic: the same data gives the same model.
    again = trainer(train, features=FEATURES, target="bad", params=QUICK[name])
    np.testing.assert_array_equal(again.predict_proba(test[FEATURES]), proba)


@pytest.mark.parametrize("name", ["logistic_scorecard", "gradient_boosting"])
def test_str_bool_nullable_columns_missing_and_unseen_values(name: str) -> None:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "city": pd.Series(rng.choice(["a", "b", "c"], n), dtype="str"),
            "flag": rng.random(n) < 0.5,
            "opt": pd.Series(rng.random(n) < 0.3, dtype="boolean"),
            "kind": pd.Series(rng.choice(["x", "y"], n), dtype="category"),
            "count": pd.Series(rng.integers(0, 5, n), dtype="Int64"),
            "amount": rng.normal(size=n),
        }
    )
    frame.loc[:9, "city"] = None
    frame.loc[5:14, "count"] = pd.NA
    frame.loc[10:19, "amount"] = np.nan
    frame.loc[20:24, "opt"] = pd.NA
    frame["y"] = (frame["amount"].fillna(0) + (frame["city"] == "a") > 0.5).astype(int)
    features = ["city", "flag", "opt", "kind", "count", "amount"]
    trainer = resolve_trainer(name)
    model = trainer(frame, features=features, target="y", params=QUICK[name])
    new = pd.DataFrame(
        {
            "city": pd.Series(["zz", None, "a"], dtype="str"),
            "flag": [True, False, True],
            "opt": pd.Series([pd.NA, True, False], dtype="boolean"),
            "kind": pd.Series(["x", "unseen", "y"], dtype="category"),
            "count": pd.Series([pd.NA, 1, 99], dtype="Int64"),
            "amount": [np.nan, 0.0, 3.0],
        }
    )
    proba = model.predict_proba(new)[:, 1]
    assert proba.shape == (3,)
    assert np.isfinite(proba).all() and ((proba >= 0) & (proba <= 1)).all()


@pytest.mark.parametrize("name", ["logistic_scorecard", "gradient_boosting"])
def test_pipelines_hold_only_trusted_types(credit: pd.DataFrame, name: str) -> None:
    sio = pytest.importorskip("skops.io")
    model = resolve_trainer(name)(
        credit.iloc[:300], features=FEATURES, target="bad", params=QUICK[name]
    )
    untrusted = set(sio.get_untrusted_types(data=sio.dumps(model)))
    assert untrusted <= {
        "numpy.dtype",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
    assert not any("FunctionTransformer" in t or "partial" in t for t in untrusted)


def test_params_are_applied_and_checked(credit: pd.DataFrame) -> None:
    small = credit.iloc[:200]
    model = logistic_scorecard(
        small, features=FEATURES, target="bad", params={"C": 0.1}
    )
    assert model.named_steps["model"].C == 0.1
    boosted = gradient_boosting(
        small, features=FEATURES, target="bad", params={"max_iter": 5}
    )
    assert boosted.named_steps["model"].max_iter == 5
    with pytest.raises(InvalidInput) as info:
        logistic_scorecard(small, features=FEATURES, target="bad", params={"alpha": 1})
    assert info.value.field == "params"
    assert "alpha" in info.value.message and "'C'" in info.value.message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"features": ["nope"], "target": "bad"}, "features"),
        ({"features": [], "target": "bad"}, "features"),
        ({"features": "purpose", "target": "bad"}, "features"),
        ({"features": ["purpose", "purpose"], "target": "bad"}, "features"),
        ({"features": ["purpose"], "target": "nope"}, "target"),
        ({"features": ["purpose", "bad"], "target": "bad"}, "features"),
    ],
)
def test_bad_inputs(credit: pd.DataFrame, kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        logistic_scorecard(credit, **kwargs)
    assert info.value.field == field


def test_target_needs_two_classes_and_no_gaps(credit: pd.DataFrame) -> None:
    good = credit[credit["bad"] == 0]
    with pytest.raises(InvalidInput, match="two classes"):
        gradient_boosting(good, features=FEATURES, target="bad")
    gappy = credit.assign(bad=credit["bad"].astype("Float64"))
    gappy.loc[0, "bad"] = pd.NA
    with pytest.raises(InvalidInput, match="missing"):
        logistic_scorecard(gappy, features=FEATURES, target="bad")


def test_resolve_builtins() -> None:
    assert resolve_trainer("logistic_scorecard") is logistic_scorecard
    assert resolve_trainer("gradient_boosting") is gradient_boosting
    assert set(TRAINERS) == {"logistic_scorecard", "gradient_boosting"}


PLUGIN_SOURCE = """
from mlsteward.retraining.trainers import logistic_scorecard

NOT_CALLABLE = 42


def fit(frame, *, features, target, params=None):
    return logistic_scorecard(
        frame, features=features, target=target, params={"C": 0.5}
    )


class Holder:
    @staticmethod
    def fit(frame, *, features, target, params=None):
        return fit(frame, features=features, target=target)
"""


@pytest.fixture
def plugin(install_plugin: Any) -> Iterator[str]:
    """A package declaring trainers in ``mlsteward.trainers``; its module name."""
    name = f"custom_trainers_{uuid.uuid4().hex[:8]}"
    install_plugin(
        {
            "mlsteward.trainers": {
                "custom": f"{name}:fit",
                "held": f"{name}:Holder.fit",
                "not_callable": f"{name}:NOT_CALLABLE",
                "missing": f"{name}:missing",
                "logistic_scorecard": f"{name}:fit",  # cannot replace a built-in
            }
        },
        {name: PLUGIN_SOURCE},
    )
    yield name


def test_resolve_entry_point_plugins(plugin: str, credit: pd.DataFrame) -> None:
    assert {"custom", "held"} <= set(TRAINER_TABLE.available())
    trainer = resolve_trainer("custom")
    model = trainer(credit.iloc[:200], features=FEATURES, target="bad")
    assert model.named_steps["model"].C == 0.5
    assert callable(resolve_trainer("held"))
    assert resolve_trainer("logistic_scorecard") is logistic_scorecard
    for broken in ("not_callable", "missing"):
        with pytest.raises(InvalidInput, match=f"{plugin}:") as info:
            resolve_trainer(broken)
        assert info.value.field == "trainer"


@pytest.mark.parametrize(
    "value",
    [
        "random_forest",
        "",
        "no_such_module_for_mlsteward_tests:fit",
        "{plugin}:fit",
        "{plugin}:Holder.fit",
        "{plugin}:",
        ":fit",
        "{plugin}:fit:extra",
    ],
)
def test_resolve_rejects_unknown_names_and_import_strings(
    plugin: str, value: str
) -> None:
    value = value.format(plugin=plugin)
    with pytest.raises(InvalidInput) as info:
        resolve_trainer(value)
    error = info.value
    assert error.field == "trainer"
    assert repr(value) in error.message
    for name in ("logistic_scorecard", "gradient_boosting", "custom"):
        assert repr(name) in error.message
        assert name in error.details["allowed"]
    assert 'entry-points."mlsteward.trainers"' in error.message
    if ":" in value:
        assert "import string" in error.message
        assert plugin not in sys.modules  # refused before anything is imported


def test_a_policy_naming_an_import_string_is_refused() -> None:
    from mlsteward.retraining.policy import parse_policy

    with pytest.raises(InvalidInput) as info:
        parse_policy(
            {
                "model": "m",
                "data": {"reference": "german-credit-train", "window": "3650d"},
                "trainer": {"name": "os:system"},
            }
        )
    assert info.value.field == "trainer.name"
    assert "import string" in info.value.message
    assert "logistic_scorecard" in info.value.details["allowed"]
