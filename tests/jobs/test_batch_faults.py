"""A batch-scoring job killed at any moment scores and logs every row once.

The first attempt is a real ``mlsteward worker --once`` process that SIGKILLs
itself at the named point (the ``MLSTEWARD_FAULT_BATCH`` hook): in the middle
of phase 1, after the first of three prediction-log
transactions, after the last, and once the output is in place. After its
lease expires the job is claimed again (the test process's worker) and must
finish with every input row logged once, the output complete and no hidden
file left beside it — on SQLite and PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from mlsteward.jobs.batch_log import FAULT_ENV
from mlsteward.jobs.service import JobService
from mlsteward.jobs.specs import EnqueueJob
from mlsteward.jobs.tables import batch_scorings
from mlsteward.serving.tables import predictions

from .conftest import cli_env, jobs_sdk, poll

ROWS = 2500  # three chunks of 1000 rows: three log transactions


def _input(credit: pd.DataFrame, features: list[str], path: Path) -> pd.DataFrame:
    frame = pd.concat([credit[features]] * 3, ignore_index=True).iloc[:ROWS]
    frame["application_id"] = [f"app-{i:05d}" for i in range(ROWS)]
    frame.to_parquet(path, index=False)
    return frame


def _logged(client: Any) -> list[str]:
    with client.ctx.store.read() as session:
        return list(
            session.execute(
                select(predictions.c.request_id).where(
                    predictions.c.deployment == "credit-risk-batch"
                )
            ).scalars()
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "id_column"),
    [
        ("scored:1", True),
        ("logged:1", True),
        ("logged:1", False),
        ("logged", True),
        ("renamed", True),
    ],
)
def test_a_batch_job_killed_anywhere_logs_every_row_once(
    model: Any,
    settings: Any,
    credit: pd.DataFrame,
    tmp_path: Path,
    point: str,
    id_column: bool,
) -> None:
    client, features = model
    data = tmp_path / "data"
    data.mkdir()
    frame = _input(credit, features, data / "in.parquet")
    payload = {
        "model": "credit-risk@champion",
        "input": str(data / "in.parquet"),
        "output": str(data / "out.parquet"),
        "chunk_size": 1000,
    }
    if id_column:
        payload["id_column"] = "application_id"
    job = JobService(client.ctx).enqueue(
        EnqueueJob.parse(kind="batch_score", payload=payload)
    )

    killed = subprocess.run(
        [sys.executable, "-m", "mlsteward", "worker", "--once"],
        env=cli_env(
            settings, **{FAULT_ENV: point, "MLSTEWARD_JOBS_LEASE_SECONDS": "2"}
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (data / "out.parquet").exists() == (point == "renamed")
    partly = len(_logged(client))
    assert partly == {"scored:1": 0, "logged:1": 1000}.get(point, ROWS)

    # Once the killed worker's lease expires, the next claim runs attempt 2.
    ran = poll(lambda: jobs_sdk(client).run_jobs(), timeout=30)
    done = JobService(client.ctx).get(job.id)
    assert [j.id for j in ran] == [job.id]
    assert (done.state, done.attempts) == ("succeeded", 2), done.error

    logged = _logged(client)
    assert len(logged) == ROWS == len(set(logged))
    out = pd.read_parquet(data / "out.parquet")
    first = "application_id" if id_column else "request_id"
    expected = (
        frame["application_id"].tolist()
        if id_column
        else [f"{job.id}-{i}" for i in range(ROWS)]
    )
    assert out[first].tolist() == expected
    assert sorted(logged) == sorted(expected)
    np.testing.assert_allclose(
        out["score"], client.load_model("credit-risk/1").predict_proba(frame)
    )
    assert sorted(p.name for p in data.iterdir()) == ["in.parquet", "out.parquet"]
    with client.ctx.store.read() as session:
        marks = session.execute(
            select(func.count(), func.sum(batch_scorings.c.rows_logged))
        ).one()
    assert tuple(marks) == (1, ROWS)


@pytest.mark.slow
def test_a_batch_job_whose_last_attempt_dies_leaves_no_hidden_files(
    model: Any, settings: Any, credit: pd.DataFrame, tmp_path: Path
) -> None:
    """Killed on its only attempt mid-log: once its lease runs out, the
    worker that finds it buries it dead and removes what it left behind."""
    from mlsteward.jobs.batch import temporary_files

    client, features = model
    data = tmp_path / "data"
    data.mkdir()
    _input(credit, features, data / "in.parquet")
    payload = {
        "model": "credit-risk@champion",
        "input": str(data / "in.parquet"),
        "output": str(data / "out.parquet"),
        "chunk_size": 1000,
    }
    job = JobService(client.ctx).enqueue(
        EnqueueJob.parse(kind="batch_score", payload=payload, max_attempts=1)
    )
    killed = subprocess.run(
        [sys.executable, "-m", "mlsteward", "worker", "--once"],
        env=cli_env(
            settings, **{FAULT_ENV: "logged:1", "MLSTEWARD_JOBS_LEASE_SECONDS": "2"}
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    left = [p for p in temporary_files(data / "out.parquet", job.id) if p.exists()]
    assert left, "the killed attempt should have left its hidden files"

    def dead() -> bool:
        jobs_sdk(client).run_jobs()
        return JobService(client.ctx).get(job.id).state == "dead"

    poll(dead, timeout=30)
    assert sorted(p.name for p in data.iterdir()) == ["in.parquet"]
