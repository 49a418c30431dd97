"""Bring a team's MLflow runs and registered models into mlsteward.

One use case, ``models.import_mlflow``: read everything from the MLflow
tracking server first (:class:`~mlsteward.registry.mlflow_source.MlflowSource`),
convert each model version safely and check it scores as before
(:mod:`mlsteward.registry.mlflow_convert`), store the artifacts, then write
the runs, versions, aliases and their audit events in one transaction. A
failure writes nothing; a version that cannot be brought in safely (a
pickled model) is left out with the reason, and the rest comes in.

Lineage: an MLflow run keeps its id as the mlsteward run id, with its params,
its tags, every value of every metric (steps and times), and the experiment
as the tag ``mlflow.experiment``; a version points at its run and carries the
tags ``mlflow.model_version`` (``name/N`` in MLflow), ``mlflow.source`` and
``mlflow.tracking_uri``. Importing again skips what an earlier import
brought in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.errors import InvalidInput, MlstewardError, NotFound
from mlsteward.identity.access import use_case
from mlsteward.names import check_name
from mlsteward.registry.mlflow_convert import Converted, convert, parse_mlmodel
from mlsteward.registry.mlflow_source import MlflowSource
from mlsteward.registry.models import (
    ImportedRun,
    ImportedVersion,
    MlflowImport,
    NotImported,
)
from mlsteward.registry.service import ModelRegistry
from mlsteward.registry.specs import ImportMlflow, RegisterModel, check_alias
from mlsteward.registry.tables import model_versions, run_metrics, runs
from mlsteward.store import audit

__all__ = ["MlflowImportService"]

_STATUS = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "failed"}
_RUN_ID_LENGTH = 32


@dataclass
class _Run:
    row: dict[str, Any]
    metrics: list[dict[str, Any]]
    experiment: str


@dataclass
class _Version:
    model: str
    mlflow_version: str
    source: str
    run_id: str | None
    description: str
    tags: dict[str, str]
    converted: Converted
    ref: Any = None


@dataclass
class _Fetched:
    runs: list[_Run] = field(default_factory=list)
    versions: list[_Version] = field(default_factory=list)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)


class MlflowImportService:
    """Import from an MLflow tracking server.

    Example:
        >>> MlflowImportService(ctx).import_mlflow(
        ...     ImportMlflow(tracking_uri="http://127.0.0.1:5000"))  # doctest: +SKIP
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @use_case("models.import_mlflow", "developer")
    def import_mlflow(self, spec: ImportMlflow) -> MlflowImport:
        """Import runs and registered model versions with their aliases.

        Args:
            spec: The tracking server and, optionally, which experiments and
                registered models (:class:`~mlsteward.registry.specs.ImportMlflow`).

        Returns:
            What came in, what was refused (with the reason) and what an
            earlier import had already brought in.

        Raises:
            InvalidInput: The server cannot be reached or answers wrongly
                (field ``tracking_uri``); nothing is written.
            PolicyViolation: An alias ``champion`` for a governed model.
        """
        report = MlflowImport(tracking_uri=spec.tracking_uri)
        with httpx.Client(timeout=60.0) as http:
            source = MlflowSource(spec.tracking_uri, http)
            fetched = _Fetched(runs=self._fetch_runs(source, spec, report))
            self._fetch_versions(source, spec, fetched, report)
        for v in fetched.versions:
            v.ref = self.ctx.artifacts.put(v.converted.payload)
        with self.ctx.store.unit_of_work() as session:
            self._write_runs(session, fetched.runs, report)
            self._write_versions(session, spec, fetched, report)
        return report

    # -- reading MLflow ----------------------------------------------------
    def _fetch_runs(
        self, source: MlflowSource, spec: ImportMlflow, report: MlflowImport
    ) -> list[_Run]:
        experiments = {e["experiment_id"]: e["name"] for e in source.experiments()}
        if spec.experiments:
            unknown = sorted(set(spec.experiments) - set(experiments.values()))
            if unknown:
                raise NotFound(
                    f"no MLflow experiment {unknown}; the server has "
                    f"{sorted(experiments.values())}",
                    field="experiments",
                )
            experiments = {
                k: v for k, v in experiments.items() if v in spec.experiments
            }
        found = []
        for run in source.runs(sorted(experiments)):
            info = run["info"]
            status = _STATUS.get(info.get("status", ""))
            reason = None
            if status is None:
                reason = (
                    f"the run is {info.get('status')} in MLflow; import it once "
                    "it has ended"
                )
            elif len(info["run_id"]) != _RUN_ID_LENGTH:
                reason = "its id is not 32 characters, as mlsteward's run ids are"
            if status is None or reason is not None:
                report.refused.append(
                    NotImported(kind="run", source=info["run_id"], reason=reason or "")
                )
                continue
            found.append(_run(source, run, status, experiments[info["experiment_id"]]))
        return found

    def _fetch_versions(
        self,
        source: MlflowSource,
        spec: ImportMlflow,
        fetched: _Fetched,
        report: MlflowImport,
    ) -> None:
        models = source.registered_models()
        if spec.models:
            names = {m["name"] for m in models}
            unknown = sorted(set(spec.models) - names)
            if unknown:
                raise NotFound(
                    f"no MLflow registered model {unknown}; the server has "
                    f"{sorted(names)}",
                    field="models",
                )
            models = [m for m in models if m["name"] in spec.models]
        for m in models:
            fetched.aliases[m["name"]] = {
                a["alias"]: a["version"] for a in m.get("aliases", [])
            }
            for v in source.versions(m["name"]):
                try:
                    fetched.versions.append(_version(source, spec, v))
                except MlstewardError as exc:
                    if exc.field == "tracking_uri":
                        raise  # the server, not this version: stop
                    report.refused.append(
                        NotImported(
                            kind="model_version",
                            source=f"{v['name']}/{v['version']}",
                            reason=exc.message,
                        )
                    )

    # -- writing -----------------------------------------------------------
    def _write_runs(
        self, session: Session, found: list[_Run], report: MlflowImport
    ) -> None:
        ids = [r.row["id"] for r in found]
        existing = set(
            session.execute(select(runs.c.id).where(runs.c.id.in_(ids))).scalars()
        )
        for r in found:
            run_id = r.row["id"]
            if run_id in existing:
                report.skipped.append(
                    NotImported(kind="run", source=run_id, reason="imported before")
                )
                continue
            session.execute(runs.insert().values(**r.row, created_by=self.ctx.actor))
            if r.metrics:
                session.execute(run_metrics.insert(), r.metrics)
            audit.record(
                session,
                actor=self.ctx.actor,
                action="run.imported",
                object_type="run",
                object_id=run_id,
                details={"from": "mlflow", "experiment": r.experiment},
            )
            report.runs.append(
                ImportedRun(
                    run_id=run_id,
                    name=r.row["name"],
                    experiment=r.experiment,
                    params=len(r.row["params"]),
                    metric_values=len(r.metrics),
                )
            )

    def _write_versions(
        self,
        session: Session,
        spec: ImportMlflow,
        fetched: _Fetched,
        report: MlflowImport,
    ) -> None:
        registry = ModelRegistry(self.ctx)
        numbers: dict[tuple[str, str], int] = {}
        for v in fetched.versions:
            before = _imported_before(session, v)
            if before is not None:
                numbers[(v.model, v.mlflow_version)] = before
                report.skipped.append(
                    NotImported(
                        kind="model_version",
                        source=f"{v.model}/{v.mlflow_version}",
                        reason=f"imported before as {v.model}/{before}",
                    )
                )
                continue
            run_id = _linked_run(session, v.run_id)
            number = _record(session, registry, v, run_id)
            numbers[(v.model, v.mlflow_version)] = number
            report.versions.append(_imported(v, number, run_id))
        _write_aliases(session, registry, fetched.aliases, numbers, report)


def _write_aliases(
    session: Session,
    registry: ModelRegistry,
    aliases: dict[str, dict[str, str]],
    numbers: dict[tuple[str, str], int],
    report: MlflowImport,
) -> None:
    """Point each MLflow alias at the version its MLflow version became."""
    by_source = {(v.mlflow_model, v.mlflow_version): v for v in report.versions}
    for name, pointing in aliases.items():
        for alias, mlflow_version in sorted(pointing.items()):
            version = numbers.get((name, mlflow_version))
            if version is None:
                continue  # the version was refused
            try:
                check_alias(alias)
            except InvalidInput as exc:
                report.refused.append(
                    NotImported(
                        kind="alias", source=f"{name}@{alias}", reason=exc.message
                    )
                )
                continue
            if alias == "champion":
                registry._refuse_if_governed(session, name, "move its champion alias")
            registry._set_alias(session, name, alias, version)
            imported = by_source.get((name, mlflow_version))
            if imported is not None:
                imported.aliases.append(alias)


def _run(source: MlflowSource, run: dict[str, Any], status: str, exp: str) -> _Run:
    info, data = run["info"], run.get("data", {})
    run_id = info["run_id"]
    tags = {t["key"]: str(t.get("value", "")) for t in data.get("tags", [])}
    tags["mlflow.experiment"] = exp
    params = {p["key"]: p.get("value", "") for p in data.get("params", [])}
    metrics = []
    for key in sorted({m["key"] for m in data.get("metrics", [])}):
        for point in source.metric_history(run_id, key):
            value = float(point.get("value", math.nan))
            if math.isfinite(value):
                metrics.append(
                    {
                        "run_id": run_id,
                        "key": key[:200],
                        "value": value,
                        "step": int(point.get("step", 0)),
                        "at": _time(point.get("timestamp")),
                    }
                )
    metrics.sort(key=lambda m: (m["step"], m["at"]))
    name = info.get("run_name") or tags.get("mlflow.runName") or run_id
    row = {
        "id": run_id,
        "name": str(name)[:200],
        "status": status,
        "started_at": _time(info.get("start_time")),
        "ended_at": _time(info.get("end_time")) if info.get("end_time") else None,
        "params": params,
        "tags": tags,
        "git_sha": tags.get("mlflow.source.git.commit"),
        "environment": {},
    }
    return _Run(row=row, metrics=metrics, experiment=exp)


def _version(source: MlflowSource, spec: ImportMlflow, v: dict[str, Any]) -> _Version:
    name, number = v["name"], str(v["version"])
    check_name(name, "models")
    if v.get("status", "READY") != "READY":
        raise InvalidInput(f"the version is {v.get('status')} in MLflow", field="model")
    root = source.download_uri(name, number)
    mlmodel = source.read_artifact(root, "MLmodel")
    if mlmodel is None:
        raise InvalidInput(f"no MLmodel file at {root}", field="model")
    converted = convert(parse_mlmodel(mlmodel), lambda f: source.read_artifact(root, f))
    tags = {t["key"]: str(t.get("value", "")) for t in v.get("tags", [])}
    tags.update(
        {
            "mlflow.model_version": f"{name}/{number}",
            "mlflow.source": str(v.get("source", root)),
            "mlflow.tracking_uri": spec.tracking_uri,
        }
    )
    if v.get("run_id"):
        tags["mlflow.run_id"] = v["run_id"]
    return _Version(
        model=name,
        mlflow_version=number,
        source=tags["mlflow.source"],
        run_id=v.get("run_id") or None,
        description=str(v.get("description") or ""),
        tags=tags,
        converted=converted,
    )


def _imported_before(session: Session, v: _Version) -> int | None:
    rows = session.execute(
        select(model_versions.c.version, model_versions.c.tags).where(
            model_versions.c.name == v.model
        )
    )
    key = (f"{v.model}/{v.mlflow_version}", v.source)
    for number, tags in rows:
        tags = tags or {}
        if (tags.get("mlflow.model_version"), tags.get("mlflow.source")) == key:
            return int(number)
    return None


def _linked_run(session: Session, run_id: str | None) -> str | None:
    """The version's MLflow run, if it is a mlsteward run (imported now or
    before); else None, and the tag ``mlflow.run_id`` still names it."""
    if run_id is None:
        return None
    found = session.execute(select(runs.c.id).where(runs.c.id == run_id)).first()
    return run_id if found is not None else None


def _record(
    session: Session, registry: ModelRegistry, v: _Version, run_id: str | None
) -> int:
    spec = RegisterModel(
        name=v.model,
        flavor=v.converted.flavor,
        run_id=run_id,
        description=v.description,
        tags=v.tags,
    )
    details = {
        "imported_from": "mlflow",
        "mlflow_model_version": f"{v.model}/{v.mlflow_version}",
        "parity_max_abs_diff": v.converted.parity_max_abs_diff,
    }
    return registry._record_version(
        session, spec, v.converted.flavor, v.ref, v.converted.signature, details
    )


def _imported(v: _Version, number: int, run_id: str | None) -> ImportedVersion:
    c = v.converted
    return ImportedVersion(
        mlflow_model=v.model,
        mlflow_version=v.mlflow_version,
        ref=f"{v.model}/{number}",
        flavor=c.flavor,
        source_format=c.source_format,
        run_id=run_id,
        sample_rows=c.sample_rows,
        parity_max_abs_diff=c.parity_max_abs_diff,
    )


def _time(ms: Any) -> datetime:
    return datetime.fromtimestamp(int(ms or 0) / 1000, tz=UTC)
