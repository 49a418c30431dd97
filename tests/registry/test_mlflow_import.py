"""``mlsteward import mlflow`` against a real MLflow tracking server.

MLflow lives in its own venv (``MLSTEWARD_TEST_MLFLOW_VENV``, default
``~/.cache/mlsteward-test-mlflow``; ``make mlflow-venv`` makes it once), never in
mlsteward's. The test starts ``mlflow server`` on loopback, fills it with
``mlflow_store.py`` (runs with a metric history, two registered versions of
``credit-risk`` with aliases, a pickled ``legacy`` model), imports with the
CLI, then serves the imported versions and scores them natively, in MLflow's
formats and through MLflow's own scoring client, against the probabilities
MLflow's loaders give for the same rows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import require_or_skip
from tests.serving.servers import Server, free_port, wait_for

from mlsteward.config import Settings

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
VENV = Path(
    os.environ.get(
        "MLSTEWARD_TEST_MLFLOW_VENV", Path.home() / ".cache" / "mlsteward-test-mlflow"
    )
)
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A running ``mlflow server`` filled by ``mlflow_store.py``."""
    if not (VENV / "bin" / "mlflow").exists():
        require_or_skip(
            f"no MLflow venv at {VENV}: run `make mlflow-venv` (installs MLflow "
            "there once) or set MLSTEWARD_TEST_MLFLOW_VENV"
        )
    work = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(work / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            str(VENV / "bin" / "mlflow"),
            "server",
            "--host=127.0.0.1",
            f"--port={port}",
            "--workers=1",
            f"--backend-store-uri=sqlite:///{work / 'mlflow.db'}",
            f"--artifacts-destination={work / 'artifacts'}",
        ],
        env={
            **os.environ,
            **QUIET,
            # No GenAI job runner (a dozen worker processes this test never uses).
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "PATH": f"{VENV / 'bin'}:{os.environ['PATH']}",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its workers share its process group
    )
    try:
        wait_for(lambda: _healthy(url, proc), timeout=180, what="mlflow server")
        out = work / "store.json"
        subprocess.run(
            [
                str(VENV / "bin" / "python"),
                str(HERE / "mlflow_store.py"),
                url,
                str(out),
            ],
            env={**os.environ, **QUIET},
            check=True,
            capture_output=True,
            timeout=600,
        )
        yield {"url": url, "work": work, **json.loads(out.read_text())}
    finally:
        _stop_group(proc)
        log.close()


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and the workers it started (its process group)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5)  # MLflow's job consumer may take longer: then SIGKILL
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _healthy(url: str, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"mlflow server exited with {proc.returncode}")
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLSTEWARD_HOME": str(home), "MLSTEWARD_ACTOR": "tester"}
    env.pop("MLSTEWARD_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "mlsteward", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def imported(
    mlflow_store: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    home = tmp_path_factory.mktemp("ms") / "home"
    done = _cli(
        home, "import", "mlflow", "--tracking-uri", mlflow_store["url"], "--json"
    )
    assert done.returncode == 0, done.stderr
    return home, json.loads(done.stdout)


def test_runs_come_with_params_tags_and_metric_history(
    mlflow_store: dict[str, Any], imported: tuple[Path, dict[str, Any]]
) -> None:
    from sqlalchemy import select

    from mlsteward.registry.tables import run_metrics
    from mlsteward.sdk import Client

    home, report = imported
    ids = mlflow_store["runs"]
    assert sorted(r["run_id"] for r in report["runs"]) == sorted(ids.values())
    c = Client(Settings(home=home, actor="tester"))
    try:
        run = c.runs.get(ids["logreg"])
        assert run.name == "logreg" and run.status == "finished"
        assert run.params == {"C": "0.5", "scaler": "standard"}
        assert run.tags["team"] == "risk" and run.tags["mlflow.experiment"] == "credit"
        assert run.metrics == {"val_auc": 0.77, "train_auc": 0.81}
        with c.ctx.store.read() as session:
            history = session.execute(
                select(run_metrics.c.step, run_metrics.c.value)
                .where(run_metrics.c.run_id == ids["logreg"])
                .where(run_metrics.c.key == "val_auc")
                .order_by(run_metrics.c.step)
            ).all()
        assert [tuple(h) for h in history] == [(0, 0.70), (1, 0.74), (2, 0.77)]
        listed = _cli(home, "runs", "list")
        assert "val_auc=0.77" in listed.stdout, listed.stdout
    finally:
        c.close()


def test_versions_keep_aliases_and_lineage_and_pickles_are_refused(
    mlflow_store: dict[str, Any], imported: tuple[Path, dict[str, Any]]
) -> None:
    from mlsteward.sdk import Client

    home, report = imported
    ids = mlflow_store["runs"]
    got = {v["mlflow_version"]: v for v in report["versions"]}
    assert got["1"]["ref"] == "credit-risk/1" and got["1"]["flavor"] == "sklearn"
    assert got["2"]["ref"] == "credit-risk/2" and got["2"]["flavor"] == "lightgbm"
    assert got["1"]["aliases"] == ["champion"] and got["2"]["aliases"] == ["challenger"]
    assert all(v["parity_max_abs_diff"] <= 1e-9 for v in got.values())
    [refused] = report["refused"]
    assert refused["source"] == "legacy/1" and "cloudpickle" in refused["reason"]
    c = Client(Settings(home=home, actor="tester"))
    try:
        assert c.models.get("credit-risk").aliases == {"champion": 1, "challenger": 2}
        mv = c.models.get_version("credit-risk@challenger")
        assert mv.run_id == ids["gbm"]
        assert mv.tags["mlflow.model_version"] == "credit-risk/2"
        assert mv.signature.feature_names == mlflow_store["sample"]["columns"]
        assert c.lineage("credit-risk/1").run.id == ids["logreg"]
        assert [m.name for m in c.models.list()] == ["credit-risk"]
    finally:
        c.close()
    again = _cli(
        home, "import", "mlflow", "--tracking-uri", mlflow_store["url"], "--json"
    )
    second = json.loads(again.stdout)
    assert second["runs"] == [] and second["versions"] == []
    assert len(second["skipped"]) == len(ids) + 2


def test_imported_versions_serve_mlflows_scores_in_every_format(
    mlflow_store: dict[str, Any], imported: tuple[Path, dict[str, Any]]
) -> None:
    home, _ = imported
    sample = mlflow_store["sample"]
    records = [dict(zip(sample["columns"], row, strict=True)) for row in sample["data"]]
    for name, ref in (("champion", "credit-risk@champion"), ("gbm", "credit-risk/2")):
        done = _cli(home, "deployments", "create", name, "--model", ref)
        assert done.returncode == 0, done.stderr
    server = Server(home, ["server"]).start(timeout=120)
    try:
        for name, version in (("champion", "1"), ("gbm", "2")):
            expected = mlflow_store["expected"][version]
            native = httpx.post(f"{server.url}/predict/{name}", json=records)
            assert native.status_code == 200, native.text
            scores = [p["score"] for p in native.json()["predictions"]]
            assert scores == pytest.approx(expected, abs=1e-9)
            for body in (
                {"dataframe_split": sample},
                {"dataframe_records": records},
                {"instances": records},
                {"inputs": {c: [r[c] for r in records] for c in sample["columns"]}},
            ):
                answer = httpx.post(f"{server.url}/invocations/{name}", json=body)
                assert answer.status_code == 200, answer.text
                assert [p["score"] for p in answer.json()["predictions"]] == scores
    finally:
        server.stop()


def test_mlflows_own_scoring_client_works_unchanged(
    mlflow_store: dict[str, Any], imported: tuple[Path, dict[str, Any]]
) -> None:
    home, _ = imported
    _cli(home, "deployments", "create", "credit", "--model", "credit-risk@champion")
    port = free_port()
    env = {
        **os.environ,
        "MLSTEWARD_HOME": str(home),
        "MLSTEWARD_AUTH_REQUIRED": "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlsteward", "serve", "credit", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        work: Path = mlflow_store["work"]
        (work / "sample.json").write_text(json.dumps(mlflow_store["sample"]))
        out = work / "client.json"
        subprocess.run(
            [
                str(VENV / "bin" / "python"),
                str(HERE / "mlflow_client.py"),
                str(port),
                str(work / "sample.json"),
                str(out),
            ],
            env={**os.environ, **QUIET},
            check=True,
            capture_output=True,
            timeout=300,
        )
        scores = json.loads(out.read_text())["scores"]
        assert scores == pytest.approx(mlflow_store["expected"]["1"], abs=1e-9)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
