"""Jobs domain types: a job, its states, its log lines."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from mlsteward.results import Result, Timestamp

__all__ = [
    "TERMINAL",
    "Job",
    "JobInterrupted",
    "JobLogEntry",
    "JobState",
    "QueueHealth",
]


class JobState(StrEnum):
    """Where a job is in its life.

    ``queued`` waits for its ``run_after``; ``running`` is held by a worker
    under a lease; ``failed`` means the last attempt failed and another is
    due at ``run_after`` (back-off); ``dead`` means it failed for good (out of
    attempts, or an error no retry can fix); ``cancelled`` was stopped by a
    person. ``succeeded``, ``dead`` and ``cancelled`` are final.
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"


#: States a job never leaves.
TERMINAL: frozenset[str] = frozenset(
    {JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED}
)


class JobInterrupted(Exception):
    """Raised inside a handler (by ``log.check()``) when the job was cancelled
    or its lease was taken over, so the handler stops at a safe point."""


class Job(Result):
    """One unit of background work and where it stands.

    ``attempts`` counts claims so far; together with ``claimed_by`` it fences
    a worker's writes: a worker may record the result only of the attempt it
    claimed.
    """

    id: str
    kind: str
    payload: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    run_after: Timestamp
    idempotency_key: str | None
    claimed_by: str | None
    claimed_at: Timestamp | None
    heartbeat_at: Timestamp | None
    lease_expires_at: Timestamp | None
    result: dict[str, Any] | None
    error: str | None
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    finished_at: Timestamp | None

    @property
    def done(self) -> bool:
        """Whether the job is in a final state."""
        return self.state in TERMINAL


class JobLogEntry(Result):
    """One line a job's handler (or its worker) wrote."""

    id: int
    job_id: str
    attempt: int
    at: Timestamp
    level: str
    message: str


class QueueHealth(Result):
    """What the queue says about its workers at one moment (``mlsteward
    doctor``). An idle worker leaves no row behind, so only a worker that
    holds a job is seen.

    Attributes:
        at: The moment, by this machine's clock.
        workers: Workers holding a job under a live lease.
        running: Jobs held under a live lease.
        expired: Running jobs whose lease ran out (their worker stopped
            renewing it); the next worker that looks takes them over.
        waiting: Due jobs (queued, or failed and due for a retry) whose
            ``run_after`` passed more than ``waited_seconds`` ago.
        oldest_due: ``run_after`` of the longest-waiting due job, if any.
    """

    at: Timestamp
    workers: list[str]
    running: int
    expired: int
    waiting: int
    waited_seconds: float
    oldest_due: Timestamp | None
