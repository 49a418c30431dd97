"""Client methods of datasets, runs and the registry: ``client.datasets``,
``client.runs`` and ``client.models``.

Each write method takes its spec (:mod:`mlsteward.datasets.specs`,
:mod:`mlsteward.registry.specs`) or the spec's fields, and calls the service
method of the same name. The flat methods of the first release
(``register_dataset``, ``start_run``, ``register_model``, ...) stay as
delegations to the namespaces.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from mlsteward.context import Context
from mlsteward.datasets.models import DatasetVersion
from mlsteward.datasets.service import DatasetService
from mlsteward.datasets.specs import RegisterDataset
from mlsteward.registry.evaluation import EvaluationService
from mlsteward.registry.mlflow_import import MlflowImportService
from mlsteward.registry.models import (
    Evaluation,
    MlflowImport,
    ModelVersion,
    RegisteredModel,
    Run,
    Signature,
)
from mlsteward.registry.runs import RunService
from mlsteward.registry.service import LoadedModel, ModelRegistry
from mlsteward.registry.specs import (
    EndRun,
    Evaluate,
    ImportMlflow,
    LogMetrics,
    RegisterModel,
    SetAlias,
    StartRun,
    Transition,
)
from mlsteward.spec import Spec

__all__ = ["Datasets", "Models", "RegistryMixin", "Runs", "build_spec"]

S = TypeVar("S", bound=Spec)


def build_spec(cls: type[S], spec: S | None, fields: Mapping[str, Any]) -> S:
    """``spec`` as given, or built from ``fields`` (over ``spec``'s, if both)."""
    if spec is None:
        return cls.parse(fields)
    if fields:
        return cls.parse(spec.model_dump(exclude_unset=True), **fields)
    return spec


class Datasets:
    """``client.datasets``: content-addressed dataset versions.

    Example:
        >>> v = client.datasets.register(data=df, name="german-credit",
        ...                              roles={"bad": "target"})  # doctest: +SKIP
        >>> client.datasets.load(v.ref).shape  # doctest: +SKIP
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = DatasetService(ctx)

    def register(
        self,
        spec: RegisterDataset | None = None,
        /,
        *,
        data: pd.DataFrame | str | Path,
        **fields: Any,
    ) -> DatasetVersion:
        """Register a table as the next version of a dataset; the same content
        registered again under its name returns the version it already is.

        Args:
            spec: A :class:`~mlsteward.datasets.specs.RegisterDataset`.
            data: The table: a DataFrame, or a CSV, JSON lines or Parquet file.
            **fields: The spec's fields instead (``name``, ``roles``,
                ``bands``, ``description``, ``tags``), validated by it.

        Raises:
            InvalidInput: A bad or unknown field, named (``roles.bad``).

        Example:
            >>> client.datasets.register(data="gc.csv", name="german-credit",
            ...                          roles={"bad": "target"})  # doctest: +SKIP
        """
        return self._svc.register(build_spec(RegisterDataset, spec, fields), data)

    def get(self, ref: str) -> DatasetVersion:
        """A dataset version: ``name`` (the latest) or ``name/N``.

        Example:
            >>> client.datasets.get("german-credit/1").n_rows  # doctest: +SKIP
            1000
        """
        return self._svc.get(ref)

    def list(self, name: str | None = None) -> builtins.list[DatasetVersion]:
        """Every dataset version, or those of dataset ``name``, by name and
        version.

        Example:
            >>> [v.ref for v in client.datasets.list("german-credit")]
            ... # doctest: +SKIP
        """
        return self._svc.list(name)

    def load(self, ref: str) -> pd.DataFrame:
        """The table of a version, after verifying its checksum.

        Example:
            >>> df = client.datasets.load("german-credit/1")  # doctest: +SKIP
        """
        return self._svc.load(ref)


class Runs:
    """``client.runs``: training runs with their params, metrics and inputs.

    Example:
        >>> run = client.runs.start(name="gbm", inputs=["german-credit/1"])
        ... # doctest: +SKIP
        >>> client.runs.log_metrics(run.id, metrics={"auc": 0.79})  # doctest: +SKIP
        >>> client.runs.end(run.id)  # doctest: +SKIP
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = RunService(ctx)

    def start(self, spec: StartRun | None = None, /, **fields: Any) -> Run:
        """Start a run; it records the git commit and package versions.

        Args:
            spec: A :class:`~mlsteward.registry.specs.StartRun`.
            **fields: The spec's fields instead (``name``, ``params``,
                ``tags``, ``inputs``: dataset refs it reads).

        Example:
            >>> client.runs.start(name="gbm", params={"depth": 3},
            ...                   inputs=["german-credit/1"])  # doctest: +SKIP
        """
        return self._svc.start(build_spec(StartRun, spec, fields))

    def log_metrics(
        self, run_id: str, spec: LogMetrics | None = None, /, **fields: Any
    ) -> None:
        """Log finite metrics at a step (``step``, default 0) of a running run.

        Example:
            >>> client.runs.log_metrics(run.id, metrics={"auc": 0.79}, step=2)
            ... # doctest: +SKIP
        """
        self._svc.log_metrics(run_id, build_spec(LogMetrics, spec, fields))

    def end(self, run_id: str, spec: EndRun | None = None, /, **fields: Any) -> Run:
        """End a running run: ``status`` finished (default) or failed.

        Example:
            >>> client.runs.end(run.id, status="failed")  # doctest: +SKIP
        """
        return self._svc.end(run_id, build_spec(EndRun, spec, fields))

    def get(self, run_id: str) -> Run:
        """The run ``run_id`` with its latest metrics.

        Example:
            >>> client.runs.get(run.id).metrics  # doctest: +SKIP
            {'auc': 0.79}
        """
        return self._svc.get(run_id)

    def list(self, *, limit: int = 100) -> builtins.list[Run]:
        """The newest ``limit`` runs, newest first.

        Example:
            >>> [r.name for r in client.runs.list(limit=5)]  # doctest: +SKIP
        """
        return self._svc.list(limit=limit)


class Models:
    """``client.models``: registered models, versions, aliases, lifecycle
    and evaluations.

    Example:
        >>> mv = client.models.register(name="credit-risk", model=pipeline,
        ...                             training_data=X)  # doctest: +SKIP
        >>> client.models.set_alias("credit-risk", alias="champion",
        ...                         version=mv.version)  # doctest: +SKIP
        >>> client.models.load("credit-risk@champion").predict_proba(X)
        ... # doctest: +SKIP
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = ModelRegistry(ctx)
        self._evaluations = EvaluationService(ctx)
        self._mlflow = MlflowImportService(ctx)

    def import_mlflow(
        self, spec: ImportMlflow | None = None, /, **fields: Any
    ) -> MlflowImport:
        """Import runs and registered model versions from an MLflow server.

        scikit-learn models saved with skops and LightGBM boosters are
        converted to mlsteward's flavors and checked to score as before;
        pickled models are refused with the reason (see ``docs/mlflow.md``).

        Args:
            spec: An :class:`~mlsteward.registry.specs.ImportMlflow`.
            **fields: Its fields instead (``tracking_uri``, ``experiments``,
                ``models``).

        Example:
            >>> client.models.import_mlflow(tracking_uri="http://127.0.0.1:5000")
            ... # doctest: +SKIP
        """
        return self._mlflow.import_mlflow(build_spec(ImportMlflow, spec, fields))

    def register(
        self,
        spec: RegisterModel | None = None,
        /,
        *,
        model: Any,
        training_data: pd.DataFrame | None = None,
        signature: Signature | None = None,
        **fields: Any,
    ) -> ModelVersion:
        """Save a fitted model as the next version of a registered model.

        Args:
            spec: A :class:`~mlsteward.registry.specs.RegisterModel`.
            model: The fitted model (scikit-learn, LightGBM, ONNX, ...).
            training_data: The features it was fitted on: its signature is
                inferred from them, and the saved artifact is proved to load
                and predict on them.
            signature: The inputs, when ``training_data`` is not given.
            **fields: The spec's fields instead (``name``, ``flavor``,
                ``run_id``, ``parent_version``, ``description``, ``tags``).

        Raises:
            InvalidInput: A bad or unknown field, named.

        Example:
            >>> client.models.register(name="credit-risk", model=pipeline,
            ...                        training_data=X, run_id=run.id)
            ... # doctest: +SKIP
        """
        return self._svc.register(
            build_spec(RegisterModel, spec, fields),
            model,
            training_data,
            signature=signature,
        )

    def get(self, name: str) -> RegisteredModel:
        """The registered model ``name``, with its latest version and aliases.

        Example:
            >>> client.models.get("credit-risk").aliases  # doctest: +SKIP
            {'champion': 2}
        """
        return self._svc.get_model(name)

    def get_version(self, ref: str) -> ModelVersion:
        """A version: ``name`` (the latest), ``name/N`` or ``name@alias``.

        Example:
            >>> client.models.get_version("credit-risk@champion").state
            ... # doctest: +SKIP
            'approved'
        """
        return self._svc.get(ref)

    def list(self) -> builtins.list[RegisteredModel]:
        """Every registered model, by name.

        Example:
            >>> [m.name for m in client.models.list()]  # doctest: +SKIP
        """
        return self._svc.list_models()

    def list_versions(self, name: str) -> builtins.list[ModelVersion]:
        """The versions of model ``name``, oldest first.

        Example:
            >>> [v.ref for v in client.models.list_versions("credit-risk")]
            ... # doctest: +SKIP
        """
        return self._svc.list_versions(name)

    def set_alias(
        self, name: str, spec: SetAlias | None = None, /, **fields: Any
    ) -> ModelVersion:
        """Point ``name@alias`` at a version (moving it if it pointed elsewhere).

        Example:
            >>> client.models.set_alias("credit-risk", alias="champion",
            ...                         version=2)  # doctest: +SKIP
        """
        return self._svc.set_alias(name, build_spec(SetAlias, spec, fields))

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove the alias ``alias`` of model ``name``.

        Example:
            >>> client.models.delete_alias("credit-risk", "challenger")
            ... # doctest: +SKIP
        """
        self._svc.delete_alias(name, alias)

    def transition(
        self, ref: str, spec: Transition | None = None, /, **fields: Any
    ) -> ModelVersion:
        """Move a version through its lifecycle: ``state`` registered,
        approved, rejected or archived, with a ``reason``.

        Example:
            >>> client.models.transition("credit-risk/2", state="approved",
            ...                          reason="validated")  # doctest: +SKIP
        """
        return self._svc.transition(ref, build_spec(Transition, spec, fields))

    def load(self, ref: str) -> LoadedModel:
        """Load a version after verifying its artifact's sha256.

        Example:
            >>> client.models.load("credit-risk@champion").predict_proba(X)
            ... # doctest: +SKIP
        """
        return self._svc.load(ref)

    def evaluate(
        self,
        ref: str,
        spec: Evaluate | None = None,
        /,
        *,
        data: pd.DataFrame | str,
        **fields: Any,
    ) -> Evaluation:
        """Evaluate a version on a table and store the figures with it.

        Args:
            ref: The version: ``name/N``, ``name@alias`` or ``name``.
            spec: A :class:`~mlsteward.registry.specs.Evaluate`.
            data: A DataFrame, or a dataset ref (``german-credit/2``) whose
                target role gives the label column.
            **fields: The spec's fields instead (``target``, ``threshold``,
                ``label``).

        Example:
            >>> client.models.evaluate("credit-risk/2", data="german-credit/2",
            ...                        threshold=0.4)  # doctest: +SKIP
        """
        return self._evaluations.evaluate(ref, data, build_spec(Evaluate, spec, fields))

    def evaluations(self, ref: str) -> builtins.list[Evaluation]:
        """The evaluations of a version, oldest first.

        Example:
            >>> client.models.evaluations("credit-risk/2")[-1].metrics["auc"]
            ... # doctest: +SKIP
        """
        return self._evaluations.list(ref)


class RegistryMixin:
    """``client.datasets``, ``client.runs`` and ``client.models`` on
    :class:`mlsteward.Client`, plus the flat methods of the first release,
    which delegate to them.

    Example:
        >>> client.models.get_version("credit-risk@champion")  # doctest: +SKIP
    """

    ctx: Context

    @property
    def datasets(self) -> Datasets:
        """Dataset versions: register, get, list, load."""
        return Datasets(self.ctx)

    @property
    def runs(self) -> Runs:
        """Training runs: start, log_metrics, end, get, list."""
        return Runs(self.ctx)

    @property
    def models(self) -> Models:
        """Models: register, get, get_version, list, list_versions, set_alias,
        delete_alias, transition, load, evaluate, evaluations."""
        return Models(self.ctx)

    # -- datasets ---------------------------------------------------------
    def register_dataset(
        self,
        name: str,
        data: pd.DataFrame | str | Path,
        *,
        roles: Mapping[str, str] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        bands: Mapping[str, Any] | None = None,
    ) -> DatasetVersion:
        """Use ``client.datasets.register``; this delegates to it."""
        return self.datasets.register(
            data=data,
            name=name,
            roles=roles,
            description=description,
            tags=tags,
            bands=bands,
        )

    def get_dataset(self, ref: str) -> DatasetVersion:
        """Use ``client.datasets.get``; this delegates to it."""
        return self.datasets.get(ref)

    def list_datasets(self, name: str | None = None) -> list[DatasetVersion]:
        """Use ``client.datasets.list``; this delegates to it."""
        return self.datasets.list(name)

    def load_dataset(self, ref: str) -> pd.DataFrame:
        """Use ``client.datasets.load``; this delegates to it."""
        return self.datasets.load(ref)

    # -- runs -------------------------------------------------------------
    def start_run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        inputs: Iterable[str] = (),
    ) -> Run:
        """Use ``client.runs.start``; this delegates to it."""
        return self.runs.start(name=name, params=params, tags=tags, inputs=list(inputs))

    def log_metrics(
        self, run_id: str, metrics: Mapping[str, float], *, step: int = 0
    ) -> None:
        """Use ``client.runs.log_metrics``; this delegates to it."""
        self.runs.log_metrics(run_id, metrics=metrics, step=step)

    def end_run(self, run_id: str, status: str = "finished") -> Run:
        """Use ``client.runs.end``; this delegates to it."""
        return self.runs.end(run_id, status=status)

    def get_run(self, run_id: str) -> Run:
        """Use ``client.runs.get``; this delegates to it."""
        return self.runs.get(run_id)

    def list_runs(self, *, limit: int = 100) -> list[Run]:
        """Use ``client.runs.list``; this delegates to it."""
        return self.runs.list(limit=limit)

    # -- registry ---------------------------------------------------------
    def register_model(
        self,
        name: str,
        model: Any,
        training_data: pd.DataFrame | None = None,
        *,
        signature: Signature | None = None,
        flavor: str | None = None,
        run_id: str | None = None,
        parent_version: int | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Use ``client.models.register``; this delegates to it."""
        return self.models.register(
            model=model,
            training_data=training_data,
            signature=signature,
            name=name,
            flavor=flavor,
            run_id=run_id,
            parent_version=parent_version,
            description=description,
            tags=tags,
        )

    def get_model_version(self, ref: str) -> ModelVersion:
        """Use ``client.models.get_version``; this delegates to it."""
        return self.models.get_version(ref)

    def get_model(self, name: str) -> RegisteredModel:
        """Use ``client.models.get``; this delegates to it."""
        return self.models.get(name)

    def list_models(self) -> list[RegisteredModel]:
        """Use ``client.models.list``; this delegates to it."""
        return self.models.list()

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Use ``client.models.list_versions``; this delegates to it."""
        return self.models.list_versions(name)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Use ``client.models.set_alias``; this delegates to it."""
        return self.models.set_alias(name, alias=alias, version=version)

    def delete_alias(self, name: str, alias: str) -> None:
        """Use ``client.models.delete_alias``; this delegates to it."""
        self.models.delete_alias(name, alias)

    def transition(self, ref: str, state: str, *, reason: str = "") -> ModelVersion:
        """Use ``client.models.transition``; this delegates to it."""
        return self.models.transition(ref, state=state, reason=reason)

    def load_model(self, ref: str) -> LoadedModel:
        """Use ``client.models.load``; this delegates to it."""
        return self.models.load(ref)

    def evaluate(
        self,
        ref: str,
        data: pd.DataFrame | str,
        *,
        target: str | None = None,
        threshold: float = 0.5,
        label: str | None = None,
    ) -> Evaluation:
        """Use ``client.models.evaluate``; this delegates to it."""
        return self.models.evaluate(
            ref, data=data, target=target, threshold=threshold, label=label
        )

    def list_evaluations(self, ref: str) -> list[Evaluation]:
        """Use ``client.models.evaluations``; this delegates to it."""
        return self.models.evaluations(ref)
