"""A retraining job killed at any step boundary resumes; every effect once.

The first attempt is a real ``mlsteward worker --once`` process that ends
itself with ``os._exit`` right after recording the named step (the
``MLSTEWARD_FAULT_AFTER_STEP`` hook; a SIGKILL at that moment leaves the same
state). The retry runs the job's handler again under the same job, as a
worker that re-claims the job would, and must finish the retraining without
repeating any effect.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.conftest import as_user, make_user
from tests.jobs.conftest import cli_env
from tests.retraining.conftest import champion_with_history

from mlsteward.jobs.service import JobService
from mlsteward.jobs.specs import EnqueueJob
from mlsteward.registry.tables import evaluations, model_versions
from mlsteward.retraining.policy import as_policy
from mlsteward.retraining.service import RetrainingService, run_job
from mlsteward.retraining.steps import FAULT_ENV, STEPS
from mlsteward.retraining.tables import approval_requests
from mlsteward.store.audit import audit_events

POLICY = {
    "model": "credit-risk",
    "data": {"reference": "german-credit-train", "window": "3650d"},
    "gates": {
        "auc_max_drop": 1.0,
        "ks_min": None,
        "four_fifths_min": None,
        "score_psi_max": None,
    },
    "promotion": {"mode": "manual"},
}


class _JobLog:
    """The ``log`` a worker hands a handler: it carries the job being run."""

    def __init__(self, job: Any) -> None:
        self.job = job

    def __call__(self, message: str, level: str = "info") -> None:
        pass

    def check(self) -> None:
        pass


def _count(client: Any, query: Any) -> int:
    with client.ctx.store.read() as session:
        return int(session.execute(query).scalar_one())


def _effects(client: Any) -> dict[str, int]:
    def actions(name: str, object_id: str | None = None) -> int:
        q = select(func.count()).where(audit_events.c.action == name)
        if object_id is not None:
            q = q.where(audit_events.c.object_id == object_id)
        return _count(client, q)

    return {
        "versions": _count(client, select(func.count()).select_from(model_versions)),
        "evaluations": _count(client, select(func.count()).select_from(evaluations)),
        "approval_requests": _count(
            client, select(func.count()).select_from(approval_requests)
        ),
        "runs_started": actions("run.started"),
        "runs_finished": actions("run.finished"),
        "alias_set": actions("alias.set"),
        "retraining_finished": actions("retraining.finished"),
    }


@pytest.fixture
def dana(client: Any) -> Any:
    """A champion with three labelled months, and a developer's context."""
    champion_with_history(client, n_periods=3)
    make_user(client.ctx, "root", "admin")
    make_user(client.ctx, "dana", "developer")
    RetrainingService(as_user(client.ctx, "root")).set_policy(as_policy(POLICY))
    return as_user(client.ctx, "dana")


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS[:-1])
def test_a_retraining_killed_after_each_step_resumes_without_repeats(
    client: Any, settings: Any, dana: Any, step: str
) -> None:
    before = _effects(client)
    job = JobService(dana).enqueue(
        EnqueueJob.parse(kind="retrain", payload={"model": "credit-risk"})
    )

    killed = subprocess.run(
        [sys.executable, "-m", "mlsteward", "worker", "--once"],
        env=cli_env(settings, **{FAULT_ENV: step}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == 137, killed.stderr[-2000:]
    recorded = RetrainingService(dana).get(job.id)
    assert recorded.status == ("finished" if step == "decision" else "running")

    result = run_job(dana, dict(job.payload), _JobLog(JobService(dana).get(job.id)))

    after = _effects(client)
    done = RetrainingService(dana).get(job.id)
    assert result["id"] == job.id and done.status == "finished"
    assert done.decision == "awaiting_approval"
    assert {k: after[k] - before[k] for k in after} == {
        "versions": 1,  # one challenger
        "evaluations": 2,  # champion and challenger on the holdout
        "approval_requests": 1,
        "runs_started": 1,
        "runs_finished": 1,
        "alias_set": 1,  # challenger set once
        "retraining_finished": 1,
    }
    assert [r.id for r in RetrainingService(dana).list("credit-risk")] == [job.id]


def test_a_finished_retraining_run_again_under_its_key_changes_nothing(
    client: Any, dana: Any
) -> None:
    first = RetrainingService(dana).retrain("credit-risk", key="k1")
    before = _effects(client)
    again = RetrainingService(dana).retrain("credit-risk", key="k1")
    assert _effects(client) == before
    assert (again.id, again.challenger, again.approval_id) == (
        first.id,
        first.challenger,
        first.approval_id,
    )
