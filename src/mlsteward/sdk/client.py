"""``mlsteward.Client``: the services of one mlsteward home, in process.

The client holds no state of its own; every call is one use case of a service,
one transaction. A later remote mode speaks the same method names over HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mlsteward.config import Settings, get_settings
from mlsteward.context import Context
from mlsteward.datasets.models import DatasetVersion
from mlsteward.datasets.service import DatasetService
from mlsteward.monitoring.outcomes import LoadResult
from mlsteward.registry.evaluation import EvaluationService
from mlsteward.registry.models import (
    Evaluation,
    ModelVersion,
    RegisteredModel,
    Run,
    Signature,
)
from mlsteward.registry.runs import RunService
from mlsteward.registry.service import LoadedModel, ModelRegistry
from mlsteward.sdk.governance import GovernanceMixin
from mlsteward.sdk.jobs import JobsMixin
from mlsteward.sdk.monitoring import MonitoringMixin
from mlsteward.sdk.outcomes import Outcomes
from mlsteward.sdk.retraining import RetrainingMixin
from mlsteward.sdk.serving import ServingMixin
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.scoring import ScoringService

__all__ = ["Client"]


class Client(
    ServingMixin, MonitoringMixin, RetrainingMixin, GovernanceMixin, JobsMixin
):
    """Everything a data scientist does, against the embedded store by default.

    Args:
        settings: Where to keep metadata and artifacts; read from the
            ``MLSTEWARD_*`` environment when omitted.
        actor: Who acts, for the audit trail (default: the settings' actor).
        token: An API token (default ``MLSTEWARD_TOKEN``): the client then
            acts as the token's user, and a wrong token is refused at once.
        **overrides: Shortcuts for settings fields (``home=...``,
            ``db_url=...``, ``artifacts_uri=...``).

    Example:
        >>> import mlsteward
        >>> client = mlsteward.Client(home="/tmp/ms-doc")  # doctest: +SKIP
        >>> df = mlsteward.datasets.load_german_credit()  # doctest: +SKIP
        >>> client.register_dataset("german-credit", df)  # doctest: +SKIP
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        actor: str | None = None,
        token: str | None = None,
        **overrides: Any,
    ) -> None:
        settings = settings or get_settings(**overrides)
        ctx = Context.from_settings(settings)
        token = token or settings.token
        if token:
            # Act as the token's user, with its role, as the HTTP API would.
            from mlsteward.identity.service import IdentityService

            ctx = ctx.as_principal(IdentityService(ctx).authenticate(token))
        elif actor:
            ctx = ctx.as_actor(actor)
        self.ctx = ctx
        self._datasets = DatasetService(self.ctx)
        self._runs = RunService(self.ctx)
        self._registry = ModelRegistry(self.ctx)
        self._evaluations = EvaluationService(self.ctx)
        self._log = PredictionLog(self.ctx)
        self._scoring = ScoringService(self.ctx)

    # -- store ------------------------------------------------------------
    def upgrade(self) -> str | None:
        """Apply pending migrations; return the revision now in force."""
        return self.ctx.store.upgrade()

    def close(self) -> None:
        self.stop_worker()
        self.ctx.store.dispose()

    # -- datasets ---------------------------------------------------------
    def register_dataset(
        self,
        name: str,
        data: pd.DataFrame | str | Path,
        *,
        roles: Mapping[str, str] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> DatasetVersion:
        return self._datasets.register(
            name, data, roles=roles, description=description, tags=tags
        )

    def get_dataset(self, ref: str) -> DatasetVersion:
        return self._datasets.get(ref)

    def list_datasets(self, name: str | None = None) -> list[DatasetVersion]:
        return self._datasets.list(name)

    def load_dataset(self, ref: str) -> pd.DataFrame:
        return self._datasets.load(ref)

    # -- runs -------------------------------------------------------------
    def start_run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        inputs: Iterable[str] = (),
    ) -> Run:
        return self._runs.start(name, params=params, tags=tags, inputs=list(inputs))

    def log_metrics(
        self, run_id: str, metrics: Mapping[str, float], *, step: int = 0
    ) -> None:
        self._runs.log_metrics(run_id, metrics, step=step)

    def end_run(self, run_id: str, status: str = "finished") -> Run:
        return self._runs.end(run_id, status)

    def get_run(self, run_id: str) -> Run:
        return self._runs.get(run_id)

    def list_runs(self, *, limit: int = 100) -> list[Run]:
        return self._runs.list(limit=limit)

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
        return self._registry.register(
            name,
            model,
            training_data,
            signature=signature,
            flavor=flavor,
            run_id=run_id,
            parent_version=parent_version,
            description=description,
            tags=tags,
        )

    def get_model_version(self, ref: str) -> ModelVersion:
        return self._registry.get(ref)

    def get_model(self, name: str) -> RegisteredModel:
        return self._registry.get_model(name)

    def list_models(self) -> list[RegisteredModel]:
        return self._registry.list_models()

    def list_versions(self, name: str) -> list[ModelVersion]:
        return self._registry.list_versions(name)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        return self._registry.set_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        self._registry.delete_alias(name, alias)

    def transition(self, ref: str, state: str, *, reason: str = "") -> ModelVersion:
        return self._registry.transition(ref, state, reason=reason)

    def load_model(self, ref: str) -> LoadedModel:
        return self._registry.load(ref)

    def evaluate(
        self,
        ref: str,
        data: pd.DataFrame | str,
        *,
        target: str | None = None,
        threshold: float = 0.5,
        label: str | None = None,
    ) -> Evaluation:
        return self._evaluations.evaluate(
            ref, data, target=target, threshold=threshold, label=label
        )

    def list_evaluations(self, ref: str) -> list[Evaluation]:
        return self._evaluations.list(ref)

    # -- predictions and outcomes ----------------------------------------
    def score(
        self,
        ref: str,
        frame: pd.DataFrame,
        *,
        deployment: str,
        threshold: float = 0.5,
        request_ids: Sequence[str] | None = None,
        timestamps: Sequence[dt.datetime] | None = None,
        log_columns: Sequence[str] = (),
        pii: Sequence[str] = (),
    ) -> pd.DataFrame:
        return self._scoring.score(
            ref,
            frame,
            deployment=deployment,
            threshold=threshold,
            request_ids=request_ids,
            timestamps=timestamps,
            log_columns=log_columns,
            pii=pii,
        )

    def predictions(
        self,
        *,
        deployment: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        return self._log.read(
            deployment=deployment, since=since, until=until, limit=limit
        )

    @property
    def outcomes(self) -> Outcomes:
        """Outcomes: load, labelled_window."""
        return Outcomes(self.ctx)

    def load_outcomes(self, data: pd.DataFrame | str | Path) -> LoadResult:
        """Use ``client.outcomes.load``; this delegates to it."""
        return self.outcomes.load(data)

    def labelled_window(
        self,
        *,
        deployment: str,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> pd.DataFrame:
        """Use ``client.outcomes.labelled_window``; this delegates to it."""
        return self.outcomes.labelled_window(
            deployment=deployment, since=since, until=until
        )
