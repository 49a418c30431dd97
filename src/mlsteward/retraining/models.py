"""Retraining domain types: retrainings and approval requests."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, computed_field

from mlsteward.results import Result, Timestamp

__all__ = ["ApprovalRequest", "Retraining"]


class Retraining(Result):
    """One retraining: its trigger, challenger, gates and decision."""

    # ``model_name`` is the stored and JSON name, not pydantic's namespace.
    model_config = ConfigDict(protected_namespaces=())

    id: str
    model_name: str
    trigger: dict[str, Any]
    status: str
    champion: str | None
    challenger: str | None
    holdout: str | None
    gates: list[dict[str, Any]]
    comparison: dict[str, Any]
    decision: str | None
    reason: str
    created_at: Timestamp
    created_by: str
    approval_id: str | None = None
    finished_at: Timestamp | None = None


class ApprovalRequest(Result):
    """A request to promote a version; ``model`` in JSON is ``model_name``."""

    model_config = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        protected_namespaces=(),
    )

    id: str
    model_name: str = Field(alias="model")
    version: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ref(self) -> str:
        return f"{self.model_name}/{self.version}"

    action: str
    status: str
    retraining_id: str | None
    champion_version: int | None
    evidence: dict[str, Any]
    requested_by: str
    requested_at: Timestamp
    decided_by: str | None
    decided_at: Timestamp | None
    comment: str
