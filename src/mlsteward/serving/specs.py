"""Request specs of serving: create a deployment.

:class:`CreateDeployment` is what ``DeploymentService.create`` takes, the
body of ``POST /api/v1/deployments``, and what ``client.deployments.create``
and ``mlsteward deployments create`` build. ``model`` is a model reference,
as in every spec (:mod:`mlsteward.monitoring.specs`): the deployment serves
the version it resolves to now (``credit-risk/3``, ``credit-risk@champion``).
Checks that need the model's signature (log, PII and sticky columns) run in
the service.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from mlsteward.names import check_name, parse_ref
from mlsteward.serving.models import UnseenPolicy
from mlsteward.serving.rules import check_policy, check_threshold
from mlsteward.spec import Spec, guard

__all__ = ["CreateDeployment"]


class CreateDeployment(Spec):
    """Create a deployment serving one version of a registered model.

    Example:
        >>> CreateDeployment(name="credit-risk", model="credit-risk@champion")
        ... # doctest: +ELLIPSIS
        CreateDeployment(name='credit-risk', model='credit-risk@champion', ...)
    """

    name: str = Field(description="Deployment name, e.g. credit-risk.")
    model: str = Field(
        description="Model reference: credit-risk/3 or credit-risk@champion."
    )
    threshold: float = Field(
        default=0.5, description="Scores at or above it are denied."
    )
    unseen_policy: str = Field(
        default=UnseenPolicy.REJECT.value, description="reject or unknown"
    )
    log_columns: list[str] = Field(
        default_factory=list, description="Extra request fields to log."
    )
    pii_columns: list[str] = Field(
        default_factory=list, description="Fields the log redacts."
    )
    sticky_field: str | None = Field(
        default=None, description="Field that keeps a caller on one route."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return guard(lambda: check_name(value, "name"))

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        guard(lambda: parse_ref(value, "model"))
        return value

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> float:
        return guard(lambda: check_threshold(value))

    @field_validator("unseen_policy", mode="before")
    @classmethod
    def _policy(cls, value: Any) -> str:
        return guard(lambda: check_policy(value))
