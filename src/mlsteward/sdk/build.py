"""What every SDK namespace shares: a spec from a spec or from its fields."""

from __future__ import annotations

from typing import Any, TypeVar

from mlsteward.spec import Spec

__all__ = ["spec_of"]

S = TypeVar("S", bound=Spec)


def spec_of(cls: type[S], spec: S | None, fields: dict[str, Any]) -> S:
    """``spec``, or the spec built from ``fields`` (over ``spec`` if both),
    validated: a bad field raises ``InvalidInput`` naming it.

    Example:
        >>> from mlsteward.retraining.specs import Decide
        >>> spec_of(Decide, None, {"comment": "ok"}).comment
        'ok'
    """
    if spec is None:
        return cls.parse(fields)
    if fields:
        return cls.parse(spec.model_dump(exclude_unset=True), **fields)
    return spec
