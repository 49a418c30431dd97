"""A ``monitor_run`` job killed after its run committed stores it once.

The first attempt is a real ``mlsteward worker --once`` that SIGKILLs itself
right after the run's transaction (the ``MLSTEWARD_FAULT_MONITOR`` hook),
before the job is marked done. After the lease runs out the job is claimed
again: the retry finds the run stored under the job's id and stores nothing
more — the same result rows, no alert counted twice, one ``monitor.ran``
event — on SQLite and PostgreSQL. A kill before the commit leaves nothing,
so the retry's run is the only one.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from mlsteward.jobs.service import JobService
from mlsteward.jobs.specs import EnqueueJob
from mlsteward.monitoring.jobs import FAULT_ENV
from mlsteward.monitoring.tables import alerts, monitor_results
from mlsteward.store.audit import audit_events

from .conftest import cli_env, jobs_sdk, poll


def _effects(client: Any) -> tuple[int, int, int, list[str]]:
    with client.ctx.store.read() as session:
        results = session.scalar(select(func.count()).select_from(monitor_results))
        raised = session.scalar(select(func.count()).select_from(alerts))
        counted = session.scalar(select(func.coalesce(func.sum(alerts.c.count), 0)))
        ran = session.execute(
            select(audit_events.c.details).where(audit_events.c.action == "monitor.ran")
        ).scalars()
        return int(results), int(raised), int(counted), [d["run_id"] for d in ran]


@pytest.mark.slow
def test_a_monitor_job_killed_after_its_run_committed_stores_it_once(
    model: Any, settings: Any, credit: pd.DataFrame
) -> None:
    client, features = model
    client.deployments.create(name="cr", model="credit-risk@champion")
    rows = credit[features].sample(400, random_state=1)
    rows["credit_amount"] = rows["credit_amount"] * 4  # drift: alerts to count
    client.score("credit-risk@champion", rows, deployment="cr")
    reference = client.datasets.register(data=credit, name="gc-train")
    client.monitors.create(
        name="cr", deployment="cr", window="last:400", reference=reference.ref
    )
    job = JobService(client.ctx).enqueue(
        EnqueueJob.parse(kind="monitor_run", payload={"monitor": "cr"})
    )
    killed = subprocess.run(
        [sys.executable, "-m", "mlsteward", "worker", "--once"],
        env=cli_env(
            settings, **{FAULT_ENV: "ran", "MLSTEWARD_JOBS_LEASE_SECONDS": "2"}
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    first = _effects(client)
    assert first[0] > 0 and first[1] > 0 and first[3] == [job.id]

    ran = poll(lambda: jobs_sdk(client).run_jobs(), timeout=30)
    done = JobService(client.ctx).get(job.id)
    assert [j.id for j in ran] == [job.id]
    assert (done.state, done.attempts) == ("succeeded", 2), done.error
    assert done.result == {"run_id": job.id, "resumed": True}
    assert _effects(client) == first
