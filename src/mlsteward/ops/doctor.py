"""``mlsteward doctor``: is this setup able to run, and if not, what to do.

Each check returns a :class:`~mlsteward.ops.models.Finding`. The database is
probed first with a short timeout; the checks that read its tables (workers,
tokens) run only when it answers at the newest schema, and never migrate it.

Example:
    >>> from mlsteward.config import Settings
    >>> findings = run_checks(Settings(home="/tmp/ms-doc"))  # doctest: +SKIP
    >>> [f.check for f in findings]  # doctest: +SKIP
    ['database', 'artifacts', 'workers', 'dask', 'clocks', 'tokens']
"""

from __future__ import annotations

from mlsteward.artifacts import ArtifactStore
from mlsteward.config import Settings
from mlsteward.context import Context
from mlsteward.errors import Unauthenticated
from mlsteward.identity.service import IdentityService
from mlsteward.jobs.models import QueueHealth
from mlsteward.jobs.service import JobService
from mlsteward.ops.database import clock_finding, database_finding, probe
from mlsteward.ops.models import Finding, Status, worst
from mlsteward.store import Store

__all__ = ["run_checks"]

_START_WORKER = (
    "start one: `mlsteward worker`, with MLSTEWARD_DB_URL and "
    "MLSTEWARD_ARTIFACTS_URI pointing at these stores"
)
_NEW_TOKEN = (
    "ask an admin for a token (`mlsteward tokens create YOUR_NAME`) and set "
    "MLSTEWARD_TOKEN to it"
)


def run_checks(
    settings: Settings,
    *,
    scheduler: str | None = None,
    waited_seconds: float = 300.0,
    timeout: float = 5.0,
) -> list[Finding]:
    """Check the setup ``settings`` describe.

    Args:
        settings: The stores and token to check.
        scheduler: A Dask scheduler address to try (``tcp://host:8786``);
            without one the Dask check is skipped.
        waited_seconds: A due job waiting longer than this with no worker
            is warned about.
        timeout: Seconds a connection (database, Dask) may take.
    """
    found = probe(settings.resolved_db_url(), timeout)
    ctx = _context(settings) if found.current else None
    return [
        database_finding(found),
        artifacts_finding(settings.resolved_artifacts_uri()),
        _workers(ctx, waited_seconds),
        dask_finding(scheduler, timeout),
        clock_finding(found),
        _tokens(ctx, settings),
    ]


def _context(settings: Settings) -> Context:
    # auto_upgrade off: a doctor looks, it does not migrate.
    return Context(
        store=Store(settings.resolved_db_url(), auto_upgrade=False),
        artifacts=ArtifactStore(settings.resolved_artifacts_uri()),
        actor=settings.resolved_actor(),
        settings=settings,
    )


def _not_checked(check: str) -> Finding:
    return Finding(
        check=check,
        status="skip",
        message="not checked: the database is not ready (see database)",
    )


def artifacts_finding(uri: str) -> Finding:
    """Write, read back, check and delete a probe object."""
    try:
        ArtifactStore(uri).probe()
    except Exception as exc:  # any store error is the answer, in its words
        if isinstance(exc, OSError) and exc.strerror:
            words = exc.strerror + (f": {exc.filename}" if exc.filename else "")
        else:
            words = str(exc) or type(exc).__name__
        local = "://" not in uri or uri.startswith("file://")
        fix = (
            f"make {uri} a folder this user may write (chmod, chown), or set "
            "MLSTEWARD_ARTIFACTS_URI to one"
            if local
            else "check that the bucket exists and these credentials may put, "
            "get and delete objects in it, and MLSTEWARD_ARTIFACTS_URI"
        )
        return Finding(
            check="artifacts",
            status="fail",
            message=f"cannot write to the artifact store at {uri}: {words}",
            fix=fix,
        )
    return Finding(
        check="artifacts",
        status="ok",
        message=f"{uri} takes a write, reads it back intact and deletes it",
    )


def _workers(ctx: Context | None, waited_seconds: float) -> Finding:
    if ctx is None:
        return _not_checked("workers")
    return workers_finding(JobService(ctx).queue_health(waited_seconds))


def workers_finding(health: QueueHealth) -> Finding:
    """Workers seen in the queue, and due jobs nobody took."""
    minutes = f"{health.waited_seconds / 60:g} min"
    held = ", ".join(health.workers)
    if health.waiting and not health.workers:
        return Finding(
            check="workers",
            status="warn",
            message=f"{health.waiting} due job(s) have waited over {minutes} "
            "and no worker holds a job",
            fix=_START_WORKER,
        )
    if health.waiting:
        return Finding(
            check="workers",
            status="warn",
            message=f"{health.waiting} due job(s) have waited over {minutes} "
            f"while the workers are busy ({held})",
            fix="start more workers: `mlsteward worker`",
        )
    if health.expired:
        return Finding(
            check="workers",
            status="warn",
            message=f"{health.expired} running job(s) lost their worker (the "
            "lease ran out); the next worker that looks takes them over",
            fix=_START_WORKER,
        )
    if health.workers:
        return Finding(
            check="workers",
            status="ok",
            message=f"{len(health.workers)} worker(s) hold {health.running} "
            f"job(s) under live leases: {held}",
        )
    return Finding(
        check="workers",
        status="ok",
        message="no job is waiting (an idle worker leaves no trace in the "
        "queue, so none is seen)",
    )


def dask_finding(scheduler: str | None, timeout: float) -> Finding:
    """Connect to the scheduler, if one was named, and count its workers."""
    if not scheduler:
        return Finding(
            check="dask",
            status="skip",
            message="not configured: no scheduler address given (--scheduler); "
            "`--engine dask` without one starts a local cluster",
        )
    try:
        from distributed import Client
    except ImportError:
        return Finding(
            check="dask",
            status="fail",
            message="dask.distributed is not installed",
            fix="pip install 'mlsteward[dask]'",
        )
    try:
        with Client(scheduler, timeout=timeout, set_as_default=False) as client:
            workers = len(client.scheduler_info().get("workers", {}))
    except Exception as exc:  # any connection error is the answer
        return Finding(
            check="dask",
            status="fail",
            message=f"cannot reach the Dask scheduler at {scheduler}: {exc}",
            fix="check the address, that `dask scheduler` runs there and "
            "that this machine may reach its port",
        )
    if workers == 0:
        return Finding(
            check="dask",
            status="warn",
            message=f"the scheduler at {scheduler} answers but has no workers",
            fix=f"start some: `dask worker {scheduler}`",
        )
    return Finding(
        check="dask",
        status="ok",
        message=f"the scheduler at {scheduler} answers with {workers} worker(s)",
    )


def _tokens(ctx: Context | None, settings: Settings) -> Finding:
    if ctx is None:
        return _not_checked("tokens")
    identity = IdentityService(ctx)
    parts: list[tuple[Status, str, str | None]] = []
    has_users = identity.has_users()
    if settings.token:
        try:
            who = identity.authenticate(settings.token)
        except Unauthenticated:
            parts.append(
                (
                    "fail",
                    "MLSTEWARD_TOKEN is set but this store does not accept it "
                    "(unknown, revoked or expired, or its user is disabled)",
                    _NEW_TOKEN,
                )
            )
        else:
            parts.append(
                (
                    "ok",
                    f"MLSTEWARD_TOKEN authenticates as {who.user} (role "
                    f"{who.role}, scope {who.scope})",
                    None,
                )
            )
    elif has_users:
        parts.append(
            (
                "warn",
                "this store has users and MLSTEWARD_TOKEN is not set: reads "
                "work, every change is refused",
                _NEW_TOKEN,
            )
        )
    else:
        parts.append(
            (
                "ok",
                "no users yet: one person's store, acting as "
                f"{settings.resolved_actor()!r} (MLSTEWARD_ACTOR); before others "
                "use it, make the first admin with `mlsteward users create "
                "NAME --role admin`",
                None,
            )
        )
    if has_users and not settings.auth_required:
        parts.append(
            (
                "warn",
                "MLSTEWARD_AUTH_REQUIRED is off: `mlsteward server` here answers "
                "without tokens",
                "unset MLSTEWARD_AUTH_REQUIRED (it is on by default)",
            )
        )
    return _merge("tokens", parts)


def _merge(check: str, parts: list[tuple[Status, str, str | None]]) -> Finding:
    fixes = [fix for _, _, fix in parts if fix]
    return Finding(
        check=check,
        status=worst(status for status, _, _ in parts),
        message="; ".join(message for _, message, _ in parts),
        fix="; ".join(fixes) or None,
    )
