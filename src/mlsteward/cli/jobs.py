"""``mlsteward worker`` and ``mlsteward jobs list|show|logs|cancel|run-pending``."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import typer
from rich.table import Table

from mlsteward.cli.common import (
    JSON_OPTION,
    console,
    emit_json,
    err_console,
    esc,
    handle_errors,
    reason_option,
    show_table,
)
from mlsteward.errors import InvalidInput

app = typer.Typer(
    help="Background jobs: batch scoring, monitor runs, retraining.",
    no_args_is_help=True,
)

KINDS_OPTION = typer.Option(
    None,
    "--kinds",
    help="Only these job kinds (comma-separated, or repeat the option).",
)


def register(app_: typer.Typer) -> None:
    """Add ``worker``, ``jobs`` and ``score`` to the ``mlsteward`` command."""
    from mlsteward.cli import score

    app_.add_typer(app, name="jobs")
    app_.command("worker")(worker)
    score.register(app_)


def _ctx() -> Any:
    """The local context, acting as the user of ``MLSTEWARD_TOKEN`` if set."""
    from mlsteward.cli.governance import _ctx as acting

    return acting()


def _worker_ctx() -> Any:
    """A worker's own context: each job runs as the user who queued it."""
    from mlsteward.config import get_settings
    from mlsteward.context import Context

    return Context.from_settings(get_settings())


def _kinds(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    kinds = [k.strip() for v in values for k in v.split(",") if k.strip()]
    return kinds or None


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _log_to_stderr() -> None:
    """Workers say what they do on stderr; other libraries stay quiet."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    log = logging.getLogger("mlsteward")
    log.addHandler(handler)
    log.setLevel(logging.INFO)


@handle_errors
def worker(
    kinds: list[str] | None = KINDS_OPTION,
    once: bool = typer.Option(
        False, "--once", help="Run at most one due job, then exit."
    ),
    worker_id: str | None = typer.Option(
        None, "--id", help="Worker name in the audit trail (default host:pid:random)."
    ),
    poll_interval: float | None = typer.Option(
        None, "--poll-interval", help="Seconds between looks when idle."
    ),
    lease_seconds: float | None = typer.Option(
        None, "--lease-seconds", help="Lease of each claimed job."
    ),
    schedule: bool = typer.Option(
        True,
        "--schedule/--no-schedule",
        help="Also queue due monitors and scheduled retrainings "
        "(every MLSTEWARD_JOBS_SCHEDULE_SECONDS).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Claim and run jobs from the metadata store until stopped.

    SIGTERM or Ctrl-C finishes the current job, then exits; a second one
    stops at once (the job is handed back for a retry).
    """
    from mlsteward.jobs.worker import Worker, stop_on_signals

    _log_to_stderr()
    w = Worker(
        _worker_ctx(),
        worker_id,
        kinds=_kinds(kinds),
        poll_interval=poll_interval,
        lease_seconds=lease_seconds,
        schedule=schedule,
    )
    if once:
        job = w.run_once()
        if as_json:
            emit_json(job.to_dict() if job else None)
        elif job is None:
            err_console.print("no job is due")
        else:
            err_console.print(f"job {job.id} ({job.kind}): {job.state}")
        if job is not None and job.state in ("failed", "dead"):
            raise typer.Exit(1)
        return
    stop = threading.Event()
    restore = stop_on_signals(stop)
    try:
        count = w.run_forever(stop)
    finally:
        restore()
    if as_json:
        emit_json({"worker": w.worker_id, "jobs": count})


@app.command("list")
@handle_errors
def list_jobs(
    state: str | None = typer.Option(None, help="queued, running, failed, ..."),
    kind: str | None = typer.Option(None, help="Only this job kind."),
    limit: int = typer.Option(100, help="Newest this many."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List jobs, newest first."""
    from mlsteward.jobs.service import JobService

    found = JobService(_ctx()).list(state=state, kind=kind, limit=limit)
    if as_json:
        emit_json([j.to_dict() for j in found])
        return
    table = Table("id", "kind", "state", "attempts", "created", "by", "worker", "error")
    for j in found:
        table.add_row(
            j.id,
            j.kind,
            j.state,
            f"{j.attempts}/{j.max_attempts}",
            _when(j.created_at),
            j.created_by,
            j.claimed_by or "-",
            (j.error or "").splitlines()[0][:60] if j.error else "-",
        )
    show_table(table)


@app.command("show")
@handle_errors
def show(
    job_id: str = typer.Argument(..., help="Job id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a job with its log and its audit history."""
    from mlsteward.governance.records import AuditService
    from mlsteward.jobs.service import JobService

    ctx = _ctx()
    svc = JobService(ctx)
    job = svc.get(job_id)
    logs = svc.logs(job_id, limit=200)
    history = AuditService(ctx).log(object_id=job_id)
    if as_json:
        out = job.to_dict()
        out["logs"] = [e.to_dict() for e in logs]
        out["history"] = [e.to_dict() for e in history]
        emit_json(out)
        return
    console.print(
        f"[bold]{job.id}[/]  kind={job.kind}  state={job.state}  "
        f"attempts={job.attempts}/{job.max_attempts}",
        markup=True,
    )
    console.print(
        f"created {_when(job.created_at)} by {job.created_by}  "
        f"run after {_when(job.run_after)}  key {job.idempotency_key or '-'}"
    )
    if job.claimed_by:
        console.print(
            f"worker {job.claimed_by}  claimed {_when(job.claimed_at)}  "
            f"heartbeat {_when(job.heartbeat_at)}  lease until "
            f"{_when(job.lease_expires_at)}"
        )
    console.print("payload: " + json.dumps(job.payload))
    if job.result is not None:
        console.print("result: " + json.dumps(job.result))
    if job.error:
        console.print(f"[red]error:[/] {esc(job.error)}", markup=True)
    _print_logs(logs)
    table = Table("#", "when", "who", "what", "details", title="history")
    for e in history:
        details = ", ".join(
            f"{k}={v}" for k, v in e.details.items() if v not in (None, "", {})
        )
        table.add_row(str(e.seq), _when(e.at), e.actor, e.action, details[:90])
    show_table(table)


def _print_logs(logs: list[Any]) -> None:
    if not logs:
        console.print("no log lines")
        return
    table = Table("when", "attempt", "level", "message", title="log")
    for e in logs:
        table.add_row(_when(e.at), str(e.attempt), e.level, e.message)
    show_table(table)


@app.command("logs")
@handle_errors
def logs(
    job_id: str = typer.Argument(..., help="Job id."),
    tail: int | None = typer.Option(None, "--tail", help="Only the last N lines."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print a job's log lines."""
    from mlsteward.jobs.service import JobService

    lines = JobService(_ctx()).logs(job_id, limit=tail)
    if as_json:
        emit_json([e.to_dict() for e in lines])
        return
    _print_logs(lines)


@app.command("cancel")
@handle_errors
def cancel(
    job_id: str = typer.Argument(..., help="Job id."),
    reason: str = reason_option(),
    as_json: bool = JSON_OPTION,
) -> None:
    """Cancel a job that has not finished (a running one stops at its next
    safe point)."""
    from mlsteward.jobs.service import JobService
    from mlsteward.jobs.specs import CancelJob

    job = JobService(_ctx()).cancel(job_id, CancelJob.parse(reason=reason))
    if as_json:
        emit_json(job.to_dict())
        return
    console.print(f"job {job.id}: {job.state}")


@app.command("enqueue")
@handle_errors
def enqueue(
    kind: str = typer.Argument(..., help="Job kind, e.g. batch_score."),
    payload: str = typer.Option("{}", help="Payload as a JSON object."),
    key: str | None = typer.Option(
        None, "--key", help="Idempotency key: the same key gives the same job."
    ),
    max_attempts: int = typer.Option(3, help="Attempts before the job is dead."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Queue a job for a worker."""
    from mlsteward.jobs.service import JobService
    from mlsteward.jobs.specs import EnqueueJob

    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"--payload is not JSON: {exc}; expected an object like "
            '\'{"model": "credit-risk@champion"}\'',
            field="payload",
        ) from exc
    spec = EnqueueJob.parse(
        kind=kind, payload=body, idempotency_key=key, max_attempts=max_attempts
    )
    job = JobService(_ctx()).enqueue(spec)
    if as_json:
        emit_json(job.to_dict())
        return
    console.print(f"job {job.id} ({job.kind}): {job.state}")


@app.command("run-pending")
@handle_errors
def run_pending(
    kinds: list[str] | None = KINDS_OPTION,
    max_jobs: int | None = typer.Option(None, help="Stop after this many."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run every due job in this process, then exit (the embedded worker)."""
    from mlsteward.jobs.worker import InProcessWorker

    ran = InProcessWorker(_ctx(), kinds=_kinds(kinds)).run_pending(max_jobs)
    if as_json:
        emit_json([j.to_dict() for j in ran])
    else:
        for j in ran:
            console.print(f"job {j.id} ({j.kind}): {j.state}")
        console.print(f"{len(ran)} job(s) ran")
    if any(j.state in ("failed", "dead") for j in ran):
        raise typer.Exit(1)
