"""Request specs of datasets: register a table as a dataset version.

:class:`RegisterDataset` is what ``DatasetService.register`` takes beside
the table itself (a DataFrame or a file), what ``client.datasets.register``
and ``mlsteward datasets register`` build. Checks that need the table (does
the column a role names exist?) run in the service.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, field_validator

from mlsteward.datasets.models import ROLES, ColumnRole
from mlsteward.names import check_name
from mlsteward.spec import Spec, guard, invalid, str_map

__all__ = ["RegisterDataset"]


class RegisterDataset(Spec):
    """Register a table as the next version of dataset ``name``.

    Columns ``roles`` does not name are features (timestamps: timestamp).

    Example:
        >>> spec = RegisterDataset(name="german-credit", roles={"bad": "target"})
        >>> spec.roles
        {'bad': <ColumnRole.TARGET: 'target'>}
    """

    name: str = Field(description="Dataset name, e.g. german-credit.")
    roles: dict[str, ColumnRole] = Field(
        default_factory=dict,
        description="Column to role: feature, target, id, timestamp, protected, pii.",
    )
    bands: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Cut points of numeric protected columns' groups, e.g. "
        "{age_in_years: [25, 35, 45, 55, 65]}; undeclared: their quintiles.",
    )
    description: str = Field(default="", description="Free text.")
    tags: dict[str, str] = Field(default_factory=dict, description="Free tags.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return guard(lambda: check_name(value, "name"))

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            invalid("roles must be a mapping of column names to roles", "roles")
        allowed = list(ROLES)
        for col, role in value.items():
            if role not in allowed:
                invalid(
                    f"role {role!r} for column {col!r} is not one of {allowed}",
                    f"roles.{col}",
                    allowed,
                )
        if sum(1 for r in value.values() if r == ColumnRole.TARGET) > 1:
            invalid("at most one column may be the target", "roles")
        return {str(k): str(v) for k, v in value.items()}

    @field_validator("bands", mode="before")
    @classmethod
    def _bands(cls, value: Any) -> dict[str, list[float]]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            invalid("bands must be a mapping of column names to cut points", "bands")
        out: dict[str, list[float]] = {}
        for col, cuts in value.items():
            where = f"bands.{col}"
            if isinstance(cuts, (str, bytes)) or not isinstance(cuts, Sequence):
                invalid(f"{where} must be a list of increasing numbers", where)
            try:
                nums = [float(c) for c in cuts]
            except (TypeError, ValueError):
                invalid(f"{where} must be numbers, got {list(cuts)!r}", where)
            ok = nums and all(math.isfinite(c) for c in nums)
            if not ok or any(b <= a for a, b in itertools.pairwise(nums)):
                invalid(
                    f"{where} must be one or more finite, strictly increasing "
                    f"numbers, got {nums}",
                    where,
                )
            out[str(col)] = nums
        return out

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> dict[str, str]:
        return str_map(value, "tags")
