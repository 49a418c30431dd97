"""Serving domain types: deployments, their routes and changes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, computed_field

from mlsteward.results import Result, Timestamp

__all__ = ["Deployment", "DeploymentChange", "PredictionRecord", "UnseenPolicy"]


class UnseenPolicy(StrEnum):
    """What a deployment does with a category its champion never saw."""

    #: Refuse the record with a 4xx naming the column and the known values.
    REJECT = "reject"
    #: Score it as "unknown" (the model's own handling of unseen values) and
    #: flag the record in the response and the prediction log.
    UNKNOWN = "unknown"


class Deployment(Result):
    """A named endpoint and what serves it.

    ``inputs`` is the request contract (the champion's signature inputs at
    creation); every version routed later must accept it. In JSON
    ``model_name`` is ``model`` and ``champion`` is the champion's ref.

    The serving runtime reads this model on every reload, not per request, so
    it costs the hot path nothing; pydantic is imported there already (config).
    """

    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    name: str
    model_name: str = Field(alias="model")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def champion(self) -> str:
        return self.champion_ref

    champion_version: int
    canary_version: int | None
    canary_share: float
    sticky_field: str | None
    shadow_versions: list[int]
    threshold: float
    unseen_policy: str
    inputs: list[dict[str, Any]]
    log_columns: list[str]
    pii_columns: list[str]
    previous_champions: list[int]
    revision: int
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    updated_by: str
    #: Filled by ``get(name, with_history=True)``; empty in lists.
    history: list[DeploymentChange] = Field(default_factory=list)

    @property
    def champion_ref(self) -> str:
        return f"{self.model_name}/{self.champion_version}"

    @property
    def feature_names(self) -> list[str]:
        return [c["name"] for c in self.inputs]

    def versions(self) -> list[int]:
        """Every version this deployment routes to, champion first."""
        out = [self.champion_version]
        if self.canary_version is not None:
            out.append(self.canary_version)
        out.extend(v for v in self.shadow_versions if v not in out)
        return out

    def routes(self) -> dict[str, Any]:
        return {
            "champion": self.champion_version,
            "canary": (
                None
                if self.canary_version is None
                else {
                    "version": self.canary_version,
                    "share": self.canary_share,
                    "sticky_field": self.sticky_field,
                }
            ),
            "shadows": list(self.shadow_versions),
        }


class DeploymentChange(Result):
    """One change of a deployment: who, when, what, and the routes after it."""

    deployment: str
    revision: int
    at: Timestamp
    actor: str
    action: str
    details: dict[str, Any]


class PredictionRecord(Result):
    """One logged prediction as ``GET /predictions`` lists it.

    The fixed columns are declared; the model's outputs (``score``,
    ``decision``) and the logged inputs (``input.<column>``) vary by model and
    deployment, so they ride along as extra fields.
    """

    model_config = ConfigDict(extra="allow")

    request_id: str
    created_at: str
    deployment: str
    model_name: str
    model_version: int
    route: str
    latency_ms: float | None
    flags: Any = None


class ShadowRecord(Result):
    """One shadow version's output for one request, as
    ``GET /shadow-predictions`` lists it; the outputs ride along as extra
    fields, as in :class:`PredictionRecord`."""

    model_config = ConfigDict(extra="allow", frozen=True, ser_json_inf_nan="null")

    request_id: str
    created_at: Timestamp
    deployment: str
    model_version: int
    latency_ms: float | None


Deployment.model_rebuild()
