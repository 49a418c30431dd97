"""The MLflow side of ``bench/control_plane.py`` (runs in MLflow's venv).

Against a local ``mlflow server`` (tracking + registry, SQLite backend), time
the same control-plane operations mlsteward's remote client does:

- ``log_metric``: one metric of one run per call;
- ``register``: log the credit pipeline as a model and register it as a new
  version of one registered model (``log_model(registered_model_name=...)``);
- ``read_results``: read a run's metric history (MLflow's nearest equivalent
  of reading a monitor's results).

Prints one JSON object of per-call seconds per operation.

Usage::

    python bench/mlflow_control.py URL MODEL.skops SAMPLE.json N_MET N_REG N_READ
"""

from __future__ import annotations

import json
import sys
import time


def main(
    url: str, model_path: str, sample_path: str, n_metric: int, n_reg: int, n_read: int
) -> None:
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    import skops.io
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    # Written a moment ago by bench/control_plane.py: trusted here only.
    trusted = skops.io.get_untrusted_types(file=model_path)
    model = skops.io.load(model_path, trusted=trusted)
    with open(sample_path) as f:
        sample = pd.DataFrame(json.loads(f.read()))
    exp = client.create_experiment(f"bench-{time.time_ns()}")
    run = client.create_run(exp)
    run_id = run.info.run_id
    out: dict[str, list[float]] = {"log_metric": [], "register": [], "read_results": []}
    for i in range(n_metric):
        t = time.perf_counter()
        client.log_metric(run_id, "psi", 0.01 * i, step=i)
        out["log_metric"].append(time.perf_counter() - t)
    for _ in range(n_read):
        t = time.perf_counter()
        history = client.get_metric_history(run_id, "psi")
        out["read_results"].append(time.perf_counter() - t)
    assert len(history) == n_metric
    mlflow.set_experiment(experiment_id=exp)
    for _ in range(n_reg):
        t = time.perf_counter()
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                model,
                name="model",
                input_example=sample.head(5),
                registered_model_name="bench-credit",
                skops_trusted_types=trusted,
            )
        out["register"].append(time.perf_counter() - t)
    client.set_terminated(run_id)
    print(json.dumps(out))


if __name__ == "__main__":
    u, m, s, a, b, c = sys.argv[1:7]
    main(u, m, s, int(a), int(b), int(c))
