"""Client methods of jobs (the queue, the in-process worker, batch scoring)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlsteward.context import Context
from mlsteward.jobs.batch import BatchScoreResult, BatchScoringService, Progress
from mlsteward.jobs.models import Job, JobLogEntry
from mlsteward.jobs.service import JobService
from mlsteward.jobs.worker import InProcessWorker, Worker

__all__ = ["JobsMixin"]


class JobsMixin:
    """Jobs: enqueue and inspect them, run them in process, score files.

    Example:
        >>> job = client.enqueue_job("noop", idempotency_key="hello")  # doctest: +SKIP
        >>> client.run_jobs()  # doctest: +SKIP
        [Job(id=..., kind='noop', state='succeeded', ...)]
    """

    ctx: Context

    # -- the queue --------------------------------------------------------
    def enqueue_job(
        self,
        kind: str,
        payload: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        max_attempts: int = 3,
        run_after: dt.datetime | None = None,
    ) -> Job:
        """Queue a job; the same ``idempotency_key`` returns the same job."""
        return JobService(self.ctx).enqueue(
            kind,
            payload,
            idempotency_key=idempotency_key,
            max_attempts=max_attempts,
            run_after=run_after,
        )

    def get_job(self, job_id: str) -> Job:
        return JobService(self.ctx).get(job_id)

    def list_jobs(
        self, *, state: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[Job]:
        return JobService(self.ctx).list(state=state, kind=kind, limit=limit)

    def job_logs(self, job_id: str, *, limit: int | None = None) -> list[JobLogEntry]:
        return JobService(self.ctx).logs(job_id, limit=limit)

    def cancel_job(self, job_id: str, *, reason: str = "") -> Job:
        return JobService(self.ctx).cancel(job_id, reason=reason)

    def wait_job(self, job_id: str, *, timeout: float = 60.0) -> Job:
        """Poll until the job is final (some worker must be running it)."""
        return JobService(self.ctx).wait(job_id, timeout=timeout)

    # -- running jobs in this process ------------------------------------
    def run_jobs(
        self, *, kinds: Sequence[str] | None = None, max_jobs: int | None = None
    ) -> list[Job]:
        """Run the due jobs here, now, until none is due; return them."""
        return Worker(self.ctx, kinds=kinds).run_pending(max_jobs)

    def start_worker(
        self,
        *,
        kinds: Sequence[str] | None = None,
        poll_interval: float | None = None,
    ) -> InProcessWorker:
        """Start (once) a background worker thread for this client's store."""
        worker: InProcessWorker | None = getattr(self, "_jobs_worker", None)
        if worker is None or not worker.alive:
            worker = InProcessWorker(self.ctx, kinds=kinds, poll_interval=poll_interval)
            self._jobs_worker = worker
        return worker.start()

    def stop_worker(self, timeout: float | None = None) -> None:
        """Stop the background worker after its current job."""
        worker: InProcessWorker | None = getattr(self, "_jobs_worker", None)
        if worker is not None:
            worker.stop(timeout)

    # -- batch scoring ----------------------------------------------------
    def score_file(
        self,
        ref: str,
        input: str | Path,
        output: str | Path,
        *,
        deployment: str | None = None,
        chunk_size: int = 10_000,
        engine: str = "local",
        scheduler: str | None = None,
        id_column: str | None = None,
        threshold: float = 0.5,
        log_columns: Sequence[str] = (),
        pii: Sequence[str] = (),
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> BatchScoreResult:
        """Score a table file of any size; log its predictions.

        See :meth:`mlsteward.jobs.batch.BatchScoringService.score_file`.
        """
        return BatchScoringService(self.ctx).score_file(
            ref,
            input,
            output,
            deployment=deployment,
            chunk_size=chunk_size,
            engine=engine,
            scheduler=scheduler,
            id_column=id_column,
            threshold=threshold,
            log_columns=log_columns,
            pii=pii,
            overwrite=overwrite,
            progress=progress,
        )
