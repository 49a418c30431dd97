"""The MLflow importer's parts that need no MLflow: converting a model
directory, refusing what is unsafe, and the errors of a bad tracking URI.
(``test_mlflow_import.py`` runs the whole import against a real MLflow.)"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlsteward.errors import InvalidInput, PolicyViolation, UnsafeArtifact
from mlsteward.flavors import get_flavor
from mlsteward.registry.mlflow_convert import convert, parse_mlmodel
from mlsteward.registry.mlflow_source import check_import_host

COLUMNS = ["income", "age"]
SIGNATURE = {
    "inputs": json.dumps(
        [
            {"type": "double", "name": "income", "required": True},
            {"type": "long", "name": "age", "required": False},
        ]
    )
}


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    X = pd.DataFrame(
        {"income": rng.normal(size=200), "age": rng.integers(20, 70, size=200)}
    )
    y = (X["income"] + rng.normal(size=200) > 0).astype(int).to_numpy()
    return X, y


def _reader(files: dict[str, bytes]) -> Any:
    return lambda name: files.get(name)


def test_a_skops_sklearn_model_converts_and_scores_the_same(frame: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = frame
    model = LogisticRegression().fit(X, y)
    mlmodel = parse_mlmodel(
        b"flavors:\n  sklearn:\n    pickled_model: model.skops\n"
        b"    serialization_format: skops\n"
    )
    mlmodel["signature"] = SIGNATURE
    files = {"model.skops": get_flavor("sklearn").save(model)}
    done = convert(mlmodel, _reader(files))
    assert (done.flavor, done.source_format) == ("sklearn", "sklearn/skops")
    assert done.sample_rows == 8 and done.parity_max_abs_diff == 0.0  # made rows
    assert [(c["name"], c["dtype"], c["nullable"]) for c in done.signature.inputs] == [
        ("income", "float64", False),
        ("age", "int64", True),
    ]
    reloaded = get_flavor("sklearn").load(done.payload)
    np.testing.assert_allclose(
        reloaded.predict_proba(X)[:, 1], model.predict_proba(X)[:, 1], atol=1e-12
    )


def test_a_lightgbm_booster_converts_with_its_input_example(frame: Any) -> None:
    import lightgbm as lgb

    X, y = frame
    params = {"objective": "binary", "verbose": -1, "num_leaves": 4}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=5)
    example = {"columns": COLUMNS, "data": X.head(3).to_numpy().tolist()}
    mlmodel = {
        "flavors": {
            "lightgbm": {"data": "model.lgb", "model_class": "lightgbm.basic.Booster"}
        },
        "signature": SIGNATURE,
        "saved_input_example_info": {"artifact_path": "input_example.json"},
    }
    files = {
        "model.lgb": booster.model_to_string().encode(),
        "input_example.json": json.dumps(example).encode(),
    }
    done = convert(mlmodel, _reader(files))
    assert (done.flavor, done.sample_rows, done.parity_max_abs_diff) == (
        "lightgbm",
        3,
        0.0,
    )


@pytest.mark.parametrize(
    ("flavors", "error", "phrase"),
    [
        (
            {"sklearn": {"pickled_model": "model.pkl"}},
            UnsafeArtifact,
            "cloudpickle",
        ),
        (
            {"sklearn": {"pickled_model": "m.pkl", "serialization_format": "pickle"}},
            UnsafeArtifact,
            "serialization_format='skops'",
        ),
        (
            {"lightgbm": {"model_class": "lightgbm.sklearn.LGBMClassifier"}},
            UnsafeArtifact,
            "model.booster_",
        ),
        ({"xgboost": {}, "python_function": {}}, InvalidInput, "['python_function'"),
    ],
)
def test_what_cannot_be_read_safely_is_refused_with_the_reason(
    flavors: dict[str, Any], error: type[Exception], phrase: str
) -> None:
    # The reader would hand over a pickle: it must never be asked for it.
    asked: list[str] = []

    def read(name: str) -> bytes:
        asked.append(name)
        return b"\x80\x05pickle"

    with pytest.raises(error) as refused:
        convert({"flavors": flavors, "signature": SIGNATURE}, read)
    assert phrase in str(refused.value.args[0])
    assert asked == []


def test_a_model_without_a_column_signature_is_refused(frame: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = frame
    files = {"m.skops": get_flavor("sklearn").save(LogisticRegression().fit(X, y))}
    conf = {"sklearn": {"pickled_model": "m.skops", "serialization_format": "skops"}}
    with pytest.raises(InvalidInput, match="no signature"):
        convert({"flavors": conf}, _reader(files))
    tensor = {"inputs": json.dumps([{"type": "tensor", "tensor-spec": {}}])}
    with pytest.raises(InvalidInput, match="named"):
        convert({"flavors": conf, "signature": tensor}, _reader(files))


def test_a_tracking_uri_that_is_not_a_server_is_named(sqlite_client: Any) -> None:
    from tests.serving.servers import free_port

    with pytest.raises(InvalidInput, match="mlflow server --backend-store-uri") as bad:
        sqlite_client.models.import_mlflow(tracking_uri="sqlite:///mlflow.db")
    assert bad.value.field == "tracking_uri"
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(InvalidInput, match="cannot reach") as down:
        sqlite_client.models.import_mlflow(tracking_uri=nobody)
    assert down.value.field == "tracking_uri"
    assert sqlite_client.runs.list() == [] and sqlite_client.models.list() == []


def test_the_server_imports_only_from_the_hosts_it_lists(
    sqlite_client: Any, admin_headers: Any
) -> None:
    from mlsteward.api import create_app

    check_import_host("http://mlflow.internal:5000", "mlflow.internal")
    check_import_host("http://mlflow:5000", "other, mlflow:5000")
    with pytest.raises(PolicyViolation, match="MLSTEWARD_MLFLOW_IMPORT_HOSTS"):
        check_import_host("http://169.254.169.254/", "mlflow:5000")
    api = TestClient(create_app(ctx=sqlite_client.ctx), headers=admin_headers)
    r = api.post(
        "/api/v1/imports/mlflow", json={"tracking_uri": "http://169.254.169.254"}
    )
    assert r.status_code == 409 and r.json()["field"] == "tracking_uri", r.text


def test_the_remote_client_imports_through_the_server(sqlite_client: Any) -> None:
    """Over HTTP the same call reaches the server's route, and its refusals
    come back as the same errors naming the field."""
    from tests.conftest import make_user

    import mlsteward
    from mlsteward.api import create_app
    from mlsteward.errors import Forbidden

    root = make_user(sqlite_client.ctx, "root", "admin")
    vic = make_user(sqlite_client.ctx, "vic", "viewer")
    http = TestClient(create_app(ctx=sqlite_client.ctx))
    admin = mlsteward.Client("http://testserver", token=root, http=http)
    viewer = mlsteward.Client("http://testserver", token=vic, http=http)
    with pytest.raises(PolicyViolation) as refused:
        admin.models.import_mlflow(tracking_uri="http://169.254.169.254")
    assert refused.value.field == "tracking_uri"
    with pytest.raises(InvalidInput) as bad:
        admin.models.import_mlflow(tracking_uri="file:///mlruns")
    assert bad.value.field == "tracking_uri"
    with pytest.raises(Forbidden, match="developer"):
        viewer.models.import_mlflow(tracking_uri="http://mlflow:5000")
