"""Dataset domain types: column roles, schemas, versions."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, computed_field

from mlsteward.results import Result, Timestamp

__all__ = [
    "ROLES",
    "ColumnRole",
    "ColumnSpec",
    "DatasetVersion",
    "DatasetVersionDetail",
]


class ColumnRole(StrEnum):
    FEATURE = "feature"
    TARGET = "target"
    ID = "id"
    TIMESTAMP = "timestamp"
    PROTECTED = "protected"
    PII = "pii"


ROLES = tuple(r.value for r in ColumnRole)


class ColumnSpec(Result):
    name: str
    dtype: str
    role: str
    kind: str  # "numeric" | "categorical" | "timestamp"
    #: Declared cut points of a numeric protected column's groups
    #: (``None``: not declared; the column's quintiles are used).
    bands: list[float] | None = None


class DatasetVersion(Result):
    """One content-addressed version of a named table.

    ``sha256`` is the hash of its canonical Parquet bytes, so the same content
    registered twice under one name is the same version. Its JSON leaves the
    profile out (lists stay small); :class:`DatasetVersionDetail` has it.
    """

    name: str
    version: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    sha256: str
    n_rows: int
    n_columns: int
    columns: list[ColumnSpec]
    profile: dict[str, Any] = Field(exclude=True)
    created_at: Timestamp
    created_by: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)

    def columns_with_role(self, role: str) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    def bands_of(self, column: str) -> list[float] | None:
        """The cut points that group a protected column, or ``None``.

        A numeric protected column is grouped by the bands declared when the
        dataset was registered, else by its own quintiles (every second
        decile cut of its profile); any other column by its values. The
        column's name plays no part: a column called ``wage`` is banded like
        any other numeric column, an ``age`` with no declared bands by its
        quintiles. Fairness monitors, promotion gates and model reports all
        group by this one answer.

        Example:
            >>> dv.bands_of("age_in_years")  # doctest: +SKIP
            [25.0, 35.0, 45.0, 55.0, 65.0]
        """
        spec = next((c for c in self.columns if c.name == column), None)
        if spec is None or spec.role != ColumnRole.PROTECTED or spec.kind != "numeric":
            return None
        if spec.bands:
            return list(spec.bands)
        entry = self.profile.get("columns", {}).get(column) or {}
        cuts = [float(c) for c in (entry.get("cuts") or [])[1::2]]
        return sorted(set(cuts)) or None

    @property
    def target(self) -> str | None:
        targets = self.columns_with_role(ColumnRole.TARGET)
        return targets[0] if targets else None

    def with_profile(self) -> DatasetVersionDetail:
        """The same version, with the profile in its JSON.

        Example:
            >>> detail = svc.get("credit/1").with_profile()  # doctest: +SKIP
        """
        return DatasetVersionDetail(**dict(self))


class DatasetVersionDetail(DatasetVersion):
    """A dataset version whose JSON includes its column profile."""

    profile: dict[str, Any]
