"""Workers: claim due jobs, run their handlers under a heartbeat, record results.

:class:`Worker` is what ``mlsteward worker`` runs, one per process, as many
processes and machines as the work needs. :class:`InProcessWorker` runs the
same loop in a background thread of the embedded default, so a notebook needs
no second process.

A job's handler runs in the worker's own thread while a heartbeat thread
renews the lease. If the process dies, the heartbeats stop, the lease runs
out, and another worker claims the job again: handlers must be safe to run
again (each of their state changes one transaction), which is the only
guarantee a lease can give.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any

from mlsteward.context import Context
from mlsteward.errors import (
    Conflict,
    Forbidden,
    IntegrityError,
    InvalidInput,
    MlstewardError,
    NotFound,
    PolicyViolation,
    UnsafeArtifact,
)
from mlsteward.identity.access import SCHEDULER, job_context
from mlsteward.jobs.handlers import get_handler
from mlsteward.jobs.models import Job, JobInterrupted
from mlsteward.jobs.service import JobService

__all__ = [
    "PERMANENT_ERRORS",
    "InProcessWorker",
    "Worker",
    "default_worker_id",
    "stop_on_signals",
]

_log = logging.getLogger(__name__)

#: Errors no retry can fix: the job goes straight to ``dead``. Anything else
#: (a lost connection, a handler bug that may be fixed by a redeploy, a
#: handler that cannot be imported here) is retried with back-off.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    InvalidInput,
    NotFound,
    Forbidden,
    PolicyViolation,
    UnsafeArtifact,
    IntegrityError,
)


def default_worker_id() -> str:
    """``host:pid:random``, unique enough to tell workers apart in the audit."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Logger:
    """The ``log`` handed to a handler: writes job_logs rows; ``check()``."""

    def __init__(self, service: JobService, job: Job, lost: threading.Event) -> None:
        self.service = service
        self.job = job
        self.lost = lost
        self.reason = ""

    def __call__(self, message: str, level: str = "info") -> None:
        try:
            self.service.log(self.job, message, level)
        except InvalidInput:
            raise
        except Exception:  # the log must not be what fails the job
            _log.warning("could not write to the log of job %s", self.job.id)

    def check(self) -> None:
        if self.lost.is_set():
            raise JobInterrupted(self.reason or f"job {self.job.id} was interrupted")


class _Heartbeat(threading.Thread):
    """Renews a claimed job's lease every third of it until stopped."""

    def __init__(
        self, service: JobService, job: Job, lease: float, logger: _Logger
    ) -> None:
        super().__init__(name=f"mlsteward-heartbeat-{job.id[:8]}", daemon=True)
        self.service = service
        self.job = job
        self.lease = lease
        self.logger = logger
        self.halt = threading.Event()

    def run(self) -> None:
        interval = max(self.lease / 3.0, 0.05)
        while not self.halt.wait(interval):
            try:
                self.service.heartbeat(self.job, self.lease)
            except Conflict as exc:
                self.logger.reason = exc.message
                self.logger.lost.set()
                return
            except Exception:  # a blip; the lease has room for two more tries
                _log.warning("heartbeat of job %s failed", self.job.id, exc_info=True)

    def stop(self) -> None:
        self.halt.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join()


class Worker:
    """Claims and runs jobs from one metadata store.

    Args:
        ctx: The context jobs run against; each handler gets it acting as the
            job's creator.
        worker_id: Name in ``claimed_by`` and the audit trail (default
            ``host:pid:random``).
        kinds: Run only these kinds (default: any kind).
        poll_interval: Seconds an idle worker waits before looking again
            (default ``settings.jobs_poll_seconds``).
        lease_seconds: Lease of each claim (default
            ``settings.jobs_lease_seconds``).
        schedule: In ``run_forever``, also queue due monitors and scheduled
            retrainings every ``settings.jobs_schedule_seconds``.

    Example:
        >>> worker = Worker(ctx, "worker-1", kinds=["batch_score"])  # doctest: +SKIP
        >>> worker.run_once()  # doctest: +SKIP
    """

    def __init__(
        self,
        ctx: Context,
        worker_id: str | None = None,
        *,
        kinds: Sequence[str] | None = None,
        poll_interval: float | None = None,
        lease_seconds: float | None = None,
        schedule: bool = False,
    ) -> None:
        self.ctx = ctx
        self.schedule = schedule
        self.worker_id = worker_id or default_worker_id()
        self.kinds = list(kinds) if kinds is not None else None
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.service = JobService(ctx)

    def run_once(self) -> Job | None:
        """Claim one due job and run it; return it as it ended, or None."""
        job = self.service.claim(self.worker_id, self.kinds, self.lease_seconds)
        if job is None:
            return None
        return self.run_job(job)

    def run_pending(self, max_jobs: int | None = None) -> list[Job]:
        """Run due jobs until none is due (or ``max_jobs`` ran); return them."""
        done: list[Job] = []
        while max_jobs is None or len(done) < max_jobs:
            job = self.run_once()
            if job is None:
                break
            done.append(job)
        return done

    def run_forever(self, stop_event: threading.Event) -> int:
        """Run jobs until ``stop_event`` is set; a job already started is
        finished first. Returns how many jobs ran."""
        poll = self.poll_interval or self.ctx.settings.jobs_poll_seconds
        every = self.ctx.settings.jobs_schedule_seconds
        next_tick = 0.0
        count = 0
        _log.info("worker %s started (kinds: %s)", self.worker_id, self.kinds or "any")
        while not stop_event.is_set():
            if self.schedule and time.monotonic() >= next_tick:
                next_tick = time.monotonic() + every
                try:
                    from mlsteward.jobs.schedule import tick

                    # Due work is queued by the scheduler's own identity.
                    tick(self.ctx.as_principal(SCHEDULER))
                except Exception:
                    _log.exception("worker %s could not schedule", self.worker_id)
            try:
                job = self.run_once()
            except Exception:  # the database went away; try again later
                _log.exception(
                    "worker %s could not claim or settle a job", self.worker_id
                )
                stop_event.wait(poll)
                continue
            if job is None:
                stop_event.wait(poll)
            else:
                count += 1
        _log.info("worker %s stopped after %d job(s)", self.worker_id, count)
        return count

    def run_job(self, job: Job) -> Job:
        """Run a job this worker claimed and record how it ended."""
        lease = self.service.resolve_lease(self.lease_seconds)
        logger = _Logger(self.service, job, threading.Event())
        heartbeat = _Heartbeat(self.service, job, lease, logger)
        heartbeat.start()
        _log.info("job %s (%s) attempt %d started", job.id, job.kind, job.attempts)
        try:
            handler = get_handler(job.kind)
            # As the principal who queued it, re-read now (identity.access).
            acting = job_context(self.ctx, job.created_by)
            result = handler(acting, dict(job.payload), logger)
            if result is None:
                result = {}
            if not isinstance(result, Mapping):
                raise InvalidInput(
                    f"the handler of job kind {job.kind!r} returned a "
                    f"{type(result).__name__}; it must return a dict (the result)",
                    field="result",
                )
        except JobInterrupted as exc:
            heartbeat.stop()
            if not logger.lost.is_set():  # raised by the handler on its own
                return self._failed(job, logger, exc)
            _log.warning("job %s stopped: %s", job.id, exc)
            logger(f"stopped: {exc}", "warning")
            return self.service.get(job.id)
        except (KeyboardInterrupt, SystemExit):
            heartbeat.stop()
            # Hand the job back now rather than when the lease runs out.
            self._settle(job, lambda: self.service.fail(job, "worker was stopped"))
            raise
        except Exception as exc:
            heartbeat.stop()
            return self._failed(job, logger, exc)
        heartbeat.stop()
        try:
            return self._settle(job, lambda: self.service.complete(job, result))
        except InvalidInput as exc:  # a result that is not JSON
            return self._failed(job, logger, exc)

    def _failed(self, job: Job, logger: _Logger, exc: Exception) -> Job:
        permanent = isinstance(exc, PERMANENT_ERRORS)
        if isinstance(exc, MlstewardError):
            error = f"{type(exc).__name__}: {exc.message}"
            logger(error, "error")
        else:
            error = f"{type(exc).__name__}: {exc}"
            logger("".join(traceback.format_exception(exc)), "error")
        _log.warning("job %s attempt %d failed: %s", job.id, job.attempts, error)
        return self._settle(
            job, lambda: self.service.fail(job, error, retry=not permanent)
        )

    def _settle(self, job: Job, write: Callable[[], Job]) -> Job:
        try:
            ended = write()
        except Conflict as exc:
            # Cancelled, or the lease was taken over: the other outcome stands.
            _log.warning("job %s: outcome discarded: %s", job.id, exc.message)
            return self.service.get(job.id)
        _log.info("job %s attempt %d: %s", job.id, job.attempts, ended.state)
        return ended


class InProcessWorker:
    """A :class:`Worker` in a background thread of this process.

    The embedded default needs no second process: ``start()`` begins polling,
    ``stop()`` finishes the current job and ends the thread, and
    ``run_pending()`` runs what is due in the calling thread instead.

    Example:
        >>> with InProcessWorker(ctx) as worker:  # doctest: +SKIP
        ...     job = JobService(ctx).enqueue("noop")
        ...     JobService(ctx).wait(job.id)
    """

    def __init__(
        self,
        ctx: Context,
        *,
        worker_id: str | None = None,
        kinds: Sequence[str] | None = None,
        poll_interval: float | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        self.worker = Worker(
            ctx,
            worker_id,
            kinds=kinds,
            poll_interval=poll_interval,
            lease_seconds=lease_seconds,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def alive(self) -> bool:
        """Whether the background thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> InProcessWorker:
        """Start the background thread (a second call does nothing)."""
        with self._lock:
            if not self.alive:
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self.worker.run_forever,
                    args=(self._stop,),
                    name=f"mlsteward-worker-{self.worker.worker_id}",
                    daemon=True,
                )
                self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to stop after its current job; wait up to ``timeout``."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def run_pending(self, max_jobs: int | None = None) -> list[Job]:
        """Run due jobs in the calling thread until none is due."""
        return self.worker.run_pending(max_jobs)

    def __enter__(self) -> InProcessWorker:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


def stop_on_signals(stop_event: threading.Event) -> Callable[[], None]:
    """Set ``stop_event`` on SIGTERM or SIGINT, so a worker finishes its
    current job and exits; a second signal stops at once. Call from the main
    thread; returns a function that restores the previous handlers."""
    previous: dict[int, Any] = {}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop_event.is_set():
            raise KeyboardInterrupt
        _log.warning(
            "%s received: finishing the current job, then stopping "
            "(send it again to stop now)",
            signal.Signals(signum).name,
        )
        stop_event.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, on_signal)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
