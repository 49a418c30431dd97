"""Control-plane operations over HTTP: mlsteward's remote client beside a local
MLflow tracking server, in one run on the same machine.

Both servers run as local processes with a SQLite backend and a local
artifact folder; both clients keep one HTTP connection open. Timed per call:

- ``log_metric``: one metric of one run (mlsteward ``client.runs.log_metrics``,
  MLflow ``MlflowClient.log_metric``);
- ``register``: a fitted credit pipeline registered as a new version of one
  model (mlsteward ``client.models.register``: saved, uploaded, checksummed;
  MLflow ``log_model(registered_model_name=...)`` in a run);
- ``read_results``: read a monitor's results (mlsteward
  ``client.monitors.results``) / a run's metric history (MLflow
  ``get_metric_history``, its nearest equivalent).

MLflow runs from its own venv (``bench/out/.venv-mlflow``, created by
``bench/serving.py`` on first use). Reproduce::

    .venv/bin/python bench/control_plane.py   # a table; bench/out/control_plane.json
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

N_METRIC, N_REGISTER, N_READ = 300, 10, 100


def _mlsteward(work: Path) -> dict[str, list[float]]:
    from tests.serving.servers import Server

    import mlsteward
    from mlsteward.datasets import load_german_credit
    from mlsteward.datasets.bundled import german_credit_roles
    from mlsteward.identity.service import IdentityService
    from mlsteward.identity.specs import CreateToken, CreateUser
    from mlsteward.retraining.trainers import logistic_scorecard
    from mlsteward.sdk import Client

    home = work / "ms-home"
    local = Client(home=home)
    ids = IdentityService(local.ctx)
    ids.create_user(CreateUser(name="root", role="admin"), bootstrap=True)
    token = ids.create_token(CreateToken(user="root")).secret
    local.login(token)
    df = load_german_credit()
    roles = german_credit_roles()
    features = [c for c, r in roles.items() if r == "feature"]
    model = logistic_scorecard(df, features=features, target="bad")
    # Something to read: a deployment, scored months, a monitor run.
    ds = local.datasets.register(data=df, name="german-credit", roles=roles)
    run = local.runs.start(name="cr", inputs=[ds.ref])
    local.models.register(
        name="cr", model=model, training_data=df[features], run_id=run.id
    )
    local.set_alias("cr", "champion", 1)
    local.deployments.create(name="cr", model="cr@champion")
    local.score("cr@champion", df, deployment="cr")
    local.monitors.create(name="cr", deployment="cr", window="last:1000")
    local.monitors.run("cr")
    local.close()

    server = Server(home, ["server"], MLSTEWARD_AUTH_REQUIRED="true").start()
    out: dict[str, list[float]] = {"log_metric": [], "register": [], "read_results": []}
    try:
        client = mlsteward.Client(server.url, token=token)
        run = client.runs.start(name="bench")
        for i in range(N_METRIC):
            t = time.perf_counter()
            client.runs.log_metrics(run.id, metrics={"psi": 0.01 * i}, step=i)
            out["log_metric"].append(time.perf_counter() - t)
        for _ in range(N_READ):
            t = time.perf_counter()
            frame = client.monitors.results("cr")
            out["read_results"].append(time.perf_counter() - t)
        assert len(frame) > 0
        for _ in range(N_REGISTER):
            t = time.perf_counter()
            client.models.register(
                name="bench-credit", model=model, training_data=df[features]
            )
            out["register"].append(time.perf_counter() - t)
        client.close()
    finally:
        server.stop()
    return out


def _mlflow(work: Path) -> tuple[dict[str, list[float]], str]:
    import pandas as pd
    import skops.io
    from tests.serving.servers import free_port, wait_for

    from mlsteward.datasets import load_german_credit
    from mlsteward.datasets.bundled import german_credit_roles
    from mlsteward.retraining.trainers import logistic_scorecard
    from serving import ensure_mlflow  # bench/serving.py

    version = ensure_mlflow()
    df = load_german_credit()
    roles = german_credit_roles()
    features = [c for c, r in roles.items() if r == "feature"]
    model = logistic_scorecard(df, features=features, target="bad")
    model_path, sample_path = work / "model.skops", work / "sample.json"
    skops.io.dump(model, model_path)
    sample_path.write_text(pd.DataFrame(df[features].head(5)).to_json(orient="records"))
    port = free_port()
    mlflow_bin = OUT / ".venv-mlflow" / "bin"
    proc = subprocess.Popen(
        [
            str(mlflow_bin / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{work / 'mlflow.db'}",
            "--default-artifact-root",
            str(work / "mlflow-artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=work,
    )
    try:
        import httpx

        def up() -> bool:
            try:
                return (
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code
                    == 200
                )
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=120, what="mlflow server")
        res = subprocess.run(
            [
                str(mlflow_bin / "python"),
                str(HERE / "mlflow_control.py"),
                f"http://127.0.0.1:{port}",
                str(model_path),
                str(sample_path),
                str(N_METRIC),
                str(N_REGISTER),
                str(N_READ),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=work,
            env={**os.environ, "GIT_PYTHON_REFRESH": "quiet"},
        )
        if res.returncode != 0:
            raise SystemExit(f"the MLflow side failed:\n{res.stderr[-3000:]}")
        return json.loads(res.stdout.strip().splitlines()[-1]), version
    finally:
        proc.terminate()
        proc.wait(20)


def main() -> None:
    import platform

    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours = _mlsteward(work)
        theirs, mlflow_version = _mlflow(work)
    rows = []
    for op in ("log_metric", "register", "read_results"):
        a, b = statistics.median(ours[op]) * 1000, statistics.median(theirs[op]) * 1000
        rows.append(
            {"operation": op, "mlsteward_ms": a, "mlflow_ms": b, "ratio": b / a}
        )
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": (
            f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
            f"Python {platform.python_version()}"
        ),
        "mlflow": mlflow_version,
        "calls": {
            "log_metric": N_METRIC,
            "register": N_REGISTER,
            "read_results": N_READ,
        },
        "rows": rows,
    }
    (OUT / "control_plane.json").write_text(json.dumps(result, indent=2))
    print("| operation | mlsteward (ms) | MLflow (ms) | MLflow / mlsteward |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        a, b = f"{r['mlsteward_ms']:.2f}", f"{r['mlflow_ms']:.2f}"
        print(f"| {r['operation']} | {a} | {b} | {r['ratio']:.1f}x |")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))


if __name__ == "__main__":
    main()
