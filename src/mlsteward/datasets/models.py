"""Dataset domain types: column roles, schemas, versions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["ROLES", "ColumnRole", "ColumnSpec", "DatasetVersion"]


class ColumnRole(StrEnum):
    FEATURE = "feature"
    TARGET = "target"
    ID = "id"
    TIMESTAMP = "timestamp"
    PROTECTED = "protected"
    PII = "pii"


ROLES = tuple(r.value for r in ColumnRole)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: str
    role: str
    kind: str  # "numeric" | "categorical" | "timestamp"

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "role": self.role,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class DatasetVersion:
    """One content-addressed version of a named table.

    ``sha256`` is the hash of its canonical Parquet bytes, so the same content
    registered twice under one name is the same version.
    """

    name: str
    version: int
    sha256: str
    n_rows: int
    n_columns: int
    columns: list[ColumnSpec]
    profile: dict[str, Any]
    created_at: dt.datetime
    created_by: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    def columns_with_role(self, role: str) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    @property
    def target(self) -> str | None:
        targets = self.columns_with_role("target")
        return targets[0] if targets else None

    def to_dict(self, *, with_profile: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "sha256": self.sha256,
            "n_rows": self.n_rows,
            "n_columns": self.n_columns,
            "columns": [c.to_dict() for c in self.columns],
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "description": self.description,
            "tags": self.tags,
        }
        if with_profile:
            out["profile"] = self.profile
        return out
