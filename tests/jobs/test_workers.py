"""Real worker processes on SQLite and PostgreSQL: two workers never run one
job twice; a killed worker's job is taken over after its lease; SIGTERM lets
the current job finish."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from typing import Any

import pytest

from mlsteward.jobs.service import JobService
from mlsteward.jobs.specs import EnqueueJob
from mlsteward.jobs.worker import Worker

from .conftest import poll, start_cli


def _claims(client: Any, job_id: str) -> list[dict[str, Any]]:
    return [
        e.details
        for e in client.audit_log(object_id=job_id)
        if e.action == "job.claimed"
    ]


def test_two_worker_processes_race_for_one_job_and_it_runs_once(
    client: Any, settings: Any, stop_processes: list[Any]
) -> None:
    svc = JobService(client.ctx)
    # Long enough that both workers look while one of them holds it.
    job = svc.enqueue(EnqueueJob.parse(kind="sleep", payload={"seconds": 1.0}))
    procs = [start_cli(settings, "worker", "--once", "--json") for _ in range(2)]
    stop_processes.extend(procs)
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    ran = [o for o in outs if o is not None]
    assert len(ran) == 1 and ran[0]["id"] == job.id and ran[0]["state"] == "succeeded"
    assert len(_claims(client, job.id)) == 1
    woke = [e for e in svc.logs(job.id) if e.message == "woke up"]
    assert len(woke) == 1


@pytest.mark.postgres
def test_two_worker_processes_drain_a_queue_each_job_once(
    postgres_client: Any, stop_processes: list[Any]
) -> None:
    """On PostgreSQL claims really interleave (SKIP LOCKED); on SQLite they
    take turns at the write lock, which the one-job race already covers."""
    client, settings = postgres_client
    svc = JobService(client.ctx)
    queued = [
        svc.enqueue(EnqueueJob.parse(kind="sleep", payload={"seconds": 0.05})).id
        for _ in range(12)
    ]
    procs = [start_cli(settings, "jobs", "run-pending", "--json") for _ in range(2)]
    stop_processes.extend(procs)
    reported: list[str] = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        reported += [j["id"] for j in json.loads(out)]
    assert sorted(reported) == sorted(queued)  # every job by exactly one worker
    for job_id in queued:
        assert len(_claims(client, job_id)) == 1
    runs = Counter(
        e.job_id for q in queued for e in svc.logs(q) if e.message == "woke up"
    )
    assert set(runs.values()) == {1} and len(runs) == len(queued)
    assert {j.state for j in svc.list(limit=100)} == {"succeeded"}


#: A plug-in job kind that holds while its ``hold`` file exists, so a test can
#: kill the worker running it and then let the rescuer finish at once.
HOLD_PLUGIN = """
import os
import time


def hold(ctx, payload, log):
    log("holding")
    while os.path.exists(payload["hold"]):
        log.check()
        time.sleep(0.05)
    return {"held": True}
"""


def test_a_killed_workers_job_is_taken_over_after_its_lease(
    client: Any,
    settings: Any,
    install_plugin: Any,
    stop_processes: list[Any],
    tmp_path: Any,
) -> None:
    module = f"hold_plugin_{tmp_path.name.replace('-', '_')}"
    site = install_plugin(
        {"mlsteward.jobs": {"test.hold": f"{module}:hold"}}, {module: HOLD_PLUGIN}
    )
    held_file = tmp_path / "hold"
    held_file.touch()
    svc = JobService(client.ctx)
    job = svc.enqueue(
        EnqueueJob.parse(kind="test.hold", payload={"hold": str(held_file)})
    )
    pythonpath = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    victim = start_cli(
        settings, "worker", "--once", "--lease-seconds", "1", PYTHONPATH=pythonpath
    )
    stop_processes.append(victim)

    def holding() -> bool:
        return any(e.message == "holding" for e in svc.logs(job.id))

    poll(holding, timeout=30)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    held = svc.get(job.id)
    assert held.state == "running" and held.attempts == 1  # nothing was settled

    held_file.unlink()  # the rescuer need not wait
    rescuer = Worker(client.ctx, "rescuer", lease_seconds=30)
    done = poll(rescuer.run_once, timeout=30)
    assert (done.id, done.state, done.attempts) == (job.id, "succeeded", 2)
    assert done.result == {"held": True}
    claims = _claims(client, job.id)
    assert [c["attempt"] for c in claims] == [1, 2]
    assert claims[1]["worker"] == "rescuer"
    assert claims[1]["lease_expired_for"] == claims[0]["worker"]
    actions = [e.action for e in client.audit_log(object_id=job.id)]
    assert actions.count("job.succeeded") == 1


def test_sigterm_lets_the_current_job_finish(
    sqlite_client: Any, sqlite_settings: Any, stop_processes: list[Any]
) -> None:
    svc = JobService(sqlite_client.ctx)
    job = svc.enqueue(EnqueueJob.parse(kind="sleep", payload={"seconds": 1.0}))
    worker = start_cli(sqlite_settings, "worker", "--poll-interval", "0.05", "--json")
    stop_processes.append(worker)
    poll(lambda: svc.get(job.id).state == "running", timeout=30)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert json.loads(out)["jobs"] == 1
    done = svc.get(job.id)
    assert done.state == "succeeded" and done.attempts == 1
    assert "SIGTERM received" in err
