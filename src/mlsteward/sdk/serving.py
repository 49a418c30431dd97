"""Client methods of serving (deployments, predictions)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from mlsteward.context import Context
from mlsteward.serving.deployments import DeploymentService
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.models import Deployment


class ServingMixin:
    """Deployments and the prediction log, on :class:`mlsteward.Client`.

    Example:
        >>> client.create_deployment(  # doctest: +SKIP
        ...     "credit-risk", "credit-risk@champion"
        ... )
        >>> client.set_canary("credit-risk", "credit-risk/2", 0.1)  # doctest: +SKIP
        >>> client.promote_deployment("credit-risk")  # doctest: +SKIP
        >>> client.rollback_deployment("credit-risk")  # doctest: +SKIP
        >>> client.predictions(deployment="credit-risk")  # doctest: +SKIP
    """

    ctx: Context

    @property
    def _deployments(self) -> DeploymentService:
        return DeploymentService(self.ctx)

    def create_deployment(
        self,
        name: str,
        model: str,
        *,
        threshold: float = 0.5,
        unseen_policy: str = "reject",
        log_columns: Sequence[str] = (),
        pii_columns: Sequence[str] = (),
        sticky_field: str | None = None,
    ) -> Deployment:
        """Create a deployment serving ``model`` (``name/3`` or ``name@alias``)."""
        return self._deployments.create(
            name,
            model,
            threshold=threshold,
            unseen_policy=unseen_policy,
            log_columns=log_columns,
            pii_columns=pii_columns,
            sticky_field=sticky_field,
        )

    def get_deployment(self, name: str, *, with_history: bool = False) -> Deployment:
        return self._deployments.get(name, with_history=with_history)

    def list_deployments(self) -> list[Deployment]:
        return self._deployments.list()

    def set_canary(
        self, name: str, model: str, share: float, *, sticky_field: str | None = None
    ) -> Deployment:
        """Send ``share`` of ``name``'s traffic to ``model``."""
        if sticky_field is None:
            return self._deployments.set_canary(name, model, share)
        return self._deployments.set_canary(
            name, model, share, sticky_field=sticky_field
        )

    def clear_canary(self, name: str) -> Deployment:
        return self._deployments.clear_canary(name)

    def add_shadow(self, name: str, model: str) -> Deployment:
        return self._deployments.add_shadow(name, model)

    def remove_shadow(self, name: str, model: str) -> Deployment:
        return self._deployments.remove_shadow(name, model)

    def promote_deployment(self, name: str, model: str | None = None) -> Deployment:
        """Make ``model`` (default: the canary) the champion of ``name``."""
        return self._deployments.promote(name, model)

    def rollback_deployment(self, name: str) -> Deployment:
        """Restore the champion before the last promotion."""
        return self._deployments.rollback(name)

    def update_deployment(
        self,
        name: str,
        *,
        threshold: float | None = None,
        unseen_policy: str | None = None,
        log_columns: Sequence[str] | None = None,
        pii_columns: Sequence[str] | None = None,
    ) -> Deployment:
        return self._deployments.update(
            name,
            threshold=threshold,
            unseen_policy=unseen_policy,
            log_columns=log_columns,
            pii_columns=pii_columns,
        )

    def shadow_predictions(
        self,
        *,
        deployment: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Shadow versions' outputs, one row per request and shadow version."""
        return PredictionLog(self.ctx).read_shadows(
            deployment=deployment, since=since, until=until, limit=limit
        )
