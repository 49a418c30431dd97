"""Client methods of jobs: ``client.jobs`` (the queue, the in-process worker,
batch scoring).

The flat methods (``enqueue_job``, ``run_jobs``, ``score_file``, ...) stay as
delegations to the namespace.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlsteward.context import Context
from mlsteward.jobs.batch import BatchScoreResult, BatchScoringService, Progress
from mlsteward.jobs.models import Job, JobLogEntry
from mlsteward.jobs.service import JobService
from mlsteward.jobs.specs import CancelJob, EnqueueJob, ScoreBatch
from mlsteward.jobs.worker import InProcessWorker, Worker
from mlsteward.sdk.build import spec_of

__all__ = ["Jobs", "JobsMixin"]


class Jobs:
    """``client.jobs``: queue jobs and inspect them, run them here, score files.

    Example:
        >>> job = client.jobs.enqueue(kind="noop", idempotency_key="hello")
        ... # doctest: +SKIP
        >>> client.jobs.run_pending()  # doctest: +SKIP
        [Job(id=..., kind='noop', state='succeeded', ...)]
    """

    def __init__(self, ctx: Context, owner: Any = None) -> None:
        self.ctx = ctx
        self._svc = JobService(ctx)
        self._owner = owner  # holds the background worker across calls

    # -- the queue --------------------------------------------------------
    def enqueue(self, spec: EnqueueJob | None = None, **fields: Any) -> Job:
        """Queue a job; the same ``idempotency_key`` returns the same job.

        Args:
            spec: An :class:`~mlsteward.jobs.specs.EnqueueJob`.
            **fields: Its fields instead (``kind``, ``payload``,
                ``idempotency_key``, ``max_attempts``, ``run_after``).

        Example:
            >>> client.jobs.enqueue(kind="retrain",
            ...     payload={"model": "credit-risk"})  # doctest: +SKIP
        """
        return self._svc.enqueue(spec_of(EnqueueJob, spec, fields))

    def get(self, job_id: str) -> Job:
        """One job by id.

        Example:
            >>> client.jobs.get(job.id).state  # doctest: +SKIP
            'queued'
        """
        return self._svc.get(job_id)

    def list(
        self, *, state: str | None = None, kind: str | None = None, limit: int = 100
    ) -> builtins.list[Job]:
        """The newest jobs, newest first, by state or kind.

        Example:
            >>> client.jobs.list(state="dead")  # doctest: +SKIP
        """
        return self._svc.list(state=state, kind=kind, limit=limit)

    def logs(
        self, job_id: str, *, limit: int | None = None
    ) -> builtins.list[JobLogEntry]:
        """A job's log lines, oldest first (the last ``limit`` if given).

        Example:
            >>> client.jobs.logs(job.id, limit=20)  # doctest: +SKIP
        """
        return self._svc.logs(job_id, limit=limit)

    def cancel(self, job_id: str, spec: CancelJob | None = None, **fields: Any) -> Job:
        """Cancel a job that has not finished (a running one stops at its next
        safe point).

        Example:
            >>> client.jobs.cancel(job.id, reason="queued twice")  # doctest: +SKIP
        """
        return self._svc.cancel(job_id, spec_of(CancelJob, spec, fields))

    def wait(self, job_id: str, *, timeout: float = 60.0) -> Job:
        """Poll until the job is final (some worker must be running it).

        Example:
            >>> client.jobs.wait(job.id, timeout=30).state  # doctest: +SKIP
            'succeeded'
        """
        return self._svc.wait(job_id, timeout=timeout)

    # -- running jobs in this process ------------------------------------
    def run_pending(
        self, *, kinds: Sequence[str] | None = None, max_jobs: int | None = None
    ) -> builtins.list[Job]:
        """Run the due jobs here, now, until none is due; return them.

        Example:
            >>> client.jobs.run_pending(kinds=["batch_score"])  # doctest: +SKIP
        """
        return Worker(self.ctx, kinds=kinds).run_pending(max_jobs)

    def start_worker(
        self,
        *,
        kinds: Sequence[str] | None = None,
        poll_interval: float | None = None,
    ) -> InProcessWorker:
        """Start (once) a background worker thread for this client's store.

        Example:
            >>> client.jobs.start_worker()  # doctest: +SKIP
        """
        holder: Any = self._owner if self._owner is not None else self
        worker: InProcessWorker | None = getattr(holder, "_jobs_worker", None)
        if worker is None or not worker.alive:
            worker = InProcessWorker(self.ctx, kinds=kinds, poll_interval=poll_interval)
            holder._jobs_worker = worker
        return worker.start()

    def stop_worker(self, timeout: float | None = None) -> None:
        """Stop the background worker after its current job.

        Example:
            >>> client.jobs.stop_worker()  # doctest: +SKIP
        """
        holder = self._owner if self._owner is not None else self
        worker: InProcessWorker | None = getattr(holder, "_jobs_worker", None)
        if worker is not None:
            worker.stop(timeout)

    # -- batch scoring ----------------------------------------------------
    def score_file(
        self,
        spec: ScoreBatch | None = None,
        *,
        progress: Progress | None = None,
        **fields: Any,
    ) -> BatchScoreResult:
        """Score a table file of any size through a version; log its
        predictions. A file that cannot be scored writes nothing.

        Args:
            spec: A :class:`~mlsteward.jobs.specs.ScoreBatch`.
            progress: Called after each chunk with (phase, done, total).
            **fields: The spec's fields instead (``model``, ``input``,
                ``output``, ``chunk_size``, ``engine``, ``id_column``, ...).

        Example:
            >>> client.jobs.score_file(model="credit-risk@champion",
            ...     input="in.parquet", output="out.parquet")  # doctest: +SKIP
        """
        return BatchScoringService(self.ctx).score_file(
            spec_of(ScoreBatch, spec, fields), progress=progress
        )


class JobsMixin:
    """``client.jobs`` on :class:`mlsteward.Client`, plus the flat methods of
    the first release, which delegate to it.

    Example:
        >>> job = client.jobs.enqueue(kind="noop")  # doctest: +SKIP
    """

    ctx: Context

    @property
    def jobs(self) -> Jobs:
        """Jobs: enqueue, get, list, logs, cancel, wait, run_pending,
        start_worker, stop_worker, score_file."""
        return Jobs(self.ctx, owner=self)

    def enqueue_job(
        self,
        kind: str,
        payload: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        max_attempts: int = 3,
        run_after: dt.datetime | None = None,
    ) -> Job:
        """Use ``client.jobs.enqueue``; this delegates to it."""
        return self.jobs.enqueue(
            kind=kind,
            payload=payload,
            idempotency_key=idempotency_key,
            max_attempts=max_attempts,
            run_after=run_after,
        )

    def get_job(self, job_id: str) -> Job:
        """Use ``client.jobs.get``; this delegates to it."""
        return self.jobs.get(job_id)

    def list_jobs(
        self, *, state: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[Job]:
        """Use ``client.jobs.list``; this delegates to it."""
        return self.jobs.list(state=state, kind=kind, limit=limit)

    def job_logs(self, job_id: str, *, limit: int | None = None) -> list[JobLogEntry]:
        """Use ``client.jobs.logs``; this delegates to it."""
        return self.jobs.logs(job_id, limit=limit)

    def cancel_job(self, job_id: str, *, reason: str = "") -> Job:
        """Use ``client.jobs.cancel``; this delegates to it."""
        return self.jobs.cancel(job_id, reason=reason)

    def wait_job(self, job_id: str, *, timeout: float = 60.0) -> Job:
        """Use ``client.jobs.wait``; this delegates to it."""
        return self.jobs.wait(job_id, timeout=timeout)

    def run_jobs(
        self, *, kinds: Sequence[str] | None = None, max_jobs: int | None = None
    ) -> list[Job]:
        """Use ``client.jobs.run_pending``; this delegates to it."""
        return self.jobs.run_pending(kinds=kinds, max_jobs=max_jobs)

    def start_worker(
        self,
        *,
        kinds: Sequence[str] | None = None,
        poll_interval: float | None = None,
    ) -> InProcessWorker:
        """Use ``client.jobs.start_worker``; this delegates to it."""
        return self.jobs.start_worker(kinds=kinds, poll_interval=poll_interval)

    def stop_worker(self, timeout: float | None = None) -> None:
        """Use ``client.jobs.stop_worker``; this delegates to it."""
        self.jobs.stop_worker(timeout)

    def score_file(
        self,
        ref: str,
        input: str | Path,
        output: str | Path,
        *,
        progress: Progress | None = None,
        **options: Any,
    ) -> BatchScoreResult:
        """Use ``client.jobs.score_file(model=, input=, output=, ...)``; this
        delegates to it."""
        return self.jobs.score_file(
            model=ref, input=input, output=output, progress=progress, **options
        )
