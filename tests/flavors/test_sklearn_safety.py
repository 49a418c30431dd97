"""The sklearn flavor never runs code from an artifact.

Several tests carry a positive control: the same bytes loaded with plain
skops (trusting what skops reports) or pickle *do* run the payload, so the
refusal by mlsteward is what keeps it from running.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import io
import json
import os
import pickle
import sys
import types
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import Tree
from sklearn.utils.validation import check_array
from threadpoolctl import threadpool_limits

from mlsteward.errors import InvalidInput, UnsafeArtifact
from mlsteward.flavors.sklearn import (
    TRUSTED_TYPES,
    SklearnFlavor,
    find_untrusted_types,
)

NUMERIC = ["income", "age", "utilization"]
STRINGS = ["purpose", "region"]
FLAVOR = SklearnFlavor()


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """These models are tiny; one OpenMP thread avoids spin-waiting on a busy
    machine (HistGradientBoosting took 25 s instead of 0.1 s under load)."""
    importlib.import_module("sklearn")  # loads the OpenMP runtime to limit
    with threadpool_limits(limits=1):
        yield


def make_frame(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Numeric columns with gaps, an object column and a pandas ``str`` one."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "income": rng.lognormal(10.5, 0.4, n),
            "age": rng.integers(18, 75, n).astype(float),
            "utilization": rng.uniform(0, 1, n),
            "purpose": pd.Series(rng.choice(["car", "home", "edu"], n), dtype=object),
            "region": pd.Series(rng.choice(["n", "s", "e", "w"], n), dtype="str"),
        }
    )
    X.loc[X.index[::23], "income"] = np.nan
    y = (rng.random(n) < 0.2 + 0.5 * X["utilization"]).astype(int).to_numpy()
    return X, y


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    return make_frame()


def preprocess(encoder: Any) -> ColumnTransformer:
    numeric = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])
    strings = Pipeline(
        [("impute", SimpleImputer(strategy="most_frequent")), ("encode", encoder)]
    )
    return ColumnTransformer([("num", numeric, NUMERIC), ("str", strings, STRINGS)])


def logreg() -> Pipeline:
    encoder = OneHotEncoder(handle_unknown="ignore")
    return Pipeline([("pre", preprocess(encoder)), ("clf", LogisticRegression())])


@pytest.fixture(scope="module")
def fitted_logreg(frame: tuple[pd.DataFrame, np.ndarray]) -> Pipeline:
    X, y = frame
    return logreg().fit(X, y)


class Evil:
    """Runs code when rebuilt: skops calls ``__setstate__`` while loading."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __setstate__(self, state: dict[str, Any]) -> None:
        Path(state["path"]).write_text("code from the artifact ran")
        self.__dict__.update(state)


EVIL = f"{Evil.__module__}.{Evil.__qualname__}"


def evil_artifact(model: Pipeline, marker: Path) -> bytes:
    crafted = copy.deepcopy(model)
    crafted.steps[-1][1].notes_ = Evil(str(marker))
    return skops.io.dumps(crafted)


@pytest.fixture
def importable_evil(monkeypatch: pytest.MonkeyPatch) -> None:
    # The positive controls let skops import Evil by name; with pytest's
    # importlib import mode this module may not be in sys.modules.
    if Evil.__module__ not in sys.modules:
        module = types.ModuleType(Evil.__module__)
        module.Evil = Evil  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, Evil.__module__, module)


def rewrite(
    data: bytes,
    schema: Callable[[dict[str, Any]], None] | None = None,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """Copy a skops zip, editing ``schema.json`` in place and adding members."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w") as dst,
    ):
        for member in src.namelist():
            payload = src.read(member)
            if member == "schema.json" and schema is not None:
                state = json.loads(payload)
                schema(state)
                payload = json.dumps(state).encode()
            dst.writestr(member, payload)
        for member, payload in (extra or {}).items():
            dst.writestr(member, payload)
    return out.getvalue()


def nodes(state: Any) -> list[dict[str, Any]]:
    """Every skops node in a schema."""
    found, stack = [], [state]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


# --- code from the artifact never runs --------------------------------------


def test_crafted_class_that_runs_code_on_load_is_refused(
    fitted_logreg: Pipeline, tmp_path: Path, importable_evil: None
) -> None:
    marker = tmp_path / "pwned"
    data = evil_artifact(fitted_logreg, marker)

    # Positive control: plain skops, trusting what it reports, runs the code.
    skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    assert marker.exists()
    marker.unlink()

    with pytest.raises(UnsafeArtifact) as info:
        FLAVOR.load(data)
    assert EVIL in info.value.message
    assert "refuses" in info.value.message
    assert info.value.details["untrusted_types"] == [EVIL]
    assert not marker.exists()


def test_function_transformer_holding_os_system_is_refused(
    fitted_logreg: Pipeline,
) -> None:
    model = Pipeline(
        [("run", FunctionTransformer(func=os.system)), ("clf", fitted_logreg)]
    )
    data = skops.io.dumps(model)
    name = f"{os.system.__module__}.system"  # posix.system on Linux
    with pytest.raises(UnsafeArtifact, match=name):
        FLAVOR.load(data)
    with pytest.raises(InvalidInput, match=name):
        FLAVOR.save(model)


def test_builtins_eval_written_into_the_schema_is_refused(
    fitted_logreg: Pipeline,
) -> None:
    def to_eval(state: dict[str, Any]) -> None:
        node = next(n for n in nodes(state) if n["__loader__"] == "TypeNode")
        node["__module__"], node["__class__"] = "builtins", "eval"

    data = rewrite(FLAVOR.save(fitted_logreg), schema=to_eval)
    with pytest.raises(UnsafeArtifact, match=r"builtins\.eval"):
        FLAVOR.load(data)


def test_numpy_function_is_refused_although_skops_trusts_it(
    frame: tuple[pd.DataFrame, np.ndarray],
) -> None:
    X, y = frame
    model = Pipeline(
        [
            ("log", FunctionTransformer(np.log1p)),
            ("impute", SimpleImputer()),
            ("clf", LogisticRegression()),
        ]
    ).fit(X[NUMERIC], y)
    data = skops.io.dumps(model)
    assert "numpy.log1p" not in skops.io.get_untrusted_types(data=data)
    with pytest.raises(UnsafeArtifact, match=r"numpy\.log1p"):
        FLAVOR.load(data)
    with pytest.raises(InvalidInput, match=r"numpy\.log1p") as info:
        FLAVOR.save(model)
    assert info.value.details["untrusted_types"] == ["numpy.log1p"]


def test_bound_method_is_refused_by_loader(fitted_logreg: Pipeline) -> None:
    model = Pipeline(
        [
            ("call", FunctionTransformer(func=fitted_logreg.predict)),
            ("clf", LogisticRegression()),
        ]
    )
    with pytest.raises(UnsafeArtifact, match="MethodNode"):
        FLAVOR.load(skops.io.dumps(model))


class PickleBomb:
    """Creates a file when unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def test_pickle_is_refused_and_never_unpickled(
    fitted_logreg: Pipeline, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(PickleBomb(marker))
    pickle.loads(payload)  # positive control
    assert marker.exists()
    marker.unlink()

    for data in (payload, pickle.dumps(fitted_logreg)):
        with pytest.raises(UnsafeArtifact, match="never unpickles"):
            FLAVOR.load(data)
    assert not marker.exists()


def test_trusted_list_is_not_read_from_the_artifact(
    fitted_logreg: Pipeline, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    claim = [EVIL, "posix.system", "builtins.eval"]

    def claim_trust(state: dict[str, Any]) -> None:
        state["trusted"] = state["__trusted__"] = state["trusted_types"] = claim

    data = rewrite(
        evil_artifact(fitted_logreg, marker),
        schema=claim_trust,
        extra={"trusted.json": json.dumps({"trusted": claim}).encode()},
    )
    assert EVIL in find_untrusted_types(data)
    with pytest.raises(UnsafeArtifact, match=EVIL.replace(".", r"\.")):
        FLAVOR.load(data)
    assert not marker.exists()


def test_trusted_types_hold_no_callable_but_check_array() -> None:
    for name in TRUSTED_TYPES:
        module, _, attr = name.rpartition(".")
        obj = getattr(importlib.import_module(module), attr)
        assert inspect.isclass(obj) or obj is check_array, name
    assert "sklearn.preprocessing._function_transformer.FunctionTransformer" in (
        TRUSTED_TYPES
    )


# --- tree structures that would crash the process are refused ---------------


def _rebuilt_tree(tree: Tree, edit: Callable[[dict[str, Any]], None]) -> Tree:
    state = tree.__getstate__()
    state["nodes"] = state["nodes"].copy()
    edit(state)
    rebuilt = Tree(*tree.__reduce__()[1])
    rebuilt.__setstate__(state)
    return rebuilt


def _set_child(state: dict[str, Any]) -> None:
    state["nodes"]["left_child"][0] = 10**6


def _set_feature(state: dict[str, Any]) -> None:
    state["nodes"]["feature"][0] = 99


@pytest.mark.parametrize("edit", [_set_child, _set_feature])
def test_decision_tree_with_bad_indices_is_refused(
    frame: tuple[pd.DataFrame, np.ndarray], edit: Callable[[dict[str, Any]], None]
) -> None:
    X, y = frame
    model = DecisionTreeClassifier(max_depth=3).fit(X[["age", "utilization"]], y)
    model.tree_ = _rebuilt_tree(model.tree_, edit)
    with pytest.raises(UnsafeArtifact, match="corrupt"):
        FLAVOR.load(skops.io.dumps(model))


def test_random_forest_with_bad_feature_index_is_refused(
    frame: tuple[pd.DataFrame, np.ndarray],
) -> None:
    X, y = frame
    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0)
    model.fit(X[["age", "utilization"]], y)
    last = model.estimators_[-1]
    last.tree_ = _rebuilt_tree(last.tree_, _set_feature)
    with pytest.raises(UnsafeArtifact, match=r"estimators_\[2\]"):
        FLAVOR.load(skops.io.dumps(model))


def _hgb(frame: tuple[pd.DataFrame, np.ndarray]) -> HistGradientBoostingClassifier:
    X, y = frame
    X = X.astype({c: "category" for c in STRINGS})
    return HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)


def test_hist_gradient_boosting_with_a_cycle_is_refused(
    frame: tuple[pd.DataFrame, np.ndarray],
) -> None:
    model = _hgb(frame)
    model._predictors[0][0].nodes["right"][0] = 0  # back to the root: endless
    with pytest.raises(UnsafeArtifact, match=r"_predictors\[0\]\[0\]"):
        FLAVOR.load(skops.io.dumps(model))


def test_hist_gradient_boosting_dropping_a_column_is_refused(
    frame: tuple[pd.DataFrame, np.ndarray],
) -> None:
    model = _hgb(frame)
    name, _, columns = model._preprocessor.transformers_[1]
    model._preprocessor.transformers_[1] = (name, "drop", columns)
    with pytest.raises(UnsafeArtifact, match="_preprocessor"):
        FLAVOR.load(skops.io.dumps(model))


# --- the trusted list covers what a credit team fits ------------------------


Factory = Callable[[pd.DataFrame, np.ndarray], Any]


def preprocess_gaps() -> Pipeline:
    flagged = SimpleImputer(add_indicator=True)  # holds a MissingIndicator
    return Pipeline([("impute", flagged), ("scale", StandardScaler())])


def _kbins_ordinal() -> Pipeline:
    numeric = Pipeline(
        [("impute", SimpleImputer()), ("bins", KBinsDiscretizer(n_bins=4))]
    )
    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    pre = ColumnTransformer(
        [
            ("num", numeric, NUMERIC),
            ("gaps", preprocess_gaps(), ["income"]),
            ("str", ordinal, STRINGS),
        ]
    )
    return Pipeline(
        [
            ("pre", pre),
            ("clf", LogisticRegression(class_weight="balanced", max_iter=1000)),
        ]
    )


def _on_onehot(clf: Any) -> Pipeline:
    return Pipeline(
        [("pre", preprocess(OneHotEncoder(handle_unknown="ignore"))), ("clf", clf)]
    )


MODELS: dict[str, Factory] = {
    "logreg-onehot": lambda X, y: logreg(),
    "logreg-kbins-ordinal": lambda X, y: _kbins_ordinal(),
    "hgb-ordinal-pipeline": lambda X, y: Pipeline(
        [
            ("pre", preprocess(OrdinalEncoder())),
            ("clf", HistGradientBoostingClassifier(max_iter=10)),
        ]
    ),
    "random-forest": lambda X, y: _on_onehot(
        RandomForestClassifier(n_estimators=5, random_state=0)
    ),
    "decision-tree": lambda X, y: _on_onehot(DecisionTreeClassifier(max_depth=4)),
    "calibrated-sigmoid": lambda X, y: CalibratedClassifierCV(
        logreg(), method="sigmoid", cv=3
    ),
    "calibrated-isotonic": lambda X, y: CalibratedClassifierCV(
        logreg(), method="isotonic", cv=3
    ),
    "calibrated-frozen": lambda X, y: CalibratedClassifierCV(
        FrozenEstimator(logreg().fit(X, y))
    ),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_trusted_types_cover_credit_models(
    frame: tuple[pd.DataFrame, np.ndarray], name: str
) -> None:
    X, y = frame
    model = MODELS[name](X, y).fit(X, y)
    assert find_untrusted_types(skops.io.dumps(model)) == []
    loaded = FLAVOR.load(FLAVOR.save(model))
    np.testing.assert_array_equal(
        FLAVOR.predict_proba(loaded, X), model.predict_proba(X)[:, 1]
    )


def test_hist_gradient_boosting_native_categories_round_trip(
    frame: tuple[pd.DataFrame, np.ndarray],
) -> None:
    # Native categorical support builds FunctionTransformer(partial(check_array))
    # inside the model; that, and only that, function is trusted.
    X, _ = frame
    model = _hgb(frame)
    data = FLAVOR.save(model)
    X = X.astype({c: "category" for c in STRINGS})
    np.testing.assert_array_equal(
        FLAVOR.predict_proba(FLAVOR.load(data), X), model.predict_proba(X)[:, 1]
    )


def test_model_skops_cannot_serialise_is_invalid_input(
    frame: tuple[pd.DataFrame, np.ndarray],
) -> None:
    # skops 0.16 recurses forever on the scorer HistGradientBoosting keeps
    # for early stopping with a named scoring function.
    X, y = frame
    model = HistGradientBoostingClassifier(
        max_iter=20, early_stopping=True, scoring="roc_auc", random_state=0
    ).fit(X[NUMERIC], y)
    with pytest.raises(InvalidInput, match="skops cannot serialise"):
        FLAVOR.save(model)


def test_multiclass_model_is_refused_at_save(
    frame: tuple[pd.DataFrame, np.ndarray],
) -> None:
    X, _ = frame
    model = logreg().fit(X, np.arange(len(X)) % 3)
    with pytest.raises(InvalidInput, match="binary"):
        FLAVOR.save(model)
