"""The worker's side of the job queue: claim a due job, hold it under a
lease, record its outcome.

:class:`Attempts` is the base of :class:`~mlsteward.jobs.service.JobService`;
the transactions and locking are described in :mod:`mlsteward.jobs.service`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.errors import Conflict, InvalidInput, NotFound
from mlsteward.identity.access import internal
from mlsteward.jobs.handlers import clean_up_dead
from mlsteward.jobs.models import Job, JobState
from mlsteward.jobs.tables import jobs
from mlsteward.jobs.validate import json_object
from mlsteward.store import audit, utcnow

__all__ = ["Attempts", "row_to_job"]

_MAX_ERROR_CHARS = 20_000


def row_to_job(row: Any) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        payload=row.payload or {},
        state=row.state,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        run_after=row.run_after,
        idempotency_key=row.idempotency_key,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        heartbeat_at=row.heartbeat_at,
        lease_expires_at=row.lease_expires_at,
        result=row.result,
        error=row.error,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


class Attempts:
    """Claim, heartbeat, complete and fail: one attempt of a job at a time."""

    ctx: Context

    @internal("run by a worker on the job it claimed")
    def claim(
        self,
        worker_id: str,
        kinds: Sequence[str] | None = None,
        lease_seconds: float | None = None,
    ) -> Job | None:
        """Take the next due job for ``worker_id`` and mark it running.

        Due means ``queued`` or ``failed`` with ``run_after`` passed, or
        ``running`` with its lease expired. A job whose lease expired on its
        last allowed attempt is marked ``dead`` instead of being run again.

        Args:
            worker_id: Who claims; recorded as ``claimed_by``.
            kinds: Only these kinds (default: any).
            lease_seconds: How long the claim holds without a heartbeat
                (default ``settings.jobs_lease_seconds``).

        Returns:
            The claimed job (``attempts`` already counts this attempt), or
            None when nothing is due.
        """
        if not isinstance(worker_id, str) or not 1 <= len(worker_id) <= 200:
            raise InvalidInput(
                "worker_id must be a string of 1-200 characters", field="worker_id"
            )
        lease = self.resolve_lease(lease_seconds)
        for _ in range(100):  # bounded: each pass settles one expired job
            with self.ctx.store.unit_of_work() as session:
                now = utcnow()
                row = session.execute(_next_due(kinds, now)).first()
                if row is None:
                    return None
                expired = row.state == JobState.RUNNING
                if not (expired and row.attempts >= row.max_attempts):
                    self._start_attempt(session, row, worker_id, lease, now)
                    return self._get(session, row.id)
                self._bury_expired(session, row, now)
            # Committed dead: what its last attempt left behind goes now.
            clean_up_dead(self.ctx, row.kind, row.id, row.payload)
        return None

    def _start_attempt(
        self, session: Session, row: Any, worker_id: str, lease: float, now: Any
    ) -> None:
        expired = row.state == JobState.RUNNING
        attempt = row.attempts + 1
        session.execute(
            update(jobs)
            .where(jobs.c.id == row.id)
            .values(
                state=JobState.RUNNING.value,
                attempts=attempt,
                claimed_by=worker_id,
                claimed_at=now,
                heartbeat_at=now,
                lease_expires_at=now + dt.timedelta(seconds=lease),
                updated_at=now,
            )
        )
        audit.record(
            session,
            actor=self.ctx.actor,
            action="job.claimed",
            object_type="job",
            object_id=row.id,
            details={
                "kind": row.kind,
                "worker": worker_id,
                "attempt": attempt,
                "lease_seconds": lease,
                "from": row.state,
                "lease_expired_for": row.claimed_by if expired else None,
            },
        )

    @internal("run by a worker on the job it claimed")
    def heartbeat(self, job: Job, lease_seconds: float | None = None) -> Job:
        """Extend the lease of a job this worker holds.

        Raises:
            Conflict: the worker no longer holds it (cancelled, or its lease
                expired and another worker took it over).
        """
        lease = self.resolve_lease(lease_seconds)
        with self.ctx.store.unit_of_work() as session:
            self._held(session, job)
            now = utcnow()
            session.execute(
                update(jobs)
                .where(jobs.c.id == job.id)
                .values(
                    heartbeat_at=now,
                    lease_expires_at=now + dt.timedelta(seconds=lease),
                )
            )
            return self._get(session, job.id)

    @internal("run by a worker on the job it claimed")
    def complete(self, job: Job, result: Mapping[str, Any] | None = None) -> Job:
        """Record the result of the attempt ``job`` was claimed for.

        Raises:
            Conflict: the worker no longer holds the job; the result is not
                recorded.
            InvalidInput: the result is not a JSON object.
        """
        body = json_object(result, "result")
        with self.ctx.store.unit_of_work() as session:
            self._held(session, job)
            now = utcnow()
            session.execute(
                update(jobs)
                .where(jobs.c.id == job.id)
                .values(
                    state=JobState.SUCCEEDED.value,
                    result=body,
                    error=None,
                    lease_expires_at=None,
                    updated_at=now,
                    finished_at=now,
                )
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="job.succeeded",
                object_type="job",
                object_id=job.id,
                details={
                    "kind": job.kind,
                    "worker": job.claimed_by,
                    "attempt": job.attempts,
                },
            )
            return self._get(session, job.id)

    @internal("run by a worker on the job it claimed")
    def fail(self, job: Job, error: str, *, retry: bool = True) -> Job:
        """Record that the attempt ``job`` was claimed for failed.

        With attempts left (and ``retry``), the job goes to ``failed`` and is
        due again after a back-off of ``jobs_retry_base_seconds * 2**(n-1)``
        after the n-th attempt, capped at ``jobs_retry_max_seconds``;
        otherwise it is ``dead``.

        Raises:
            Conflict: the worker no longer holds the job.
        """
        text = str(error)
        if len(text) > _MAX_ERROR_CHARS:
            text = text[:_MAX_ERROR_CHARS] + " [truncated]"
        with self.ctx.store.unit_of_work() as session:
            row = self._held(session, job)
            now = utcnow()
            again = retry and row.attempts < row.max_attempts
            if again:
                delay = self.retry_delay(row.attempts)
                values: dict[str, Any] = {
                    "state": JobState.FAILED.value,
                    "run_after": now + dt.timedelta(seconds=delay),
                }
            else:
                values = {"state": JobState.DEAD.value, "finished_at": now}
            session.execute(
                update(jobs)
                .where(jobs.c.id == job.id)
                .values(error=text, lease_expires_at=None, updated_at=now, **values)
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="job.failed" if again else "job.dead",
                object_type="job",
                object_id=job.id,
                details={
                    "kind": job.kind,
                    "worker": job.claimed_by,
                    "attempt": row.attempts,
                    "max_attempts": row.max_attempts,
                    "retry_at": values["run_after"].isoformat() if again else None,
                    "error": text[:500],
                },
            )
            return self._get(session, job.id)

    @internal("arithmetic of retries")
    def retry_delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt.

        Example:
            >>> JobService(ctx).retry_delay(3)  # base 10 s  # doctest: +SKIP
            40.0
        """
        s = self.ctx.settings
        exponent = min(max(attempts - 1, 0), 60)
        return float(
            min(s.jobs_retry_base_seconds * 2**exponent, s.jobs_retry_max_seconds)
        )

    # -- helpers ----------------------------------------------------------
    @internal("arithmetic of leases")
    def resolve_lease(self, lease_seconds: float | None) -> float:
        """``lease_seconds``, or the configured lease, checked."""
        lease = (
            self.ctx.settings.jobs_lease_seconds
            if lease_seconds is None
            else lease_seconds
        )
        if (
            isinstance(lease, bool)
            or not isinstance(lease, int | float)
            or not math.isfinite(lease)
            or lease <= 0
        ):
            raise InvalidInput(
                f"lease_seconds must be a positive number, got {lease!r}",
                field="lease_seconds",
            )
        return float(lease)

    def _get(self, session: Session, job_id: str) -> Job:
        row = session.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"job {job_id!r} not found", field="job_id")
        return row_to_job(row)

    def _locked(self, session: Session, job_id: str) -> Any:
        # FOR NO KEY UPDATE: the id never changes, and a weaker lock lets
        # job_logs inserts (whose foreign key takes KEY SHARE) pass.
        row = session.execute(
            select(jobs).where(jobs.c.id == job_id).with_for_update(key_share=True)
        ).first()
        if row is None:
            raise NotFound(f"job {job_id!r} not found", field="job_id")
        return row

    def _held(self, session: Session, job: Job) -> Any:
        """The job's row, locked, if ``job``'s worker still holds this attempt."""
        row = self._locked(session, job.id)
        if (
            row.state == JobState.RUNNING
            and row.claimed_by == job.claimed_by
            and row.attempts == job.attempts
        ):
            return row
        if row.state == JobState.RUNNING or row.attempts != job.attempts:
            why = (
                f"its lease expired and it was taken over (now attempt "
                f"{row.attempts} by {row.claimed_by})"
            )
        else:
            why = f"it is {row.state} now"
        raise Conflict(
            f"worker {job.claimed_by} no longer holds job {job.id} (attempt "
            f"{job.attempts}): {why}",
            field="job_id",
            state=row.state,
        )

    def _bury_expired(self, session: Session, row: Any, now: dt.datetime) -> None:
        error = (
            f"worker {row.claimed_by} stopped renewing its lease during attempt "
            f"{row.attempts} of {row.max_attempts} (killed or cut off); no "
            "attempts left"
        )
        session.execute(
            update(jobs)
            .where(jobs.c.id == row.id)
            .values(
                state=JobState.DEAD.value,
                error=error,
                lease_expires_at=None,
                updated_at=now,
                finished_at=now,
            )
        )
        audit.record(
            session,
            actor=self.ctx.actor,
            action="job.dead",
            object_type="job",
            object_id=row.id,
            details={
                "kind": row.kind,
                "worker": row.claimed_by,
                "attempt": row.attempts,
                "max_attempts": row.max_attempts,
                "error": error,
            },
        )


def _next_due(kinds: Sequence[str] | None, now: dt.datetime) -> Any:
    """The next due job, locked: queued or failed with ``run_after`` passed, or
    running with its lease expired; other workers' locked rows are skipped."""
    due = or_(
        and_(
            jobs.c.state.in_([JobState.QUEUED, JobState.FAILED]),
            jobs.c.run_after <= now,
        ),
        and_(jobs.c.state == JobState.RUNNING, jobs.c.lease_expires_at < now),
    )
    q = select(jobs).where(due)
    if kinds is not None:
        q = q.where(jobs.c.kind.in_(list(kinds)))
    return (
        q.order_by(jobs.c.run_after, jobs.c.created_at, jobs.c.id)
        .limit(1)
        .with_for_update(skip_locked=True, key_share=True)
    )
