"""Request specs of serving: create, update a deployment, set its canary.

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
from mlsteward.spec import Spec, guard, invalid

__all__ = ["CreateDeployment", "SetCanary", "UpdateDeployment"]


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


class SetCanary(Spec):
    """Send a share of a deployment's traffic to another version.

    ``sticky_field`` left out keeps the deployment's; given (even ``None``)
    it replaces it.

    Example:
        >>> SetCanary(model="credit-risk/2", share=0.1).share
        0.1
    """

    model: str = Field(description="Version to send the share to.")
    share: float = Field(description="Share of traffic, 0 to 1.")
    sticky_field: str | None = Field(
        default=None, description="Field that keeps a caller on one route."
    )

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        if not value.isdigit():  # a bare version number of the deployment's model
            guard(lambda: parse_ref(value, "model"))
        return value

    @field_validator("share", mode="before")
    @classmethod
    def _share(cls, value: Any) -> float:
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not 0.0 <= float(value) <= 1.0
        ):
            invalid(
                "share must be a number from 0 to 1 (0.1 sends 10% of the "
                f"traffic to the canary), got {value!r}",
                "share",
            )
        return float(value)


class UpdateDeployment(Spec):
    """Change a deployment's settings; only the fields given change
    (``sticky_field=None`` given clears it).

    Example:
        >>> sorted(UpdateDeployment(threshold=0.4).model_fields_set)
        ['threshold']
    """

    threshold: float | None = Field(
        default=None, description="Scores at or above it are denied."
    )
    unseen_policy: str | None = Field(default=None, description="reject or unknown")
    log_columns: list[str] | None = Field(
        default=None, description="Extra request fields to log."
    )
    pii_columns: list[str] | None = Field(
        default=None, description="Fields the log redacts."
    )
    sticky_field: str | None = Field(
        default=None, description="Field that keeps a caller on one route."
    )

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> float | None:
        return None if value is None else guard(lambda: check_threshold(value))

    @field_validator("unseen_policy", mode="before")
    @classmethod
    def _policy(cls, value: Any) -> str | None:
        return None if value is None else guard(lambda: check_policy(value))
