"""What every check returns, and how a value is read against its thresholds.

A check turns one window of predictions (and outcomes) into rows of
:class:`CheckResult`: one per check and column, each with a ``value``, a
``status`` and JSON ``details``. Statuses:

=========  ==============================================================
``ok``     within thresholds (or informational: no threshold applies)
``warn``   past the warning threshold
``alert``  past the alert threshold
``pending`` not computable yet: too few outcomes have arrived
``no_data`` not computable: the window (or a group) is empty or too small
``error``  could not be computed; ``details["error"]`` says why
=========  ==============================================================

A :class:`Threshold` has a direction: ``above`` (a larger value is worse,
e.g. PSI, missing-rate change) or ``below`` (a smaller value is worse, e.g.
the approval-rate ratio of the four-fifths rule). "Past" means strictly past:
with ``above``, ``value > alert`` is ``alert``, else ``value > warn`` is
``warn``. Only ``warn`` and ``alert`` raise alerts (severity ``warning`` and
``critical``).

This module is pure: no database, no web framework.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "SEVERITY",
    "STATUSES",
    "CheckResult",
    "Threshold",
    "jsonable",
]

Status = Literal["ok", "warn", "alert", "pending", "no_data", "error"]
STATUSES: tuple[str, ...] = ("ok", "warn", "alert", "pending", "no_data", "error")
#: Alert severity of a status past a threshold.
SEVERITY: dict[str, str] = {"warn": "warning", "alert": "critical"}


@dataclass(frozen=True)
class Threshold:
    """Warning and alert levels of one figure.

    Args:
        warn: Level past which the status is ``warn`` (``None``: no warning).
        alert: Level past which the status is ``alert`` (``None``: never).
        direction: ``"above"`` when larger values are worse, ``"below"``
            when smaller values are worse.

    Example:
        >>> Threshold(0.1, 0.25).status(0.3), Threshold(0.9, 0.8, "below").status(0.85)
        ('alert', 'warn')
    """

    warn: float | None
    alert: float | None
    direction: Literal["above", "below"] = "above"

    def status(self, value: float | None) -> Status:
        """The status of ``value``; ``no_data`` for ``None`` or NaN."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "no_data"
        if self.direction == "above":
            if self.alert is not None and value > self.alert:
                return "alert"
            if self.warn is not None and value > self.warn:
                return "warn"
            return "ok"
        if self.alert is not None and value < self.alert:
            return "alert"
        if self.warn is not None and value < self.warn:
            return "warn"
        return "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"warn": self.warn, "alert": self.alert, "direction": self.direction}


@dataclass
class CheckResult:
    """One figure of one check on one window.

    Args:
        check: Dotted check name (``drift``, ``quality.missing_rate``,
            ``performance.auc``, ``estimated.auc``, ``fairness.approval_ratio``).
        column: The column it is about; ``"*"`` for the window as a whole.
        value: The figure (``None`` when not computable).
        status: See the module docstring.
        details: JSON-safe extra facts (tables, thresholds, reasons).

    Example:
        >>> CheckResult("quality.volume", "*", 120.0, "ok").severity is None
        True
    """

    check: str
    column: str
    value: float | None
    status: Status
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str | None:
        """``warning`` / ``critical`` past a threshold, else ``None``."""
        return SEVERITY.get(self.status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "value": self.value,
            "status": self.status,
            "details": jsonable(self.details),
        }


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: numpy scalars as Python numbers, NaN and inf as None.

    Example:
        >>> jsonable({"a": float("nan"), "b": [1.5, float("inf")]})
        {'a': None, 'b': [1.5, None]}
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
