"""Serving domain types: deployments, their routes and changes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Deployment", "DeploymentChange", "UnseenPolicy"]


class UnseenPolicy(StrEnum):
    """What a deployment does with a category its champion never saw."""

    #: Refuse the record with a 4xx naming the column and the known values.
    REJECT = "reject"
    #: Score it as "unknown" (the model's own handling of unseen values) and
    #: flag the record in the response and the prediction log.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Deployment:
    """A named endpoint and what serves it.

    ``inputs`` is the request contract (the champion's signature inputs at
    creation); every version routed later must accept it.
    """

    name: str
    model_name: str
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
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str
    history: list[DeploymentChange] = field(default_factory=list)

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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "model": self.model_name,
            "champion": self.champion_ref,
            "champion_version": self.champion_version,
            "canary_version": self.canary_version,
            "canary_share": self.canary_share,
            "sticky_field": self.sticky_field,
            "shadow_versions": list(self.shadow_versions),
            "threshold": self.threshold,
            "unseen_policy": self.unseen_policy,
            "inputs": self.inputs,
            "log_columns": list(self.log_columns),
            "pii_columns": list(self.pii_columns),
            "previous_champions": list(self.previous_champions),
            "revision": self.revision,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }
        if self.history:
            out["history"] = [c.to_dict() for c in self.history]
        return out


@dataclass(frozen=True)
class DeploymentChange:
    """One change of a deployment: who, when, what, and the routes after it."""

    deployment: str
    revision: int
    at: dt.datetime
    actor: str
    action: str
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "revision": self.revision,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "details": self.details,
        }
