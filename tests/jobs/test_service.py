"""The job queue on SQLite and PostgreSQL: idempotency, claims, leases,
retries with back-off, cancellation, logs, audit."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from mlsteward.errors import Conflict, InvalidInput, NotFound
from mlsteward.jobs import handlers as handlers_module
from mlsteward.jobs.models import JobInterrupted
from mlsteward.jobs.service import JobService
from mlsteward.jobs.specs import CancelJob, EnqueueJob
from mlsteward.jobs.tables import jobs
from mlsteward.jobs.worker import InProcessWorker, Worker
from mlsteward.store import utcnow

from .conftest import RETRY_BASE, jobs_sdk, poll


def _actions(client: Any, job_id: str) -> list[str]:
    return [e.action for e in client.audit_log(object_id=job_id)]


def _count_jobs(client: Any) -> int:
    with client.ctx.store.read() as session:
        return int(session.execute(select(func.count()).select_from(jobs)).scalar())


def test_the_same_key_gives_the_same_job(client: Any) -> None:
    svc = JobService(client.ctx)
    first = svc.enqueue(
        EnqueueJob.parse(kind="noop", payload={"echo": 1}, idempotency_key="alert-42")
    )
    again = svc.enqueue(
        EnqueueJob.parse(kind="noop", payload={"echo": 2}, idempotency_key="alert-42")
    )
    assert again.id == first.id and again.payload == {"echo": 1}
    other = svc.enqueue(
        EnqueueJob.parse(kind="noop", payload={"echo": 3}, idempotency_key="alert-43")
    )
    assert other.id != first.id
    assert _count_jobs(client) == 2
    assert _actions(client, first.id) == ["job.enqueued"]
    with pytest.raises(Conflict, match=r"already names job .* of kind 'noop'"):
        svc.enqueue(EnqueueJob.parse(kind="sleep", idempotency_key="alert-42"))


def test_racing_enqueues_with_one_key_make_one_job(client: Any) -> None:
    svc = JobService(client.ctx)
    barrier = threading.Barrier(8)

    def enqueue(_: int) -> str:
        barrier.wait(timeout=10)
        return svc.enqueue(
            EnqueueJob.parse(kind="noop", idempotency_key="drift-episode-7")
        ).id

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(enqueue, range(8)))
    assert len(ids) == 1
    assert _count_jobs(client) == 1


def test_bad_enqueues_are_refused_with_the_field_named(sqlite_client: Any) -> None:
    svc = JobService(sqlite_client.ctx)
    with pytest.raises(InvalidInput, match="no handler for job kind 'retrian'") as e:
        svc.enqueue(EnqueueJob.parse(kind="retrian"))
    assert "batch_score" in e.value.details["allowed"]
    with pytest.raises(InvalidInput) as e:
        svc.enqueue(EnqueueJob.parse(kind="noop", payload=[1, 2]))  # type: ignore[arg-type]
    assert e.value.field == "payload"
    with pytest.raises(InvalidInput, match="finite"):
        svc.enqueue(EnqueueJob.parse(kind="noop", payload={"x": float("nan")}))
    with pytest.raises(InvalidInput) as e:
        svc.enqueue(EnqueueJob.parse(kind="noop", max_attempts=0))
    assert e.value.field == "max_attempts"
    with pytest.raises(InvalidInput, match="time-zone aware"):
        svc.enqueue(EnqueueJob.parse(kind="noop", run_after=dt.datetime(2030, 1, 1)))
    assert _count_jobs(sqlite_client) == 0


def test_a_claim_takes_only_due_jobs_of_the_asked_kinds(client: Any) -> None:
    svc = JobService(client.ctx)
    later = svc.enqueue(
        EnqueueJob.parse(kind="noop", run_after=utcnow() + dt.timedelta(hours=1))
    )
    sleeper = svc.enqueue(EnqueueJob.parse(kind="sleep", payload={"seconds": 0}))
    assert svc.claim("w1", kinds=["noop"]) is None  # the noop job is not due
    claimed = svc.claim("w1", lease_seconds=30)
    assert claimed is not None and claimed.id == sleeper.id
    assert (claimed.state, claimed.attempts, claimed.claimed_by) == ("running", 1, "w1")
    assert claimed.lease_expires_at is not None
    lease = claimed.lease_expires_at - claimed.claimed_at  # type: ignore[operator]
    assert lease == dt.timedelta(seconds=30)
    assert svc.claim("w2") is None  # held under a lease
    assert svc.get(later.id).state == "queued"
    beat = svc.heartbeat(claimed, 120)
    assert beat.lease_expires_at > claimed.lease_expires_at  # type: ignore[operator]
    done = svc.complete(claimed, {"ok": True})
    assert (done.state, done.result, done.finished_at is not None) == (
        "succeeded",
        {"ok": True},
        True,
    )
    assert _actions(client, sleeper.id) == [
        "job.enqueued",
        "job.claimed",
        "job.succeeded",
    ]


def test_failures_back_off_exponentially_then_the_job_is_dead(
    client: Any, handlers: Any
) -> None:
    calls: list[int] = []

    def flaky(ctx: Any, payload: dict[str, Any], log: Any) -> dict[str, Any]:
        calls.append(1)
        log(f"attempt {len(calls)}", "warning")
        raise RuntimeError("upstream timed out")

    handlers("flaky", flaky)
    svc = JobService(client.ctx)
    job = svc.enqueue(EnqueueJob.parse(kind="flaky", max_attempts=3))
    worker = Worker(client.ctx, "w1")
    states = []
    for n in (1, 2, 3):
        ended = poll(worker.run_once, timeout=10)
        states.append(ended.state)
        assert ended.attempts == n and "RuntimeError: upstream timed out" in ended.error
        if n < 3:
            # After the n-th failure the job waits base * 2**(n-1).
            wait = ended.run_after - ended.updated_at
            assert wait == dt.timedelta(seconds=RETRY_BASE * 2 ** (n - 1))
    assert states == ["failed", "failed", "dead"]
    assert len(calls) == 3
    assert worker.run_once() is None
    assert _actions(client, job.id) == [
        "job.enqueued",
        "job.claimed",
        "job.failed",
        "job.claimed",
        "job.failed",
        "job.claimed",
        "job.dead",
    ]
    lines = svc.logs(job.id)
    warnings = [(e.attempt, e.message) for e in lines if e.level == "warning"]
    assert warnings == [(1, "attempt 1"), (2, "attempt 2"), (3, "attempt 3")]
    assert any("Traceback" in e.message for e in lines if e.level == "error")
    assert svc.retry_delay(30) == client.ctx.settings.jobs_retry_max_seconds


def test_errors_no_retry_can_fix_are_dead_at_once(
    sqlite_client: Any, handlers: Any
) -> None:
    def bad(ctx: Any, payload: dict[str, Any], log: Any) -> Any:
        if payload.get("shape") == "list":
            return [1, 2]
        raise InvalidInput("payload 'model' is missing", field="model")

    handlers("bad", bad)
    svc = JobService(sqlite_client.ctx)
    job = svc.enqueue(EnqueueJob.parse(kind="bad", max_attempts=5))
    listed = svc.enqueue(
        EnqueueJob.parse(kind="bad", payload={"shape": "list"}, max_attempts=5)
    )
    Worker(sqlite_client.ctx, "w1").run_pending()
    dead = svc.get(job.id)
    assert (dead.state, dead.attempts) == ("dead", 1)
    assert dead.error == "InvalidInput: payload 'model' is missing"
    returned = svc.get(listed.id)
    assert returned.state == "dead" and "must return a dict" in (returned.error or "")


def test_a_handler_that_cannot_be_imported_fails_the_job_not_the_worker(
    sqlite_client: Any, install_plugin: Any
) -> None:
    install_plugin({"mlsteward.jobs": {"ghost": "mlsteward.no_such_module:run_job"}})
    svc = JobService(sqlite_client.ctx)
    job = svc.enqueue(EnqueueJob.parse(kind="ghost", max_attempts=2))
    ran = Worker(sqlite_client.ctx, "w1").run_once()
    assert ran is not None and ran.state == "failed"  # retried: a redeploy may fix it
    assert "cannot be imported in this worker" in (ran.error or "")
    assert "mlsteward.no_such_module:run_job" in (ran.error or "")
    assert svc.get(job.id).attempts == 1

    # A kind only another process knows (a plug-in, a registered function).
    handlers_module.register_handler("elsewhere", lambda ctx, payload, log: {})
    try:
        other = svc.enqueue(EnqueueJob.parse(kind="elsewhere"))
    finally:
        handlers_module.unregister_handler("elsewhere")
    ran = Worker(sqlite_client.ctx, "w1", kinds=["elsewhere"]).run_once()
    assert ran is not None and (ran.id, ran.state) == (other.id, "failed")
    assert "no handler for job kind 'elsewhere' in this worker" in (ran.error or "")


def test_an_expired_lease_is_taken_over_and_the_old_worker_is_fenced(
    client: Any,
) -> None:
    svc = JobService(client.ctx)
    job = svc.enqueue(EnqueueJob.parse(kind="noop", max_attempts=2))
    stale = svc.claim("w1", lease_seconds=0.01)
    assert stale is not None
    fresh = poll(lambda: svc.claim("w2", lease_seconds=60))
    assert (fresh.id, fresh.attempts, fresh.claimed_by) == (job.id, 2, "w2")
    with pytest.raises(Conflict, match="taken over"):
        svc.complete(stale, {"from": "w1"})
    with pytest.raises(Conflict):
        svc.heartbeat(stale)
    assert svc.complete(fresh, {"from": "w2"}).result == {"from": "w2"}
    claims = [
        e.details
        for e in client.audit_log(object_id=job.id)
        if e.action == "job.claimed"
    ]
    assert [c["worker"] for c in claims] == ["w1", "w2"]
    assert claims[1]["lease_expired_for"] == "w1"


def test_a_lease_that_expires_on_the_last_attempt_buries_the_job(
    sqlite_client: Any,
) -> None:
    svc = JobService(sqlite_client.ctx)
    job = svc.enqueue(EnqueueJob.parse(kind="noop", max_attempts=1))
    assert svc.claim("w1", lease_seconds=0.01) is not None

    def settled() -> bool:
        assert svc.claim("w2") is None
        return svc.get(job.id).state == "dead"

    poll(settled)
    dead = svc.get(job.id)
    assert "stopped renewing its lease" in (dead.error or "")


def test_cancel(sqlite_client: Any, handlers: Any) -> None:
    svc = JobService(sqlite_client.ctx)
    queued = svc.enqueue(EnqueueJob.parse(kind="noop"))
    cancelled = svc.cancel(queued.id, CancelJob(reason="not needed"))
    assert cancelled.state == "cancelled" and "not needed" in (cancelled.error or "")
    with pytest.raises(Conflict, match="already cancelled"):
        svc.cancel(queued.id)
    with pytest.raises(NotFound):
        svc.cancel("nope")
    assert Worker(sqlite_client.ctx, "w1").run_once() is None

    # A running job stops at its next check; its outcome is not recorded.
    started = threading.Event()
    stopped: list[bool] = []

    def long(ctx: Any, payload: dict[str, Any], log: Any) -> dict[str, Any]:
        started.set()
        try:
            poll(lambda: log.check(), timeout=20)  # returns only by raising
        except JobInterrupted:
            stopped.append(True)
            raise
        return {}

    handlers("long", long)
    running = svc.enqueue(EnqueueJob.parse(kind="long"))
    worker = Worker(sqlite_client.ctx, "w1", lease_seconds=0.3)
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(worker.run_once()))
    thread.start()
    assert started.wait(20)
    svc.cancel(running.id, CancelJob(reason="wrong data"))
    thread.join(20)
    assert stopped == [True]
    assert outcome[0].state == "cancelled"
    assert _actions(sqlite_client, running.id) == [
        "job.enqueued",
        "job.claimed",
        "job.cancelled",
    ]


def test_logs_and_listing(sqlite_client: Any, handlers: Any) -> None:
    def chatty(ctx: Any, payload: dict[str, Any], log: Any) -> dict[str, Any]:
        log("step 1")
        log("careful", "warning")
        with pytest.raises(InvalidInput, match="log level"):
            log("?", "loud")
        return {"actor": ctx.actor}

    handlers("chatty", chatty)
    svc = JobService(sqlite_client.ctx)
    job = svc.enqueue(EnqueueJob.parse(kind="chatty"))
    other = svc.enqueue(EnqueueJob.parse(kind="noop"))
    ran = {
        j.id: j
        for j in Worker(sqlite_client.ctx.as_actor("worker"), "w1").run_pending()
    }
    # The handler acts as whoever queued the job.
    assert ran[job.id].result == {"actor": "tester"}
    lines = svc.logs(job.id)
    assert [(e.level, e.message, e.attempt) for e in lines] == [
        ("info", "step 1", 1),
        ("warning", "careful", 1),
    ]
    assert [e.message for e in svc.logs(job.id, limit=1)] == ["careful"]
    with pytest.raises(NotFound):
        svc.logs("nope")
    assert [j.id for j in svc.list(kind="noop")] == [other.id]
    assert {j.id for j in svc.list(state="succeeded")} == {job.id, other.id}
    with pytest.raises(InvalidInput, match="expected one of"):
        svc.list(state="done")


def test_the_in_process_worker_runs_jobs_in_the_background(sqlite_client: Any) -> None:
    svc = JobService(sqlite_client.ctx)
    with InProcessWorker(sqlite_client.ctx, poll_interval=0.02) as worker:
        assert worker.alive
        job = svc.enqueue(EnqueueJob.parse(kind="noop", payload={"echo": "bg"}))
        done = svc.wait(job.id, timeout=20, poll=0.02)
    assert not worker.alive
    assert done.result is not None and done.result["echo"] == "bg"

    sdk = jobs_sdk(sqlite_client)
    started = sdk.start_worker(poll_interval=0.02)
    assert sdk.start_worker() is started  # once
    queued = sdk.enqueue_job("noop", {"echo": "sdk"}, idempotency_key="sdk-1")
    assert sdk.wait_job(queued.id, timeout=20).result["echo"] == "sdk"
    sdk.stop_worker(timeout=20)
    assert not started.alive
    later = sdk.enqueue_job("noop", run_after=utcnow() + dt.timedelta(hours=1))
    assert sdk.run_jobs() == []
    assert sdk.cancel_job(later.id).state == "cancelled"
    assert [e.message for e in sdk.job_logs(queued.id)] == ["noop ran"]
    assert {j.state for j in sdk.list_jobs()} == {"succeeded", "cancelled"}
    assert sdk.get_job(queued.id).attempts == 1
    chain = sqlite_client.verify_audit()
    assert chain.events > 0 and chain.problems == []


def test_register_handler_cannot_stand_in_for_a_built_in_kind() -> None:
    from mlsteward.errors import InvalidInput

    builtin_sleep = handlers_module.get_handler("sleep")
    with pytest.raises(InvalidInput, match="'sleep' is a built-in") as info:
        handlers_module.register_handler("sleep", lambda ctx, payload, log: {})
    assert info.value.field == "kind"
    assert handlers_module.get_handler("sleep") is builtin_sleep
