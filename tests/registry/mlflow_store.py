"""Fill a running MLflow tracking server (runs in MLflow's own venv).

``tests/registry/test_mlflow_import.py`` runs this with the python of the
MLflow test venv: MLflow never enters mlsteward's environment. It logs, to
the server at ``URI``:

- experiment ``credit``: run ``logreg`` (params, a metric with a history of
  three steps, tags) that logs a scikit-learn pipeline with skops
  serialization, and run ``gbm`` that logs a LightGBM booster; both register
  as versions 1 and 2 of ``credit-risk``, with aliases ``champion`` -> 1 and
  ``challenger`` -> 2;
- run ``pickled`` that registers a cloudpickled model as ``legacy`` version 1.

It writes to ``OUT`` (JSON) the run ids, a sample of rows and the positive
class probabilities MLflow's own loaders give on them (``mlflow.sklearn`` and
``mlflow.lightgbm``), for the test to compare with mlsteward's answers.

Usage::

    python tests/registry/mlflow_store.py URI OUT
"""

from __future__ import annotations

import json
import sys
import warnings

#: Given, so MLflow does not infer them (a subprocess that loads the model).
REQUIREMENTS = ["scikit-learn", "lightgbm"]


def main(uri: str, out: str) -> None:
    import lightgbm as lgb
    import mlflow
    import mlflow.lightgbm
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    warnings.filterwarnings("ignore")
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("credit")
    names = ["income", "debt_ratio", "age", "months_employed", "open_loans"]
    X, y = make_classification(n_samples=300, n_features=5, random_state=7)
    frame = pd.DataFrame(X, columns=names)
    sample = frame.head(20)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=0.5))
    pipe.fit(frame, y)
    signature = infer_signature(frame, pipe.predict_proba(frame)[:, 1])
    runs = {}
    with mlflow.start_run(run_name="logreg") as run:
        mlflow.log_params({"C": 0.5, "scaler": "standard"})
        mlflow.set_tags({"team": "risk"})
        for step, auc in enumerate((0.70, 0.74, 0.77)):
            mlflow.log_metric("val_auc", auc, step=step)
        mlflow.log_metric("train_auc", 0.81)
        mlflow.sklearn.log_model(
            pipe,
            name="model",
            signature=signature,
            input_example=frame.head(5),
            serialization_format="skops",
            registered_model_name="credit-risk",
            pip_requirements=REQUIREMENTS,
        )
        runs["logreg"] = run.info.run_id
    data = lgb.Dataset(frame, y)
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 1}
    booster = lgb.train(params, data, num_boost_round=15)
    with mlflow.start_run(run_name="gbm") as run:
        mlflow.log_params({"num_leaves": 7, "rounds": 15})
        mlflow.log_metric("val_auc", 0.79, step=0)
        mlflow.lightgbm.log_model(
            booster,
            name="model",
            signature=infer_signature(frame, booster.predict(frame)),
            input_example=frame.head(5),
            registered_model_name="credit-risk",
            pip_requirements=REQUIREMENTS,
        )
        runs["gbm"] = run.info.run_id
    with mlflow.start_run(run_name="pickled") as run:
        mlflow.sklearn.log_model(
            pipe,
            name="model",
            signature=signature,
            serialization_format="cloudpickle",
            registered_model_name="legacy",
            pip_requirements=REQUIREMENTS,
        )
        runs["pickled"] = run.info.run_id
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("credit-risk", "champion", "1")
    client.set_registered_model_alias("credit-risk", "challenger", "2")
    expected = {
        "1": mlflow.sklearn.load_model("models:/credit-risk/1")
        .predict_proba(sample)[:, 1]
        .tolist(),
        "2": mlflow.lightgbm.load_model("models:/credit-risk/2")
        .predict(sample)
        .tolist(),
    }
    result = {
        "runs": runs,
        "sample": sample.to_dict(orient="split"),
        "expected": expected,
        "mlflow": mlflow.__version__,
    }
    with open(out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
