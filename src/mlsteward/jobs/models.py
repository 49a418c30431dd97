"""Jobs domain types: a job, its states, its log lines."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["TERMINAL", "Job", "JobInterrupted", "JobLogEntry", "JobState"]


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


@dataclass(frozen=True)
class Job:
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
    run_after: dt.datetime
    idempotency_key: str | None
    claimed_by: str | None
    claimed_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    lease_expires_at: dt.datetime | None
    result: dict[str, Any] | None
    error: str | None
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def done(self) -> bool:
        """Whether the job is in a final state."""
        return self.state in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        def t(v: dt.datetime | None) -> str | None:
            return v.isoformat() if v is not None else None

        return {
            "id": self.id,
            "kind": self.kind,
            "payload": self.payload,
            "state": self.state,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "run_after": t(self.run_after),
            "idempotency_key": self.idempotency_key,
            "claimed_by": self.claimed_by,
            "claimed_at": t(self.claimed_at),
            "heartbeat_at": t(self.heartbeat_at),
            "lease_expires_at": t(self.lease_expires_at),
            "result": self.result,
            "error": self.error,
            "created_at": t(self.created_at),
            "created_by": self.created_by,
            "updated_at": t(self.updated_at),
            "finished_at": t(self.finished_at),
        }


@dataclass(frozen=True)
class JobLogEntry:
    """One line a job's handler (or its worker) wrote."""

    id: int
    job_id: str
    attempt: int
    at: dt.datetime
    level: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job_id": self.job_id,
            "attempt": self.attempt,
            "at": self.at.isoformat(),
            "level": self.level,
            "message": self.message,
        }
