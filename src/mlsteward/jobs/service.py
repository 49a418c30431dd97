"""Job queue use cases: enqueue, claim, heartbeat, complete, fail, cancel.

The queue is the ``jobs`` table. Claiming is one transaction that finds a due
job and marks it ``running`` under a lease: on PostgreSQL the row is taken
with ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent workers pass over
each other's rows instead of waiting; on SQLite every unit of work takes the
database's write lock at ``BEGIN IMMEDIATE``, so the select and the update
cannot interleave with another worker's. A job whose lease ran out (its
worker was killed, or lost the database) is due again.

Every state change writes its audit event in the same transaction.
"""

from __future__ import annotations

import builtins
import datetime as dt
import time
import uuid

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError as DBIntegrityError

from mlsteward.context import Context
from mlsteward.errors import Conflict, InvalidInput
from mlsteward.identity.access import internal, use_case
from mlsteward.jobs.attempts import Attempts, row_to_job
from mlsteward.jobs.models import TERMINAL, Job, JobLogEntry, JobState, QueueHealth
from mlsteward.jobs.specs import CancelJob, EnqueueJob
from mlsteward.jobs.tables import job_logs, jobs
from mlsteward.jobs.validate import MAX_PAYLOAD_BYTES
from mlsteward.store import audit, utcnow

__all__ = ["LOG_LEVELS", "MAX_PAYLOAD_BYTES", "JobService"]

#: Levels a job log line may have.
LOG_LEVELS = ("debug", "info", "warning", "error")
_MAX_LOG_CHARS = 20_000


class JobService(Attempts):
    """The job queue of one metadata store.

    Example:
        >>> svc = JobService(ctx)  # doctest: +SKIP
        >>> job = svc.enqueue(EnqueueJob(kind="noop", idempotency_key="demo-1"))
        >>> claimed = svc.claim("worker-a")  # doctest: +SKIP
        >>> svc.complete(claimed, {"ok": True}).state  # doctest: +SKIP
        'succeeded'
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- creating and reading --------------------------------------------
    @use_case("jobs.enqueue", "developer")
    def enqueue(self, spec: EnqueueJob) -> Job:
        """Queue a job, or return the job already queued under the same key.

        Args:
            spec: Kind, payload and queue settings
                (:class:`~mlsteward.jobs.specs.EnqueueJob`), validated there.

        Raises:
            InvalidInput: unknown kind, payload not a JSON object, bad limits.
            Conflict: the key names an existing job of another kind.

        Example:
            >>> svc.enqueue(EnqueueJob(kind="noop", idempotency_key="once"))
            ... # doctest: +SKIP
        """
        kind, body = spec.kind, spec.payload
        idempotency_key, max_attempts = spec.idempotency_key, spec.max_attempts
        run_after = spec.run_after
        if idempotency_key is not None:
            existing = self._by_key(idempotency_key)
            if existing is not None:
                return self._same_kind(existing, kind)
        now = utcnow()
        job_id = uuid.uuid4().hex
        try:
            with self.ctx.store.unit_of_work() as session:
                session.execute(
                    insert(jobs).values(
                        id=job_id,
                        kind=kind,
                        payload=body,
                        state=JobState.QUEUED.value,
                        attempts=0,
                        max_attempts=max_attempts,
                        run_after=run_after or now,
                        idempotency_key=idempotency_key,
                        created_at=now,
                        created_by=self.ctx.actor,
                        updated_at=now,
                    )
                )
                audit.record(
                    session,
                    actor=self.ctx.actor,
                    action="job.enqueued",
                    object_type="job",
                    object_id=job_id,
                    details={
                        "kind": kind,
                        "idempotency_key": idempotency_key,
                        "max_attempts": max_attempts,
                        "run_after": (run_after or now).isoformat(),
                    },
                )
                return self._get(session, job_id)
        except DBIntegrityError:
            # Another enqueue with the same key committed between our look-up
            # and our insert; the unique constraint kept it to one job.
            if idempotency_key is None:
                raise
            existing = self._by_key(idempotency_key)
            if existing is None:
                raise
            return self._same_kind(existing, kind)

    @use_case("jobs.get", "viewer")
    def get(self, job_id: str) -> Job:
        """One job by id."""
        with self.ctx.store.read() as session:
            return self._get(session, job_id)

    @use_case("jobs.list", "viewer")
    def list(
        self,
        *,
        state: str | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """The newest ``limit`` jobs, newest first, optionally filtered."""
        allowed = [s.value for s in JobState]
        if state is not None and state not in allowed:
            raise InvalidInput(
                f"state {state!r} is not a job state; expected one of {allowed}",
                field="state",
                allowed=allowed,
            )
        if not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be from 1 to 10000", field="limit")
        q = (
            select(jobs)
            .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
            .limit(limit)
        )
        if state is not None:
            q = q.where(jobs.c.state == state)
        if kind is not None:
            q = q.where(jobs.c.kind == kind)
        with self.ctx.store.read() as session:
            return [row_to_job(r) for r in session.execute(q)]

    @use_case("jobs.logs", "viewer")
    def logs(
        self, job_id: str, *, limit: int | None = None
    ) -> builtins.list[JobLogEntry]:
        """A job's log lines, oldest first (the last ``limit`` if given)."""
        q = select(job_logs).where(job_logs.c.job_id == job_id)
        with self.ctx.store.read() as session:
            self._get(session, job_id)
            if limit is not None:
                q = q.order_by(job_logs.c.id.desc()).limit(limit)
                rows = list(session.execute(q))[::-1]
            else:
                rows = list(session.execute(q.order_by(job_logs.c.id)))
        return [
            JobLogEntry(
                id=r.id,
                job_id=r.job_id,
                attempt=r.attempt,
                at=r.at,
                level=r.level,
                message=r.message,
            )
            for r in rows
        ]

    @internal("a handler writing to its job log")
    def log(self, job: Job, message: str, level: str = "info") -> None:
        """Append one line to ``job``'s log, tagged with its attempt."""
        if level not in LOG_LEVELS:
            raise InvalidInput(
                f"log level {level!r} is not one of {list(LOG_LEVELS)}",
                field="level",
            )
        text = str(message)
        if len(text) > _MAX_LOG_CHARS:
            text = text[:_MAX_LOG_CHARS] + " [truncated]"
        with self.ctx.store.unit_of_work() as session:
            session.execute(
                insert(job_logs).values(
                    job_id=job.id,
                    attempt=job.attempts,
                    at=utcnow(),
                    level=level,
                    message=text,
                )
            )

    @internal("read by `mlsteward doctor`, which answers to whoever runs it")
    def queue_health(self, waited_seconds: float = 300.0) -> QueueHealth:
        """Who holds jobs now, and which due jobs have waited too long.

        Args:
            waited_seconds: A due job counts as waiting once its ``run_after``
                is this far behind.
        """
        now = utcnow()
        running = jobs.c.state == JobState.RUNNING
        due = jobs.c.state.in_([JobState.QUEUED, JobState.FAILED])
        with self.ctx.store.read() as session:
            live = session.execute(
                select(jobs.c.claimed_by, func.count())
                .where(running, jobs.c.lease_expires_at >= now)
                .group_by(jobs.c.claimed_by)
                .order_by(jobs.c.claimed_by)
            ).all()
            expired = session.execute(
                select(func.count()).where(running, jobs.c.lease_expires_at < now)
            ).scalar_one()
            cutoff = now - dt.timedelta(seconds=waited_seconds)
            waiting, oldest = session.execute(
                select(func.count(), func.min(jobs.c.run_after)).where(
                    due, jobs.c.run_after <= cutoff
                )
            ).one()
        return QueueHealth(
            at=now,
            workers=[str(w) for w, _ in live],
            running=sum(n for _, n in live),
            expired=int(expired),
            waiting=int(waiting),
            waited_seconds=waited_seconds,
            oldest_due=oldest,
        )

    @use_case("jobs.wait", "viewer")
    def wait(self, job_id: str, *, timeout: float = 60.0, poll: float = 0.1) -> Job:
        """Poll until the job is final; return it.

        Raises:
            Conflict: it is not final after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.done:
                return job
            if time.monotonic() >= deadline:
                raise Conflict(
                    f"job {job_id} is still {job.state} after {timeout:g} s",
                    field="job_id",
                )
            time.sleep(poll)

    # -- state changes ----------------------------------------------------
    @use_case("jobs.cancel", "developer")
    def cancel(self, job_id: str, spec: CancelJob | None = None) -> Job:
        """Cancel a job that has not finished; ``spec.reason`` says why.

        A queued or failed job will not run again. A running job is marked
        cancelled at once; its worker notices at its next heartbeat, the
        handler is asked to stop at its next ``log.check()``, and whatever it
        returns is discarded.

        Raises:
            Conflict: the job already finished.
        """
        reason = (spec or CancelJob()).reason
        with self.ctx.store.unit_of_work() as session:
            row = self._locked(session, job_id)
            if row.state in TERMINAL:
                raise Conflict(
                    f"job {job_id} is already {row.state}; only queued, failed or "
                    "running jobs can be cancelled",
                    field="state",
                )
            now = utcnow()
            session.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    state=JobState.CANCELLED.value,
                    error=f"cancelled by {self.ctx.actor}"
                    + (f": {reason}" if reason else ""),
                    lease_expires_at=None,
                    updated_at=now,
                    finished_at=now,
                )
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="job.cancelled",
                object_type="job",
                object_id=job_id,
                details={
                    "from": row.state,
                    "reason": reason,
                    "worker": row.claimed_by if row.state == "running" else None,
                },
            )
            return self._get(session, job_id)

    # -- helpers ----------------------------------------------------------
    def _by_key(self, key: str) -> Job | None:
        with self.ctx.store.read() as session:
            row = session.execute(
                select(jobs).where(jobs.c.idempotency_key == key)
            ).first()
            return row_to_job(row) if row is not None else None

    @staticmethod
    def _same_kind(existing: Job, kind: str) -> Job:
        if existing.kind != kind:
            raise Conflict(
                f"idempotency key {existing.idempotency_key!r} already names job "
                f"{existing.id} of kind {existing.kind!r}, not {kind!r}; use a key "
                "that includes the kind",
                field="idempotency_key",
            )
        return existing
