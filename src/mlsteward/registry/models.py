"""Registry domain types."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "LIFECYCLE",
    "Evaluation",
    "ModelVersion",
    "RegisteredModel",
    "Run",
    "Signature",
    "State",
]


class State(StrEnum):
    """Lifecycle of a model version. Aliases (``champion``) say where it serves."""

    REGISTERED = "registered"
    APPROVED = "approved"
    REJECTED = "rejected"
    ARCHIVED = "archived"


#: Allowed transitions: from -> the states it may move to.
LIFECYCLE: dict[str, tuple[str, ...]] = {
    "registered": ("approved", "rejected", "archived"),
    "approved": ("archived",),
    "rejected": ("archived",),
    "archived": (),
}


@dataclass(frozen=True)
class Signature:
    """Input columns with their kinds and dtypes, and the output."""

    inputs: list[dict[str, Any]]
    output: dict[str, Any]

    @property
    def feature_names(self) -> list[str]:
        return [c["name"] for c in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "output": self.output}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Signature:
        return cls(inputs=list(d["inputs"]), output=dict(d["output"]))


@dataclass(frozen=True)
class Run:
    id: str
    name: str
    status: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    created_by: str
    params: dict[str, Any]
    tags: dict[str, str]
    git_sha: str | None
    environment: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "created_by": self.created_by,
            "params": self.params,
            "metrics": self.metrics,
            "tags": self.tags,
            "git_sha": self.git_sha,
            "environment": self.environment,
            "inputs": self.inputs,
        }


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    state: str
    flavor: str
    artifact_sha256: str
    artifact_size: int
    signature: Signature
    run_id: str | None
    parent_version: int | None
    description: str
    tags: dict[str, str]
    created_at: dt.datetime
    created_by: str
    aliases: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "state": self.state,
            "aliases": self.aliases,
            "flavor": self.flavor,
            "artifact_sha256": self.artifact_sha256,
            "artifact_size": self.artifact_size,
            "signature": self.signature.to_dict(),
            "run_id": self.run_id,
            "parent_version": self.parent_version,
            "description": self.description,
            "tags": self.tags,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    tags: dict[str, str]
    latest_version: int | None
    aliases: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
            "tags": self.tags,
            "latest_version": self.latest_version,
            "aliases": self.aliases,
        }


@dataclass(frozen=True)
class Evaluation:
    id: str
    model_name: str
    model_version: int
    dataset: str | None
    label: str
    threshold: float
    metrics: dict[str, Any]
    created_at: dt.datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": f"{self.model_name}/{self.model_version}",
            "dataset": self.dataset,
            "label": self.label,
            "threshold": self.threshold,
            "metrics": self.metrics,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }
