"""One contract, run over every flavor in ``mlsteward.flavors.FLAVORS``.

The generic rules are the public :func:`mlsteward.plugin_checks.check_flavor`
(one test per rule of :data:`~mlsteward.plugin_checks.FLAVOR_CHECKS`); the
rest are what only the built-ins promise (conversion parity, corrupt trees,
string dtypes, lazy imports).

Each flavor gets at least one realistic credit model fitted on a small frame
with numeric, object, pandas ``str`` and categorical columns; every test
below must hold for every case.
"""

from __future__ import annotations

import copy
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

import mlsteward.flavors as flavors
from mlsteward.errors import InvalidInput, UnsafeArtifact
from mlsteward.flavors import FLAVORS, Flavor, flavor_for, get_flavor
from mlsteward.plugin_checks import FLAVOR_CHECKS, FlavorCheck

SRC = Path(__file__).resolve().parents[2] / "src"
NUMERIC = ["income", "age", "utilization"]
CATEGORICAL = ["purpose", "region"]
CATEGORIES = {
    "purpose": pd.CategoricalDtype(["car", "home", "education", "other"]),
    "region": pd.CategoricalDtype(["north", "south", "east", "west"]),
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """These models are tiny; one OpenMP thread avoids spin-waiting on a busy
    machine (HistGradientBoosting took 25 s instead of 0.1 s under load)."""
    importlib.import_module("sklearn")  # loads the OpenMP runtime to limit
    with threadpool_limits(limits=1):
        yield


def make_frame(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Applicants with object and pandas ``str`` string columns, and labels."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "income": rng.lognormal(10.5, 0.4, n),
            "age": rng.integers(18, 75, n).astype(float),
            "utilization": rng.uniform(0, 1, n),
            "purpose": pd.Series(
                rng.choice(CATEGORIES["purpose"].categories, n), dtype=object
            ),
            "region": pd.Series(
                rng.choice(CATEGORIES["region"].categories, n), dtype="str"
            ),
        }
    )
    logit = (
        -1.0
        + 2.5 * X["utilization"]
        - 0.03 * (X["age"] - 45)
        + 0.8 * (X["purpose"] == "car")
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y.to_numpy()


def as_categorical(X: pd.DataFrame) -> pd.DataFrame:
    """The frame with string columns as pandas categoricals (fixed categories)."""
    return X.astype(CATEGORIES)


def as_strings(X: pd.DataFrame, dtype: str) -> pd.DataFrame:
    """The frame with categorical-feature columns as ``dtype`` strings."""
    return X.astype({c: dtype for c in CATEGORICAL})


def logreg_pipeline() -> object:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("num", StandardScaler(), NUMERIC),
        ]
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))])


def hist_gradient_boosting() -> object:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=30, categorical_features="from_dtype", random_state=0
    )


def lgbm_classifier() -> object:
    import lightgbm

    return lightgbm.LGBMClassifier(
        n_estimators=30, num_leaves=7, min_child_samples=10, n_jobs=1, verbose=-1
    )


def to_onnx(model: object, X: pd.DataFrame) -> object:
    """The fitted model as an ``onnx.ModelProto`` (parity-checked on ``X``)."""
    import onnx

    from mlsteward.flavors.onnx.flavor import convert_sklearn

    return onnx.load_from_string(convert_sklearn(model, X))


def corrupt_hist_gradient_boosting(model: object) -> bytes:
    """skops bytes of ``model`` with a tree child index far out of range."""
    import skops.io

    broken = copy.deepcopy(model)
    broken._predictors[0][0].nodes["left"][0] = 10**6  # type: ignore[attr-defined]
    return skops.io.dumps(broken)


def corrupt_lightgbm(model: object) -> bytes:
    """Model text whose first child index points far outside its tree.

    ``tree_sizes`` is recomputed so that only the index is wrong; LightGBM
    itself would load this and then segfault (or loop) at prediction time.
    """
    text = model.booster_.model_to_string()  # type: ignore[attr-defined]
    text = re.sub(r"left_child=\S+", "left_child=99999", text, count=1)
    starts = [m.start() for m in re.finditer(r"^Tree=\d+$", text, re.MULTILINE)]
    ends = [*starts[1:], text.index("\nend of trees\n") + 1]
    sizes = " ".join(str(b - a) for a, b in zip(starts, ends, strict=True))
    return re.sub(r"tree_sizes=.*", f"tree_sizes={sizes}", text, count=1).encode()


@dataclass(frozen=True)
class Case:
    id: str
    flavor: str
    build: Callable[[], object]
    prepare: Callable[[pd.DataFrame], pd.DataFrame]
    corrupt: Callable[[object], bytes] | None = None
    #: Turns the fitted source model into what the flavor saves (given the
    #: training frame); None when the flavor saves the source model itself.
    convert: Callable[[object, pd.DataFrame], object] | None = None
    #: Allowed absolute difference from the source model's probabilities
    #: (ONNX computes in float32).
    atol: float = 0.0


CASES = [
    Case("sklearn-logreg-pipeline", "sklearn", logreg_pipeline, lambda X: X),
    Case(
        "sklearn-hist-gradient-boosting",
        "sklearn",
        hist_gradient_boosting,
        as_categorical,
        corrupt_hist_gradient_boosting,
    ),
    Case(
        "lightgbm-classifier",
        "lightgbm",
        lgbm_classifier,
        as_categorical,
        corrupt_lightgbm,
    ),
    Case(
        "onnx-logreg-pipeline",
        "onnx",
        logreg_pipeline,
        lambda X: X,
        convert=to_onnx,
        atol=1e-5,
    ),
]


@dataclass
class Fitted:
    case: Case
    flavor: Flavor
    model: object
    data: bytes
    X_test: pd.DataFrame
    source: object  # the fitted model; ``model`` unless the case converts it


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def fitted(request: pytest.FixtureRequest) -> Fitted:
    case: Case = request.param
    X, y = make_frame()
    X = case.prepare(X)
    source = case.build()
    source.fit(X.iloc[:300], y[:300])  # type: ignore[attr-defined]
    model = case.convert(source, X.iloc[:300]) if case.convert else source
    flavor = get_flavor(case.flavor)
    return Fitted(case, flavor, model, flavor.save(model), X.iloc[300:], source)


def test_every_flavor_has_a_case() -> None:
    assert {case.flavor for case in CASES} == set(FLAVORS)


@pytest.mark.parametrize("name", sorted(FLAVORS))
def test_flavor_implements_the_contract(name: str) -> None:
    flavor = get_flavor(name)
    assert isinstance(flavor, Flavor)
    assert flavor.name == name
    assert flavor.extension.startswith(".")
    assert flavor.file_extension() == flavor.extension
    assert get_flavor(name) is flavor


def test_load_of_save_predicts_exactly_the_same(fitted: Fitted) -> None:
    flavor, X = fitted.flavor, fitted.X_test
    loaded = flavor.load(fitted.data)
    expected = fitted.source.predict_proba(X)[:, 1]  # type: ignore[attr-defined]
    atol = fitted.case.atol
    got = flavor.predict_proba(loaded, X)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=atol)
    np.testing.assert_allclose(
        flavor.predict_proba(fitted.model, X), expected, rtol=1e-12, atol=atol
    )
    if atol:  # the same artifact always gives exactly the same scores
        np.testing.assert_array_equal(flavor.predict_proba(fitted.model, X), got)


@pytest.mark.parametrize("check", FLAVOR_CHECKS, ids=lambda c: c.__name__)
def test_flavor_passes_the_public_check(fitted: Fitted, check: FlavorCheck) -> None:
    """The contract a third-party flavor runs too (check_flavor): bytes, an
    exact round trip, one float64 probability per row, a missing column and
    garbage (empty, random, truncated, zip, pickle, a str) refused by name."""
    check(fitted.flavor, fitted.model, fitted.X_test)


@pytest.mark.parametrize("dtype", [object, "str"])
def test_string_columns_score_like_the_training_frame(
    fitted: Fitted, dtype: object
) -> None:
    flavor = fitted.flavor
    loaded = flavor.load(fitted.data)
    strings = as_strings(fitted.X_test, dtype)  # type: ignore[arg-type]
    np.testing.assert_allclose(
        flavor.predict_proba(loaded, strings),
        flavor.predict_proba(loaded, fitted.X_test),
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.corrupt], ids=[c.id for c in CASES if c.corrupt]
)
def test_corrupt_tree_structure_is_refused_before_it_can_crash(case: Case) -> None:
    X, y = make_frame()
    X = case.prepare(X)
    model = case.build()
    model.fit(X, y)  # type: ignore[attr-defined]
    assert case.corrupt is not None
    with pytest.raises(UnsafeArtifact, match="refuses"):
        get_flavor(case.flavor).load(case.corrupt(model))


def test_unfitted_model_is_refused_at_save(fitted: Fitted) -> None:
    with pytest.raises(InvalidInput, match="not fitted"):
        fitted.flavor.save(fitted.case.build())


def test_flavor_for_picks_the_flavor(fitted: Fitted) -> None:
    assert flavor_for(fitted.model) is get_flavor(fitted.case.flavor)


def test_flavor_for_unknown_model_lists_the_flavors() -> None:
    with pytest.raises(InvalidInput) as info:
        flavor_for(object())
    for name in FLAVORS:
        assert repr(name) in info.value.message
    assert set(FLAVORS) <= set(info.value.details["allowed"])


def test_get_flavor_unknown_name_lists_allowed_values() -> None:
    with pytest.raises(InvalidInput) as info:
        get_flavor("nope")
    assert info.value.field == "flavor"
    assert "'nope'" in info.value.message
    for name in FLAVORS:
        assert repr(name) in info.value.message
    assert set(FLAVORS) <= set(info.value.details["allowed"])


def test_heavy_libraries_are_imported_only_on_use() -> None:
    script = """
import sys
import mlsteward.flavors
heavy = ("sklearn", "skops", "lightgbm")
assert not [m for m in heavy if m in sys.modules], sorted(sys.modules)
from sklearn.linear_model import LogisticRegression
model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
assert mlsteward.flavors.flavor_for(model).name == "sklearn"
assert "lightgbm" not in sys.modules, "flavor_for imported lightgbm"
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


TOY_PLUGIN = """
import numpy as np

from mlsteward.flavors import Flavor


class ToyModel:
    \"\"\"A model from a library no built-in flavor knows.\"\"\"


class ToyFlavor(Flavor):
    name = "toy"
    extension = ".toy"

    def can_save(self, model):
        return isinstance(model, ToyModel)

    def save(self, model):
        return b"toy"

    def load(self, data):
        return ToyModel()

    def predict_proba(self, model, X):
        return np.full(len(X), 0.5)


NotAFlavor = ToyModel
"""


def test_plugins_come_from_entry_points_and_cannot_shadow_builtins(
    install_plugin: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    module = f"toy_flavor_plugin_{id(caplog)}"
    points = {
        "toy": f"{module}:ToyFlavor",
        "sklearn": f"{module}:ToyFlavor",  # may not replace the built-in
        "broken": f"{module}:NotAFlavor",
    }
    install_plugin({"mlsteward.flavors": points}, {module: TOY_PLUGIN})
    with caplog.at_level("WARNING", logger="mlsteward.plugins"):
        table = flavors.available_flavors()
    assert table["sklearn"] == FLAVORS["sklearn"]
    assert table["toy"] == points["toy"]
    assert "'sklearn' is a built-in flavor and cannot be replaced" in caplog.text
    assert get_flavor("sklearn").__class__.__module__ == "mlsteward.flavors.sklearn"
    toy_model = importlib.import_module(module).ToyModel()
    assert get_flavor("toy").name == "toy"
    assert flavor_for(toy_model) is get_flavor("toy")
    with pytest.raises(InvalidInput, match=r"not a mlsteward\.flavors\.Flavor"):
        get_flavor("broken")
    with pytest.raises(InvalidInput, match="'toy'"):
        get_flavor("nope")
