"""Run use cases: a training execution with its params, metrics and inputs."""

from __future__ import annotations

import subprocess
import uuid
from importlib import metadata as importlib_metadata

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.errors import Conflict, NotFound
from mlsteward.identity.access import use_case
from mlsteward.names import parse_ref
from mlsteward.registry.models import Run, RunStatus
from mlsteward.registry.specs import EndRun, LogMetrics, StartRun
from mlsteward.registry.tables import run_inputs, run_metrics, runs
from mlsteward.store import audit, utcnow

__all__ = ["RunService", "environment_versions", "git_sha"]

_ENV_PACKAGES = (
    "mlsteward",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "skops",
    "lightgbm",
    "pyarrow",
)
RUN_STATUSES = tuple(s.value for s in RunStatus)


def git_sha(cwd: str | None = None) -> str | None:
    """The commit of the working directory's git checkout, if there is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None


def environment_versions() -> dict[str, str]:
    """Versions of the packages that decide how a model behaves."""
    import platform

    env = {"python": platform.python_version()}
    for pkg in _ENV_PACKAGES:
        try:
            env[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            continue
    return env


class RunService:
    """Start, log to, finish and read runs."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @use_case("runs.start", "developer")
    def start(self, spec: StartRun, *, input_context: str = "training") -> Run:
        """Start a run; ``spec.inputs`` are dataset refs (``name/N``) it reads.

        Args:
            spec: Name, params, tags and inputs
                (:class:`~mlsteward.registry.specs.StartRun`).
            input_context: What the inputs were used for.

        Raises:
            NotFound: An input dataset version does not exist (field ``inputs``).

        Example:
            >>> RunService(ctx).start(StartRun(name="gbm", inputs=["gc/1"]))
            ... # doctest: +SKIP
        """
        run_id = uuid.uuid4().hex
        with self.ctx.store.unit_of_work() as session:
            session.execute(
                runs.insert().values(
                    id=run_id,
                    name=spec.name,
                    status=RunStatus.RUNNING.value,
                    started_at=utcnow(),
                    created_by=self.ctx.actor,
                    params=spec.params,
                    tags=spec.tags,
                    git_sha=spec.git_sha or git_sha(),
                    environment=spec.environment or environment_versions(),
                )
            )
            for ref in spec.inputs:
                self._add_input(session, run_id, ref, input_context)
            audit.record(
                session,
                actor=self.ctx.actor,
                action="run.started",
                object_type="run",
                object_id=run_id,
                details={"name": spec.name, "inputs": spec.inputs},
            )
            return self._get(session, run_id)

    def _add_input(self, session: Session, run_id: str, ref: str, context: str) -> None:
        from mlsteward.datasets.service import DatasetService

        r = parse_ref(ref, "inputs")
        dv = DatasetService(self.ctx).find(r.name, r.version, session=session)
        if dv is None:
            raise NotFound(f"input dataset {ref!r} not found", field="inputs")
        session.execute(
            run_inputs.insert().values(
                run_id=run_id,
                dataset_name=dv.name,
                dataset_version=dv.version,
                context=context,
            )
        )

    @use_case("runs.log_metrics", "developer")
    def log_metrics(self, run_id: str, spec: LogMetrics) -> None:
        """Log ``spec.metrics`` (finite numbers) at ``spec.step`` of a running run.

        Raises:
            NotFound: No run ``run_id``.
            Conflict: The run has ended.

        Example:
            >>> RunService(ctx).log_metrics(run.id, LogMetrics(metrics={"auc": 0.8}))
            ... # doctest: +SKIP
        """
        clean, step = spec.metrics, spec.step
        now = utcnow()
        with self.ctx.store.unit_of_work() as session:
            self._require_running(session, run_id)
            if clean:
                session.execute(
                    run_metrics.insert(),
                    [
                        {
                            "run_id": run_id,
                            "key": k,
                            "value": v,
                            "step": step,
                            "at": now,
                        }
                        for k, v in clean.items()
                    ],
                )

    @use_case("runs.end", "developer")
    def end(self, run_id: str, spec: EndRun | None = None) -> Run:
        """End a running run as ``spec.status`` (default finished).

        Example:
            >>> RunService(ctx).end(run.id, EndRun(status="failed"))  # doctest: +SKIP
        """
        status = (spec or EndRun()).status
        with self.ctx.store.unit_of_work() as session:
            self._require_running(session, run_id)
            session.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(status=status.value, ended_at=utcnow())
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action=f"run.{status}",
                object_type="run",
                object_id=run_id,
                details={},
            )
            return self._get(session, run_id)

    @use_case("runs.get", "viewer")
    def get(self, run_id: str) -> Run:
        with self.ctx.store.read() as session:
            return self._get(session, run_id)

    @use_case("runs.history", "viewer")
    def history(self, run_id: str) -> dict[str, list[tuple[int, float]]]:
        """Every logged value of each of the run's metrics, as ``(step,
        value)`` pairs in step order (a metric logged once has one pair).

        Example:
            >>> svc.history(run.id)["loss"][:2]  # doctest: +SKIP
            [(0, 0.69), (1, 0.52)]
        """
        out: dict[str, list[tuple[int, float]]] = {}
        with self.ctx.store.read() as session:
            self._get(session, run_id)
            for m in session.execute(
                select(run_metrics.c.key, run_metrics.c.step, run_metrics.c.value)
                .where(run_metrics.c.run_id == run_id)
                .order_by(run_metrics.c.step, run_metrics.c.id)
            ):
                out.setdefault(m.key, []).append((int(m.step), float(m.value)))
        return out

    @use_case("runs.list", "viewer")
    def list(self, *, limit: int = 100) -> list[Run]:
        with self.ctx.store.read() as session:
            ids = (
                session.execute(
                    select(runs.c.id).order_by(runs.c.started_at.desc()).limit(limit)
                )
                .scalars()
                .all()
            )
            return [self._get(session, i) for i in ids]

    # -- helpers ----------------------------------------------------------
    def _require_running(self, session: Session, run_id: str) -> None:
        status = session.execute(
            select(runs.c.status).where(runs.c.id == run_id)
        ).scalar()
        if status is None:
            raise NotFound(f"run {run_id!r} not found", field="run_id")
        if status != RunStatus.RUNNING:
            raise Conflict(
                f"run {run_id!r} is {status}; only a running run takes metrics "
                "or can be ended",
                field="run_id",
            )

    def _get(self, session: Session, run_id: str) -> Run:
        row = session.execute(select(runs).where(runs.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"run {run_id!r} not found", field="run_id")
        metrics: dict[str, float] = {}
        for m in session.execute(
            select(run_metrics.c.key, run_metrics.c.value)
            .where(run_metrics.c.run_id == run_id)
            .order_by(run_metrics.c.step, run_metrics.c.id)
        ):
            metrics[m.key] = m.value  # latest step wins
        inputs = [
            {"dataset": f"{i.dataset_name}/{i.dataset_version}", "context": i.context}
            for i in session.execute(
                select(run_inputs).where(run_inputs.c.run_id == run_id)
            )
        ]
        return Run(
            id=row.id,
            name=row.name,
            status=row.status,
            started_at=row.started_at,
            ended_at=row.ended_at,
            created_by=row.created_by,
            params=row.params,
            tags=row.tags,
            git_sha=row.git_sha,
            environment=row.environment,
            metrics=metrics,
            inputs=inputs,
        )
