"""Client methods of serving: ``client.deployments`` and the prediction log.

The flat methods (``create_deployment``, ``set_canary``, ...) stay as
delegations to the namespace.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd

from mlsteward.context import Context
from mlsteward.serving.deployments import DeploymentService
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.models import Deployment
from mlsteward.serving.specs import CreateDeployment, SetCanary, UpdateDeployment

_UNSET: Any = object()


class Deployments:
    """``client.deployments``: named endpoints and their routes.

    Example:
        >>> client.deployments.create(name="credit-risk",
        ...                           model="credit-risk@champion")  # doctest: +SKIP
        >>> client.deployments.set_canary("credit-risk", "credit-risk/2", 0.1)
        ... # doctest: +SKIP
        >>> client.deployments.promote("credit-risk")  # doctest: +SKIP
    """

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._svc = DeploymentService(ctx)

    def create(self, spec: CreateDeployment | None = None, **fields: Any) -> Deployment:
        """Create a deployment from a spec, or from its fields.

        Args:
            spec: A :class:`~mlsteward.serving.specs.CreateDeployment`.
            **fields: The spec's fields instead (``name``, ``model``,
                ``threshold``, ``unseen_policy``, ...), validated by it.

        Raises:
            InvalidInput: A bad or unknown field, named.

        Example:
            >>> client.deployments.create(name="cr", model="cr/1")  # doctest: +SKIP
        """
        if spec is None:
            spec = CreateDeployment.parse(fields)
        elif fields:
            spec = CreateDeployment.parse(spec.model_dump(exclude_unset=True), **fields)
        return self._svc.create(spec)

    def get(self, name: str, *, with_history: bool = False) -> Deployment:
        """The deployment ``name``; ``with_history`` adds its change history.

        Example:
            >>> client.deployments.get("cr").champion_version  # doctest: +SKIP
        """
        return self._svc.get(name, with_history=with_history)

    def list(self) -> builtins.list[Deployment]:
        """Every deployment, by name.

        Example:
            >>> [d.name for d in client.deployments.list()]  # doctest: +SKIP
        """
        return self._svc.list()

    def set_canary(
        self,
        name: str,
        model: str,
        share: float,
        *,
        sticky_field: str | None = _UNSET,
    ) -> Deployment:
        """Send ``share`` (0 to 1) of ``name``'s traffic to ``model``;
        ``sticky_field`` left out keeps the deployment's.

        Example:
            >>> client.deployments.set_canary("cr", "cr/2", 0.1)  # doctest: +SKIP
        """
        given = {} if sticky_field is _UNSET else {"sticky_field": sticky_field}
        spec = SetCanary.parse(model=model, share=share, **given)
        return self._svc.set_canary(name, spec)

    def clear_canary(self, name: str) -> Deployment:
        """Send every request back to the champion.

        Example:
            >>> client.deployments.clear_canary("cr")  # doctest: +SKIP
        """
        return self._svc.clear_canary(name)

    def add_shadow(self, name: str, model: str) -> Deployment:
        """Mirror ``name``'s traffic to ``model``; its answers are logged only.

        Example:
            >>> client.deployments.add_shadow("cr", "cr/3")  # doctest: +SKIP
        """
        return self._svc.add_shadow(name, model)

    def remove_shadow(self, name: str, model: str) -> Deployment:
        """Stop mirroring traffic to ``model``.

        Example:
            >>> client.deployments.remove_shadow("cr", "cr/3")  # doctest: +SKIP
        """
        return self._svc.remove_shadow(name, model)

    def promote(self, name: str, model: str | None = None) -> Deployment:
        """Make ``model`` (default: the canary) the champion of ``name``.

        Example:
            >>> client.deployments.promote("cr")  # doctest: +SKIP
        """
        return self._svc.promote(name, model)

    def rollback(self, name: str) -> Deployment:
        """Restore the champion before the last promotion.

        Example:
            >>> client.deployments.rollback("cr")  # doctest: +SKIP
        """
        return self._svc.rollback(name)

    def update(
        self, name: str, spec: UpdateDeployment | None = None, **fields: Any
    ) -> Deployment:
        """Change threshold, unseen policy, logged, redacted or sticky columns:
        the fields given (``None`` fields are left as they are, except
        ``sticky_field=None``, which clears it).

        Example:
            >>> client.deployments.update("cr", threshold=0.45)  # doctest: +SKIP
        """
        given = {
            k: v for k, v in fields.items() if v is not None or k == "sticky_field"
        }
        if spec is None or given:
            base = spec.model_dump(exclude_unset=True) if spec else {}
            spec = UpdateDeployment.parse(base, **given)
        return self._svc.update(name, spec)

    def shadow_predictions(
        self,
        *,
        deployment: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Shadow versions' outputs, one row per request and shadow version.

        Example:
            >>> client.deployments.shadow_predictions(deployment="cr")
            ... # doctest: +SKIP
        """
        return PredictionLog(self._ctx).read_shadows(
            deployment=deployment, since=since, until=until, limit=limit
        )


class ServingMixin:
    """``client.deployments`` on :class:`mlsteward.Client`, plus the flat
    methods of the first release, which delegate to it.

    Example:
        >>> client.deployments.create(name="credit-risk",
        ...                           model="credit-risk@champion")  # doctest: +SKIP
        >>> client.predictions(deployment="credit-risk")  # doctest: +SKIP
    """

    ctx: Context

    @property
    def deployments(self) -> Deployments:
        """Deployments: create, get, list, canary, shadows, promote, rollback."""
        return Deployments(self.ctx)

    def create_deployment(self, name: str, model: str, **fields: Any) -> Deployment:
        """Use ``client.deployments.create(name=, model=, ...)``; this delegates."""
        return self.deployments.create(name=name, model=model, **fields)

    def get_deployment(self, name: str, *, with_history: bool = False) -> Deployment:
        """Use ``client.deployments.get``; this delegates to it."""
        return self.deployments.get(name, with_history=with_history)

    def list_deployments(self) -> builtins.list[Deployment]:
        """Use ``client.deployments.list``; this delegates to it."""
        return self.deployments.list()

    def set_canary(
        self, name: str, model: str, share: float, *, sticky_field: str | None = None
    ) -> Deployment:
        """Use ``client.deployments.set_canary``; this delegates to it."""
        if sticky_field is None:
            return self.deployments.set_canary(name, model, share)
        return self.deployments.set_canary(
            name, model, share, sticky_field=sticky_field
        )

    def clear_canary(self, name: str) -> Deployment:
        """Use ``client.deployments.clear_canary``; this delegates to it."""
        return self.deployments.clear_canary(name)

    def add_shadow(self, name: str, model: str) -> Deployment:
        """Use ``client.deployments.add_shadow``; this delegates to it."""
        return self.deployments.add_shadow(name, model)

    def remove_shadow(self, name: str, model: str) -> Deployment:
        """Use ``client.deployments.remove_shadow``; this delegates to it."""
        return self.deployments.remove_shadow(name, model)

    def promote_deployment(self, name: str, model: str | None = None) -> Deployment:
        """Use ``client.deployments.promote``; this delegates to it."""
        return self.deployments.promote(name, model)

    def rollback_deployment(self, name: str) -> Deployment:
        """Use ``client.deployments.rollback``; this delegates to it."""
        return self.deployments.rollback(name)

    def update_deployment(
        self,
        name: str,
        *,
        threshold: float | None = None,
        unseen_policy: str | None = None,
        log_columns: Sequence[str] | None = None,
        pii_columns: Sequence[str] | None = None,
    ) -> Deployment:
        """Use ``client.deployments.update``; this delegates to it."""
        return self.deployments.update(
            name,
            threshold=threshold,
            unseen_policy=unseen_policy,
            log_columns=log_columns,
            pii_columns=pii_columns,
        )

    def shadow_predictions(self, **filters: Any) -> pd.DataFrame:
        """Use ``client.deployments.shadow_predictions``; this delegates to it."""
        return self.deployments.shadow_predictions(**filters)
